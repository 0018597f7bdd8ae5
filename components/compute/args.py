"""Arguments and shared shapes of KubernetesCluster and GpuNodePool."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..catalog.regions import Cloud, PerCloud
from ..common import Environment
from ..network import NetworkOutputs

if TYPE_CHECKING:
    from ..alerts import AlertChannel
    from ..metrics import ClusterMetrics
    from .aws import EksHandle
    from .azure import AksHandle
    from .cluster import KubernetesCluster
    from .gcp import GkeHandle

ClusterHandle: TypeAlias = "EksHandle | AksHandle | GkeHandle"
"""What GPU pools, endpoints and backups need from a cluster: one dataclass per cloud, each in the
cloud's own module. Consumers narrow it with `isinstance` to the handle of their cloud."""

GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
GPU_NODE_LABEL = "nvidia.com/gpu.present"
"""Label every GPU node carries (value "true"): the device plugin and GPU workloads select on it."""
POOL_LABEL = "aiinfra.io/pool"
GPU_LABEL = "aiinfra.io/gpu"

_LABEL_KEY = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
_LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemPoolOptions(_Strict):
    """The system node pool: cluster add-ons, never GPUs, never spot."""

    machine_type: str | None = None
    """Machine type. Default: the catalog's system machine for the cloud (4 vCPU, 16 GiB)."""
    min_nodes: int = Field(default=2, ge=1, le=100)
    """Minimum nodes across all zones. Default 2, so one node can drain while add-ons keep running."""
    max_nodes: int = Field(default=4, ge=1, le=100)
    """Maximum nodes across all zones. Default 4."""
    spot: bool = False
    """Must stay false: system pools run cluster-critical add-ons that spot eviction would take down."""

    @field_validator("spot")
    @classmethod
    def _no_spot(cls, value: bool) -> bool:
        if value:
            raise ValueError("allowed: false; the system pool runs cluster-critical add-ons, "
                             "spot evictions would take them down (put spot capacity in gpu_pools)")
        return value

    @model_validator(mode="after")
    def _range(self) -> "SystemPoolOptions":
        if self.max_nodes < self.min_nodes:
            raise ValueError(f"max_nodes ({self.max_nodes}) must be at least min_nodes ({self.min_nodes})")
        return self


class ClusterOptions(_Strict):
    """The `cluster` section of a cell."""

    version: str = Field(pattern=r"^1\.(2[89]|3[0-9])$")
    """Kubernetes minor version, pinned (e.g. "1.31"). Required: upgrades are deliberate."""
    public_endpoint: bool = False
    """Expose the API server publicly. Default false (private endpoint). Allowed only in dev, and
    only together with `public_access_cidrs`."""
    public_access_cidrs: list[str] = []
    """CIDRs allowed to reach a public endpoint (required with `public_endpoint`; never 0.0.0.0/0)."""
    system_pool: SystemPoolOptions = SystemPoolOptions()
    """The system pool; see SystemPoolOptions."""
    secrets_key_id: str | None = None
    """Existing key for Kubernetes secrets envelope encryption: a KMS key ARN (AWS), a Key Vault
    key id (Azure) or a Cloud KMS key name (GCP). Default: the cluster creates a key with rotation."""

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not a CIDR; allowed: CIDRs such as 203.0.113.0/24") from None
            if net.prefixlen == 0:
                raise ValueError(f"{value!r} opens the API server to the world; allowed: specific CIDRs")
        return values


class Taint(_Strict):
    """A Kubernetes node taint."""

    key: str = Field(pattern=_LABEL_KEY)
    value: str = Field(default="", pattern=_LABEL_VALUE)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class GpuPoolOptions(_Strict):
    """One entry of a cell's `gpu_pools`: GPUs described by name, not by machine type."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,10}$")
    """Pool name: 1-11 lowercase letters and digits (AKS pool names are the tightest)."""
    gpu: str
    """GPU from the catalog: t4, l4, a10g (AWS), a10 (Azure), a100-40gb, a100-80gb, h100."""
    gpus_per_node: int = Field(default=1, ge=1, le=8)
    """GPUs per node; the catalog picks the machine type. Default 1."""
    min_nodes: int = Field(default=0, ge=0, le=1000)
    """Minimum nodes. Default 0: the pool scales to zero when idle."""
    max_nodes: int = Field(ge=1, le=1000)
    """Maximum nodes (required: it bounds the bill)."""
    spot: bool = False
    """Spot/preemptible capacity: much cheaper, can be evicted. Default false."""
    labels: dict[str, str] = {}
    """Extra node labels (the pool, GPU and `nvidia.com/gpu.present` labels are always set)."""
    taints: list[Taint] = []
    """Extra taints (the `nvidia.com/gpu=present:NoSchedule` taint is always set)."""

    @model_validator(mode="after")
    def _range(self) -> "GpuPoolOptions":
        if self.max_nodes < self.min_nodes:
            raise ValueError(f"max_nodes ({self.max_nodes}) must be at least min_nodes ({self.min_nodes})")
        return self

    def node_labels(self) -> dict[str, str]:
        return {**self.labels, POOL_LABEL: self.name, GPU_LABEL: self.gpu, GPU_NODE_LABEL: "true"}

    def node_taints(self) -> list[Taint]:
        gpu = Taint(key=GPU_TAINT_KEY, value=GPU_TAINT_VALUE, effect="NoSchedule")
        return [gpu, *(t for t in self.taints if t.key != GPU_TAINT_KEY)]


@dataclass(frozen=True)
class KubernetesClusterArgs:
    """Arguments of KubernetesCluster."""

    cloud: Cloud
    """`aws`, `azure` or `gcp`; the provider passed in `opts` must match."""
    region: str
    """Region of the cluster (regional/multi-zone control plane on every cloud)."""
    environment: Environment
    """Name, tags and protection; prod turns on deletion protection."""
    network: NetworkOutputs
    """Where the nodes run: a Network component's outputs (or existing subnets)."""
    options: ClusterOptions
    """Version, endpoint access, system pool, secrets key; see ClusterOptions."""
    resource_group_name: pulumi.Input[str] | None = None
    """Azure only: the resource group (required on Azure)."""
    project: str | None = None
    """GCP only: the project (required on GCP: the workload pool is `<project>.svc.id.goog`)."""


@dataclass(frozen=True)
class ClusterOutputs:
    """What every per-cloud cluster builder returns."""

    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """Kubeconfig using the cloud's exec credential plugin (no static credentials); secret."""
    handle: ClusterHandle
    """Cloud-specific facts GPU pools need (cluster resource, node role, subnets, identities)."""
    stateful: list[pulumi.Resource] = field(default_factory=list)


@dataclass(frozen=True)
class GpuNodePoolArgs:
    """Arguments of GpuNodePool."""

    cluster: "KubernetesCluster"
    """The cluster the pool joins (its cloud decides the implementation)."""
    options: GpuPoolOptions
    """GPU, count, scaling, spot, labels and taints; see GpuPoolOptions."""
    environment: Environment
    """Name, tags and protection of the environment."""
    alerts: "AlertChannel | None" = None
    """Where the pool's alarm goes (at its maximum node count for 15 minutes: demand it cannot meet), a
    channel of the cluster's cloud and region. Default: none."""
    metrics: "ClusterMetrics | None" = None
    """The cluster's metrics pipeline: on EKS and AKS the at-maximum alarm is a rule of its managed
    Prometheus (see POOL_ALERT_NEEDS_METRICS), so it is required there with `alerts`."""


POOL_ALERT_NEEDS_METRICS: PerCloud[bool] = {"aws": True, "azure": True, "gcp": False}
"""Whether a GPU pool's at-maximum alert is a rule of the cluster's managed Prometheus. EKS: the
managed node group's autoscaling group publishes no group metrics unless collection is enabled on it,
which no provider resource does for a group EKS owns; AKS: no platform metric counts a pool's nodes.
GKE: a Cloud Monitoring policy on the pool's instance groups."""
