"""GlobalEndpoint: one hostname over the cells' endpoints that keeps answering when a cloud fails.

DNS-based load balancing with health checks and failover across clouds, on
Route 53, Azure Traffic Manager or Cloud DNS. The front door validates the
options against the provider's limits, installs the environment's tags and
hands over to `route53.py`, `traffic_manager.py` or `cloud_dns.py`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
from pydantic import ValidationError

from ..catalog.regions import CLOUDS
from ..common import Problem, raise_if_any
from ..common.dispatch import choice_problems, unknown
from . import cloud_dns, route53, traffic_manager
from .args import POLICIES, PROVIDERS, USES_PRIORITIES, BackendOptions, GlobalEndpointArgs, PerProvider, Policy, Provider, \
    TrafficBuilder, TrafficOptions, assign_priorities, effective_weight, failover_seconds, traffic_problems


def _builder(provider: Provider, policy: Policy) -> TrafficBuilder:
    """The provider's builder for the policy, chosen before anything is registered."""
    match provider:
        case "route53":
            return route53.builder(policy)
        case "traffic_manager":
            return traffic_manager.builder(policy)
        case "cloud_dns":
            return cloud_dns.builder(policy)
        case _:
            unknown(provider, "TrafficOptions.provider", PROVIDERS)


def _choice_problems(args: GlobalEndpointArgs) -> list[Problem]:
    """Provider, policy and backend clouds outside their Literals: every other rule looks them up."""
    return [*choice_problems("GlobalEndpointArgs.options.provider", args.options.provider, PROVIDERS),
            *choice_problems("GlobalEndpointArgs.options.policy", args.options.policy, POLICIES),
            *(p for i, b in enumerate(args.backends)
              for p in choice_problems(f"GlobalEndpointArgs.backends[{i}].cloud", b.cloud, CLOUDS))]


def _merged_options(args: GlobalEndpointArgs) -> tuple[TrafficOptions, list[Problem]]:
    """The options with each backend's settings taken from `args.backends` (the resolved truth)."""
    problems: list[Problem] = []
    merged: dict[str, BackendOptions] = dict(args.options.backends)
    for i, b in enumerate(args.backends):
        # An address an entry exports (an Output) is checked by the cloud that gives it; a literal one here.
        values: dict[str, Any] = {"weight": b.weight, "priority": b.priority, "geo": list(b.geo),
                                  "ip": b.ip if isinstance(b.ip, str) else None}
        try:
            merged[b.name] = BackendOptions(**values)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(part) for part in error["loc"])
                problems.append(Problem(f"GlobalEndpointArgs.backends[{i}].{loc}", error.get("input"),
                                        str(error["msg"]).removeprefix("Value error, ")))
            merged[b.name] = BackendOptions.model_construct(**values)
    return args.options.model_copy(update={"backends": merged}), problems


# Which zone providers each routing provider can put its records in.
ZONE_PROVIDERS: PerProvider[tuple[str, ...]] = {
    "route53": ("route53",),  # health-checked routing records live in a Route 53 hosted zone
    "cloud_dns": ("cloud_dns",),  # routing policies are Cloud DNS record sets
    "traffic_manager": ("route53", "cloud_dns", "azure_dns"),  # a CNAME to the profile, in any zone
}


def _zone_problems(args: GlobalEndpointArgs) -> list[Problem]:
    options, zone = args.options, args.zone
    if zone is None:
        if options.zone is None:
            return [Problem("GlobalEndpointArgs.options.zone", None,
                            "required without GlobalEndpointArgs.zone: the DNS zone holding the hostname", missing=True)]
        return []
    problems: list[Problem] = []
    if options.zone is not None and options.zone.rstrip(".") != zone.zone_name.rstrip("."):
        problems.append(Problem("GlobalEndpointArgs.options.zone", options.zone,
                                f"allowed: the DnsZone's {zone.zone_name!r}, or nothing"))
    if options.zone_id is not None:
        problems.append(Problem("GlobalEndpointArgs.options.zone_id", options.zone_id,
                                "allowed: nothing with GlobalEndpointArgs.zone (the DnsZone says which zone)"))
    if zone.dns_provider not in ZONE_PROVIDERS[options.provider]:
        problems.append(Problem("GlobalEndpointArgs.zone", zone.dns_provider,
                                f"allowed with provider {options.provider}: a zone on "
                                f"{' or '.join(ZONE_PROVIDERS[options.provider])}"))
    return problems


class GlobalEndpoint(pulumi.ComponentResource):
    """One global hostname answered by DNS among the healthy backends.

    Outputs: `hostname`, `provider`, `policy`, `failover_seconds` (worst case, an int known at plan
    time), `backends` (names), `health_check_ids`; `name_servers` of a created zone (delegate the
    zone to them), `stateful` (created zones).
    """

    hostname: pulumi.Output[str]

    def __init__(self, name: str, args: GlobalEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_any(f"invalid GlobalEndpoint {name!r}", _choice_problems(args))
        if args.zone is not None and args.options.zone is None:
            args = dataclasses.replace(args, options=args.options.model_copy(update={"zone": args.zone.zone_name}))
        options, problems = _merged_options(args)
        targets = [(b.name, b.cloud, b.region, b.ip is not None) for b in args.backends]
        problems += [p.under("GlobalEndpointArgs.options") for p in traffic_problems(options, targets)]
        problems += _zone_problems(args)
        if options.provider == "traffic_manager" and args.resource_group_name is None:
            problems.append(Problem("GlobalEndpointArgs.resource_group_name", None,
                                    "required with provider traffic_manager: the resource group of the Traffic "
                                    "Manager profile (and of a created Azure DNS zone)", missing=True))
        raise_if_any(f"invalid GlobalEndpoint {name!r}", problems)
        build = _builder(options.provider, options.policy)

        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:traffic:GlobalEndpoint", name, None, opts)

        out = build(self, name, args)
        priorities = assign_priorities([(b.name, b.priority) for b in args.backends])
        self.hostname = pulumi.Output.from_input(options.hostname)
        self.provider = options.provider
        self.policy = options.policy
        self.ttl = options.ttl
        self.failover_seconds = failover_seconds(options)
        self.backends = [b.name for b in args.backends]
        self.health_check_ids = out.health_check_ids
        self.name_servers = out.name_servers
        self.stateful = out.stateful
        self.register_outputs({
            "hostname": options.hostname,
            "policy": options.policy,
            "provider": options.provider,
            "failover_seconds": self.failover_seconds,
            "ttl": options.ttl,
            "backends": [{"name": b.name, "weight": effective_weight(options, b.weight),
                          "priority": priorities[b.name] if USES_PRIORITIES[options.policy] else None,
                          "region": b.region} for b in args.backends],
        })
