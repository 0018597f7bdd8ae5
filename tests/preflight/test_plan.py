"""`preflight plan`: the engine-faithful offline run, on our stacks and on any Pulumi Python project."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, REPO, by_urn, of_type, plan_json, run_preflight


def test_plans_are_byte_identical_across_processes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out in (first, second):
        proc = run_preflight("plan", "prod", "--json", out)
        assert proc.returncode == 0, proc.stderr
    assert first.read_bytes() == second.read_bytes()
    plan = json.loads(first.read_text())
    assert [r["urn"] for r in plan["resources"]] == sorted(r["urn"] for r in plan["resources"])


def test_shipped_stacks_shape(plans: dict[str, Any]) -> None:
    assert len(of_type(plans["dev"], "aiinfra:index:Cell")) >= 1
    prod_cells = of_type(plans["prod"], "aiinfra:index:Cell")
    assert len(prod_cells) >= 3
    assert {c["outputs"]["cloud"] for c in prod_cells} == {"aws", "azure", "gcp"}
    assert plans["prod"]["outputs"]["environment"] == "prod"


def test_plan_json_contract(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    assert plan["project"] == "aiinfra" and plan["stack"] == "prod"
    for r in plan["resources"]:
        assert {"urn", "type", "name", "parent", "custom", "provider", "dependencies",
                "propertyDependencies", "options", "inputs"} <= set(r)
        assert {"protect", "retainOnDelete", "deleteBeforeReplace", "ignoreChanges"} <= set(r["options"])


def test_urns_follow_the_engine_rule(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    [bucket] = [r for r in of_type(plan, "aws:s3/bucket:Bucket") if r["name"] == "aws-use1-store-bucket"]
    assert bucket["urn"] == ("urn:pulumi:prod::aiinfra::aiinfra:index:Cell$aiinfra:storage:ObjectStore"
                             "$aws:s3/bucket:Bucket::aws-use1-store-bucket")
    [cell] = [c for c in of_type(plan, "aiinfra:index:Cell") if c["name"] == "aws-use1"]
    assert cell["urn"] == "urn:pulumi:prod::aiinfra::aiinfra:index:Cell::aws-use1"
    assert cell["parent"] == "urn:pulumi:prod::aiinfra::pulumi:pulumi:Stack::aiinfra-prod"
    # Each cell's resources use the cell's explicit provider.
    assert bucket["provider"] == "urn:pulumi:prod::aiinfra::aiinfra:index:Cell$pulumi:providers:aws::aws-use1-aws"


def test_summary_shows_cells_as_a_tree_and_counts(tmp_path: Path) -> None:
    proc = run_preflight("plan", "prod", "--json", tmp_path / "p.json")
    assert proc.returncode == 0
    for text in ("aws-use1", "gcp-usc1", "azure-eus", "Resources per cloud", "Resources per type",
                 "azure-native", "├──"):
        assert text in proc.stdout


def test_secrets_never_reach_the_plan_in_plaintext_or_ciphertext(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    proc = run_preflight("plan", "dev", "--cwd", FIXTURES / "secrets", "--json", out)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text() + proc.stdout + proc.stderr
    for forbidden in ("Q0lQSEVSVEVYVC1ORVZFUi1JTi1QTEFO", "TkVTVEVELUNJUEhFUlRFWFQ="):
        assert forbidden not in text, forbidden
    plan = json.loads(out.read_text())
    [bucket] = of_type(plan, "aws:s3/bucket:Bucket")
    assert bucket["inputs"]["tags"]["token"] == "<secret>"
    assert bucket["inputs"]["tags"]["password"] == "<secret>"
    assert bucket["inputs"]["tags"]["replicas"] == "2"
    [param] = of_type(plan, "aws:ssm/parameter:Parameter")
    assert param["inputs"]["value"] == "<secret>"
    assert plan["outputs"]["token"] == "<secret>"
    assert plan["outputs"]["replicas"] == 2
    assert plan["outputs"]["plain_read"] == "<secret>"  # a plain read of a secret key gets the placeholder
    # Invokes are answered offline from the stack's default-provider region, and listed as such.
    assert plan["outputs"]["zones"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert plan["offline"]["invokes"] == ["aws:index/getAvailabilityZones:getAvailabilityZones"]


def test_shell_environment_cannot_change_the_plan(tmp_path: Path) -> None:
    env = {**os.environ, "AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "ap-south-1",
           "PULUMI_CONFIG": json.dumps({"fx-secrets:replicas": "9"}),
           "PULUMI_CONFIG_FX_SECRETS_REPLICAS": "7"}
    outs = []
    for i, e in enumerate((None, env)):
        out = tmp_path / f"{i}.json"
        proc = run_preflight("plan", "dev", "--cwd", FIXTURES / "secrets", "--json", out, env=e)
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_any_project_nested_components_providers_and_stack_references(tmp_path: Path) -> None:
    plan = plan_json("dev", project=FIXTURES / "generic", tmp=tmp_path)
    index = by_urn(plan)
    [bucket] = of_type(plan, "gcp:storage/bucket:Bucket")
    assert bucket["urn"] == "urn:pulumi:dev::fx-generic::fx:index:Outer$fx:index:Inner$gcp:storage/bucket:Bucket::outer-inner-bucket"
    assert index[bucket["parent"]]["type"] == "fx:index:Inner"
    assert bucket["provider"] == "urn:pulumi:dev::fx-generic::pulumi:providers:gcp::europe"
    assert bucket["inputs"]["name"] == "demo-b"
    assert plan["outputs"]["bucket"] == "demo-b"
    assert plan["offline"]["reads"] == [{"id": "acme/network/prod", "name": "acme/network/prod",
                                         "type": "pulumi:pulumi:StackReference"}]
    [outer] = of_type(plan, "fx:index:Outer")
    assert outer["outputs"] == {"bucket": "demo-b"}


def test_duplicate_urns_fail_like_a_real_preview() -> None:
    proc = run_preflight("plan", "dev", "--cwd", FIXTURES / "duplicates")
    assert proc.returncode == 2
    assert "duplicate resource URN" in proc.stderr
    assert "urn:pulumi:dev::fx-duplicates::aws:s3/bucket:Bucket::same" in proc.stderr


def test_program_error_exits_2_with_a_message_and_traceback_only_on_debug() -> None:
    proc = run_preflight("plan", "dev", "--cwd", FIXTURES / "broken")
    assert proc.returncode == 2
    assert "KeyError: 'replicaz'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "1 resources were registered before the error" in proc.stderr
    assert "--debug" in proc.stderr
    debug = run_preflight("plan", "dev", "--cwd", FIXTURES / "broken", "--debug")
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr and "__main__.py" in debug.stderr


@pytest.mark.parametrize("args,message", [
    (["plan", "nosuch"], "stack 'nosuch' has no file"),
    (["plan", "dev", "--cwd", "/"], "no Pulumi.yaml here"),
])
def test_project_errors_exit_2(args: list[str], message: str) -> None:
    proc = run_preflight(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_stack_files_are_real_pulumi_stack_files() -> None:
    import yaml
    for stack in ("dev", "staging", "prod"):
        doc = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())
        assert set(doc) <= {"config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment"}
        assert all(key.startswith("aiinfra:") for key in doc["config"])
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == "aiinfra" and project["stackConfigDir"] == "stacks"
    assert project["runtime"]["name"] == "python" and project["runtime"]["options"]["virtualenv"] == ".venv"


def test_installed_packages_outlive_the_program_even_inside_its_directory(tmp_path: Path) -> None:
    """A virtualenv inside the project (Pulumi's default `virtualenv: .venv`) is not the program's
    own code: forgetting `pulumi_aws` there made the policy run's next import of one of its modules
    fail with "Cannot re-register package aws"."""
    import sys

    import pulumi_aws

    from preflight.runtime import _forget_modules_under

    program = tmp_path / "program"
    program.mkdir()
    (program / "own_module_of_the_program.py").write_text("X = 1\n")
    sys.path.insert(0, str(program))
    try:
        import own_module_of_the_program  # type: ignore[import-not-found]  # noqa: F401
    finally:
        sys.path.remove(str(program))
    keep = set(sys.modules) - {"own_module_of_the_program"}
    installed_home = Path(pulumi_aws.__file__).resolve().parents[2]  # e.g. .venv/lib/python3.11
    _forget_modules_under(installed_home, keep - {"pulumi_aws"})
    assert "pulumi_aws" in sys.modules
    _forget_modules_under(program, keep)
    assert "own_module_of_the_program" not in sys.modules
