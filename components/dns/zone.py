"""DnsZone: the environment's public DNS zone, and the one way anything in the program adds records to it.

Every name the environment serves lives in this zone: each cell's entry name
(`aws-use1.models.example.com`, a record to its load balancer's address), the
global traffic name, and the DNS validation records of the certificates that
cover them. The zone lives in one cloud (`route53`, `cloud_dns` or `azure_dns`);
records for it are created through that cloud's provider wherever in the program
they are made, with `record()`, as children of the component they belong to, so
they are created after it and removed with it. `acme_dns01()` gives cert-manager in a
cluster the credentials to write its ACME challenge records here, also through the zone's
provider and limited to this zone (components/dns/acme.py).
"""

from __future__ import annotations

from typing import Callable, Sequence

import pulumi

from ..common import InputError, Problem, raise_if_any
from ..common.dispatch import choice_problems, unknown
from . import azure_dns, cloud_dns, route53
from .acme import AcmeClient, AcmeDns01, acme_dns01_problems
from .args import DNS_PROVIDERS, DnsProvider, DnsZoneArgs, RecordType, name_in_zone
from .built import ZoneBuilt

ZoneCreator = Callable[[pulumi.Resource, str, DnsZoneArgs], ZoneBuilt]


def _creator(provider: DnsProvider) -> ZoneCreator:
    match provider:
        case "route53":
            return route53.create_zone
        case "cloud_dns":
            return cloud_dns.create_zone
        case "azure_dns":
            return azure_dns.create_zone
        case _:
            unknown(provider, "DnsZoneArgs.options.provider", DNS_PROVIDERS)


class DnsZone(pulumi.ComponentResource):
    """The environment's zone (created, protected and retained in prod, or an existing one).

    Outputs: `zone` (its name), `provider`, `name_servers` (of a created zone: delegate the domain
    to them; None for an existing zone)."""

    name_servers: pulumi.Output[Sequence[str]] | None

    def __init__(self, name: str, args: DnsZoneArgs, opts: pulumi.ResourceOptions | None = None):
        problems = choice_problems("DnsZoneArgs.options.provider", args.options.provider, DNS_PROVIDERS)
        if args.options.provider == "cloud_dns" and not args.project:
            problems.append(Problem("DnsZoneArgs.project", None, "required with Cloud DNS", missing=True))
        if args.options.provider == "azure_dns" and args.resource_group_name is None:
            problems.append(Problem("DnsZoneArgs.resource_group_name", None, "required with Azure DNS",
                                    missing=True))
        raise_if_any(f"invalid DnsZone {name!r}", problems)
        create = _creator(args.options.provider)
        opts = args.environment.tagged(self, pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(providers=[args.provider])))
        super().__init__("aiinfra:dns:DnsZone", name, None, opts)
        self.args = args
        self.zone_name = args.options.zone
        self.dns_provider: DnsProvider = args.options.provider
        self.cloud_provider = args.provider
        self.built = create(self, name, args)
        self.stateful = self.built.stateful
        self.name_servers = self.built.name_servers
        self.register_outputs({"zone": args.options.zone, "provider": args.options.provider,
                               "name_servers": self.name_servers})

    def covers(self, name: str) -> bool:
        """Whether `name` belongs in this zone."""
        return name_in_zone(name, self.zone_name)

    def record(self, owner: pulumi.Resource, role: str, fqdn: pulumi.Input[str], type_: RecordType,
               values: pulumi.Input[Sequence[pulumi.Input[str]]], *, ttl: int = 300, allow_overwrite: bool = False,
               depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.Resource:
        """A record `fqdn` -> `values` in this zone, a child of `owner`, through the zone's provider.

        `role` is the record's resource name (unique in the program). `allow_overwrite` (Route 53)
        takes over an existing record of the same name and type, for records several owners write with
        the same value (a certificate authority's validation record for a name two cells share)."""
        opts = pulumi.ResourceOptions(parent=owner, provider=self.cloud_provider, depends_on=[self, *depends_on])
        match self.dns_provider:
            case "route53":
                return route53.record(self.built.ref, role, fqdn, type_, values, ttl, allow_overwrite, opts)
            case "cloud_dns":
                return cloud_dns.record(self.built.ref, self.built.project, role, fqdn, type_, values, ttl, opts)
            case "azure_dns":
                assert self.built.resource_group_name is not None
                return azure_dns.record(self.built.ref, self.zone_name, self.built.resource_group_name, role, fqdn,
                                        type_, values, ttl, opts)
            case _:
                unknown(self.dns_provider, "DnsZone.dns_provider", DNS_PROVIDERS)

    def acme_dns01(self, owner: pulumi.Resource, client: AcmeClient) -> AcmeDns01:
        """Credentials for cert-manager (`client`) to answer ACME DNS-01 challenges in this zone, and the
        ClusterIssuer solver block that uses them: cloud resources of the zone's provider, children of
        `owner` (the cluster they serve), created after the zone; see components/dns/acme.py.

        Raises InputError for a pairing refused by `acme_dns01_problems` (call that first to report it
        before anything is registered)."""
        raise_if_any(f"ACME DNS-01 in zone {self.zone_name!r}",
                     acme_dns01_problems(self.dns_provider, client.cluster_cloud))
        opts = pulumi.ResourceOptions(parent=owner, provider=self.cloud_provider, depends_on=[self])
        match self.dns_provider:
            case "route53":
                return route53.acme_dns01(self.built.ref, client, opts)
            case "azure_dns":
                assert self.built.resource_group_name is not None
                return azure_dns.acme_dns01(self.zone_name, self.built.resource_group_name, client, owner, opts)
            case "cloud_dns":  # refused above (acme_dns01_problems)
                raise InputError(f"ACME DNS-01 in zone {self.zone_name!r}",
                                 acme_dns01_problems(self.dns_provider, client.cluster_cloud))
            case _:
                unknown(self.dns_provider, "DnsZone.dns_provider", DNS_PROVIDERS)
