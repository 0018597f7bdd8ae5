"""Arguments of GlobalEndpoint, the provider limits it enforces, and its worst-case failover time.

One hostname in front of the cells' endpoints, answered by DNS with health
checks: Route 53, Azure Traffic Manager (with an Azure DNS CNAME) or Cloud DNS
routing policies. What each provider accepts differs; `traffic_problems`
rejects what a provider cannot do with the provider's limit in the message,
before anything is registered.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Generic, Literal, Sequence, TypedDict, TypeVar, get_args

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..catalog.regions import Cloud, GCP_REGIONS
from ..common import Environment, Problem
from ..common.dispatch import unknown
from .locations import location_problem, nearest_region

if TYPE_CHECKING:
    from ..alerts import AlertChannel
    from ..dns import DnsZone

Provider = Literal["route53", "traffic_manager", "cloud_dns"]
Policy = Literal["round_robin", "weighted", "random", "failover", "latency", "geo"]

PROVIDERS: tuple[Provider, ...] = get_args(Provider)
POLICIES: tuple[Policy, ...] = get_args(Policy)

V = TypeVar("V")


class PerProvider(TypedDict, Generic[V]):
    """A fact per DNS provider (see components.common.dispatch)."""

    route53: V
    traffic_manager: V
    cloud_dns: V


class PerPolicy(TypedDict, Generic[V]):
    """A fact per routing policy (see components.common.dispatch)."""

    round_robin: V
    weighted: V
    random: V
    failover: V
    latency: V
    geo: V


PROVIDER_TITLES: PerProvider[str] = {"route53": "Route 53", "traffic_manager": "Traffic Manager",
                                     "cloud_dns": "Cloud DNS"}

USES_WEIGHTS: PerPolicy[bool] = {"round_robin": False, "weighted": True, "random": False, "failover": False,
                                 "latency": False, "geo": False}
"""Whether the policy answers in proportion to the backends' weights (the others weigh each backend 1)."""
USES_PRIORITIES: PerPolicy[bool] = {"round_robin": False, "weighted": False, "random": False, "failover": True,
                                    "latency": False, "geo": False}
"""Whether the policy orders the backends by priority."""

CONTINENTS = ("AF", "AN", "AS", "EU", "NA", "OC", "SA")
"""Continent codes (Route 53's). They always mean the continent: `SA` is South America and `AS`
Asia, so Saudi Arabia and American Samoa cannot be named by country code."""
DEFAULT_GEO = "*"
"""The geo code of the backend that answers every location no other backend claims."""

ROUTE53_CHECKER_REGIONS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1",
                           "ap-southeast-2", "ap-northeast-1", "sa-east-1")
"""Regions Route 53 health checkers run in (HealthCheckConfig.Regions); at least 3 when chosen."""

CLOUD_DNS_DEFAULT_PROBE_REGIONS = ("us-east4", "us-central1", "us-west1")
"""Cloud DNS health checks of external endpoints need exactly 3 source regions; these by default."""

PROBE_SPREAD_INTERVALS: PerProvider[int] = {"route53": 1, "traffic_manager": 1, "cloud_dns": 1}
"""Extra probe intervals, per provider, between a backend failing and the provider acting on it.

- Route 53: health checkers in several regions probe independently, unsynchronised; the check
  turns unhealthy once fewer than 18% of checkers report healthy ("How Route 53 determines whether
  a health check is healthy"), so the last checkers to notice lag by up to one interval.
- Traffic Manager: probes from several locations, "the consecutive failure determination happens
  within each region" (Traffic Manager endpoint monitoring); add one interval for the spread.
- Cloud DNS: one health check probes from 3 source regions and the routing policy follows the
  aggregate ("DNS routing policies and health checks"); add one interval likewise.
"""

_HOSTNAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_GEO_CODE = re.compile(r"^(\*|[A-Z]{2})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthCheckOptions(_Strict):
    """How each backend is probed. The same probe runs against every backend."""

    protocol: Literal["HTTPS", "HTTP", "TCP"] = "HTTPS"
    """Probe protocol. Default HTTPS (with SNI on Route 53). HTTP(S) probes pass on a 2xx/3xx
    answer from `path`; TCP probes pass when the port accepts a connection."""

    path: str = Field(default="/health", pattern=r"^/[^\s]*$", max_length=255)
    """HTTP(S) path answering 2xx when the backend can serve (a deep check: model loaded). Default
    `/health`. Ignored for TCP."""

    port: int = Field(default=443, ge=1, le=65535)
    """Port probed on each backend. Default 443."""

    interval_seconds: int = Field(default=30, ge=1, le=300)
    """Seconds between probes. Default 30. Route 53 and Traffic Manager allow 10 or 30 (10 costs
    more); Cloud DNS needs at least 30 for external endpoints."""

    failure_threshold: int = Field(default=3, ge=1)
    """Consecutive failed probes that make a backend unhealthy. Default 3; 1-10 on every provider
    (Traffic Manager: tolerated failures = this - 1)."""

    probe_regions: list[str] = []
    """Where probes come from, in the provider's region names. Default: the provider's default set
    (Route 53: all its checker regions; Cloud DNS: us-east4, us-central1, us-west1). Route 53: 3 or
    more of its checker regions; Cloud DNS: exactly 3 GCP regions; Traffic Manager: not settable."""


class BackendOptions(_Strict):
    """How one backend (a cell's endpoint) takes part. Keyed by cell name in TrafficOptions.backends."""

    weight: int = Field(default=1, ge=0, le=255)
    """Share of answers with policy `weighted` (0 = none while others are healthy). Default 1.
    Traffic Manager needs 1 or more."""

    priority: int | None = Field(default=None, ge=1, le=1000)
    """Policy `failover`: 1 is the primary, higher numbers are tried in order. Default: the order of
    the backends (the first is the primary)."""

    geo: list[str] = []
    """Policy `geo`: continent codes (AF AN AS EU NA OC SA) or ISO 3166-1 alpha-2 country codes this
    backend answers; `*` makes it the default for all other locations (one backend must have it)."""

    ip: str | None = None
    """A public IPv4 address of the backend's entry. Needed for Cloud DNS (health-checked targets
    are IPs) and for policy `random` on Route 53 and Traffic Manager (multivalue answers are A
    records). When every backend has one, Route 53 answers A records instead of CNAMEs."""

    @field_validator("geo")
    @classmethod
    def _geo(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not _GEO_CODE.match(code)]
        if bad:
            raise ValueError(f"allowed: '*', a continent code ({' '.join(CONTINENTS)}) or an ISO 3166-1 "
                             f"alpha-2 country code in capitals; got {bad}")
        return value

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if (bad := ip_problem(value)) is not None:
            raise ValueError(bad)
        return value


def ip_problem(value: str) -> str | None:
    """None when `value` is an IPv4 address health checkers on the internet could reach."""
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        return "allowed: an IPv4 address such as 203.0.113.10"
    private = any(address in ipaddress.IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
    if private or address.is_loopback or address.is_unspecified or address.is_multicast or address.is_link_local:
        return "allowed: a public IPv4 address (health checkers probe from the internet)"
    return None


class TrafficOptions(_Strict):
    """One global hostname over the cells' endpoints (the spec's `aiinfra:traffic`)."""

    hostname: str = Field(pattern=_HOSTNAME, max_length=253)
    """The global name clients use (lowercase FQDN, no trailing dot), inside `zone`."""

    zone: str | None = Field(default=None, pattern=_HOSTNAME, max_length=253)
    """The DNS zone holding `hostname` (e.g. example.com). In the spec: leave it out, the zone is
    `aiinfra:dns.zone`. As a library: required unless `GlobalEndpointArgs.zone` is given."""

    endpoint: str = "chat"
    """Which endpoint of the cells is behind the name: every cell with an endpoint of this name is a
    backend. Default `chat`."""

    policy: Policy = "round_robin"
    """How answers are chosen among healthy backends: `round_robin` (equal weights), `weighted`,
    `random` (multivalue answers; weighted-random on Cloud DNS), `failover` (priority order),
    `latency` (not on Cloud DNS) or `geo`. Default round_robin."""

    provider: Provider = "route53"
    """Which DNS answers: `route53`, `traffic_manager` (Azure, with a CNAME in Azure DNS) or
    `cloud_dns`. Default route53."""

    ttl: int = Field(default=60, ge=1, le=86400)
    """Seconds resolvers may cache an answer; part of the failover time. Default 60."""

    health_check: HealthCheckOptions = Field(default_factory=HealthCheckOptions)
    """How backends are probed; see HealthCheckOptions."""

    backends: dict[str, BackendOptions] = {}
    """Per-backend settings keyed by cell name; cells not listed get BackendOptions defaults."""

    zone_id: str | None = None
    """An existing zone to add the records to: Route 53 hosted zone id, Azure DNS zone name (in the
    DNS resource group) or Cloud DNS managed zone name. Default: create the zone (protected in prod;
    delegate to its name servers). In the spec: leave it out, it is `aiinfra:dns.zone_id`; as a
    library, not with `GlobalEndpointArgs.zone`."""

    @property
    def zone_name(self) -> str:
        """The zone (`zone`, filled in from the DnsZone when one is given)."""
        assert self.zone is not None, "TrafficOptions.zone is filled before use"
        return self.zone


BackendTarget = tuple[str, str, str, bool]
"""What traffic_problems needs to know of a backend: (cell name, cloud, region, has an ip)."""


@dataclass(frozen=True)
class Backend:
    """One backend of a GlobalEndpoint: a cell's endpoint, with its settings resolved."""

    name: str
    """Cell name; the record's set identifier / the Traffic Manager endpoint name."""
    cloud: Cloud
    region: str
    hostname: pulumi.Input[str]
    """The cell endpoint's public HTTPS name (CNAME target)."""
    ip: pulumi.Input[str] | None = None
    """The backend entry's public IPv4 address, when it has a stable one: health checks connect there
    with the global name as Host and SNI."""
    weight: int = 1
    priority: int | None = None
    geo: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GlobalEndpointArgs:
    """Arguments of GlobalEndpoint."""

    options: TrafficOptions
    """Hostname, zone, policy, provider, health check; see TrafficOptions."""
    backends: list[Backend]
    """The backends, in order (the default failover order). See `resolve_backends`."""
    environment: Environment
    """Name, tags and protection: created zones are protected and retained in prod."""
    resource_group_name: pulumi.Input[str] | None = None
    """Traffic Manager only (required): the resource group of the profile(s) and of a created DNS zone."""
    project: str | None = None
    """Cloud DNS only: the project of the zone and health check. Default: the provider's project."""
    dns_zone_resource_group_name: pulumi.Input[str] | None = None
    """Traffic Manager with `zone_id`: the resource group of the existing Azure DNS zone.
    Default: `resource_group_name`."""
    alerts: "AlertChannel | None" = None
    """Where a backend's failing health check is reported, a channel of the traffic provider's cloud (on
    AWS in us-east-1, where Route 53 publishes health-check metrics). Default: none."""
    zone: "DnsZone | None" = None
    """The environment's DnsZone to put the records in (Route 53 needs a Route 53 zone, Cloud DNS a
    Cloud DNS zone; Traffic Manager's CNAME goes in any). Default: `options.zone`, created here."""


@dataclass(frozen=True)
class TrafficOutputs:
    """What every provider builder returns."""

    health_check_ids: list[pulumi.Output[str]]
    """Route 53: one health check per backend; Traffic Manager: the profile(s) doing the probing;
    Cloud DNS: the one health check of the record set."""
    stateful: list[pulumi.Resource]
    """Created zones."""
    name_servers: pulumi.Output[Sequence[str]] | None = None
    """Name servers of a created zone, to delegate to."""


TrafficBuilder = Callable[[pulumi.Resource, str, GlobalEndpointArgs], TrafficOutputs]
"""What each provider module's `builder(policy)` returns: registers the provider's resources."""


def resolve_backends(options: TrafficOptions,
                     targets: Sequence[tuple[str, Cloud, str, pulumi.Input[str], pulumi.Input[str] | None]]
                     ) -> list[Backend]:
    """Backends from (cell name, cloud, region, entry hostname, entry address or None), with
    `options.backends` applied (a configured `ip` wins over the entry's address)."""
    out: list[Backend] = []
    for name, cloud, region, hostname, address in targets:
        b = options.backends.get(name, BackendOptions())
        out.append(Backend(name=name, cloud=cloud, region=region, hostname=hostname,
                           ip=b.ip if b.ip is not None else address,
                           weight=b.weight, priority=b.priority, geo=list(b.geo)))
    return out


def assign_priorities(given: Sequence[tuple[str, int | None]]) -> dict[str, int]:
    """Failover order: the given priorities; backends without one follow, in order, after the highest
    given. With none given, the order of the backends (1, 2, 3, ...)."""
    top = max((p for _, p in given if p is not None), default=0)
    out: dict[str, int] = {}
    for name, priority in given:
        if priority is None:
            top += 1
            priority = top
        out[name] = priority
    return out


def effective_weight(options: TrafficOptions, weight: int) -> int:
    """round_robin and random give every backend weight 1; weighted uses the backend's weight."""
    return weight if USES_WEIGHTS[options.policy] else 1


def traffic_problems(options: TrafficOptions, backends: Sequence[BackendTarget]) -> list[Problem]:
    """Every rule that needs the backends or the provider; paths are relative to the traffic options."""
    problems: list[Problem] = []
    title = PROVIDER_TITLES[options.provider]
    names = [b[0] for b in backends]
    settings = {name: options.backends.get(name, BackendOptions()) for name in names}
    has_ip = {b[0]: b[3] or settings[b[0]].ip is not None for b in backends}
    policy, provider, hc = options.policy, options.provider, options.health_check

    # --- generic ---------------------------------------------------------------------------------
    if not backends:
        problems.append(Problem("backends", [], f"allowed: at least one backend (a cell with an endpoint "
                                                f"named {options.endpoint!r})"))
    for name in options.backends:
        if name not in settings:
            problems.append(Problem(f"backends.{name}", name,
                                    f"allowed: one of the backends ({', '.join(names) or 'none'}): cells with an "
                                    f"endpoint named {options.endpoint!r}"))
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(Problem("backends", name, "allowed: each backend once (cell names are unique)"))
        seen.add(name)
    host, zone = options.hostname.rstrip("."), options.zone_name.rstrip(".")
    if host != zone and not host.endswith("." + zone):
        problems.append(Problem("hostname", options.hostname, f"allowed: a name inside the zone {zone!r}"))
    if not 1 <= options.ttl <= 86400:
        problems.append(Problem("ttl", options.ttl, "allowed: 1-86400 seconds"))
    for name, s in settings.items():
        if s.weight != 1 and policy != "weighted":
            problems.append(Problem(f"backends.{name}.weight", s.weight,
                                    f"allowed: only with policy weighted (policy {policy} ignores weights)"))
        if s.priority is not None and policy != "failover":
            problems.append(Problem(f"backends.{name}.priority", s.priority,
                                    f"allowed: only with policy failover (policy {policy} ignores priorities)"))
        if s.geo and policy != "geo":
            problems.append(Problem(f"backends.{name}.geo", s.geo,
                                    f"allowed: only with policy geo (policy {policy} ignores geo codes)"))
    if policy == "weighted" and backends and not any(s.weight > 0 for s in settings.values()):
        problems.append(Problem("backends", {n: 0 for n in names}, "allowed: a weight > 0 on at least one backend"))
    priorities = assign_priorities([(n, settings[n].priority) for n in names])
    if policy == "failover" and backends:
        if len(names) < 2:
            problems.append(Problem("backends", names, "allowed: at least 2 backends with policy failover "
                                                       "(a primary and a backup)"))
        primaries = [n for n in names if priorities[n] == 1]
        if not primaries:
            problems.append(Problem("backends", priorities, "allowed: exactly one backend with priority 1 "
                                                            "(the primary)"))
        for extra in primaries[1:]:
            problems.append(Problem(f"backends.{extra}.priority", 1,
                                    f"allowed: exactly one primary (priority 1); {primaries[0]!r} already is"))
    if policy == "latency" or (policy in ("geo", "failover") and provider == "cloud_dns"):
        for name, cloud, region, _ in backends:
            if (bad := location_problem(cloud, region)) is not None:
                problems.append(Problem(f"backends.{name}", region, bad))
    if policy == "geo" and provider != "cloud_dns":
        problems += _geo_problems(names, settings, title)

    # --- provider limits -------------------------------------------------------------------------
    match provider:
        case "route53":
            problems += _route53_problems(options, backends, has_ip)
        case "traffic_manager":
            problems += _traffic_manager_problems(options, names, settings, has_ip, priorities)
        case "cloud_dns":
            problems += _cloud_dns_problems(options, backends, settings, has_ip, priorities)
        case _:
            unknown(provider, "TrafficOptions.provider", PROVIDERS)
    if not 1 <= hc.failure_threshold <= 10:
        problems.append(Problem("health_check.failure_threshold", hc.failure_threshold,
                                f"allowed: 1-10 ({title} limit)"))
    return problems


def _geo_problems(names: list[str], settings: dict[str, BackendOptions], title: str) -> list[Problem]:
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    for name in names:
        codes = settings[name].geo
        if not codes:
            problems.append(Problem(f"backends.{name}.geo", [], "required with policy geo: the continent or "
                                                              "country codes this backend answers, or '*'",
                                    missing=True))
        for code in codes:
            if code in owner and owner[code] != name:
                problems.append(Problem(f"backends.{name}.geo", code,
                                        f"allowed: a location no other backend has; {owner[code]!r} already answers "
                                        f"{code!r} ({title} maps each location to one record)"))
            owner.setdefault(code, name)
    if names and DEFAULT_GEO not in owner:
        problems.append(Problem("backends", {n: settings[n].geo for n in names},
                                f"required with policy geo: one backend with geo '*' (the default for every other "
                                f"location; without it {title} has no answer there)", missing=True))
    return problems


def _route53_problems(options: TrafficOptions, backends: Sequence[BackendTarget],
                      has_ip: dict[str, bool]) -> list[Problem]:
    problems: list[Problem] = []
    hc = options.health_check
    if hc.interval_seconds not in (10, 30):
        problems.append(Problem("health_check.interval_seconds", hc.interval_seconds,
                                "allowed: 10 or 30 (Route 53 health checks: request interval 10 s fast or 30 s "
                                "standard)"))
    if hc.probe_regions:
        unlisted = [r for r in hc.probe_regions if r not in ROUTE53_CHECKER_REGIONS]
        if unlisted or len(set(hc.probe_regions)) < 3:
            problems.append(Problem("health_check.probe_regions", hc.probe_regions,
                                    f"allowed: 3 or more Route 53 health checker regions "
                                    f"({', '.join(ROUTE53_CHECKER_REGIONS)}), or [] for all"))
    all_ip = bool(backends) and all(has_ip.values())
    if not all_ip and options.hostname.rstrip(".") == options.zone_name.rstrip("."):
        problems.append(Problem("hostname", options.hostname,
                                "allowed: a name below the zone; Route 53 answers CNAMEs to backend hostnames and a "
                                "CNAME at the zone apex is illegal (give every backend an ip to answer A records)"))
    if options.policy == "random":
        for name, flag in has_ip.items():
            if not flag:
                problems.append(Problem(
                    f"backends.{name}.ip", None,
                    "required with policy random on Route 53: multivalue answer records cannot be CNAMEs (any type "
                    "except NS and CNAME), so each backend needs an IPv4 address; or use policy round_robin "
                    "(equal weights: one healthy backend at random per query)", missing=True))
    if options.policy == "latency":
        by_region: dict[str, str] = {}
        for name, cloud, region, _ in backends:
            if location_problem(cloud, region) is not None:
                continue
            aws_region = nearest_region("aws", cloud, region)  # type: ignore[arg-type]
            if aws_region in by_region:
                problems.append(Problem(
                    f"backends.{name}", region,
                    f"allowed: one backend per AWS region with policy latency on Route 53 (one latency record per "
                    f"region); {by_region[aws_region]!r} already maps to {aws_region}"))
            by_region.setdefault(aws_region, name)
    return problems


def _traffic_manager_problems(options: TrafficOptions, names: list[str], settings: dict[str, BackendOptions],
                              has_ip: dict[str, bool], priorities: dict[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    hc = options.health_check
    if hc.interval_seconds not in (10, 30):
        problems.append(Problem("health_check.interval_seconds", hc.interval_seconds,
                                "allowed: 10 or 30 (Traffic Manager probing interval: 10 s fast or 30 s normal)"))
    if hc.probe_regions:
        problems.append(Problem("health_check.probe_regions", hc.probe_regions,
                                "allowed: [] on Traffic Manager (it probes from its own set of locations)"))
    if options.hostname.rstrip(".") == options.zone_name.rstrip("."):
        problems.append(Problem("hostname", options.hostname,
                                "allowed: a name below the zone; the name is a CNAME to the Traffic Manager profile "
                                "and a CNAME at the zone apex is illegal"))
    if options.policy == "weighted":
        for name in names:
            if settings[name].weight < 1:
                problems.append(Problem(f"backends.{name}.weight", settings[name].weight,
                                        "allowed: 1-1000 on Traffic Manager (weight 0 is not accepted; leave the "
                                        "backend out instead)"))
    if options.policy == "failover":
        taken: dict[int, str] = {}
        for name in names:
            p = priorities[name]
            if p in taken and p != 1:  # two primaries are reported by the generic rule
                problems.append(Problem(f"backends.{name}.priority", p,
                                        f"allowed: a priority no other backend has; Traffic Manager endpoints cannot "
                                        f"share a priority and {taken[p]!r} has {p}"))
            taken.setdefault(p, name)
    if options.policy == "random":
        for name in names:
            if not has_ip[name]:
                problems.append(Problem(
                    f"backends.{name}.ip", None,
                    "required with policy random on Traffic Manager: MultiValue routing accepts only external "
                    "endpoints given as IPv4/IPv6 addresses, not hostnames; or use policy round_robin",
                    missing=True))
    return problems


def _cloud_dns_problems(options: TrafficOptions, backends: Sequence[BackendTarget],
                        settings: dict[str, BackendOptions], has_ip: dict[str, bool],
                        priorities: dict[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    hc = options.health_check
    allowed_policies = ", ".join(p for p in POLICIES if p != "latency")
    if options.policy == "latency":
        problems.append(Problem("policy", "latency",
                                f"Cloud DNS has no latency-based routing; allowed: {allowed_policies} "
                                "(geo answers from the backend nearest the resolver's Google Cloud region)"))
    for name in has_ip:
        if not has_ip[name]:
            problems.append(Problem(
                f"backends.{name}.ip", None,
                f"required on Cloud DNS: health-checked targets must be IP addresses (external endpoints), so "
                f"backend {name!r} needs the IPv4 address of its entry", missing=True))
    if hc.interval_seconds < 30:
        problems.append(Problem("health_check.interval_seconds", hc.interval_seconds,
                                "allowed: 30-300 on Cloud DNS (health checks of external endpoints need source "
                                "regions, and those need check_interval_sec of at least 30)"))
    if hc.probe_regions:
        unlisted = [r for r in hc.probe_regions if r not in GCP_REGIONS]
        if unlisted or len(set(hc.probe_regions)) != 3 or len(hc.probe_regions) != 3:
            problems.append(Problem("health_check.probe_regions", hc.probe_regions,
                                    f"allowed: exactly 3 GCP regions (Cloud DNS health checks of external endpoints "
                                    f"probe from 3 source regions), or [] for "
                                    f"{', '.join(CLOUD_DNS_DEFAULT_PROBE_REGIONS)}; known: {', '.join(GCP_REGIONS)}"))
    if options.policy == "geo":
        for name in has_ip:
            if settings[name].geo:
                problems.append(Problem(
                    f"backends.{name}.geo", settings[name].geo,
                    "allowed: [] on Cloud DNS; its geolocation routing answers from the Google Cloud region nearest "
                    "the resolver, and each backend is placed at the GCP region nearest its own region"))
    if options.policy in ("geo", "failover"):
        primary = (next((n for n, p in priorities.items() if p == 1), None)
                   if USES_PRIORITIES[options.policy] else None)
        placed: dict[str, str] = {}
        for name, cloud, region, _ in backends:
            if name == primary or location_problem(cloud, region) is not None:
                continue
            location = nearest_region("gcp", cloud, region)  # type: ignore[arg-type]
            if location in placed:
                problems.append(Problem(
                    f"backends.{name}", region,
                    f"allowed: one backend per Google Cloud location with policy {options.policy} on Cloud DNS (one "
                    f"IP per policy item in a DNSSEC zone with health checks); {placed[location]!r} is already placed "
                    f"at {location}"))
            placed.setdefault(location, name)
    return problems


def failover_seconds(options: TrafficOptions) -> int:
    """Worst-case seconds before clients stop reaching a failed backend.

    failure_threshold x interval (the provider turns the backend unhealthy) + the provider's probe
    spread (PROBE_SPREAD_INTERVALS x interval: probers are not synchronised) + TTL (resolvers keep
    the old answer that long). Clients that pin connections or ignore TTLs take longer.
    """
    hc = options.health_check
    spread = PROBE_SPREAD_INTERVALS[options.provider] * hc.interval_seconds
    return hc.failure_threshold * hc.interval_seconds + spread + options.ttl
