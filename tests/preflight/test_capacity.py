"""The minimum a pool really runs at: its own minimum, or what the minimum replicas placed on it need.

Small plans written by hand (the shape `preflight plan` writes), so every figure below can be
computed on paper; and the shipped prod stack, whose chat endpoints keep 2 replicas of 1 GPU.
"""

from __future__ import annotations

from typing import Any

import pytest

from preflight.capacity import allocatable, pools, quantity
from preflight.cost import estimate, load_prices
from preflight.whatif import analyse
from tests.conftest import REPO

PRICES = load_prices(REPO / "prices.json")
STACK = "urn:pulumi:t::p::pulumi:pulumi:Stack::p-t"
CELL = "urn:pulumi:t::p::aiinfra:index:Cell::aws-use1"


def _r(type_: str, name: str, parent: str, inputs: dict[str, Any] | None = None,
       outputs: dict[str, Any] | None = None, custom: bool = True) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:t::p::{type_}::{name}", "type": type_, "name": name, "parent": parent,
            "custom": custom, "provider": None, "dependencies": [], "propertyDependencies": {},
            "options": {}, "inputs": inputs or {}, **({"outputs": outputs} if outputs is not None else {})}


def _plan(machine: str, gpus_per_node: int, min_nodes: int, max_nodes: int, replicas: tuple[int, int],
          gpus: int = 1, cpu: str = "3", memory: str = "12Gi") -> dict[str, Any]:
    """One AWS cell: a GPU pool of `machine` and an endpoint whose Deployment asks for `gpus` GPUs a pod,
    scaled between `replicas` by an HPA."""
    pool = _r("aiinfra:compute:GpuNodePool", "aws-use1-gpu-l4", CELL, custom=False, outputs={
        "gpu": "l4", "gpus_per_node": gpus_per_node, "machine_type": machine, "min_nodes": min_nodes,
        "max_nodes": max_nodes, "spot": False})
    group = _r("aws:eks/nodeGroup:NodeGroup", "aws-use1-gpu-l4-nodes", pool["urn"], {
        "instanceTypes": [machine], "labels": {"aiinfra.io/pool": "l4"},
        "scalingConfig": {"minSize": min_nodes, "maxSize": max_nodes, "desiredSize": min_nodes}})
    endpoint = _r("aiinfra:serving:ModelEndpoint", "aws-use1-chat", CELL, custom=False, outputs={
        "mode": "cluster", "min_replicas": replicas[0], "max_replicas": replicas[1], "gpus_per_replica": gpus})
    limits = {"cpu": cpu, "memory": memory, **({"nvidia.com/gpu": str(gpus)} if gpus else {})}
    deployment = _r("kubernetes:apps/v1:Deployment", "aws-use1-chat-deployment", endpoint["urn"], {
        "metadata": {"name": "chat"},
        "spec": {"replicas": replicas[0], "template": {"spec": {
            "nodeSelector": {"aiinfra.io/pool": "l4"},
            "containers": [{"name": "server", "resources": {"limits": limits, "requests": limits}}]}}}})
    hpa = _r("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "aws-use1-chat-autoscaler", endpoint["urn"], {
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "chat"},
                 "minReplicas": replicas[0], "maxReplicas": replicas[1]}})
    cell = _r("aiinfra:index:Cell", "aws-use1", STACK, custom=False, outputs={"cloud": "aws", "region": "us-east-1"})
    return {"project": "p", "stack": "t", "outputs": {"targets": {"min_gpu_replicas": 3}},
            "resources": [cell, pool, group, endpoint, deployment, hpa]}


def _gpu_line(plan: dict[str, Any]) -> Any:
    [line] = [l for l in estimate(plan, PRICES).lines if l.kind == "GPU nodes"]
    return line


def test_minimum_replicas_beyond_the_pools_minimum_are_priced() -> None:
    # 3 replicas of 1 GPU on 1-GPU g6.xlarge nodes (4 vCPU, 16 GiB): 3 nodes, not the pool's 1.
    plan = _plan("g6.xlarge", 1, 1, 4, (3, 4))
    [pool] = [p for p in pools(plan, PRICES) if p.gpus_per_node]
    assert (pool.min_nodes, pool.needed_at_min, pool.min_scale) == (1, 3, 3)
    line = _gpu_line(plan)
    price = PRICES.machine("aws", "g6.xlarge")
    assert price is not None
    assert (line.quantity_min, line.quantity_max) == (3, 4)
    assert line.monthly_min_usd == round(float(price["usd_per_hour"]) * 3 * 730, 2)  # by hand: 0.805 x 3 x 730
    assert any("minimum 1 node, but the minimum replicas placed here need 3" in n for n in line.notes)


def test_replicas_that_fit_the_minimum_leave_it_alone() -> None:
    # 2 replicas of 1 GPU on one 4-GPU g6.12xlarge (48 vCPU, 192 GiB): the pool's 1 node holds both.
    plan = _plan("g6.12xlarge", 4, 1, 2, (2, 4))
    line = _gpu_line(plan)
    assert line.quantity_min == 1 and not any("minimum replicas" in n for n in line.notes)


def test_cpu_and_memory_bind_too() -> None:
    # 2 replicas of 1 GPU, 30 CPU each, on 4-GPU g6.12xlarge nodes (48 vCPU): one pod a node by CPU.
    plan = _plan("g6.12xlarge", 4, 1, 4, (2, 2), cpu="30")
    assert _gpu_line(plan).quantity_min == 2
    # 200 GiB a pod fits no 192 GiB node: said, and not counted.
    plan = _plan("g6.12xlarge", 4, 1, 4, (2, 2), memory="200Gi")
    [pool] = [p for p in pools(plan, PRICES) if p.gpus_per_node]
    assert pool.unschedulable == ["aws-use1-chat-deployment"] and pool.min_scale == 1


def test_whatif_counts_only_the_replicas_a_pool_holds_at_its_maximum() -> None:
    # min_replicas 9 on a pool of at most 4 one-GPU nodes holds 4 warm replicas, not 9.
    plan = _plan("g6.xlarge", 1, 1, 4, (9, 9))
    [check] = [c for c in analyse(plan, "aws-use1", PRICES).checks
               if c.target == "min GPU replicas"]
    assert check.actual == "0"  # the only cell is the one lost
    plan["resources"].append(_r("aiinfra:index:Cell", "aws-use2", STACK, custom=False,
                                outputs={"cloud": "aws", "region": "us-east-2"}))
    [check] = [c for c in analyse(plan, "aws-use2", PRICES).checks if c.target == "min GPU replicas"]
    assert check.actual == "4" and "4 of 9 minimum replicas fit" in check.note
    [check] = [c for c in analyse(plan, "aws-use2").checks if c.target == "min GPU replicas"]
    assert check.actual == "9" and "no machine catalog" in check.note


def test_prod_prices_the_gpu_nodes_chat_needs(plans: dict[str, dict[str, Any]]) -> None:
    """Each prod cell keeps 2 chat replicas of 1 GPU on 1-GPU nodes: 2 GPU nodes per cloud at least,
    and the stack's budget covers them."""
    report = estimate(plans["prod"], PRICES)
    gpu = {l.cell: l.quantity_min for l in report.lines if l.kind == "GPU nodes"}
    assert gpu == {"aws-use1": 2, "azure-eus": 2, "gcp-usc1": 2}
    assert report.budget_usd is not None and report.total_min <= report.budget_usd


@pytest.mark.parametrize("text,value", [("3", 3.0), ("500m", 0.5), ("12Gi", 12 * 1024 ** 3), ("1G", 1e9),
                                        (2, 2.0), ("lots", None)])
def test_kubernetes_quantities(text: Any, value: float | None) -> None:
    assert quantity(text) == value


def test_allocatable_follows_the_published_tiers() -> None:
    # 4 vCPU, 16 GiB (by hand): CPU 0.06 + 0.01 + 2 x 0.005 = 0.08 reserved; memory 1 + 0.8 + 0.8 = 2.6 GiB
    # reserved, plus 100 MiB eviction threshold.
    cpu, memory = allocatable(4, 16)
    assert cpu == pytest.approx(3.92)
    assert memory == pytest.approx(16 - 2.6 - 100 / 1024)
