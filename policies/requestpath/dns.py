"""The DNS hop: zones, records and their answers, on Route 53, Cloud DNS, Azure DNS and Traffic Manager.

A name resolves through the records named after it in the stack. Each answer is a CNAME or alias
target (followed as a name), a literal address (matched to a GlobalAddress, Address or
PublicIPAddress of the stack), or a value computed from other resources: then
`propertyDependencies` say which resource fed it (a Kubernetes Ingress whose status feeds the
record on AWS, a GlobalAddress, a PublicIPAddress, another record or a Traffic Manager profile).
A value that is unknown offline is never a break by itself; the link decides.

Each answer of a name is one backend: weighted, failover, latency, geo and multivalue records,
Cloud DNS routing policy items, Traffic Manager endpoints.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from . import kinds
from .index import UNKNOWN, Index, Resource, fqdn, in_zone, known_str
from .registry import Hop, broken, ok, unknown

ADDRESS_TYPES = ("A", "AAAA", "CNAME")
"""Record types that answer an HTTP client's lookup (alias records are A/AAAA in Route 53)."""

MAX_CHAIN = 8
TRAFFIC_MANAGER_SUFFIX = "trafficmanager.net"


@dataclass(frozen=True)
class Zone:
    resource: Resource
    name: str
    private: bool


@dataclass(frozen=True)
class Answer:
    kind: str
    """`name` (CNAME or alias target), `address` (literal IP) or `ref` (computed from `refs`)."""
    value: str
    refs: tuple[str, ...] = ()
    label: str | None = None
    """What tells this answer apart from the record's others (a routing item, an endpoint)."""
    note: str = ""


@dataclass(frozen=True)
class Record:
    resource: Resource
    name: str | None
    rtype: str
    zone: Zone | None
    answers: tuple[Answer, ...]
    label: str | None = None
    """The record's own routing identity (Route 53 set identifier)."""
    routing: str = ""
    health_check: Resource | None = None


@dataclass
class DnsPath:
    """One backend as DNS sees it: the records followed and what the last answer points at."""

    labels: list[str]
    hops: list[Hop]
    address: Resource | None
    public: bool | None = None
    names: list[str] = field(default_factory=list)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _value_answer(value: Any, rtype: str, refs: tuple[str, ...], label: str | None = None) -> Answer | None:
    if value == UNKNOWN or value == "<secret>":
        return Answer("ref", UNKNOWN, refs, label)
    if not isinstance(value, str) or not value:
        return None
    # Known values keep the links too: in a stack that already exists, the engine hands policies the
    # real outputs (an ALB's hostname, an address's IP), and the link still says whose they are.
    if not _is_ip(value):
        return Answer("name", fqdn(value), refs, label)
    return Answer("address", value, refs, label)


def _dedupe(answers: Iterable[Answer]) -> tuple[Answer, ...]:
    out: list[Answer] = []
    for a in answers:
        if a not in out:
            out.append(a)
    return tuple(out)


# --- Route 53 ---------------------------------------------------------------------------------------
def _route53_zones(index: Index) -> list[Zone]:
    out = []
    for r in index.of_type(kinds.ROUTE53_ZONE):
        name = known_str(r.get("name"))
        if name:
            vpcs = r.get("vpcs")
            out.append(Zone(r, fqdn(name), bool(vpcs) and vpcs != UNKNOWN))
    return out


def _zone_of(index: Index, r: Resource, key: str, zones: list[Zone], literal: Callable[[Zone], Any]) -> Zone | None:
    fed = {x.urn for x in index.fed_by(r, key)}
    for z in zones:
        if z.resource.urn in fed:
            return z
    value = known_str(r.get(key))
    if value:
        for z in zones:
            if literal(z) == value:
                return z
    return None


def _route53_routing(r: Resource) -> str:
    parts = []
    for key, what in (("weightedRoutingPolicies", "weight"), ("failoverRoutingPolicies", "type"),
                      ("latencyRoutingPolicies", "region")):
        for policy in r.get(key) or []:
            if isinstance(policy, dict):
                parts.append(f"{key.replace('RoutingPolicies', '')} {policy.get(what)}")
    for key in ("geolocationRoutingPolicies", "geoproximityRoutingPolicy", "cidrRoutingPolicy"):
        if r.get(key):
            parts.append(key.replace("RoutingPolicies", "").replace("RoutingPolicy", ""))
    if r.get("multivalueAnswerRoutingPolicy") is True:
        parts.append("multivalue")
    return ", ".join(parts)


def _route53_records(index: Index, zones: list[Zone]) -> list[Record]:
    out = []
    for r in index.of_type(kinds.ROUTE53_RECORD):
        zone = _zone_of(index, r, "zoneId", zones, lambda z: z.resource.get("zoneId"))
        name = known_str(r.get("name"))
        if name and zone is not None and not in_zone(name, zone.name):
            name = f"{fqdn(name)}.{zone.name}"  # a relative name (facts: route53-alias-name)
        rtype = known_str(r.get("type")) or "?"
        answers: list[Answer] = []
        for alias in r.get("aliases") or []:
            target = known_str(alias.get("name")) if isinstance(alias, dict) else None
            answers.append(Answer("name", fqdn(target), r.refs("aliases"), None, "alias") if target
                           else Answer("ref", UNKNOWN, r.refs("aliases"), None, "alias"))
        values = r.get("records")
        if values == UNKNOWN:
            answers.append(Answer("ref", UNKNOWN, r.refs("records")))
        elif isinstance(values, list):
            for v in values:
                a = _value_answer(v, rtype, r.refs("records"))
                if a is not None:
                    answers.append(a)
        checks = [x for x in index.fed_by(r, "healthCheckId") if x.type == kinds.ROUTE53_HEALTH_CHECK]
        out.append(Record(r, fqdn(name) if name else None, rtype, zone, _dedupe(answers),
                          known_str(r.get("setIdentifier")), _route53_routing(r), checks[0] if checks else None))
    return out


# --- Cloud DNS -----------------------------------------------------------------------------------------
def _cloud_dns_zones(index: Index) -> list[Zone]:
    out = []
    for r in index.of_type(kinds.CLOUD_DNS_ZONE):
        name = known_str(r.get("dnsName"))
        if name:
            out.append(Zone(r, fqdn(name), r.get("visibility") == "private"))
    return out


def _cloud_dns_items(r: Resource, rtype: str) -> list[Answer]:
    policy = r.get("routingPolicy")
    refs = r.refs("routingPolicy")
    if policy == UNKNOWN:
        return [Answer("ref", UNKNOWN, refs)]
    if not isinstance(policy, dict):
        return []
    answers: list[Answer] = []

    def add(values: Any, label: str) -> None:
        if values == UNKNOWN:
            answers.append(Answer("ref", UNKNOWN, refs, label))
        for v in values if isinstance(values, list) else []:
            a = _value_answer(v, rtype, refs, label)
            if a is not None:
                answers.append(a)

    for i, item in enumerate(policy.get("wrrs") or []):
        if isinstance(item, dict):
            add(item.get("rrdatas"), f"wrr {i + 1} (weight {item.get('weight')})")
    for item in policy.get("geos") or []:
        if isinstance(item, dict):
            add(item.get("rrdatas"), f"geo {item.get('location')}")
    backup = policy.get("primaryBackup")
    if isinstance(backup, dict):
        primary = backup.get("primary") or {}
        if isinstance(primary, dict):
            add([lb.get("ipAddress") for lb in primary.get("internalLoadBalancers") or [] if isinstance(lb, dict)]
                + list(primary.get("externalEndpoints") or []), "primary")
        for item in backup.get("backupGeos") or []:
            if isinstance(item, dict):
                add(item.get("rrdatas"), f"backup {item.get('location')}")
    return answers


def _cloud_dns_records(index: Index, zones: list[Zone]) -> list[Record]:
    out = []
    for r in index.of_type(kinds.CLOUD_DNS_RECORD):
        zone = _zone_of(index, r, "managedZone", zones, lambda z: z.resource.get("name"))
        name = known_str(r.get("name"))
        rtype = known_str(r.get("type")) or "?"
        answers: list[Answer] = []
        values = r.get("rrdatas")
        if values == UNKNOWN:
            answers.append(Answer("ref", UNKNOWN, r.refs("rrdatas")))
        for v in values if isinstance(values, list) else []:
            a = _value_answer(v, rtype, r.refs("rrdatas"))
            if a is not None:
                answers.append(a)
        answers += _cloud_dns_items(r, rtype)
        routing = ", ".join(k for k in ("wrrs", "geos", "primaryBackup") if isinstance(r.get("routingPolicy"), dict)
                            and r.get("routingPolicy", k))
        out.append(Record(r, fqdn(name) if name else None, rtype, zone, _dedupe(answers), None, routing))
    return out


# --- Azure DNS and Traffic Manager --------------------------------------------------------------------
def _azure_zones(index: Index) -> list[Zone]:
    out = []
    for r in index.of_type(*kinds.AZURE_DNS_ZONES):
        name = known_str(r.get("zoneName"))
        if name:
            out.append(Zone(r, fqdn(name), r.get("zoneType") == "Private"))
    return out


def _azure_records(index: Index, zones: list[Zone]) -> list[Record]:
    out = []
    for r in index.of_type(*kinds.AZURE_DNS_RECORDS):
        zone = _zone_of(index, r, "zoneName", zones, lambda z: z.name)
        zone_name = zone.name if zone is not None else known_str(r.get("zoneName"))
        relative = known_str(r.get("relativeRecordSetName"))
        name = None
        if relative and zone_name:
            name = fqdn(zone_name) if relative == "@" else f"{fqdn(relative)}.{fqdn(zone_name)}"
        rtype = known_str(r.get("recordType")) or "?"
        answers: list[Answer] = []
        records = r.get("aRecords")
        if records == UNKNOWN:
            answers.append(Answer("ref", UNKNOWN, r.refs("aRecords")))
        for item in records if isinstance(records, list) else []:
            a = _value_answer(item.get("ipv4Address") if isinstance(item, dict) else UNKNOWN, "A", r.refs("aRecords"))
            if a is not None:
                answers.append(a)
        cname = r.get("cnameRecord")
        if cname is not None:
            a = _value_answer(cname.get("cname") if isinstance(cname, dict) else UNKNOWN, "CNAME",
                              r.refs("cnameRecord"))
            if a is not None:
                answers.append(a)
        for key in ("targetResource", "trafficManagementProfile"):
            if r.get(key) is not None:
                answers.append(Answer("ref", UNKNOWN, r.refs(key), None, "alias"))
        out.append(Record(r, name, rtype, zone, _dedupe(answers)))
    return out


def _endpoint_answer(endpoint: dict[str, Any], refs: tuple[str, ...], method: str) -> Answer:
    label = known_str(endpoint.get("name")) or "endpoint"
    order = ", ".join(f"{k} {endpoint[k]}" for k in ("priority", "weight") if endpoint.get(k) is not None)
    note = f"{method}{', ' + order if order else ''}"
    target = endpoint.get("target")
    if known_str(target):
        return Answer("address" if _is_ip(str(target)) else "name", fqdn(str(target)), (), label, note)
    return Answer("ref", UNKNOWN, refs, label, note)


def _traffic_manager(index: Index) -> list[Record]:
    out = []
    separate = index.of_type(*kinds.TRAFFIC_MANAGER_ENDPOINTS)
    for r in index.of_type(*kinds.TRAFFIC_MANAGER_PROFILES):
        relative = known_str(r.get("dnsConfig", "relativeName"))
        method = known_str(r.get("trafficRoutingMethod")) or "?"
        answers = [_endpoint_answer(e, r.refs("endpoints"), method) for e in r.get("endpoints") or []
                   if isinstance(e, dict)]
        profile_name = known_str(r.get("profileName"))
        for e in separate:
            if r.urn in e.refs("profileName") or (profile_name and e.get("profileName") == profile_name):
                answers.append(_endpoint_answer(dict(e.inputs, name=e.get("endpointName") or e.name),
                                                e.refs("target", "targetResourceId"), method))
        name = f"{fqdn(relative)}.{TRAFFIC_MANAGER_SUFFIX}" if relative else None
        out.append(Record(r, name, "CNAME", None, _dedupe(answers), None, f"Traffic Manager {method}"))
    return out


# --- the view ----------------------------------------------------------------------------------------------
@dataclass
class DnsView:
    zones: list[Zone]
    records: list[Record]

    @classmethod
    def of(cls, index: Index) -> "DnsView":
        view = index.memo.get("dns")
        if isinstance(view, DnsView):
            return view
        r53, cdns, azure = _route53_zones(index), _cloud_dns_zones(index), _azure_zones(index)
        view = cls(r53 + cdns + azure, _route53_records(index, r53) + _cloud_dns_records(index, cdns)
                   + _azure_records(index, azure) + _traffic_manager(index))
        index.memo["dns"] = view
        return view

    def covering_zone(self, name: str) -> Zone | None:
        """The most specific zone of the stack that `name` falls in."""
        found = [z for z in self.zones if in_zone(name, z.name)]
        return max(found, key=lambda z: len(z.name)) if found else None

    def resolvable(self, name: str) -> list[Record]:
        """Records an HTTP client's lookup of `name` gets (A, AAAA, CNAME, aliases, Traffic Manager)."""
        name = fqdn(name)
        zone = self.covering_zone(name)
        out = []
        for rec in self.records:
            if rec.name != name or rec.rtype not in ADDRESS_TYPES:
                continue
            # A record in another zone than the most specific one is not served (delegation).
            if zone is not None and rec.zone is not None and rec.zone is not zone:
                continue
            out.append(rec)
        return out

    def record_of(self, r: Resource) -> Record | None:
        return next((rec for rec in self.records if rec.resource is r), None)

    def names(self) -> list[str]:
        return sorted({rec.name for rec in self.records if rec.name and rec.rtype in ADDRESS_TYPES})


AddressTest = Callable[[Resource], bool]


def _address_resources(index: Index, ip: str) -> list[Resource]:
    out = []
    for r in index.of_type(kinds.GCP_GLOBAL_ADDRESS, kinds.GCP_ADDRESS):
        if r.get("address") == ip:
            out.append(r)
    for r in index.of_type(kinds.AZURE_PUBLIC_IP):
        if r.get("ipAddress") == ip:
            out.append(r)
    return out


def _answer_text(index: Index, a: Answer) -> str:
    if a.kind != "ref":
        return a.value
    fed = [index.get(u) for u in a.refs]
    names = ", ".join(f"{x.name}" for x in fed if x is not None)
    return f"<unknown> from {names}" if names else "<unknown>"


def resolve(index: Index, host: str, is_address: AddressTest) -> list[DnsPath]:
    """Every backend `host` resolves to: one DnsPath per answer, CNAME chains followed."""
    return _name(index, DnsView.of(index), fqdn(host), is_address, 0, None)


def _name(index: Index, view: DnsView, name: str, is_address: AddressTest, depth: int,
          public: bool | None) -> list[DnsPath]:
    if depth > MAX_CHAIN:
        return [DnsPath([], [broken("dns", None, f"{name}: more than {MAX_CHAIN} CNAMEs in a row (a loop)")], None,
                        public, [name])]
    records = view.resolvable(name)
    if not records:
        zone = view.covering_zone(name)
        if zone is not None:
            return [DnsPath([], [broken("dns", zone.resource, f"no record for {name} in zone {zone.name} "
                                                               f"({zone.resource.name}): the name does not resolve",
                                               "dns-authoritative-zone")],
                            None, not zone.private, [name])]
        if name.endswith("." + TRAFFIC_MANAGER_SUFFIX):
            return [DnsPath([], [unknown("dns", None, f"{name}: no Traffic Manager profile of this stack has it")],
                            None, True, [name])]
        return [DnsPath([], [unknown("dns", None, f"{name} is in no zone of this stack: its records are "
                                                  "managed elsewhere")], None, None, [name])]
    paths: list[DnsPath] = []
    many = sum(len(rec.answers) or 1 for rec in records) > 1
    for rec in records:
        zone_public = (not rec.zone.private) if rec.zone is not None else public
        if not rec.answers:
            paths.append(DnsPath([rec.label] if many and rec.label else [], [
                broken("dns", rec.resource, f"{name} {rec.rtype} has no answer")], None, zone_public, [name]))
            continue
        for answer in rec.answers:
            label = answer.label or rec.label
            extra = ", ".join(x for x in (answer.note, rec.routing, f"set {rec.label}" if rec.label else "") if x)
            hop = ok("dns", rec.resource, f"{name} {rec.rtype} {_answer_text(index, answer)}"
                                          + (f" ({extra})" if extra else ""))
            for sub in _answer(index, view, rec, answer, is_address, depth, zone_public):
                labels = ([label] if label else []) + sub.labels
                paths.append(DnsPath(labels, [hop, *sub.hops], sub.address,
                                     sub.public if sub.public is not None else zone_public, [name, *sub.names]))
    return paths


def _answer(index: Index, view: DnsView, rec: Record, answer: Answer, is_address: AddressTest, depth: int,
            public: bool | None) -> list[DnsPath]:
    fed = [x for x in (index.get(u) for u in answer.refs) if x is not None]
    linked = [x for x in fed if is_address(x)]
    if answer.kind == "name":
        if linked and not view.resolvable(answer.value) and view.covering_zone(answer.value) is None:
            return [DnsPath([], [], x, public) for x in linked]  # a load balancer's own name, fed by its object
        return _name(index, view, answer.value, is_address, depth + 1, public)
    if answer.kind == "address":
        found = _address_resources(index, answer.value) or linked
        if found:
            return [DnsPath([], [], found[0], public)]
        return [DnsPath([], [unknown("entry", None, f"{answer.value} is not an address this stack creates")],
                        None, public)]
    paths: list[DnsPath] = []
    for x in fed:
        nested = view.record_of(x)
        if nested is not None and nested is not rec:
            if nested.name and nested.rtype in ADDRESS_TYPES:
                paths += _name(index, view, nested.name, is_address, depth + 1, public)
            else:
                for a in nested.answers:
                    paths += [DnsPath(([a.label] if a.label else []) + p.labels, p.hops, p.address, p.public, p.names)
                              for p in _answer(index, view, nested, a, is_address, depth + 1, public)]
        elif is_address(x):
            paths.append(DnsPath([], [], x, public))
    if paths:
        return paths
    if fed:
        what = ", ".join(f"{x.type} '{x.name}'" for x in fed)
        return [DnsPath([], [unknown("entry", rec.resource, f"the answer is computed from {what}, which no "
                                                             "entry resolver follows")], None, public)]
    return [DnsPath([], [unknown("entry", rec.resource, "the answer is unknown offline and no resource of this "
                                                         "stack fed it")], None, public)]


# --- for the policies ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A DNS name something in the stack relies on resolving."""

    name: str
    referrer: Resource
    how: str


def targets(index: Index) -> list[Target]:
    """Names health checks probe (without ip_address) and CNAME, alias and endpoint targets."""
    out: list[Target] = []
    for hc in index.of_type(kinds.ROUTE53_HEALTH_CHECK):
        name = known_str(hc.get("fqdn"))
        if not name or hc.get("ipAddress") is not None:
            continue  # with ip_address the check connects to the address (facts: route53-health-check-host)
        if hc.get("type") in ("CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL"):
            continue
        out.append(Target(fqdn(name), hc, "probes"))
    view = DnsView.of(index)
    for rec in view.records:
        for a in rec.answers:
            if a.kind == "name":
                how = "sends endpoint traffic to" if rec.resource.type in kinds.TRAFFIC_MANAGER_PROFILES else \
                    ("aliases" if a.note == "alias" else "points its CNAME at")
                out.append(Target(a.value, rec.resource, how))
    return out


def unresolved_targets(index: Index) -> list[tuple[Target, Zone]]:
    """Targets inside a zone of the stack that no record of that zone defines."""
    view = DnsView.of(index)
    out = []
    for t in targets(index):
        zone = view.covering_zone(t.name)
        if zone is not None and not view.resolvable(t.name):
            out.append((t, zone))
    return out


def global_names(index: Index, is_address: AddressTest) -> list[str]:
    """Names that answer with several backends (weighted, failover, latency, geo, multivalue, Traffic
    Manager endpoints, also further down a CNAME chain), except names only reached through another
    record's CNAME or alias."""
    view = DnsView.of(index)
    reached = {a.value for rec in view.records for a in rec.answers if a.kind == "name"}
    return [name for name in view.names() if name not in reached and len(resolve(index, name, is_address)) >= 2]
