"""Cell: everything one cloud region contributes to an environment.

A cell never depends on another cell; only global traffic reads from all of
them. That keeps `pulumi up` parallel and lets large users split cells into
stacks of their own later.
"""

from __future__ import annotations

from typing import Callable, Mapping

import pulumi

from ..alerts import AlertChannel, AlertChannelArgs, AlertOptions
from ..backup import BackupOptions, BackupPlan, BackupPlanArgs
from ..common import Environment
from ..common.dispatch import unknown
from ..compute import GpuNodePool, GpuNodePoolArgs, KubernetesCluster, KubernetesClusterArgs
from ..dns import DnsZone
from ..images import Credential, ImageCache, ImageCacheArgs
from ..metrics import ClusterMetrics, ClusterMetricsArgs
from ..network import Network, NetworkArgs
from ..serving import EndpointOptions, ModelEndpoint, ModelEndpointArgs
from ..serving.images import upstreams
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
    """One cloud + region: provider, object store, and (when configured) network, cluster with its
    metrics pipeline and image cache, GPU pools, model endpoints, backups and an alert channel.

    Outputs: `cloud`, `region`, `bucket_name`, `bucket_url`, `cluster_name`.
    """

    def __init__(self, spec: AwsCell | AzureCell | GcpCell, environment: Environment,
                 backup: BackupOptions | None = None, opts: pulumi.ResourceOptions | None = None, *,
                 dns_zone: DnsZone | None = None, global_hostnames: dict[str, tuple[str, ...]] | None = None,
                 api_key: pulumi.Input[str] | None = None, alerts: AlertOptions | None = None,
                 registry_credentials: Mapping[str, Credential] | None = None):
        """`dns_zone`: the environment's zone, for the endpoints' entry records and certificate
        validation; `global_hostnames`: per endpoint name, the global names that also reach it;
        `api_key`: the environment's API key (a secret) cluster-mode endpoints enforce; `alerts`: who
        the cell's alarms reach; `registry_credentials`: per upstream registry, for the image cache."""
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
        self.alerts: AlertChannel | None = None
        if alerts is not None:
            self.alerts = AlertChannel(
                f"{name}-alerts",
                AlertChannelArgs(cloud=spec.cloud, region=spec.region, environment=environment, options=alerts,
                                 resource_group_name=base.resource_group_name, project=base.project),
                opts=child)
        self.network: Network | None = None
        self.cluster: KubernetesCluster | None = None
        self.images: ImageCache | None = None
        self.metrics: ClusterMetrics | None = None
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
            needed = upstreams(spec.cloud, spec.endpoints)
            if needed:
                self.images = ImageCache(
                    f"{name}-images",
                    ImageCacheArgs(cloud=spec.cloud, region=spec.region, environment=environment, upstreams=needed,
                                   credentials={h: c for h, c in (registry_credentials or {}).items() if h in needed},
                                   cluster=self.cluster, resource_group_name=base.resource_group_name,
                                   project=base.project),
                    opts=child)
            self.metrics = ClusterMetrics(
                f"{name}-metrics",
                ClusterMetricsArgs(cloud=spec.cloud, region=spec.region, environment=environment, cluster=self.cluster,
                                   gpu_telemetry=bool(spec.gpu_pools), image_cache=self.images,
                                   resource_group_name=base.resource_group_name, project=base.project),
                opts=child)
            for pool in spec.gpu_pools:
                self.gpu_pools.append(GpuNodePool(
                    f"{name}-gpu-{pool.name}",
                    GpuNodePoolArgs(cluster=self.cluster, options=pool, environment=environment, alerts=self.alerts,
                                    metrics=self.metrics),
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
                    global_hostnames=(global_hostnames or {}).get(endpoint.name, ()),
                    image_cache=self.images if endpoint.mode == "cluster" else None,
                    metrics=self.metrics if endpoint.mode == "cluster" else None, alerts=self.alerts),
                opts=child))
        self.backup: BackupPlan | None = None
        if backup is not None:
            self.backup = BackupPlan(
                f"{name}-backup",
                BackupPlanArgs(cloud=spec.cloud, region=spec.region, environment=environment, options=backup,
                               cell_name=name, store=self.store, cluster=self.cluster,
                               resource_group_name=base.resource_group_name, project=base.project,
                               alerts=self.alerts),
                opts=child)
        self.register_outputs({
            "cloud": spec.cloud, "region": spec.region,
            "bucket_name": self.store.bucket_name, "bucket_url": self.store.url,
            "cluster_name": self.cluster.cluster_name if self.cluster else None,
            "endpoints": {e.options.name: {"mode": e.options.mode, "url": e.url, "entry_hostname": e.entry_hostname,
                                           "health_path": e.options.model.health_path,
                                           "cold_start_seconds": e.cold_start_seconds}
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
