"""`preflight check`: unmodified CrossGuard packs over the Analyzer protocol, through the CLI.

The packs under tests/fixtures/policy_packs are tiny real packs; each test copies
the one it needs into its own directory, so "no process of this pack is left"
can be checked precisely in /proc.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import FIXTURES, REPO, run_preflight

PROGRAM = FIXTURES / "policy_program"
PACKS = FIXTURES / "policy_packs"
BUCKET = "urn:pulumi:dev::fx-policy::fx:index:Store$aws:s3/bucket:Bucket::logs-bucket"
BUCKET_POLICY = "urn:pulumi:dev::fx-policy::fx:index:Store$aws:s3/bucketPolicy:BucketPolicy::logs-policy"
TOKEN = "urn:pulumi:dev::fx-policy::aws:ssm/parameter:Parameter::token"
ROOT = "urn:pulumi:dev::fx-policy::pulumi:pulumi:Stack::fx-policy-dev"

# The parts of SARIF 2.1.0 that GitHub code scanning relies on (the full schema is not shipped offline).
SARIF_SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name", "rules"],
                    "properties": {"rules": {"type": "array", "items": {
                        "type": "object", "required": ["id", "shortDescription", "defaultConfiguration"]}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["ruleId", "level", "message", "locations"],
                    "properties": {
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": {"type": "object", "required": ["text"]},
                        "locations": {"type": "array", "minItems": 1, "items": {
                            "type": "object", "required": ["physicalLocation", "logicalLocations"],
                            "properties": {"physicalLocation": {
                                "type": "object", "required": ["artifactLocation", "region"],
                                "properties": {"region": {"type": "object", "required": ["startLine"]}}}}}},
                    }}},
            }}},
    },
}


def pack(tmp_path: Path, name: str) -> Path:
    """A private copy of a fixture pack (a unique path to look for in /proc)."""
    target = tmp_path / f"pack-{name}"
    shutil.copytree(PACKS / name, target)
    return target


def pack_processes(pack_dir: Path) -> list[int]:
    """Processes whose command line mentions the pack directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(pack_dir) in cmdline:
            found.append(int(entry.name))
    return found


def check(tmp_path: Path, pack_dir: Path, *extra: str | Path, project: Path = PROGRAM
          ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / "report.json"
    out.unlink(missing_ok=True)
    proc = run_preflight("check", "dev", "--cwd", project, "--policy-pack", pack_dir, "--json", out, *extra)
    report = json.loads(out.read_text()) if out.exists() else {}
    assert not pack_processes(pack_dir), "the policy pack outlived the command"
    return proc, report


def by_policy(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for d in report["diagnostics"]:
        found.setdefault(d["policyName"], []).append(d)
    return found


def config_file(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_mandatory_violation_fails_and_advisories_are_reported(tmp_path: Path) -> None:
    sarif_path = tmp_path / "check.sarif"
    proc, report = check(tmp_path, pack(tmp_path, "basic"), "--sarif", sarif_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = by_policy(report)
    assert set(found) == {"s3-bucket-versioning", "s3-bucket-cost-center-tag", "explicit-providers"}
    [versioning] = found["s3-bucket-versioning"]
    assert versioning["enforcementLevel"] == "mandatory" and versioning["urn"] == BUCKET
    assert versioning["severity"] == "high" and versioning["policyPackVersion"] == "1.2.3"
    assert "bucket fx-logs-data has no versioning" in versioning["message"]
    assert versioning["description"] == "S3 buckets must be versioned."
    assert [d["enforcementLevel"] for d in found["s3-bucket-cost-center-tag"]] == ["advisory"]
    # A stack policy names the resource; it sees the default provider the engine would add.
    [providers] = found["explicit-providers"]
    assert providers["urn"] == TOKEN and providers["phase"] == "stack"
    assert "default provider (region us-east-1)" in providers["message"]
    assert report["summary"] == {"resources": 6, "mandatory": 1, "advisory": 2, "errors": 0, "notApplicable": 0}
    assert report["exitCode"] == 1 and report["policyPack"]["name"] == "fx-basic"
    timing = report["timing"]
    assert timing["resources"] == 6 and timing["plan_seconds"] > 0 and timing["policy_seconds"] > 0
    for text in ("s3-bucket-versioning", "mandatory", "1 mandatory violation"):
        assert text in proc.stdout

    sarif = json.loads(sarif_path.read_text())
    jsonschema.validate(sarif, SARIF_SHAPE)
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == {"s3-bucket-versioning", "s3-bucket-cost-center-tag", "explicit-providers"}
    assert {r["id"]: r["defaultConfiguration"]["level"] for r in rules}["s3-bucket-versioning"] == "error"
    levels = {(r["ruleId"], r["level"]) for r in run["results"]}
    assert levels == {("s3-bucket-versioning", "error"), ("s3-bucket-cost-center-tag", "warning"),
                      ("explicit-providers", "warning")}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["properties"]["urn"] in result["message"]["text"]
        [location] = result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == \
            "tests/fixtures/policy_program/stacks/Pulumi.dev.yaml"
        assert location["logicalLocations"][0]["fullyQualifiedName"] == result["properties"]["urn"]
    assert run["automationDetails"]["id"] == "preflight-check/dev/"


def test_a_clean_run_exits_0_on_any_project(tmp_path: Path) -> None:
    proc, report = check(tmp_path, pack(tmp_path, "basic"), project=FIXTURES / "generic")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["diagnostics"] == [] and report["summary"]["resources"] == 5


def test_policy_config_sets_enforcement_levels(tmp_path: Path) -> None:
    pack_dir = pack(tmp_path, "basic")
    proc, report = check(tmp_path, pack_dir, "--policy-config",
                         config_file(tmp_path, {"s3-bucket-versioning": "disabled"}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "s3-bucket-versioning" not in by_policy(report)
    assert [d["enforcementLevel"] for d in by_policy(report)["s3-bucket-cost-center-tag"]] == ["advisory"]

    proc, report = check(tmp_path, pack_dir, "--policy-config", config_file(tmp_path, {
        "s3-bucket-versioning": {"enforcementLevel": "disabled"}, "s3-bucket-cost-center-tag": "mandatory"}))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [tag] = by_policy(report)["s3-bucket-cost-center-tag"]
    assert tag["enforcementLevel"] == "mandatory"
    levels = {p["name"]: p["enforcementLevel"] for p in report["policies"]}
    assert levels == {"s3-bucket-versioning": "disabled", "s3-bucket-cost-center-tag": "mandatory",
                      "explicit-providers": "advisory"}

    # "all" sets every policy's level, as in the Pulumi policy config format.
    proc, report = check(tmp_path, pack_dir, "--policy-config", config_file(tmp_path, {"all": "mandatory"}))
    assert proc.returncode == 1
    assert {d["enforcementLevel"] for d in report["diagnostics"]} == {"mandatory"}


def test_unknown_values_give_the_engines_preview_advisory(tmp_path: Path) -> None:
    proc, report = check(tmp_path, pack(tmp_path, "unknowns"))
    # Both policies are mandatory, but what a preview cannot know is advisory, as with the engine.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = by_policy(report)
    [tls] = found["bucket-policy-tls-only"]
    assert tls["urn"] == BUCKET_POLICY and tls["enforcementLevel"] == "advisory"
    assert tls["message"] == ("can't run policy 'bucket-policy-tls-only' from policy pack 'fx-unknowns@v0.0.1' "
                              "during preview: string value at .policy can't be known during preview")
    # A secret input: its plaintext does not exist offline, so it reads as unknown, never as text.
    [token] = found["ssm-token-length"]
    assert token["urn"] == TOKEN and token["enforcementLevel"] == "advisory"
    assert token["message"].endswith("string value at .value can't be known during preview")
    # A stack policy sees each resource's preview state: computed outputs (the ARN) are unknown.
    [arn] = found["bucket-arn-prefix"]
    assert arn["phase"] == "stack" and arn["enforcementLevel"] == "advisory"
    assert arn["message"].endswith("string value at .arn can't be known during preview")
    assert report["errors"] == []


def test_a_raising_policy_is_an_error_not_a_pass(tmp_path: Path) -> None:
    sarif_path = tmp_path / "raises.sarif"
    proc, report = check(tmp_path, pack(tmp_path, "raises"), "--sarif", sarif_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [error] = report["errors"]
    assert error["call"] == "Analyze" and error["code"] == "UNKNOWN" and error["urn"] == BUCKET_POLICY
    assert "fixture policy bug: cannot parse the bucket policy" in error["message"]
    assert error["policies"] == ["buggy-policy"]
    assert report["exitCode"] == 2
    assert "buggy-policy" in proc.stderr and "fixture policy bug" in proc.stderr
    invocation = json.loads(sarif_path.read_text())["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "fixture policy bug" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_remediations_run_first_and_analysis_sees_their_result(tmp_path: Path) -> None:
    pack_dir = pack(tmp_path, "remediates")
    proc, report = check(tmp_path, pack_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [remediation] = report["remediations"]
    assert remediation["policyName"] == "add-cost-center" and remediation["urn"] == BUCKET
    assert remediation["properties"]["tags"] == {"owner": "fx", "cost-center": "cc-0000"}
    proc, report = check(tmp_path, pack_dir, "--policy-config", config_file(tmp_path, {"add-cost-center": "disabled"}))
    assert proc.returncode == 1 and report["remediations"] == []
    assert [d["urn"] for d in by_policy(report)["cost-center-present"]] == [BUCKET]


def test_config_schema_defaults_initial_config_and_user_values(tmp_path: Path) -> None:
    pack_dir = pack(tmp_path, "configured")
    proc, report = check(tmp_path, pack_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Schema default regions ["us-east-1"]: the two resources on the eu-west-1 provider fail.
    assert sorted(d["urn"] for d in by_policy(report)["allowed-regions"]) == [BUCKET, BUCKET_POLICY]
    config = {p["name"]: p["config"] for p in report["policies"]}
    assert config == {"allowed-regions": {"regions": ["us-east-1"]}, "max-buckets": {"max": 5}}

    proc, report = check(tmp_path, pack_dir, "--policy-config", config_file(tmp_path, {
        "allowed-regions": {"regions": ["eu-west-1", "us-east-1"]},
        "max-buckets": {"enforcementLevel": "mandatory", "max": 0}}))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = by_policy(report)
    assert "allowed-regions" not in found
    [stack] = found["max-buckets"]
    assert stack["urn"] == ROOT and stack["enforcementLevel"] == "mandatory" and stack["phase"] == "stack"


@pytest.mark.parametrize("doc, expected", [
    ({"allowed-regions": {"regions": "eu-west-1"}}, "allowed-regions: regions: 'eu-west-1' is not of type 'array'"),
    ({"max-buckets": {"max": -1}}, "max-buckets: max: -1 is less than the minimum of 0"),
    ({"allowed-regions": {"regions": []}}, "allowed-regions: regions: [] should be non-empty"),
    ({"allowed-regions": "strict"}, "'strict' is not a valid enforcement level"),
    ({"allowed-regions": {"enforcementLevel": 1}}, "must be a string"),
    ({"allowed-regions": 3}, "must be a string or object"),
    ("{not json", "not valid JSON"),
])
def test_invalid_policy_config_is_exit_2(tmp_path: Path, doc: Any, expected: str) -> None:
    pack_dir = pack(tmp_path, "configured")
    proc, report = check(tmp_path, pack_dir, "--policy-config", config_file(tmp_path, doc))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stderr
    assert report == {}


def test_default_pack_is_the_projects_policies_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROGRAM, project)
    proc = run_preflight("check", "dev", "--cwd", project)
    assert proc.returncode == 2 and "no policy pack" in proc.stderr and "--policy-pack" in proc.stderr
    shutil.copytree(PACKS / "basic", project / "policies")
    proc = run_preflight("check", "dev", "--cwd", project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "s3-bucket-versioning" in proc.stdout
    assert not pack_processes(project / "policies")


def test_a_pack_that_fails_to_start_is_exit_2(tmp_path: Path) -> None:
    pack_dir = pack(tmp_path, "basic")
    (pack_dir / "__main__.py").write_text("import no_such_module_for_preflight\n")
    proc, _ = check(tmp_path, pack_dir)
    assert proc.returncode == 2
    assert "before serving" in proc.stderr and "no_such_module_for_preflight" in proc.stderr


def test_the_pack_dies_with_preflight(tmp_path: Path) -> None:
    """Killed outright (no cleanup runs), preflight still takes the pack with it (PR_SET_PDEATHSIG)."""
    project = tmp_path / "slow"
    shutil.copytree(PROGRAM, project)
    main = project / "__main__.py"
    main.write_text("import time\ntime.sleep(60)\n" + main.read_text())
    pack_dir = pack(tmp_path, "basic")
    proc = subprocess.Popen([sys.executable, "-m", "preflight", "check", "dev", "--cwd", str(project),
                             "--policy-pack", str(pack_dir)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not pack_processes(pack_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pack_processes(pack_dir), "the pack never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while pack_processes(pack_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pack_processes(pack_dir), "the pack outlived a killed preflight"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_pooled_pack_serves_several_runs_of_one_stack_like_fresh_packs(tmp_path: Path) -> None:
    """The test suite's `PackPool`: one pack, launched once, answers runs with different policy
    configs exactly as a fresh pack per run does (the protocol lets `Configure` come again)."""
    from preflight.check import PackPool, pooled_packs

    pack_dir = pack(tmp_path, "basic")
    configs = [{"s3-bucket-versioning": "disabled"}, {"all": "mandatory"}, {}]

    def reports() -> list[tuple[int, list[Any]]]:
        found = []
        for doc in configs:
            out = tmp_path / "pooled.json"
            proc = run_preflight("check", "dev", "--cwd", PROGRAM, "--policy-pack", pack_dir, "--json", out,
                                 "--policy-config", config_file(tmp_path, doc))
            found.append((proc.returncode, json.loads(out.read_text())["diagnostics"]))
        return found

    fresh = reports()
    pool = PackPool()
    try:
        with pooled_packs(pool):
            pooled = reports()
            assert len(pack_processes(pack_dir)) == 1, "one pack served every run"
    finally:
        pool.close()
    assert pooled == fresh
    assert [code for code, _ in fresh] == [0, 1, 1]
    assert not pack_processes(pack_dir)
