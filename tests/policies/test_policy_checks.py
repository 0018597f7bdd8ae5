"""The policy pack through `preflight check`: fixture programs per area (a good and a bad variant),
the shipped stacks, and the prod program with deliberate regressions.

Each run's report is the JSON of `preflight check --json`: `exitCode`, `policies` (name,
enforcementLevel, config) and `diagnostics` (policyName, enforcementLevel, urn, message).
"""

from __future__ import annotations

import pytest

from tests.policies.conftest import RUNS, Result

AREAS = ("storage", "clusters", "node_pools", "workloads", "serving", "traffic", "backups", "tags", "protection",
         "entry", "supply")


def pairs(rule: str, *names: str) -> set[tuple[str, str]]:
    return {(rule, name) for name in names}


# (policy, resource name) of every mandatory violation each failing run must report - no more.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "storage/bad": (
        pairs("s3-bucket-sse-kms", "bucket") | pairs("s3-bucket-versioning", "bucket")
        | pairs("s3-bucket-public-access-block", "bucket") | pairs("s3-bucket-tls-only", "bucket")
        | pairs("azure-storage-https-only", "account") | pairs("azure-storage-tls-1-2", "account")
        | pairs("azure-storage-no-public-blob-access", "account") | pairs("azure-storage-blob-versioning", "account")
        | pairs("gcs-bucket-uniform-access", "gcs") | pairs("gcs-bucket-public-access-prevention", "gcs")
        | pairs("gcs-bucket-versioning", "gcs")),
    "clusters/bad": {(rule, cluster)
                     for rule in ("kubernetes-cluster-private-endpoint", "kubernetes-cluster-secrets-encryption",
                                  "kubernetes-cluster-audit-logs", "kubernetes-cluster-workload-identity")
                     for cluster in ("eks", "aks", "gke")},
    "node_pools/bad": (pairs("gpu-node-pool-taint", "eks-gpu", "aks-gpu", "gke-gpu")
                       | pairs("launch-template-imdsv2", "nodes-template")
                       | pairs("no-spot-system-node-pool", "eks-system", "aks-system", "gke-system")),
    "workloads/bad": (pairs("workload-gpu-limits", "chat") | pairs("workload-not-default-namespace", "chat")
                      | {(rule, name) for rule in ("workload-resources", "workload-probes", "workload-non-root",
                                                   "workload-read-only-root-filesystem",
                                                   "workload-no-privilege-escalation", "workload-image-pinned")
                         for name in ("chat", "embed")}),
    "serving/bad": (pairs("sagemaker-endpoint-config-encrypted", "chat-config")
                    | pairs("sagemaker-endpoint-autoscaling", "chat-endpoint")
                    | pairs("azureml-online-deployment-probes", "azure-embed")),
    "traffic/bad": (pairs("dns-routed-record-health-check", "weighted-aws-use1", "traffic-manager", "cloud-dns-weighted")
                    | pairs("dns-failover-pair", "failover-aws-use1", "traffic-manager", "cloud-dns-failover")),
    "backups/bad": (pairs("backup-coverage", "gcp-usc1-bucket")
                    | pairs("backup-cross-region-copy", "aws-use1-plan", "azure-eus-vault", "gke-backup-us-central1")
                    | pairs("backup-immutable", "aws-use1-vault", "aws-use1-copy-vault", "azure-eus-vault",
                            "gke-backup-us-central1")
                    | pairs("backup-min-retention", "aws-use1-plan", "azure-eus-policy", "gke-backup-us-central1")),
    "tags/bad": pairs("required-tags", "key", "role", "group", "bucket"),
    "protection/bad": pairs("protect-stateful-resources", "key", "audit-logs", "group", "keyring"),
    "entry/bad": (pairs("dns-target-has-record", "legacy-check") | pairs("entry-certificate-covers-host", "aws-ingress")
                  | pairs("dns-name-routed-by-entry", "gcp-gateway") | pairs("entry-route-has-endpoints", "aws-ingress")
                  | pairs("public-entry-authenticates", "aws-chat")),
    # prod: the declared-open server is refused, and both servers pull from Docker Hub, not a cell cache.
    "entry/prod": pairs("public-entry-authenticates", "gcp-chat")
    | pairs("serving-images-from-cell-cache", "aws-chat", "gcp-chat"),
    "supply/bad": (pairs("serving-images-from-cell-cache", "chat") | pairs("model-server-has-model-source", "chat")
                   | pairs("autoscaler-metric-produced", "chat-scaler")),
    "broken_prod/prod": {
        ("kubernetes-cluster-private-endpoint", "aws-use1-cluster-eks"),
        ("protect-stateful-resources", "aws-use1-store-bucket"),
        ("gpu-node-pool-taint", "gcp-usc1-gpu-l4-pool"),
        ("workload-image-pinned", "aws-use1-chat-deployment"),
        ("required-tags", "gcp-usc1-store-bucket"),
    },
    "workloads/good+no-exemptions": pairs("workload-probes", "nvidia-device-plugin")
    | pairs("workload-non-root", "nvidia-device-plugin") | pairs("workload-gpu-limits", "nvidia-device-plugin"),
    "backups/staging+30-days": pairs("backup-min-retention", "aws-use1-plan", "azure-eus-policy",
                                     "gke-backup-us-central1"),
}
CLEAN = sorted(r.key for r in RUNS if r.key not in EXPECTED)


def test_every_run_is_either_clean_or_expected_to_fail() -> None:
    assert {r.key for r in RUNS} == set(CLEAN) | set(EXPECTED)
    assert {"shipped/dev", "shipped/staging", "shipped/prod"} <= set(CLEAN)
    assert {f"{area}/good" for area in AREAS} <= set(CLEAN)
    assert {f"{area}/bad" for area in AREAS} <= set(EXPECTED)


@pytest.mark.parametrize("key", CLEAN)
def test_clean_runs_pass_every_rule(checks: dict[str, Result], key: str) -> None:
    """Shipped stacks and good variants: exit 0, not even an advisory (no unknown value read)."""
    result = checks[key]
    assert result.report is not None, result.output
    assert result.report["errors"] == [], result.output
    assert result.diagnostics == [], result.output
    assert result.returncode == 0 and result.report["exitCode"] == 0, result.output


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_failing_runs_report_exactly_the_expected_violations(checks: dict[str, Result], key: str) -> None:
    result = checks[key]
    assert result.report is not None, result.output
    assert result.report["errors"] == [], result.output
    assert result.mandatory == EXPECTED[key], result.output
    assert [d for d in result.diagnostics if d["enforcementLevel"] != "mandatory"] == [], result.output
    assert result.returncode == 1 and result.report["exitCode"] == 1, result.output


def test_every_rule_has_a_passing_and_a_failing_fixture(checks: dict[str, Result]) -> None:
    policies = {p["name"] for p in checks["shipped/prod"].report["policies"]}  # type: ignore[index]
    failing = {rule for key in (f"{area}/bad" for area in AREAS) for rule, _ in EXPECTED[key]}
    assert failing == policies
    for area in AREAS:
        area_rules = {rule for rule, _ in EXPECTED[f"{area}/bad"]}
        good = checks[f"{area}/good"]
        assert good.report is not None and good.diagnostics == [], good.output
        # The good variant really contains what the rules look at: the same resources, fixed.
        assert area_rules, area


def test_the_pack_reports_every_rule_as_mandatory_with_its_defaults(checks: dict[str, Result]) -> None:
    """The engine reads an initial-config entry without a level as advisory; the pack must state it."""
    report = checks["shipped/prod"].report
    assert report is not None
    assert report["policyPack"]["name"] == "aiinfra-policies"
    levels = {p["name"]: p["enforcementLevel"] for p in report["policies"]}
    assert set(levels.values()) == {"mandatory"}, levels
    config = {p["name"]: p["config"] for p in report["policies"]}
    assert config["backup-min-retention"] == {"min_retention_days": 7}
    assert config["workload-probes"] == {"exempt_workloads": ["kube-system/nvidia-device-plugin"]}
    assert config["required-tags"]["required_tags"] == ["owner", "cost-center", "environment"]
    assert config["kubernetes-cluster-private-endpoint"] == {"allowed_environments": ["dev"]}


def test_user_config_overrides_thresholds_and_exemptions(checks: dict[str, Result]) -> None:
    report = checks["backups/staging+30-days"].report
    assert report is not None
    [policy] = [p for p in report["policies"] if p["name"] == "backup-min-retention"]
    assert policy["config"] == {"min_retention_days": 30} and policy["enforcementLevel"] == "mandatory"
    messages = [d["message"] for d in report["diagnostics"]]
    assert any("at least 30 days" in m and "keeps 14 days" in m for m in messages), messages


def test_messages_are_one_imperative_sentence_naming_the_resource(checks: dict[str, Result]) -> None:
    """The SDK sends `description + "\\n" + message`; ours is one sentence that names the resource."""
    seen = 0
    for key in EXPECTED:
        for d in checks[key].diagnostics:
            description, _, sentence = d["message"].partition("\n")
            assert description == d["description"] and description.endswith("."), d
            name = d["urn"].rsplit("::", 1)[-1]
            assert f"'{name}'" in sentence, d
            assert sentence[0].isupper() and sentence.endswith(".") and "\n" not in sentence, d
            assert sentence.split(" ", 1)[0] in {"Add", "Set", "Enable", "Block", "Attach", "Turn", "Pin", "Deploy",
                                                 "Register", "Give", "Keep", "Copy", "Scale", "Pull", "Fix"}, d
            seen += 1
    assert seen > 50
