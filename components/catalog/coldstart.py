"""How long a new replica takes to serve, step by step: the figures of the cold-start budget.

A replica that lands on a new GPU node waits for the node (the autoscaler's decision, the VM, its
GPU driver), then pulls the server image, copies the model from the cell's store, and loads it into
GPU memory. `serving/coldstart.py` adds these up per endpoint; the startup probe, Pulumi's wait for
the Deployment and `preflight whatif`'s time to restore capacity all use the result.

Where a provider publishes a figure it is cited; where none exists the figure is an assumption,
stated as such, chosen on the slow side (the budget is a worst case: too short a budget kills a pod
that was about to serve, too long only delays an alarm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypedDict, TypeVar

from .regions import PerCloud

V = TypeVar("V")


class PerServer(TypedDict, Generic[V]):
    """A figure per model server of an endpoint (`EndpointOptions.engine`)."""

    vllm: V
    tgi: V
    custom: V


@dataclass(frozen=True)
class Figure:
    """One figure of the budget."""

    value: float
    unit: str
    basis: str
    """Why this value: a cited figure, or an assumption and its reasoning."""
    checked: str


NODE_READY_SECONDS: PerCloud[Figure] = {
    "aws": Figure(420, "s", "assumption: Cluster Autoscaler scans every 10 s (kubernetes/autoscaler "
                  "cluster-autoscaler FAQ, --scan-interval), an EC2 GPU instance launches and boots the EKS "
                  "accelerated AMI (NVIDIA driver preinstalled, so nothing to install) and joins in a few "
                  "minutes; 7 minutes allows a slow launch", "2026-12-08"),
    "azure": Figure(600, "s", "assumption: the cluster autoscaler scales the GPU pool's VM scale set; AKS GPU "
                    "node images install the NVIDIA driver while provisioning (AKS docs, 'Use GPUs for "
                    "compute-intensive workloads'), which makes GPU nodes the slowest to join; 10 minutes",
                    "2026-12-08"),
    "gcp": Figure(600, "s", "assumption: GKE creates the node, then its driver installer DaemonSet installs the "
                  "NVIDIA driver before the device plugin advertises GPUs (GKE docs, 'Run GPUs in GKE Standard "
                  "node pools', automatic driver installation); 10 minutes", "2026-12-08"),
}
"""From an unschedulable replica to a Ready node that advertises its GPUs."""

IMAGE_PULL_MB_PER_S = Figure(100, "MB/s", "assumption: pulling from a registry in the same region, the "
                             "node's network allows far more; containerd's layer decompression and "
                             "unpacking bound it", "2026-12-08")
"""Compressed image megabytes pulled and unpacked per second on a new node (from the cell's cache)."""

MODEL_COPY_MB_PER_S: PerCloud[Figure] = {
    "aws": Figure(200, "MB/s", "assumption: `aws s3 cp --recursive` with the CLI's default 10 concurrent requests "
                  "from S3 in the same region; S3 serves far more per prefix (S3 user guide, 'Best practices "
                  "design patterns: optimizing Amazon S3 performance': 5,500 GET/s per prefix)", "2026-12-08"),
    "azure": Figure(200, "MB/s", "assumption: AzCopy from Blob Storage in the same region with its default "
                    "concurrency; a standard account allows far more egress (Azure Storage scalability targets)",
                    "2026-12-08"),
    "gcp": Figure(200, "MB/s", "assumption: `gcloud storage cp` (parallel composite downloads, sliced objects) "
                  "from Cloud Storage in the same region", "2026-12-08"),
}
"""Model artifact megabytes copied per second from the cell's store onto the node's disk."""

LOAD_SECONDS_PER_GB = Figure(6, "s/GB", "assumption: reading safetensors from local disk into GPU memory "
                             "at about 170 MB/s, a node's ephemeral disk being the bound", "2026-12-08")
"""Seconds per GB of model to load it into GPU memory."""

SERVER_START_SECONDS: PerServer[Figure] = {
    "vllm": Figure(180, "s", "assumption: vLLM starts its engine process, profiles memory, and with the V1 "
                   "engine compiles (torch.compile) and captures CUDA graphs before /health answers; minutes "
                   "on a cold cache", "2026-12-08"),
    "tgi": Figure(120, "s", "assumption: TGI's launcher starts its shards and warms up the model (prefill of "
                  "max batch) before /health answers", "2026-12-08"),
    "custom": Figure(180, "s", "assumption: as vLLM", "2026-12-08"),
}
"""Fixed start-up time of each engine besides loading the weights."""

IMAGE_SIZE_GB: PerServer[Figure] = {
    "vllm": Figure(10, "GB", "assumption: compressed size of the vllm-openai image (a CUDA devel base with "
                   "PyTorch, FlashInfer and vLLM, for two architectures per tag), not read from the registry",
                   "2026-12-08"),
    "tgi": Figure(6, "GB", "assumption: compressed size of the TGI image (CUDA runtime base, Rust launcher and "
                  "router, Python server), not read from the registry", "2026-12-08"),
    "custom": Figure(10, "GB", "assumption: as vLLM", "2026-12-08"),
}
"""Compressed size of each engine's image, pulled once per new node."""

MARGIN = Figure(1.25, "x", "a quarter on top of the sum: the figures are estimates", "2026-12-08")
