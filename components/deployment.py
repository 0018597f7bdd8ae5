"""Build a whole environment from its spec: the zone, the cells, then what spans them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp
import pulumi_random as random

from .alerts import AlertChannel, AlertChannelArgs, AlertOptions
from .catalog.regions import CLOUDS, Cloud
from .cell import Cell
from .common import Environment, InputError, Problem
from .common.dispatch import unknown
from .dns import DNS_PROVIDERS, DnsOptions, DnsProvider, DnsZone, DnsZoneArgs
from .images import Credential
from .spec import EnvironmentSpec
from .spec.model import AzureCell, GcpCell
from .traffic import GlobalEndpoint, GlobalEndpointArgs, TrafficOptions, resolve_backends
from .traffic.args import PROVIDERS, Provider

C = TypeVar("C", AzureCell, GcpCell)


@dataclass(frozen=True)
class _GlobalHome:
    """Where resources that span the cells live in one cloud: the provider, and the Azure group or GCP project."""

    provider: pulumi.ProviderResource
    cloud: Cloud
    region: str
    resource_group_name: pulumi.Input[str] | None = None
    project: str | None = None


def _first(spec: EnvironmentSpec, kind: type[C], key: str, value: str) -> C:
    """The first cell of `kind`: global resources on that cloud go to its region (and project)."""
    found = next((c for c in spec.cells if isinstance(c, kind)), None)
    if found is None:
        raise InputError("invalid environment", [Problem(
            key, value, f"allowed: {value} only with a cell of type {kind.__name__}")])
    return found


class _Homes:
    """One global home per cloud, made on first use (a provider and, on Azure, a resource group)."""

    def __init__(self, spec: EnvironmentSpec, environment: Environment):
        self.spec, self.environment = spec, environment
        self._made: dict[Cloud, _GlobalHome] = {}

    def __call__(self, cloud: Cloud, key: str, value: str) -> _GlobalHome:
        if cloud not in self._made:
            self._made[cloud] = self._make(cloud, key, value)
        return self._made[cloud]

    def _make(self, cloud: Cloud, key: str, value: str) -> _GlobalHome:
        match cloud:
            case "aws":
                return _GlobalHome(aws.Provider("global-aws", region="us-east-1"), "aws", "us-east-1")
            case "azure":
                region = _first(self.spec, AzureCell, key, value).region
                azure = azure_native.Provider("global-azure", location=region)
                # The global resources' own group, so they depend on no cell.
                group = azure_native.resources.ResourceGroup(
                    "global-rg", location=region, tags=self.environment.resource_tags(),
                    opts=pulumi.ResourceOptions(provider=azure, protect=self.environment.protected,
                                                retain_on_delete=self.environment.protected))
                return _GlobalHome(azure, "azure", region, resource_group_name=group.name)
            case "gcp":
                cell = _first(self.spec, GcpCell, key, value)
                return _GlobalHome(gcp.Provider("global-gcp", project=cell.project, region=cell.region), "gcp",
                                   cell.region, project=cell.project)
            case _:
                unknown(cloud, "global home cloud", CLOUDS)


def _traffic_cloud(provider: Provider) -> Cloud:
    match provider:
        case "route53":
            return "aws"
        case "traffic_manager":
            return "azure"
        case "cloud_dns":
            return "gcp"
        case _:
            unknown(provider, "aiinfra:traffic.provider", PROVIDERS)


def _dns_cloud(provider: DnsProvider) -> Cloud:
    match provider:
        case "route53":
            return "aws"
        case "azure_dns":
            return "azure"
        case "cloud_dns":
            return "gcp"
        case _:
            unknown(provider, "aiinfra:dns.provider", DNS_PROVIDERS)


def _zone(dns: DnsOptions, homes: _Homes, environment: Environment) -> DnsZone:
    home = homes(_dns_cloud(dns.provider), "aiinfra:dns.provider", dns.provider)
    return DnsZone("dns", DnsZoneArgs(options=dns, environment=environment, provider=home.provider,
                                      project=home.project, resource_group_name=home.resource_group_name))


def _global_alerts(alerts: AlertOptions | None, home: _GlobalHome, environment: Environment) -> AlertChannel | None:
    """The channel global traffic's health-check alarms go to, in the traffic provider's cloud (on AWS
    us-east-1, where Route 53 publishes health-check metrics)."""
    if alerts is None:
        return None
    return AlertChannel("global-alerts", AlertChannelArgs(
        cloud=home.cloud, region=home.region, environment=environment, options=alerts,
        resource_group_name=home.resource_group_name, project=home.project),
        opts=pulumi.ResourceOptions(providers=[home.provider]))


def _global_endpoint(traffic: TrafficOptions, home: _GlobalHome, environment: Environment,
                     cells: dict[str, Cell], zone: DnsZone | None, alerts: AlertChannel | None) -> GlobalEndpoint:
    """The one hostname in front of every cell serving `traffic.endpoint`, on the chosen DNS provider.

    It only reads the cells' entry hostnames and addresses: no other cross-cell dependency exists.
    """
    targets = []
    for name, cell in cells.items():
        for endpoint in cell.endpoints:
            if endpoint.options.name == traffic.endpoint and endpoint.entry_hostname is not None:
                targets.append((name, cell.spec.cloud, cell.spec.region, endpoint.entry_hostname, endpoint.entry_ip))
    backends = resolve_backends(traffic, targets)
    return GlobalEndpoint(
        "global",
        GlobalEndpointArgs(options=traffic, backends=backends, environment=environment,
                           resource_group_name=home.resource_group_name, project=home.project, zone=zone,
                           alerts=alerts),
        opts=pulumi.ResourceOptions(providers=[home.provider]))


API_KEY_SECRET = "api-key"
"""The name in `aiinfra:secrets` of a key to use instead of a generated one (e.g. to rotate)."""


def _api_key(spec: EnvironmentSpec) -> pulumi.Output[str] | None:
    """The environment's API key, when a cluster-mode endpoint enforces one: `aiinfra:secrets.api-key`,
    else 48 random letters and digits (a Pulumi secret; one key for every cell, so it works through the
    global name)."""
    if not any(e.mode == "cluster" and e.auth == "api_key" for c in spec.cells for e in c.endpoints):
        return None
    if API_KEY_SECRET in spec.secrets:
        return spec.secret(API_KEY_SECRET)
    return random.RandomPassword("api-key", length=48, special=False).result


def deploy(spec: EnvironmentSpec) -> dict[str, Cell]:
    """Register the zone, every cell of `spec`, then the global endpoint, and export provider-neutral outputs."""
    environment = Environment(name=spec.environment, tags=spec.tags.as_dict())
    homes = _Homes(spec, environment)
    traffic_home: Callable[[], _GlobalHome] | None = None
    if spec.traffic is not None:
        provider = spec.traffic.provider
        cloud = _traffic_cloud(provider)
        traffic_home = lambda: homes(cloud, "aiinfra:traffic.provider", provider)  # noqa: E731
    zone = _zone(spec.dns, homes, environment) if spec.dns is not None else None
    global_names: dict[str, tuple[str, ...]] = {}
    if spec.traffic is not None:
        global_names[spec.traffic.endpoint] = (spec.traffic.hostname,)
    api_key = _api_key(spec)
    credentials = {host: Credential(username=c.username, token=spec.secret(c.token_secret))
                   for host, c in spec.images.credentials.items()}
    cells = {cell.name: Cell(cell, environment, backup=spec.cell_backup(cell), dns_zone=zone,
                             global_hostnames=global_names, api_key=api_key, alerts=spec.alerts,
                             registry_credentials=credentials) for cell in spec.cells}
    if api_key is not None:
        pulumi.export("api_key", pulumi.Output.secret(api_key))
    pulumi.export("environment", spec.environment)
    pulumi.export("cells", {
        name: {"cloud": c.spec.cloud, "region": c.spec.region,
               "bucket_name": c.store.bucket_name, "bucket_url": c.store.url}
        for name, c in cells.items()})
    pulumi.export("targets", spec.targets.model_dump(exclude_none=True))
    if zone is not None:
        pulumi.export("dns", {"zone": zone.zone_name, "provider": zone.dns_provider, "name_servers": zone.name_servers})
    if spec.traffic is not None and traffic_home is not None:
        home = traffic_home()
        endpoint = _global_endpoint(spec.traffic, home, environment, cells, zone,
                                    _global_alerts(spec.alerts, home, environment))
        pulumi.export("traffic", {"hostname": spec.traffic.hostname, "endpoint": spec.traffic.endpoint,
                                  "policy": spec.traffic.policy, "provider": spec.traffic.provider,
                                  "failover_seconds": endpoint.failover_seconds})
    return cells
