"""Build a whole environment from its spec: the cells, then what spans them."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from .cell import Cell
from .common import Environment
from .spec import EnvironmentSpec
from .traffic import GlobalEndpoint, GlobalEndpointArgs, TrafficOptions, resolve_backends


def _global_endpoint(spec: EnvironmentSpec, traffic: TrafficOptions, environment: Environment,
                     cells: dict[str, Cell]) -> GlobalEndpoint:
    """The one hostname in front of every cell serving `traffic.endpoint`, on the chosen DNS provider.

    It only reads the cells' entry hostnames: no other cross-cell dependency exists.
    """
    targets = []
    for name, cell in cells.items():
        for endpoint in cell.endpoints:
            if endpoint.options.name == traffic.endpoint and endpoint.entry_hostname is not None:
                targets.append((name, cell.spec.cloud, cell.spec.region, endpoint.entry_hostname))
    backends = resolve_backends(traffic, targets)
    resource_group: pulumi.Input[str] | None = None
    project: str | None = None
    if traffic.provider == "route53":
        provider: pulumi.ProviderResource = aws.Provider("global-aws", region="us-east-1")
    elif traffic.provider == "traffic_manager":
        region = next(c.region for c in spec.cells if c.cloud == "azure")
        provider = azure_native.Provider("global-azure", location=region)
        # The profile's own group, so the global endpoint depends on no cell.
        group = azure_native.resources.ResourceGroup(
            "global-rg", location=region, tags=environment.resource_tags(),
            opts=pulumi.ResourceOptions(provider=provider, protect=environment.protected,
                                        retain_on_delete=environment.protected))
        resource_group = group.name
    else:
        gcp_cell = next(c for c in spec.cells if c.cloud == "gcp")
        project = getattr(gcp_cell, "project")
        provider = gcp.Provider("global-gcp", project=project, region=gcp_cell.region)
    return GlobalEndpoint(
        "global",
        GlobalEndpointArgs(options=traffic, backends=backends, environment=environment,
                           resource_group_name=resource_group, project=project),
        opts=pulumi.ResourceOptions(providers=[provider]))


def deploy(spec: EnvironmentSpec) -> dict[str, Cell]:
    """Register every cell of `spec`, then the global endpoint, and export provider-neutral outputs."""
    environment = Environment(name=spec.environment, tags=spec.tags.as_dict())
    cells = {cell.name: Cell(cell, environment, backup=spec.cell_backup(cell)) for cell in spec.cells}
    pulumi.export("environment", spec.environment)
    pulumi.export("cells", {
        name: {"cloud": c.spec.cloud, "region": c.spec.region,
               "bucket_name": c.store.bucket_name, "bucket_url": c.store.url}
        for name, c in cells.items()})
    pulumi.export("targets", spec.targets.model_dump(exclude_none=True))
    if spec.traffic is not None:
        endpoint = _global_endpoint(spec, spec.traffic, environment, cells)
        pulumi.export("traffic", {"hostname": spec.traffic.hostname, "endpoint": spec.traffic.endpoint,
                                  "policy": spec.traffic.policy, "provider": spec.traffic.provider,
                                  "failover_seconds": endpoint.failover_seconds})
    return cells
