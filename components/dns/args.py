"""Arguments of DnsZone: the environment's DNS zone, on Route 53, Cloud DNS or Azure DNS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, Literal, Sequence, TypedDict, TypeVar, get_args

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from ..common import Environment, Problem

DnsProvider = Literal["route53", "cloud_dns", "azure_dns"]
DNS_PROVIDERS: tuple[DnsProvider, ...] = get_args(DnsProvider)
RecordType = Literal["A", "CNAME", "TXT"]

V = TypeVar("V")


class PerDnsProvider(TypedDict, Generic[V]):
    """A fact per DNS zone provider (see components.common.dispatch)."""

    route53: V
    cloud_dns: V
    azure_dns: V


DNS_PROVIDER_TITLES: PerDnsProvider[str] = {"route53": "Route 53", "cloud_dns": "Cloud DNS", "azure_dns": "Azure DNS"}

_HOSTNAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_HOSTNAME_RE = re.compile(_HOSTNAME)


class DnsOptions(BaseModel):
    """The environment's DNS zone (the spec's `aiinfra:dns`): every public name the environment
    serves lives in it, the cells' entry names and the global traffic name alike, so the stack
    can create their records, and the certificates' DNS validation records, itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zone: str = Field(pattern=_HOSTNAME, max_length=253)
    """The zone's name, e.g. `models.example.com`."""

    provider: DnsProvider = "route53"
    """Who serves the zone: `route53`, `cloud_dns` (in the first GCP cell's project) or `azure_dns`
    (in the Azure global resource group). Default route53."""

    zone_id: str | None = None
    """An existing zone to use: Route 53 hosted zone id, Cloud DNS managed zone name or Azure DNS zone
    name (in the global resource group). Default: create the zone (protected and retained in prod;
    delegate the domain to its name servers, exported as `dns.name_servers`)."""


def name_in_zone(name: str, zone: str) -> bool:
    """Whether `name` is `zone` or a name below it."""
    name, zone = name.rstrip("."), zone.rstrip(".")
    return name == zone or name.endswith(f".{zone}")


def dns_problems(options: DnsOptions, names: Sequence[tuple[str, str]]) -> list[Problem]:
    """Every (key path, hostname) the environment serves must be inside the zone."""
    return [Problem(path, name, f"allowed: a name in the zone {options.zone!r} (aiinfra:dns.zone), where "
                                "the stack creates its record and its certificate's validation records")
            for path, name in names if not name_in_zone(name, options.zone)]


@dataclass(frozen=True)
class DnsZoneArgs:
    """Arguments of DnsZone."""

    options: DnsOptions
    """Zone name, provider, existing zone; see DnsOptions."""
    environment: Environment
    """Name, tags and protection: a created zone is protected and retained in prod."""
    provider: pulumi.ProviderResource
    """The cloud provider the zone lives in (records anywhere in the program are created through it)."""
    project: str | None = None
    """Cloud DNS: the project of the zone."""
    resource_group_name: pulumi.Input[str] | None = None
    """Azure DNS: the resource group of the zone."""
