"""examples/own-environment: a separate Pulumi program composing the components directly, planned offline."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, by_urn, of_type, plan_json, run_preflight

EXAMPLE = REPO / "examples" / "own-environment"


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return plan_json("dev", project=EXAMPLE, tmp=tmp_path_factory.mktemp("example"))


def test_is_a_project_of_its_own_that_installs_this_repository() -> None:
    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
    assert project["name"] == "own-environment" != yaml.safe_load((REPO / "Pulumi.yaml").read_text())["name"]
    assert project["runtime"]["name"] == "python" and project["stackConfigDir"] == "stacks"
    assert (EXAMPLE / "stacks" / "Pulumi.dev.yaml").exists() and (EXAMPLE / "README.md").exists()
    requirements = [line.strip() for line in (EXAMPLE / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    assert requirements == ["-e ../.."]
    assert (EXAMPLE / "../..").resolve() == REPO
    tree = ast.parse((EXAMPLE / "__main__.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {"components", "components.compute", "components.network"} <= imported
    assert not imported & {"components.spec", "components.deployment"}  # not through the spec


def test_plan_holds_the_composed_components(plan: dict[str, Any]) -> None:
    assert plan["project"] == "own-environment" and plan["stack"] == "dev"
    assert not of_type(plan, "aiinfra:index:Cell")
    for type_token in ("aiinfra:storage:ObjectStore", "aiinfra:network:Network",
                       "aiinfra:compute:KubernetesCluster", "aiinfra:compute:GpuNodePool"):
        assert len(of_type(plan, type_token)) == 1, type_token
    [provider] = of_type(plan, "pulumi:providers:aws")
    assert provider["inputs"]["region"] == "us-west-2"
    index = by_urn(plan)
    # Every AWS resource uses the program's explicit provider, in its region, with its tags.
    for r in plan["resources"]:
        if r["custom"] and r["type"].startswith("aws:"):
            assert r["provider"].split("::")[:4] == provider["urn"].split("::")[:4], r["urn"]
    [bucket] = of_type(plan, "aws:s3/bucket:Bucket")
    assert bucket["inputs"]["region"] == "us-west-2"
    assert {"owner": "research", "cost-center": "cc-5678", "environment": "dev"}.items() <= \
        bucket["inputs"]["tags"].items()
    [eks] = of_type(plan, "aws:eks/cluster:Cluster")
    assert eks["inputs"]["version"] == "1.33"
    assert eks["inputs"]["vpcConfig"]["endpointPublicAccess"] is False
    groups = {index[g["parent"]]["type"]: g for g in of_type(plan, "aws:eks/nodeGroup:NodeGroup")}
    gpu = groups["aiinfra:compute:GpuNodePool"]
    assert gpu["inputs"]["instanceTypes"] == ["g6.xlarge"] and gpu["inputs"]["capacityType"] == "SPOT"
    assert gpu["inputs"]["scalingConfig"] == {"desiredSize": 0, "minSize": 0, "maxSize": 2}
    system = groups["aiinfra:compute:KubernetesCluster"]
    assert system["inputs"]["scalingConfig"]["minSize"] == 2 and system["inputs"]["scalingConfig"]["maxSize"] == 3
    assert len(of_type(plan, "aws:ec2/natGateway:NatGateway")) == 1  # single_nat_gateway
    assert plan["outputs"]["gpu_machine_type"] == "g6.xlarge"
    assert plan["outputs"]["kubeconfig"] == "<secret>"
    assert plan["outputs"]["bucket_url"].startswith("s3://dev-models-")
    assert plan["outputs"]["targets"] == {"monthly_budget_usd": 600}


def test_cost_and_graph_work_on_the_example(tmp_path: Path) -> None:
    out = tmp_path / "cost.json"
    proc = run_preflight("cost", "dev", "--cwd", EXAMPLE, "--prices", REPO / "prices.json", "--json", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    # 0-2 spot g6.xlarge ($0.28/h), 2-3 m6i.xlarge ($0.192/h), EKS ($0.10/h), one bucket (500 GB x $0.023).
    assert report["total"] == {"min": 364.82, "max": 913.78}
    assert report["budget"]["monthly_budget_usd"] == 600 and report["budget"]["over_budget"] is False
    proc = run_preflight("graph", "dev", "--cwd", EXAMPLE, "--format", "mermaid")
    assert proc.returncode == 0, proc.stderr
    for label in ("network", "cluster dev-cluster", "GPU pool gpu", "object store"):
        assert label in proc.stdout
