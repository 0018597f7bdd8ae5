"""Compute across clouds, from the shipped stacks' plans: structure, device plugin, catalog choices."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ancestors, cell_of, every, of_type


def _under(plan: dict[str, Any], resource: dict[str, Any], type_token: str) -> bool:
    return any(a["type"] == type_token for a in ancestors(plan, resource))


def test_prod_has_network_cluster_and_gpu_pool_in_every_cell(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    cells = {c["name"]: c["outputs"]["cloud"] for c in of_type(plan, "aiinfra:index:Cell")}
    assert set(cells.values()) == {"aws", "azure", "gcp"}
    for kind in ("aiinfra:network:Network", "aiinfra:compute:KubernetesCluster", "aiinfra:compute:GpuNodePool"):
        owners = {cell_of(plan, r) for r in of_type(plan, kind)}
        assert owners == set(cells), kind


def test_device_plugin_on_eks_and_aks_only(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    clouds = {c["name"]: c["outputs"]["cloud"] for c in of_type(plan, "aiinfra:index:Cell")}
    plugins = of_type(plan, "aiinfra:compute:NvidiaDevicePlugin")
    assert sorted(clouds[cell_of(plan, p) or ""] for p in plugins) == ["aws", "azure"]
    for ds in every(plan, "kubernetes:apps/v1:DaemonSet"):
        spec = ds["inputs"]["spec"]["template"]["spec"]
        image = spec["containers"][0]["image"]
        assert ":" in image and not image.endswith(":latest")
        assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
        assert _under(plan, ds, "aiinfra:compute:KubernetesCluster")
        # Through the cluster's own Kubernetes provider, never a default provider.
        assert ds["provider"] and ds["provider"].split("::")[-1].endswith("-k8s")


def test_every_cell_resource_is_parented_under_its_cell(plans: dict[str, Any]) -> None:
    for stack in ("dev", "staging", "prod"):
        plan = plans[stack]
        for r in plan["resources"]:
            if r["type"] in ("pulumi:pulumi:Stack", "aiinfra:index:Cell", "aiinfra:traffic:GlobalEndpoint",
                             "aiinfra:dns:DnsZone", "random:index/randomPassword:RandomPassword"):
                continue  # the environment's API key is one for every cell
            if _under(plan, r, "aiinfra:traffic:GlobalEndpoint") or _under(plan, r, "aiinfra:dns:DnsZone") \
                    or r["name"].startswith("global-"):
                continue  # the things that span cells: global traffic and the environment's zone
            assert cell_of(plan, r) is not None, r["urn"]


@pytest.mark.parametrize("stack,cell,machine,spot,minimum", [
    ("dev", "aws-use1", "g4dn.xlarge", True, 0),
    ("staging", "aws-use2", "g6.xlarge", True, 0),
    ("staging", "gcp-use4", "g2-standard-4", True, 0),
    ("prod", "aws-use1", "g6.xlarge", False, 2),
    ("prod", "gcp-usc1", "g2-standard-4", False, 2),
    ("prod", "azure-eus", "Standard_NC4as_T4_v3", False, 2),
])
def test_gpu_pools_pick_the_catalog_machine(plans: dict[str, Any], stack: str, cell: str, machine: str,
                                            spot: bool, minimum: int) -> None:
    plan = plans[stack]
    [pool] = [p for p in of_type(plan, "aiinfra:compute:GpuNodePool") if cell_of(plan, p) == cell]
    out = pool["outputs"]
    assert (out["machine_type"], out["spot"], out["min_nodes"]) == (machine, spot, minimum)
    assert _under(plan, pool, "aiinfra:compute:KubernetesCluster")


def test_kubeconfig_is_secret_and_clusters_export_their_version(plans: dict[str, Any]) -> None:
    for cluster in every(plans["prod"], "aiinfra:compute:KubernetesCluster"):
        assert cluster["outputs"]["kubeconfig"] == "<secret>"
        assert cluster["outputs"]["version"] == "1.33"
    for provider in every(plans["prod"], "pulumi:providers:kubernetes"):
        assert provider["inputs"]["kubeconfig"] in ("<secret>", "<unknown>")
