"""Node pools and their instances: GPU taints, IMDSv2, no spot capacity for system pools.

A pool is a GPU pool when
* EKS: its amiType is an NVIDIA/GPU AMI, or its instance types are GPU families (g*, p*);
* AKS: its vmSize is N-series (Standard_N*), for agent pools and the cluster's inline profiles;
* GKE: its nodeConfig has guestAccelerators, or its machine type comes with GPUs (a2, a3, a4, g2).
Every other pool is a system pool for the spot rule. GPU pools may run on spot capacity (staging
does, on GKE and EKS): a lost spot GPU node costs a model replica, a lost system node can cost the
cluster's DNS, ingress or autoscaler.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from .common import (
    Resource,
    Setting,
    UNKNOWN,
    as_list,
    get,
    label_of,
    need,
    number,
    resource_policy,
)

EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
AKS_AGENT_POOL = "azure-native:containerservice:AgentPool"
AKS_CLUSTER = "azure-native:containerservice:ManagedCluster"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"

GPU_TAINT = "nvidia.com/gpu"
_AWS_GPU_FAMILY = re.compile(r"^(g\d|gr\d|p\d)[a-z0-9-]*\.", re.IGNORECASE)
_GKE_GPU_MACHINE = re.compile(r"^(a2|a3|a4|g2|g4)-", re.IGNORECASE)
_TAINT_EFFECTS = ("NO_SCHEDULE", "NO_EXECUTE", "NoSchedule", "NoExecute")


def eks_is_gpu(group: Resource) -> bool:
    ami = group.get("amiType")
    if isinstance(ami, str) and ("NVIDIA" in ami.upper() or "GPU" in ami.upper()):
        return True
    return any(isinstance(t, str) and _AWS_GPU_FAMILY.match(t) for t in as_list(group.get("instanceTypes")))


def aks_is_gpu(profile: Any) -> bool:
    size = get(profile, "vmSize")
    return isinstance(size, str) and size.lower().startswith("standard_n")


def gke_is_gpu(pool: Resource) -> bool:
    if as_list(pool.get("nodeConfig", "guestAccelerators")):
        return True
    machine = pool.get("nodeConfig", "machineType")
    return isinstance(machine, str) and bool(_GKE_GPU_MACHINE.match(machine))


def _structured_gpu_taint(taints: Any) -> bool:
    if taints is UNKNOWN:
        return True
    return any(get(t, "key") == GPU_TAINT and get(t, "effect") in _TAINT_EFFECTS for t in as_list(taints))


def _aks_gpu_taint(taints: Any) -> bool:
    """AKS taints are strings `key=value:Effect` or `key:Effect`."""
    if taints is UNKNOWN:
        return True
    for taint in as_list(taints):
        if taint is UNKNOWN:
            return True
        if not isinstance(taint, str) or ":" not in taint:
            continue
        head, effect = taint.rsplit(":", 1)
        if head.split("=", 1)[0] == GPU_TAINT and effect in _TAINT_EFFECTS:
            return True
    return False


def check_gpu_taint(pool: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    fix = f"Add an {GPU_TAINT} NoSchedule taint to"
    if pool.type == EKS_NODE_GROUP and eks_is_gpu(pool):
        if not _structured_gpu_taint(pool.get("taints")):
            yield f"{fix} GPU {label_of(pool)} (taints: key {GPU_TAINT}, effect NO_SCHEDULE)."
    elif pool.type == GKE_NODE_POOL and gke_is_gpu(pool):
        if not _structured_gpu_taint(pool.get("nodeConfig", "taints")):
            yield f"{fix} GPU {label_of(pool)} (nodeConfig.taints: key {GPU_TAINT}, effect NO_SCHEDULE)."
    elif pool.type == AKS_AGENT_POOL and aks_is_gpu(pool.props):
        if not _aks_gpu_taint(pool.get("nodeTaints")):
            yield f"{fix} GPU {label_of(pool)} (nodeTaints: '{GPU_TAINT}=present:NoSchedule')."
    elif pool.type == AKS_CLUSTER:
        for profile in as_list(pool.get("agentPoolProfiles")):
            if aks_is_gpu(profile) and not _aks_gpu_taint(get(profile, "nodeTaints")):
                yield (f"{fix} GPU agent pool profile '{get(profile, 'name')}' of {label_of(pool)} "
                       f"(nodeTaints: '{GPU_TAINT}=present:NoSchedule').")


HOP_LIMIT = Setting("max_hop_limit", {"type": "integer", "minimum": 1, "maximum": 64,
                                      "description": "Largest allowed IMDSv2 response hop limit (1 keeps "
                                                     "instance credentials away from pods)."}, 1)


def check_imdsv2(template: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    options = need(template.get("metadataOptions"), "metadataOptions") or {}
    if get(options, "httpEndpoint") == "disabled":
        return
    tokens = need(get(options, "httpTokens"), "metadataOptions.httpTokens")
    hops = number(need(get(options, "httpPutResponseHopLimit"), "metadataOptions.httpPutResponseHopLimit"))
    limit = config["max_hop_limit"]
    if tokens != "required" or hops is None or hops > limit:
        yield (f"Set metadataOptions.httpTokens to required and httpPutResponseHopLimit to at most {int(limit)} on "
               f"{label_of(template)}.")


def check_no_spot_system(pool: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    if pool.type == EKS_NODE_GROUP:
        if not eks_is_gpu(pool) and need(pool.get("capacityType"), "capacityType") == "SPOT":
            yield f"Set capacityType to ON_DEMAND on system (non-GPU) {label_of(pool)}."
    elif pool.type == GKE_NODE_POOL:
        if not gke_is_gpu(pool):
            spot = need(pool.get("nodeConfig", "spot"), "nodeConfig.spot")
            preemptible = need(pool.get("nodeConfig", "preemptible"), "nodeConfig.preemptible")
            if spot is True or preemptible is True:
                yield f"Turn off nodeConfig.spot and nodeConfig.preemptible on system (non-GPU) {label_of(pool)}."
    elif pool.type == AKS_AGENT_POOL:
        if need(pool.get("mode"), "mode") == "System" and need(pool.get("scaleSetPriority"), "scaleSetPriority") == "Spot":
            yield f"Set scaleSetPriority to Regular on System-mode {label_of(pool)}."
    elif pool.type == AKS_CLUSTER:
        for profile in as_list(pool.get("agentPoolProfiles")):
            if get(profile, "mode") == "System" and get(profile, "scaleSetPriority") == "Spot":
                yield (f"Set scaleSetPriority to Regular on System-mode agent pool profile '{get(profile, 'name')}' "
                       f"of {label_of(pool)}.")


POLICIES = [
    resource_policy("gpu-node-pool-taint",
                    "GPU node pools (EKS node groups, AKS agent pools, GKE node pools) must carry the "
                    "nvidia.com/gpu NoSchedule taint.",
                    [EKS_NODE_GROUP, AKS_AGENT_POOL, AKS_CLUSTER, GKE_NODE_POOL], check_gpu_taint),
    resource_policy("launch-template-imdsv2",
                    "EC2 launch templates must require IMDSv2 tokens with a response hop limit of 1.",
                    [LAUNCH_TEMPLATE], check_imdsv2, settings=[HOP_LIMIT]),
    resource_policy("no-spot-system-node-pool",
                    "System node pools (EKS node groups, AKS agent pools, GKE node pools without GPUs) must not "
                    "run on spot capacity.",
                    [EKS_NODE_GROUP, AKS_AGENT_POOL, AKS_CLUSTER, GKE_NODE_POOL], check_no_spot_system),
]
