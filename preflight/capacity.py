"""How many nodes each node pool of a plan needs at minimum scale, and what it holds at maximum.

A pool's minimum scale is the larger of its own minimum and the nodes that the minimum
replicas of the workloads placed on it need: an autoscaler adds nodes for pods it cannot
schedule, so the minimum the bill sees is what those pods need, not the number written
on the pool. `cost`, `whatif` (and `quota`) use the figures from here.

From the plan only, by resource type (not by any component of ours):

- Pools: EKS node groups (`scalingConfig`, `instanceTypes`, `labels`), AKS agent pools
  and a managed cluster's inline profiles (`minCount`/`maxCount` or `count`, `vmSize`,
  `nodeLabels`), GKE node pools (autoscaling totals or per-zone counts,
  `nodeConfig.machineType` and `.labels`). A node's GPUs, vCPUs and memory come from
  the price file's machine catalog.
- Workloads: Deployments (their `replicas`, or the `minReplicas` of a
  HorizontalPodAutoscaler that targets them) and KServe InferenceServices
  (`predictor.minReplicas`), with the summed container requests of a pod (GPUs,
  CPU, memory) and the pod's `nodeSelector`. DaemonSets are left out (one pod per node
  whatever the count).
- Placement: a pod goes to a pool of the same cell whose node labels include all of the
  pod's `nodeSelector`; a pod that asks for GPUs only to pools with GPUs, one that asks
  for none only to pools without (GPU pools carry the `nvidia.com/gpu` taint).
- Fit: first-fit decreasing over nodes of the pool's machine, each with its allocatable
  CPU and memory (`ALLOCATABLE`, below) and all its GPUs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

CELL_TYPE = "aiinfra:index:Cell"
GLOBAL = "(global)"
GPU_RESOURCE = "nvidia.com/gpu"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
AKS_CLUSTER = "azure-native:containerservice:ManagedCluster"
AKS_POOL = "azure-native:containerservice:AgentPool"
GKE_POOL = "gcp:container/nodePool:NodePool"
GKE_DEFAULT_MACHINE = "e2-medium"  # GKE's default node machine type

ALLOCATABLE = {
    "source": "GKE docs, 'Standard cluster architecture: node allocatable resources' (read 2026-12): "
              "the same tiers are used for every cloud as a conservative approximation; EKS (AL2023 "
              "kube-reserved: 255 MiB + 11 MiB per max pod) and AKS (1.29+: 50 MiB + 20 MiB per max pod) "
              "reserve no more for the machine sizes in the catalog",
    # (GiB up to, fraction reserved) of memory, and (cores up to, fraction reserved) of CPU.
    "memory_tiers": [(4, 0.25), (8, 0.20), (16, 0.10), (128, 0.06), (math.inf, 0.02)],
    "cpu_tiers": [(1, 0.06), (2, 0.01), (4, 0.005), (math.inf, 0.0025)],
    "eviction_gib": 100 / 1024,
}
"""What the kubelet keeps for itself on a node: the rest is what pods may request."""


def _tiered(total: float, tiers: list[tuple[float, float]]) -> float:
    reserved, below = 0.0, 0.0
    for upto, fraction in tiers:
        if total <= below:
            break
        reserved += (min(total, upto) - below) * fraction
        below = upto
    return reserved


def allocatable(vcpus: float, memory_gib: float) -> tuple[float, float]:
    """(CPU cores, memory GiB) pods may request on a node of this size."""
    cpu = vcpus - _tiered(vcpus, ALLOCATABLE["cpu_tiers"])
    memory = memory_gib - _tiered(memory_gib, ALLOCATABLE["memory_tiers"]) - ALLOCATABLE["eviction_gib"]
    return cpu, max(memory, 0.0)


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4}


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity (`3`, `500m`, `12Gi`) as a number; None when it is not one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _QUANTITY.match(str(value)) if isinstance(value, str) else None
    if match is None or match.group(2) not in _SUFFIX:
        return None
    return float(match.group(1)) * _SUFFIX[match.group(2)]


class Machines(Protocol):
    """The machine catalog: `machine(cloud, name)` -> {gpu_count, vcpus, memory_gib, ...} or None."""

    def machine(self, cloud: str | None, name: str | None) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Workload:
    """Pods of one Deployment or InferenceService."""

    urn: str
    name: str
    cell: str
    min_replicas: int
    max_replicas: int
    gpus: float
    cpu: float
    memory_gib: float
    selector: dict[str, str]


@dataclass
class Pool:
    """One node pool: its machine, its bounds, and the workloads placed on it."""

    urn: str
    name: str
    cell: str
    cloud: str
    machine_type: str | None
    min_nodes: int
    max_nodes: int
    labels: dict[str, str]
    gpus_per_node: int = 0
    vcpus: float = 0.0
    memory_gib: float = 0.0
    known_machine: bool = False
    workloads: list[Workload] = field(default_factory=list)
    needed_at_min: int = 0
    """Nodes the workloads' minimum replicas need (0 when none is placed here)."""
    unschedulable: list[str] = field(default_factory=list)
    """Workloads one of whose pods fits on no node of this machine."""

    @property
    def min_scale(self) -> int:
        """Nodes at minimum scale: the pool's minimum, or what its workloads need, whichever is larger."""
        return max(self.min_nodes, self.needed_at_min)

    def replicas_at_max(self, workload: Workload) -> int:
        """Replicas of `workload` the pool holds at its maximum, after the minimum replicas of the
        others placed here."""
        others = [(w, w.min_replicas) for w in self.workloads if w.urn != workload.urn]
        held = 0
        while held < workload.max_replicas:
            nodes = self.nodes_for([*others, (workload, held + 1)])
            if nodes is None or nodes > self.max_nodes:
                break
            held += 1
        return held

    def nodes_for(self, demand: list[tuple[Workload, int]]) -> int | None:
        """Nodes first-fit decreasing needs for `demand` (None when a pod fits on no node)."""
        cpu, memory = allocatable(self.vcpus, self.memory_gib)
        pods = sorted(((w.gpus, w.cpu, w.memory_gib) for w, n in demand for _ in range(n)), reverse=True)
        nodes: list[list[float]] = []
        for gpus, pod_cpu, pod_memory in pods:
            if gpus > self.gpus_per_node or pod_cpu > cpu or pod_memory > memory:
                return None
            for node in nodes:
                if node[0] >= gpus and node[1] >= pod_cpu and node[2] >= pod_memory:
                    node[0] -= gpus
                    node[1] -= pod_cpu
                    node[2] -= pod_memory
                    break
            else:
                nodes.append([self.gpus_per_node - gpus, cpu - pod_cpu, memory - pod_memory])
        return len(nodes)


class _Index:
    def __init__(self, plan: dict[str, Any]):
        self.resources: list[dict[str, Any]] = list(plan.get("resources", []))
        self.by_urn = {r["urn"]: r for r in self.resources}

    def cell(self, r: dict[str, Any]) -> str:
        parent = r.get("parent")
        while parent and parent in self.by_urn:
            up = self.by_urn[parent]
            if up["type"] == CELL_TYPE:
                return up["name"]
            parent = up.get("parent")
        return GLOBAL


def _ints(lo: Any, hi: Any) -> tuple[int, int] | None:
    return (lo, hi) if isinstance(lo, int) and isinstance(hi, int) else None


def _raw_pools(idx: _Index) -> Iterator[tuple[dict[str, Any], str, str, str, Any, tuple[int, int] | None, Any]]:
    """(resource, name, cloud, cell, machine type, (min, max), labels) of every node pool."""
    for r in idx.resources:
        inputs = r.get("inputs") or {}
        cell = idx.cell(r)
        if r["type"] == EKS_NODE_GROUP:
            scaling = inputs.get("scalingConfig") or {}
            types = inputs.get("instanceTypes") or [None]
            yield r, r["name"], "aws", cell, types[0], _ints(scaling.get("minSize"), scaling.get("maxSize")), \
                inputs.get("labels")
        elif r["type"] in (AKS_CLUSTER, AKS_POOL):
            profiles = (inputs.get("agentPoolProfiles") or []) if r["type"] == AKS_CLUSTER else [inputs]
            for p in profiles:
                name = f"{r['name']}/{p.get('name', '?')}" if r["type"] == AKS_CLUSTER else r["name"]
                bounds = _ints(p.get("minCount"), p.get("maxCount")) if p.get("enableAutoScaling") else \
                    _ints(p.get("count", 1), p.get("count", 1))
                yield r, name, "azure", cell, p.get("vmSize"), bounds, p.get("nodeLabels")
        elif r["type"] == GKE_POOL:
            config = inputs.get("nodeConfig") or {}
            auto = inputs.get("autoscaling") or {}
            if "totalMinNodeCount" in auto or "totalMaxNodeCount" in auto:
                bounds = _ints(auto.get("totalMinNodeCount", 0), auto.get("totalMaxNodeCount", 0))
            else:
                locations = inputs.get("nodeLocations")
                location = str(inputs.get("location") or "")
                zones = len(locations) if isinstance(locations, list) and locations else (
                    1 if location.count("-") >= 2 else 3)
                counts = _ints(auto.get("minNodeCount", 0), auto.get("maxNodeCount", 0)) if auto else \
                    _ints(inputs.get("nodeCount", inputs.get("initialNodeCount", 1)),
                          inputs.get("nodeCount", inputs.get("initialNodeCount", 1)))
                bounds = (counts[0] * zones, counts[1] * zones) if counts else None
            yield r, r["name"], "gcp", cell, config.get("machineType", GKE_DEFAULT_MACHINE), bounds, \
                config.get("labels")


def _pod(spec: dict[str, Any]) -> tuple[float, float, float, dict[str, str]]:
    """(GPUs, CPU cores, memory GiB, nodeSelector) of a pod spec: the sums of its containers' requests
    (limits where a request is missing, as Kubernetes defaults it)."""
    gpus = cpu = memory = 0.0
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        wanted = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        gpus += quantity(wanted.get(GPU_RESOURCE)) or 0.0
        cpu += quantity(wanted.get("cpu")) or 0.0
        memory += (quantity(wanted.get("memory")) or 0.0) / 1024 ** 3
    selector = spec.get("nodeSelector")
    return gpus, cpu, memory, {str(k): str(v) for k, v in selector.items()} if isinstance(selector, dict) else {}


def workloads(plan: dict[str, Any]) -> list[Workload]:
    """Every Deployment and InferenceService of the plan with its minimum and maximum replicas."""
    idx = _Index(plan)
    scalers: dict[tuple[str, str], tuple[Any, Any]] = {}
    for r in idx.resources:
        if r["type"] == HPA:
            spec = (r.get("inputs") or {}).get("spec") or {}
            target = (spec.get("scaleTargetRef") or {}).get("name")
            if isinstance(target, str):
                scalers[(idx.cell(r), target)] = (spec.get("minReplicas", 1), spec.get("maxReplicas"))
    found: list[Workload] = []
    for r in idx.resources:
        inputs = r.get("inputs") or {}
        cell = idx.cell(r)
        if r["type"] == DEPLOYMENT:
            spec = inputs.get("spec") or {}
            name = (inputs.get("metadata") or {}).get("name")
            replicas = spec.get("replicas", 1)
            lo, hi = scalers.get((cell, name), (replicas, replicas)) if isinstance(name, str) else (replicas, replicas)
            pod = ((spec.get("template") or {}).get("spec")) or {}
        elif r["type"] == INFERENCE_SERVICE:
            predictor = (inputs.get("spec") or {}).get("predictor") or {}
            lo, hi = predictor.get("minReplicas", 1), predictor.get("maxReplicas", predictor.get("minReplicas", 1))
            model = predictor.get("model") or {}
            pod = {"containers": [{"resources": model.get("resources") or {}}],
                   "nodeSelector": predictor.get("nodeSelector")}
        else:
            continue
        if not isinstance(lo, int) or not isinstance(hi, int):
            continue
        gpus, cpu, memory, selector = _pod(pod)
        found.append(Workload(r["urn"], r["name"], cell, lo, max(hi, lo), gpus, cpu, memory, selector))
    return found


def pools(plan: dict[str, Any], machines: Machines) -> list[Pool]:
    """Every node pool of the plan, with the workloads placed on it and the nodes they need."""
    idx = _Index(plan)
    found: list[Pool] = []
    for r, name, cloud, cell, machine_type, bounds, labels in _raw_pools(idx):
        if bounds is None:
            continue
        pool = Pool(r["urn"], name, cell, cloud, machine_type if isinstance(machine_type, str) else None,
                    bounds[0], bounds[1], {str(k): str(v) for k, v in (labels or {}).items()}
                    if isinstance(labels, dict) else {})
        machine = machines.machine(cloud, pool.machine_type)
        if machine is not None:
            pool.known_machine = True
            pool.gpus_per_node = int(machine.get("gpu_count") or 0)
            pool.vcpus = float(machine.get("vcpus") or 0)
            pool.memory_gib = float(machine.get("memory_gib") or 0)
        found.append(pool)
    for workload in workloads(plan):
        for pool in found:
            if pool.cell == workload.cell and pool.known_machine \
                    and (workload.gpus > 0) == (pool.gpus_per_node > 0) \
                    and all(pool.labels.get(k) == v for k, v in workload.selector.items()):
                pool.workloads.append(workload)
                break
    for pool in found:
        pool.unschedulable = [w.name for w in pool.workloads if pool.nodes_for([(w, 1)]) is None]
        demand = [(w, w.min_replicas) for w in pool.workloads if w.name not in pool.unschedulable]
        pool.needed_at_min = (pool.nodes_for(demand) or 0) if demand else 0
    return found
