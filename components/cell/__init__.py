"""Cell: everything one cloud region contributes to an environment.

A cell never depends on another cell; only global traffic reads from all of
them. That keeps `pulumi up` parallel and lets large users split cells into
stacks of their own later.
"""

from __future__ import annotations

from typing import Callable

import pulumi

from ..backup import BackupOptions, BackupPlan, BackupPlanArgs
from ..common import Environment
from ..common.dispatch import unknown
from ..compute import GpuNodePool, GpuNodePoolArgs, KubernetesCluster, KubernetesClusterArgs
from ..dns import DnsZone
from ..network import Network, NetworkArgs
from ..serving import EndpointOptions, ModelEndpoint, ModelEndpointArgs
from ..spec.model import AwsCell, AzureCell, GcpCell
from ..storage import ObjectStore, ObjectStoreArgs
from . import aws, azure, gcp
from .foundation import Foundation


FoundationBuilder = Callable[[pulumi.Resource, Environment], Foundation]
CELL_TYPES = (AwsCell, AzureCell, GcpCell)


def _foundation(spec: AwsCell | AzureCell | GcpCell) -> FoundationBuilder:
    """The cloud's foundation (provider, shared scopes) for the cell, chosen before anything is registered."""
    match spec:
        case AwsCell():
            return lambda parent, env: aws.foundation(parent, spec, env)
        case AzureCell():
            return lambda parent, env: azure.foundation(parent, spec, env)
        case GcpCell():
            return lambda parent, env: gcp.foundation(parent, spec, env)
        case _:
            unknown(spec, "Cell spec.cloud", [t.model_fields["cloud"].default for t in CELL_TYPES],
                    received=getattr(spec, "cloud", type(spec).__name__))


class Cell(pulumi.ComponentResource):
    """One cloud + region: provider, object store, and (when configured) network, cluster, GPU pools,
    model endpoints and backups.

    Outputs: `cloud`, `region`, `bucket_name`, `bucket_url`, `cluster_name`.
    """

    def __init__(self, spec: AwsCell | AzureCell | GcpCell, environment: Environment,
                 backup: BackupOptions | None = None, opts: pulumi.ResourceOptions | None = None, *,
                 dns_zone: DnsZone | None = None, global_hostnames: dict[str, tuple[str, ...]] | None = None,
                 api_key: pulumi.Input[str] | None = None):
        """`dns_zone`: the environment's zone, for the endpoints' entry records and certificate
        validation; `global_hostnames`: per endpoint name, the global names that also reach it;
        `api_key`: the environment's API key (a secret) cluster-mode endpoints enforce."""
        name = spec.name
        foundation = _foundation(spec)
        opts = environment.tagged(self, opts, cell=name)
        super().__init__("aiinfra:index:Cell", name, None, opts)
        self.spec = spec
        base = foundation(self, environment)
        self.provider = base.provider
        child = pulumi.ResourceOptions(parent=self, providers=[base.provider])
        self.store = ObjectStore(
            f"{name}-store",
            ObjectStoreArgs(cloud=spec.cloud, region=spec.region, environment=environment, options=spec.storage,
                            resource_group_name=base.resource_group_name, project=base.project),
            opts=child)
        self.network: Network | None = None
        self.cluster: KubernetesCluster | None = None
        self.gpu_pools: list[GpuNodePool] = []
        if spec.cluster is not None:
            self.network = Network(
                f"{name}-network",
                NetworkArgs(cloud=spec.cloud, region=spec.region, environment=environment, options=spec.network,
                            resource_group_name=base.resource_group_name, project=base.project),
                opts=child)
            self.cluster = KubernetesCluster(
                f"{name}-cluster",
                KubernetesClusterArgs(cloud=spec.cloud, region=spec.region, environment=environment,
                                      network=self.network.outputs, options=spec.cluster,
                                      resource_group_name=base.resource_group_name, project=base.project),
                opts=child)
            for pool in spec.gpu_pools:
                self.gpu_pools.append(GpuNodePool(
                    f"{name}-gpu-{pool.name}",
                    GpuNodePoolArgs(cluster=self.cluster, options=pool, environment=environment),
                    opts=pulumi.ResourceOptions(providers=[base.provider])))
        self.endpoints: list[ModelEndpoint] = []
        for endpoint in spec.endpoints:
            self.endpoints.append(ModelEndpoint(
                f"{name}-{endpoint.name}",
                ModelEndpointArgs(
                    cloud=spec.cloud, region=spec.region, environment=environment, options=endpoint,
                    bucket_name=self.store.bucket_name, bucket_url=self.store.url, store=self.store,
                    cluster=self.cluster, gpu_pool=self._pool_for(endpoint),
                    resource_group_name=base.resource_group_name, project=base.project,
                    dns_zone=dns_zone if endpoint.mode == "cluster" else None,
                    api_key=api_key if endpoint.mode == "cluster" and endpoint.auth == "api_key" else None,
                    global_hostnames=(global_hostnames or {}).get(endpoint.name, ())),
                opts=child))
        self.backup: BackupPlan | None = None
        if backup is not None:
            self.backup = BackupPlan(
                f"{name}-backup",
                BackupPlanArgs(cloud=spec.cloud, region=spec.region, environment=environment, options=backup,
                               cell_name=name, store=self.store, cluster=self.cluster,
                               resource_group_name=base.resource_group_name, project=base.project),
                opts=child)
        self.register_outputs({
            "cloud": spec.cloud, "region": spec.region,
            "bucket_name": self.store.bucket_name, "bucket_url": self.store.url,
            "cluster_name": self.cluster.cluster_name if self.cluster else None,
            "endpoints": {e.options.name: {"mode": e.options.mode, "url": e.url, "entry_hostname": e.entry_hostname,
                                           "health_path": e.options.model.health_path}
                          for e in self.endpoints},
        })

    def _pool_for(self, endpoint: EndpointOptions) -> GpuNodePool | None:
        """The pool a cluster-mode endpoint runs on: the named one, else the first with its GPU."""
        if endpoint.mode != "cluster":
            return None
        for pool in self.gpu_pools:
            if endpoint.gpu_pool == pool.options.name or (
                    endpoint.gpu_pool is None and pool.options.gpu == endpoint.accelerator.gpu):
                return pool
        return None
