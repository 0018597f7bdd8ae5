"""DnsZone on Cloud DNS: a public managed zone with DNSSEC, records as `gcp.dns.RecordSet`."""

from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_gcp as gcp

from ..common.naming import global_name
from .args import DnsZoneArgs, RecordType
from .built import ZoneBuilt


def create_zone(parent: pulumi.Resource, name: str, args: DnsZoneArgs) -> ZoneBuilt:
    options, env = args.options, args.environment
    if options.zone_id is not None:
        return ZoneBuilt(ref=options.zone_id, project=args.project)
    zone = gcp.dns.ManagedZone(
        f"{name}-zone", name=global_name(name), dns_name=f"{options.zone.rstrip('.')}.",
        description=f"The {env.name} environment's public names", visibility="public",
        dnssec_config={"state": "on"}, force_destroy=False, project=args.project,
        opts=env.child(parent, stateful=True))
    return ZoneBuilt(ref=zone.name, name_servers=zone.name_servers, stateful=[zone], project=args.project)


def _dotted(name: str) -> str:
    return name if name.endswith(".") else f"{name}."


def record(zone_ref: pulumi.Input[str], project: str | None, role: str, fqdn: pulumi.Input[str],
           type_: RecordType, values: pulumi.Input[Sequence[pulumi.Input[str]]], ttl: int,
           opts: pulumi.ResourceOptions) -> pulumi.Resource:
    # Cloud DNS wants fully qualified names, with the trailing dot, for the name and CNAME targets.
    def rrdata(value: str) -> str:
        match type_:
            case "CNAME":
                return _dotted(value)
            case "TXT":  # Cloud DNS keeps TXT data quoted
                return value if value.startswith('"') else f'"{value}"'
            case _:
                return value

    rrdatas = pulumi.Output.from_input(values).apply(lambda vs: [rrdata(str(v)) for v in vs])
    return gcp.dns.RecordSet(role, managed_zone=zone_ref, name=pulumi.Output.from_input(fqdn).apply(_dotted),
                             type=type_, ttl=ttl, rrdatas=rrdatas, project=project, opts=opts)
