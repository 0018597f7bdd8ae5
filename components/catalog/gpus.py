"""Cloud-neutral GPU catalog: "l4 x 2" in, the right machine type on AWS, Azure or GCP out.

Users name a GPU (`GPU_NAMES`) and a count; `gpu_machine(cloud, gpu, count)`
returns the one machine type that cloud uses for it, with the facts the rest of
the library needs (node pool machine type, GKE accelerator, vCPUs, memory,
hourly price). `gpu_offer_problem` says the same thing as an "allowed: ..."
text for config validation. `system_machine` does the same for the small
general-purpose pools that run cluster add-ons.

Where the facts come from
-------------------------
* Machine shapes (vCPUs, memory, GPUs per machine): each cloud's instance/VM
  size docs -- "Amazon EC2 accelerated computing instances", "Azure VM sizes:
  GPU accelerated", "Compute Engine GPU machine types".
* On-demand prices: each cloud's public Linux pay-as-you-go price list in one
  region (AWS us-east-1, Azure eastus, GCP us-central1 unless the row's
  `price_region` says otherwise). They differ by region and change over time:
  use them for estimates and for comparing options, never for billing.
* GCP prices are the host VM *plus* its attached GPUs (N1 + T4 are billed
  separately; A2/A3/G2 bundle them), so they compare like-for-like with the
  AWS and Azure prices, which always include the GPUs.
* Prices marked `price_is_estimate` are derived or unconfirmed figures (the row's
  `source` says how); treat them as approximate.
* Spot prices are *always* estimates (`spot_is_estimate`, `spot_source`): a
  typical discount applied to the on-demand price, and only for families where
  that discount is well established. Real spot prices move by zone and hour.
  Everything else has `spot_usd_per_hour=None`.
* Every machine here is x86_64 (`arch`). On EKS that means the x86_64 NVIDIA AMI
  types (e.g. `AL2023_x86_64_NVIDIA`); none of these needs an Arm AMI.
* `as_of` is when the figure was recorded in this catalog.

How to add a machine type
-------------------------
1. Add one row to the cloud's table below (`_AWS_GPU`, `_AZURE_GPU`, `_GCP_GPU`
   or `_SYSTEM`): GPU name, GPUs per machine, machine type name, vCPUs, memory
   (GiB), on-demand USD/hour, the price basis (a key of `_PRICE_BASES`: where
   the price comes from and whether it is an estimate) and the spot basis (a key
   of `_SPOT_BASES`, or None when no spot estimate is given).
2. A new GPU name also goes in `GPU_NAMES` and, if GKE can attach it, in
   `GKE_ACCELERATORS` (the GKE accelerator type string).
3. Anything a user should know about the machine (availability limits, a
   different GPU variant) goes in `_NOTES`, keyed by machine type name.
4. Run `pytest tests/test_gpu_catalog.py`: it checks each (cloud, GPU, count)
   appears once and that every fact is filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..common.dispatch import unknown
from .regions import CLOUDS, Cloud, PerCloud


class CatalogError(ValueError):
    """A GPU, GPU count, cloud or machine type the catalog does not offer."""


AS_OF = "2026-11"
"""When the figures in this file were recorded."""

GPU_NAMES: tuple[str, ...] = ("t4", "l4", "a10g", "a10", "a100-40gb", "a100-80gb", "h100")
"""Cloud-neutral GPU names. `a10g` (AWS G5) and `a10` (Azure NVadsA10 v5) are different GPUs."""

GKE_ACCELERATORS: dict[str, str] = {
    "t4": "nvidia-tesla-t4",
    "l4": "nvidia-l4",
    "a100-40gb": "nvidia-tesla-a100",
    "a100-80gb": "nvidia-a100-80gb",
    "h100": "nvidia-h100-80gb",
}
"""GKE / Compute Engine accelerator type per GPU name (node pool `guest_accelerator.type`)."""

_ATTACHED_ACCELERATORS: PerCloud[dict[str, str] | None] = {"aws": None, "azure": None, "gcp": GKE_ACCELERATORS}
"""Accelerator types by GPU name where a node pool attaches GPUs to a host machine (GKE); None where
the machine type already is the GPU machine (EC2, Azure VM sizes)."""


@dataclass(frozen=True)
class MachineType:
    """One machine type on one cloud, with the facts components and cost estimates need."""

    cloud: str
    """One of "aws", "azure", "gcp"."""
    name: str
    """Instance type (AWS), VM size (Azure, e.g. Standard_NC4as_T4_v3) or machine type (GCP)."""
    gpu: str | None
    """Cloud-neutral GPU name (one of GPU_NAMES), None for a system (CPU-only) machine."""
    gpu_count: int
    """GPUs per machine; 0 for a system machine."""
    vcpus: int
    memory_gib: float
    usd_per_hour: float
    """On-demand Linux USD/hour in `price_region`; on GCP host VM + attached GPUs."""
    spot_usd_per_hour: float | None
    """Spot/preemptible USD/hour, None when the catalog gives no figure."""
    spot_is_estimate: bool
    """True whenever `spot_usd_per_hour` is set: a typical discount, not a quoted price."""
    price_is_estimate: bool
    """True when `usd_per_hour` is derived or unconfirmed; see `source`."""
    accelerator: str | None
    """GKE accelerator type on GCP (e.g. nvidia-l4); None elsewhere and for system machines."""
    source: str
    """Where the price and the machine shape come from."""
    as_of: str
    """When the figures were recorded (YYYY-MM)."""
    arch: str
    """CPU architecture: "x86_64" for everything in this catalog (EKS: an x86_64 NVIDIA AMI type)."""
    price_region: str
    """The region `usd_per_hour` was read for."""
    spot_source: str | None
    """How `spot_usd_per_hour` was estimated; None when there is no spot figure."""
    note: str
    """Caveats worth knowing before choosing this machine; empty when none."""

    @property
    def usd_per_gpu_hour(self) -> float | None:
        """On-demand price divided by GPUs; None for a system machine."""
        return self.usd_per_hour / self.gpu_count if self.gpu_count else None


# --- Where prices come from ---------------------------------------------------------------
# key: (price is an estimate, region the price is for, source text)
_PRICE_BASES: dict[str, tuple[bool, str, str]] = {
    "aws": (False, "us-east-1", "AWS EC2 On-Demand pricing, Linux, us-east-1"),
    "aws-p-family": (
        True, "us-east-1",
        "AWS EC2 On-Demand list price, Linux, us-east-1, as published before AWS's June 2025 "
        "price reduction for P4d/P4de/P5 (up to 45% lower since): likely an overestimate, "
        "confirm against the provider's price list"),
    "azure": (False, "eastus", "Azure Linux Virtual Machines pay-as-you-go pricing, eastus"),
    "azure-estimate": (
        True, "eastus",
        "estimate: Azure pay-as-you-go, eastus, scaled from the 1-GPU size of the same series; "
        "confirm against the provider's price list"),
    "gcp": (False, "us-central1",
            "GCP Compute Engine on-demand pricing, us-central1 (host VM + attached GPUs)"),
    "gcp-sum": (
        True, "us-central1",
        "estimate: GCP on-demand N1 host VM price + NVIDIA T4 GPU price per GPU, us-central1, "
        "rounded; confirm against the provider's price list"),
    "gcp-estimate": (
        True, "us-central1",
        "estimate: GCP on-demand, us-central1, scaled from other sizes of the same series "
        "(host VM + attached GPUs); confirm against the provider's price list"),
    "gcp-a3-estimate": (
        True, "us-east4",
        "estimate: GCP on-demand A3 High, us-east4 (host VM + attached GPUs); confirm against "
        "the provider's price list"),
}

# key: (fraction of the on-demand price, source text). Spot figures are always estimates.
_SPOT_BASES: dict[str, tuple[float, str]] = {
    "aws-g": (0.35, "estimate: 35% of on-demand, the typical 60-70% EC2 Spot discount for "
                    "g4dn/g5/g6 (AWS Spot Instance Advisor); real Spot prices vary by zone and hour"),
    "gcp": (0.35, "estimate: 35% of on-demand, the typical 60-70% GCP Spot VM discount for "
                  "N1+T4 and G2 (cloud.google.com/spot-vms/pricing); Spot prices change up to "
                  "monthly"),
}

_SPEC_SOURCES: PerCloud[str] = {
    "aws": "AWS EC2 instance type docs (accelerated computing / general purpose)",
    "azure": "Azure VM size docs (GPU accelerated / general purpose)",
    "gcp": "Compute Engine machine type and GPU docs",
}

# --- The tables ---------------------------------------------------------------------------
# (GPU, GPUs per machine, machine type, vCPUs, memory GiB, on-demand USD/h, price basis, spot basis)
_Row = tuple[str, int, str, int, float, float, str, str | None]

_AWS_GPU: tuple[_Row, ...] = (
    ("t4",        1, "g4dn.xlarge",     4,   16,  0.526, "aws", "aws-g"),
    ("t4",        4, "g4dn.12xlarge",  48,  192,  3.912, "aws", "aws-g"),
    ("t4",        8, "g4dn.metal",     96,  384,  7.824, "aws", "aws-g"),
    ("l4",        1, "g6.xlarge",       4,   16,  0.805, "aws", "aws-g"),
    ("l4",        4, "g6.12xlarge",    48,  192,  4.602, "aws", "aws-g"),
    ("l4",        8, "g6.48xlarge",   192,  768, 13.35,  "aws", "aws-g"),
    ("a10g",      1, "g5.xlarge",       4,   16,  1.006, "aws", "aws-g"),
    ("a10g",      4, "g5.12xlarge",    48,  192,  5.672, "aws", "aws-g"),
    ("a10g",      8, "g5.48xlarge",   192,  768, 16.29,  "aws", "aws-g"),
    ("a100-40gb", 8, "p4d.24xlarge",   96, 1152, 32.77,  "aws-p-family", None),
    ("a100-80gb", 8, "p4de.24xlarge",  96, 1152, 40.97,  "aws-p-family", None),
    ("h100",      8, "p5.48xlarge",   192, 2048, 98.32,  "aws-p-family", None),
)

_AZURE_GPU: tuple[_Row, ...] = (
    ("t4",        1, "Standard_NC4as_T4_v3",        4,   28,  0.526, "azure", None),
    ("t4",        4, "Standard_NC64as_T4_v3",      64,  440,  4.352, "azure", None),
    ("a10",       1, "Standard_NV36ads_A10_v5",    36,  440,  3.20,  "azure", None),
    ("a100-40gb", 8, "Standard_ND96asr_v4",        96,  900, 27.20,  "azure", None),
    ("a100-80gb", 1, "Standard_NC24ads_A100_v4",   24,  220,  3.673, "azure", None),
    ("a100-80gb", 2, "Standard_NC48ads_A100_v4",   48,  440,  7.346, "azure", None),
    ("a100-80gb", 4, "Standard_NC96ads_A100_v4",   96,  880, 14.69,  "azure", None),
    ("a100-80gb", 8, "Standard_ND96amsr_A100_v4",  96, 1900, 32.77,  "azure", None),
    ("h100",      1, "Standard_NC40ads_H100_v5",   40,  320,  6.98,  "azure", None),
    ("h100",      2, "Standard_NC80adis_H100_v5",  80,  640, 13.96,  "azure-estimate", None),
    ("h100",      8, "Standard_ND96isr_H100_v5",   96, 1900, 98.32,  "azure", None),
)

_GCP_GPU: tuple[_Row, ...] = (
    ("t4",        1, "n1-standard-4",     4,   15,  0.54,  "gcp-sum", "gcp"),
    ("t4",        2, "n1-standard-8",     8,   30,  1.08,  "gcp-sum", "gcp"),
    ("t4",        4, "n1-standard-16",   16,   60,  2.16,  "gcp-sum", "gcp"),
    ("l4",        1, "g2-standard-4",     4,   16,  0.707, "gcp", "gcp"),
    ("l4",        2, "g2-standard-24",   24,   96,  2.0,   "gcp-estimate", "gcp"),
    ("l4",        4, "g2-standard-48",   48,  192,  4.002, "gcp", "gcp"),
    ("l4",        8, "g2-standard-96",   96,  384,  8.0,   "gcp-estimate", "gcp"),
    ("a100-40gb", 1, "a2-highgpu-1g",    12,   85,  3.673, "gcp", None),
    ("a100-40gb", 2, "a2-highgpu-2g",    24,  170,  7.35,  "gcp", None),
    ("a100-40gb", 4, "a2-highgpu-4g",    48,  340, 14.69,  "gcp", None),
    ("a100-40gb", 8, "a2-highgpu-8g",    96,  680, 29.39,  "gcp", None),
    ("a100-80gb", 1, "a2-ultragpu-1g",   12,  170,  5.07,  "gcp-estimate", None),
    ("a100-80gb", 2, "a2-ultragpu-2g",   24,  340, 10.14,  "gcp-estimate", None),
    ("a100-80gb", 4, "a2-ultragpu-4g",   48,  680, 20.28,  "gcp-estimate", None),
    ("a100-80gb", 8, "a2-ultragpu-8g",   96, 1360, 40.55,  "gcp-estimate", None),
    ("h100",      1, "a3-highgpu-1g",    26,  234, 10.98,  "gcp-a3-estimate", None),
    ("h100",      2, "a3-highgpu-2g",    52,  468, 21.96,  "gcp-a3-estimate", None),
    ("h100",      4, "a3-highgpu-4g",   104,  936, 43.9,   "gcp-a3-estimate", None),
    ("h100",      8, "a3-highgpu-8g",   208, 1872, 87.8,   "gcp-a3-estimate", None),
)

# (cloud, machine type, vCPUs, memory GiB, on-demand USD/h, price basis) -- CPU-only system pools.
_SYSTEM: tuple[tuple[Cloud, str, int, float, float, str], ...] = (
    ("aws",   "m6i.large",        2,  8, 0.096, "aws"),
    ("aws",   "m6i.xlarge",       4, 16, 0.192, "aws"),
    ("aws",   "m6i.2xlarge",      8, 32, 0.384, "aws"),
    ("azure", "Standard_D2s_v5",  2,  8, 0.096, "azure"),
    ("azure", "Standard_D4s_v5",  4, 16, 0.192, "azure"),
    ("azure", "Standard_D8s_v5",  8, 32, 0.384, "azure"),
    ("gcp",   "e2-standard-2",    2,  8, 0.067, "gcp"),
    ("gcp",   "e2-standard-4",    4, 16, 0.134, "gcp"),
    ("gcp",   "n2-standard-4",    4, 16, 0.194, "gcp"),
)

SYSTEM_DEFAULTS: PerCloud[str] = {
    "aws": "m6i.xlarge",
    "azure": "Standard_D4s_v5",
    "gcp": "e2-standard-4",
}
"""Default system-pool machine type per cloud: general purpose, 4 vCPU, 16 GiB."""

_NOTES: dict[str, str] = {
    "g4dn.metal": "bare metal instance: slower to boot than virtualised sizes",
    "p4de.24xlarge": "limited availability (mostly via EC2 Capacity Blocks); check capacity first",
    "Standard_NV36ads_A10_v5": "NVIDIA A10 (24 GB), not AWS's A10G; NVadsA10 v5 targets graphics/VDI "
                               "but runs CUDA",
    "Standard_NC24ads_A100_v4": "A100 80GB PCIe",
    "Standard_NC48ads_A100_v4": "A100 80GB PCIe",
    "Standard_NC96ads_A100_v4": "A100 80GB PCIe",
    "Standard_NC40ads_H100_v5": "H100 NVL (94 GB, PCIe), not H100 SXM 80GB",
    "Standard_NC80adis_H100_v5": "H100 NVL (94 GB, PCIe), not H100 SXM 80GB",
    "a3-highgpu-1g": "GCP offers A3 High with fewer than 8 GPUs only as Spot or Flex-start "
                     "(Dynamic Workload Scheduler) VMs; check before relying on on-demand",
    "a3-highgpu-2g": "GCP offers A3 High with fewer than 8 GPUs only as Spot or Flex-start "
                     "(Dynamic Workload Scheduler) VMs; check before relying on on-demand",
    "a3-highgpu-4g": "GCP offers A3 High with fewer than 8 GPUs only as Spot or Flex-start "
                     "(Dynamic Workload Scheduler) VMs; check before relying on on-demand",
}

# --- Managed Kubernetes control-plane fees ------------------------------------------------
CLUSTER_FEE_USD_PER_HOUR: dict[str, float] = {
    "eks": 0.10,
    "eks-extended-support": 0.60,
    "gke": 0.10,
    "aks-free": 0.0,
    "aks-standard": 0.10,
    "aks-premium": 0.60,
}
"""Per-cluster control-plane fee, USD/hour, by service and tier."""

EKS_FEE_SOURCE = ("Amazon EKS pricing: $0.10 per cluster per hour on standard support, "
                  "$0.60 on extended support")
GKE_FEE_SOURCE = ("GKE pricing: $0.10 per cluster per hour cluster management fee (Standard and "
                  "Autopilot); a monthly free-tier credit covers one zonal or Autopilot cluster "
                  "per billing account")
AKS_FEE_SOURCE = ("AKS pricing tiers: Free tier no cluster management fee; Standard tier $0.10 "
                  "and Premium tier $0.60 per cluster per hour")
CLUSTER_FEE_SOURCES: dict[str, str] = {
    "eks": EKS_FEE_SOURCE, "eks-extended-support": EKS_FEE_SOURCE, "gke": GKE_FEE_SOURCE,
    "aks-free": AKS_FEE_SOURCE, "aks-standard": AKS_FEE_SOURCE, "aks-premium": AKS_FEE_SOURCE,
}
CLUSTER_FEE_AS_OF = AS_OF


# --- Building the catalog -----------------------------------------------------------------
def _machine(cloud: Cloud, gpu: str | None, count: int, name: str, vcpus: int, memory_gib: float,
             usd: float, price_basis: str, spot_basis: str | None) -> MachineType:
    is_estimate, region, price_source = _PRICE_BASES[price_basis]
    spot: float | None = None
    spot_source: str | None = None
    if spot_basis is not None:
        fraction, spot_source = _SPOT_BASES[spot_basis]
        spot = round(usd * fraction, 2)
    attached = _ATTACHED_ACCELERATORS[cloud]
    return MachineType(
        cloud=cloud, name=name, gpu=gpu, gpu_count=count, vcpus=vcpus,
        memory_gib=float(memory_gib), usd_per_hour=usd, spot_usd_per_hour=spot,
        spot_is_estimate=spot is not None, price_is_estimate=is_estimate,
        accelerator=attached[gpu] if attached is not None and gpu is not None else None,
        source=f"{price_source}; shape: {_SPEC_SOURCES[cloud]}", as_of=AS_OF, arch="x86_64",
        price_region=region, spot_source=spot_source, note=_NOTES.get(name, ""))


_GPU_ROWS: PerCloud[tuple[_Row, ...]] = {"aws": _AWS_GPU, "azure": _AZURE_GPU, "gcp": _GCP_GPU}

GPU_MACHINES: tuple[MachineType, ...] = tuple(
    _machine(cloud, gpu, count, name, vcpus, mem, usd, basis, spot)
    for cloud in CLOUDS
    for gpu, count, name, vcpus, mem, usd, basis, spot in _GPU_ROWS[cloud]
)
"""Every GPU machine type, all clouds."""

SYSTEM_MACHINES: tuple[MachineType, ...] = tuple(
    _machine(cloud, None, 0, name, vcpus, mem, usd, basis, None)
    for cloud, name, vcpus, mem, usd, basis in _SYSTEM
)
"""Every CPU-only machine type for system node pools, all clouds."""

_BY_OFFER: dict[tuple[str, str, int], MachineType] = {
    (m.cloud, m.gpu, m.gpu_count): m for m in GPU_MACHINES if m.gpu is not None
}


# --- Lookups ------------------------------------------------------------------------------
def gpu_machines(cloud: str, gpu: str) -> list[MachineType]:
    """The machine types `cloud` offers for `gpu`, fewest GPUs first (empty when none)."""
    return sorted((m for m in GPU_MACHINES if m.cloud == cloud and m.gpu == gpu),
                  key=lambda m: m.gpu_count)


def offered_counts(cloud: str, gpu: str) -> list[int]:
    """GPUs per machine `cloud` offers for `gpu`, ascending (empty when none)."""
    return [m.gpu_count for m in gpu_machines(cloud, gpu)]


def offered_gpus(cloud: str) -> list[str]:
    """The GPU names `cloud` offers, in GPU_NAMES order."""
    return [g for g in GPU_NAMES if offered_counts(cloud, g)]


def _plural(count: int) -> str:
    return f"{count} GPU" if count == 1 else f"{count} GPUs"


def _sizes(cloud: str, gpu: str) -> str:
    return ", ".join(f"{_plural(m.gpu_count)} ({m.name})" for m in gpu_machines(cloud, gpu))


def _offer_problem(cloud: str, gpu: str, count: int) -> tuple[str, str] | None:
    """None when offered, else (error message, "allowed: ..." text)."""
    if cloud not in CLOUDS:
        clouds = ", ".join(CLOUDS)
        return (f"unknown cloud {cloud!r}; known clouds: {clouds}",
                f"allowed: one of the clouds {clouds}")
    if gpu not in GPU_NAMES:
        names = ", ".join(GPU_NAMES)
        return (f"unknown GPU {gpu!r}; known GPUs: {names}",
                f"allowed: one of the GPUs {names}")
    if not offered_counts(cloud, gpu):
        gpus = ", ".join(offered_gpus(cloud))
        return (f"{cloud} does not offer {gpu}; GPUs {cloud} offers: {gpus}",
                f"allowed: a GPU {cloud} offers: {gpus} ({cloud} does not offer {gpu})")
    if (cloud, gpu, count) not in _BY_OFFER:
        sizes = _sizes(cloud, gpu)
        return (f"{cloud} offers {gpu} only as: {sizes}; got {_plural(count)}",
                f"allowed: {gpu} on {cloud} only as: {sizes}")
    return None


def gpu_offer_problem(cloud: str, gpu: str, count: int) -> str | None:
    """None when `cloud` offers `count` x `gpu` on one machine, else what is allowed.

    The text starts with "allowed: " so a config validator can print it next to
    the key path, like `region_problem`.
    """
    problem = _offer_problem(cloud, gpu, count)
    return None if problem is None else problem[1]


def gpu_machine(cloud: str, gpu: str, count: int) -> MachineType:
    """The machine type with `count` x `gpu` on `cloud`; CatalogError says what is offered."""
    problem = _offer_problem(cloud, gpu, count)
    if problem is not None:
        raise CatalogError(problem[0])
    return _BY_OFFER[(cloud, gpu, count)]


def system_machine(cloud: str, name: str | None = None) -> MachineType:
    """A CPU-only machine type for system pools; `SYSTEM_DEFAULTS[cloud]` when `name` is None."""
    if cloud not in CLOUDS:
        raise CatalogError(f"unknown cloud {cloud!r}; known clouds: {', '.join(CLOUDS)}")
    wanted = SYSTEM_DEFAULTS[cloud] if name is None else name
    choices = [m for m in SYSTEM_MACHINES if m.cloud == cloud]
    for m in choices:
        if m.name == wanted:
            return m
    raise CatalogError(f"unknown {cloud} system machine type {wanted!r}; "
                       f"allowed: {', '.join(m.name for m in choices)}")


def cluster_fee_usd_per_hour(cloud: str, aks_tier: str = "free") -> float:
    """Control-plane fee of one managed cluster on `cloud` (EKS standard support, GKE, AKS `aks_tier`)."""
    if cloud not in CLOUDS:
        raise CatalogError(f"unknown cloud {cloud!r}; known clouds: {', '.join(CLOUDS)}")
    match cloud:
        case "aws":
            return CLUSTER_FEE_USD_PER_HOUR["eks"]
        case "gcp":
            return CLUSTER_FEE_USD_PER_HOUR["gke"]
        case "azure":
            key = f"aks-{aks_tier.lower()}"
            if key not in CLUSTER_FEE_USD_PER_HOUR:
                raise CatalogError(f"unknown AKS tier {aks_tier!r}; allowed: free, standard, premium")
            return CLUSTER_FEE_USD_PER_HOUR[key]
        case _:
            unknown(cloud, "cloud", CLOUDS)
