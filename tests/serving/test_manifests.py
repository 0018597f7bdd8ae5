"""Every Kubernetes object of every stack, validated by real third-party tools.

`preflight manifests` writes the objects; `kubernetes-validate --strict` checks them
against the official schemas of the clusters' pinned version, and Checkov's
Kubernetes framework must report no failed check outside `checks/checkov-skips.yaml`.
The tools live in `.venv-checks` (the README's test command installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, run_preflight

STACKS = ("dev", "staging", "prod")
CHECKS_BIN = REPO / ".venv-checks" / "bin"
# Kinds the official schemas do not know (CRDs); kubernetes-validate is told to skip them. The GKE
# entry's Gateway API objects (Gateway, HTTPRoute: installed by GKE with the Gateway API enabled) and
# GKE's policies (HealthCheckPolicy, GCPBackendPolicy, GCPGatewayPolicy) are CRDs too; their fields are
# asserted in tests/components/test_serving_gcp.py against GoogleCloudPlatform/gke-gateway-api's types.
# The AKS entry's NginxIngressController (the application routing add-on's CRD) and cert-manager's
# ClusterIssuer and Certificate are CRDs as well; tests/components/test_serving_azure.py asserts them.
CUSTOM_KINDS = {"InferenceService", "ManagedCertificate", "Gateway", "HTTPRoute", "HealthCheckPolicy",
                "GCPBackendPolicy", "GCPGatewayPolicy", "NginxIngressController", "ClusterIssuer", "Certificate"}


def _tool(name: str) -> str:
    path = CHECKS_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run the README's test command (it creates .venv-checks)")
    return found


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for stack in STACKS:
        directory = tmp_path_factory.mktemp(f"manifests-{stack}")
        proc = run_preflight("manifests", stack, "--out", directory)
        assert proc.returncode == 0, proc.stderr
        out[stack] = directory
    return out


def _docs(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    return [(p, yaml.safe_load(p.read_text())) for p in sorted(directory.rglob("*.yaml"))]


def _cluster_version() -> str:
    versions = set()
    for stack in STACKS:
        doc = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())
        versions |= {c["cluster"]["version"] for c in doc["config"]["aiinfra:cells"] if c.get("cluster")}
    assert len(versions) == 1, versions
    return versions.pop()


def test_manifests_cover_the_cluster_mode_endpoints(manifests: dict[str, Path]) -> None:
    for stack, directory in manifests.items():
        kinds = {doc["kind"] for _, doc in _docs(directory)}
        assert {"Namespace", "ServiceAccount", "Deployment", "Service", "ScaledObject",
                "PodDisruptionBudget", "NetworkPolicy", "Ingress"} <= kinds, stack
        for path, doc in _docs(directory):
            assert doc["apiVersion"] and doc["metadata"]["name"], path


def test_kubernetes_validate_strict_against_the_pinned_version(manifests: dict[str, Path]) -> None:
    version = _cluster_version() + ".0"
    for stack, directory in manifests.items():
        files = [str(p) for p, doc in _docs(directory) if doc["kind"] not in CUSTOM_KINDS]
        assert files
        proc = subprocess.run([_tool("kubernetes-validate"), "--strict", "--quiet",
                               "--kubernetes-version", version, *files],
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{stack}:\n{proc.stdout}\n{proc.stderr}"


def _skips() -> list[dict[str, str]]:
    return yaml.safe_load((REPO / "checks" / "checkov-skips.yaml").read_text())["skips"] or []


def _skipped(check: str, resource: str) -> bool:
    return any(s["check"] == check and s["resource"] in ("*", resource) for s in _skips())


def test_every_checkov_skip_has_a_one_line_reason() -> None:
    for skip in _skips():
        assert skip["check"].startswith(("CKV_K8S_", "CKV2_K8S_")), skip
        assert skip["resource"], skip
        reason = skip.get("reason")
        assert isinstance(reason, str) and reason.strip() and "\n" not in reason.strip(), skip


def test_checkov_kubernetes_finds_nothing_outside_the_skip_list(manifests: dict[str, Path]) -> None:
    for stack, directory in manifests.items():
        args = [_tool("checkov"), "-d", str(directory), "--framework", "kubernetes", "--output", "json",
                "--compact"]
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
        report = json.loads(proc.stdout) if proc.stdout.strip() else {}
        reports = report if isinstance(report, list) else [report]
        findings = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
        failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in findings
                  if not _skipped(c["check_id"], c["resource"])]
        passed = sum(len(r.get("results", {}).get("passed_checks", [])) for r in reports)
        assert not failed, f"{stack}: Checkov failed checks:\n" + "\n".join(failed)
        assert passed > 50, f"{stack}: Checkov ran too few checks ({passed}); stderr: {proc.stderr[-2000:]}"
