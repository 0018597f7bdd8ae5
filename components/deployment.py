"""Build a whole environment from its spec: the cells, then what spans them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from .cell import Cell
from .common import Environment, InputError, Problem
from .common.dispatch import unknown
from .spec import EnvironmentSpec
from .spec.model import AzureCell, GcpCell
from .traffic import GlobalEndpoint, GlobalEndpointArgs, TrafficOptions, resolve_backends
from .traffic.args import PROVIDERS, Provider

C = TypeVar("C", AzureCell, GcpCell)


@dataclass(frozen=True)
class _GlobalHome:
    """Where the global endpoint's resources live: the provider, and the Azure group or GCP project."""

    provider: pulumi.ProviderResource
    resource_group_name: pulumi.Input[str] | None = None
    project: str | None = None


def _first(spec: EnvironmentSpec, kind: type[C], provider: Provider) -> C:
    """The first cell of `kind`: the DNS provider's resources go to its region (and project)."""
    found = next((c for c in spec.cells if isinstance(c, kind)), None)
    if found is None:
        raise InputError("invalid environment", [Problem(
            "aiinfra:traffic.provider", provider, f"allowed: {provider} only with a cell of type {kind.__name__}")])
    return found


def _global_home(spec: EnvironmentSpec, provider: Provider) -> Callable[[Environment], _GlobalHome]:
    """The DNS provider's home for the global endpoint, chosen before anything is registered."""
    match provider:
        case "route53":
            return lambda environment: _GlobalHome(aws.Provider("global-aws", region="us-east-1"))
        case "traffic_manager":
            region = _first(spec, AzureCell, provider).region

            def azure_home(environment: Environment) -> _GlobalHome:
                azure = azure_native.Provider("global-azure", location=region)
                # The profile's own group, so the global endpoint depends on no cell.
                group = azure_native.resources.ResourceGroup(
                    "global-rg", location=region, tags=environment.resource_tags(),
                    opts=pulumi.ResourceOptions(provider=azure, protect=environment.protected,
                                                retain_on_delete=environment.protected))
                return _GlobalHome(azure, resource_group_name=group.name)
            return azure_home
        case "cloud_dns":
            gcp_cell = _first(spec, GcpCell, provider)
            return lambda environment: _GlobalHome(
                gcp.Provider("global-gcp", project=gcp_cell.project, region=gcp_cell.region), project=gcp_cell.project)
        case _:
            unknown(provider, "aiinfra:traffic.provider", PROVIDERS)


def _global_endpoint(traffic: TrafficOptions, home: _GlobalHome, environment: Environment,
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
    return GlobalEndpoint(
        "global",
        GlobalEndpointArgs(options=traffic, backends=backends, environment=environment,
                           resource_group_name=home.resource_group_name, project=home.project),
        opts=pulumi.ResourceOptions(providers=[home.provider]))


def deploy(spec: EnvironmentSpec) -> dict[str, Cell]:
    """Register every cell of `spec`, then the global endpoint, and export provider-neutral outputs."""
    environment = Environment(name=spec.environment, tags=spec.tags.as_dict())
    global_home = _global_home(spec, spec.traffic.provider) if spec.traffic is not None else None
    cells = {cell.name: Cell(cell, environment, backup=spec.cell_backup(cell)) for cell in spec.cells}
    pulumi.export("environment", spec.environment)
    pulumi.export("cells", {
        name: {"cloud": c.spec.cloud, "region": c.spec.region,
               "bucket_name": c.store.bucket_name, "bucket_url": c.store.url}
        for name, c in cells.items()})
    pulumi.export("targets", spec.targets.model_dump(exclude_none=True))
    if spec.traffic is not None and global_home is not None:
        endpoint = _global_endpoint(spec.traffic, global_home(environment), environment, cells)
        pulumi.export("traffic", {"hostname": spec.traffic.hostname, "endpoint": spec.traffic.endpoint,
                                  "policy": spec.traffic.policy, "provider": spec.traffic.provider,
                                  "failover_seconds": endpoint.failover_seconds})
    return cells
