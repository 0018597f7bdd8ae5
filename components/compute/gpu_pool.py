"""GpuNodePool: GPUs described by name ("two L4s, spot, scale to zero") on EKS, AKS or GKE.

The catalog turns the GPU and count into the cloud's machine type; a
combination the cloud does not offer is rejected with what it does offer.
Every pool carries the `nvidia.com/gpu=present:NoSchedule` taint so only pods
that ask for GPUs land there, and the labels `aiinfra.io/pool`,
`aiinfra.io/gpu` and `nvidia.com/gpu.present=true` for node selection.
"""

from __future__ import annotations

from typing import Callable

import pulumi

from ..catalog.gpus import MachineType, gpu_machine, gpu_offer_problem, offered_counts
from ..catalog.regions import CLOUDS, Cloud
from ..common import Problem, raise_if_any
from ..common.dispatch import choice_problems, unknown
from .args import POOL_ALERT_NEEDS_METRICS, GpuNodePoolArgs, GpuPoolOptions

PoolBuilder = Callable[[pulumi.Resource, str, GpuNodePoolArgs, MachineType], pulumi.Output[str]]


def gpu_pool_problems(cloud: str, options: GpuPoolOptions) -> list[Problem]:
    """Catalog rules; paths are relative to the pool options."""
    bad = gpu_offer_problem(cloud, options.gpu, options.gpus_per_node)
    if bad is None:
        return []
    if offered_counts(cloud, options.gpu):  # the GPU exists on this cloud, not at this count
        return [Problem("gpus_per_node", options.gpus_per_node, bad)]
    return [Problem("gpu", options.gpu, bad)]


def _alert_problems(cloud: Cloud, args: GpuNodePoolArgs) -> list[Problem]:
    """The at-maximum alert needs the cluster's metrics where it is a Prometheus rule; the channel must be
    the cluster's cloud and region (alarms notify in their region)."""
    problems: list[Problem] = []
    if args.alerts is None:
        return problems
    if POOL_ALERT_NEEDS_METRICS[cloud] and args.metrics is None:
        problems.append(Problem("GpuNodePoolArgs.metrics", None, f"required with alerts on {cloud}: the pool's "
                                "at-maximum alert is a rule of the cluster's managed Prometheus (ClusterMetrics)",
                                missing=True))
    if (args.alerts.cloud, args.alerts.region) != (cloud, args.cluster.args.region):
        problems.append(Problem("GpuNodePoolArgs.alerts", f"a channel in {args.alerts.cloud} {args.alerts.region}",
                                f"allowed: a channel in {cloud} {args.cluster.args.region}"))
    return problems


class GpuNodePool(pulumi.ComponentResource):
    """A GPU node pool that autoscales between `min_nodes` (0 allowed) and `max_nodes`.

    Outputs: `pool_name`, `machine_type`, `gpu`, `gpus_per_node`, `spot`.
    """

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        cloud = args.cluster.args.cloud
        raise_if_any(f"invalid GpuNodePool {name!r}",
                     choice_problems("GpuNodePoolArgs.cluster.args.cloud", cloud, CLOUDS))
        raise_if_any(f"invalid GpuNodePool {name!r}",
                     [p.under("GpuNodePoolArgs.options") for p in gpu_pool_problems(cloud, args.options)]
                     + _alert_problems(cloud, args))
        machine = gpu_machine(cloud, args.options.gpu, args.options.gpus_per_node)
        build = _builder(cloud)
        opts = pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(parent=args.cluster), opts)
        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:compute:GpuNodePool", name, None, opts)
        self.machine = machine
        self.options = args.options
        pool_name = build(self, name, args, machine)
        args.cluster.ensure_device_plugin()
        self.pool_name = pool_name
        self.register_outputs({"pool_name": pool_name, "machine_type": machine.name, "gpu": args.options.gpu,
                               "gpus_per_node": args.options.gpus_per_node, "spot": args.options.spot,
                               "min_nodes": args.options.min_nodes, "max_nodes": args.options.max_nodes})


def _builder(cloud: Cloud) -> PoolBuilder:
    """The per-cloud pool builder, chosen before anything is registered."""
    match cloud:
        case "aws":
            from . import aws
            return aws.build_gpu_pool
        case "azure":
            from . import azure
            return azure.build_gpu_pool
        case "gcp":
            from . import gcp
            return gcp.build_gpu_pool
        case _:
            unknown(cloud, "GpuNodePoolArgs.cluster.args.cloud", CLOUDS)
