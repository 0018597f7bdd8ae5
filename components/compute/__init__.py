"""Compute: `KubernetesCluster`, `GpuNodePool` and their arguments."""

from .args import (
    ClusterOptions,
    GpuNodePoolArgs,
    GpuPoolOptions,
    KubernetesClusterArgs,
    SystemPoolOptions,
    Taint,
)
from .cluster import KubernetesCluster, cluster_problems
from .gpu_pool import GpuNodePool, gpu_pool_problems

__all__ = ["ClusterOptions", "GpuNodePool", "GpuNodePoolArgs", "GpuPoolOptions", "KubernetesCluster",
           "KubernetesClusterArgs", "SystemPoolOptions", "Taint", "cluster_problems", "gpu_pool_problems"]
