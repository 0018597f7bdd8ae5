"""Whole-stack findings on the model, for the policy pack (and any other consumer).

Each function walks the same hops `preflight trace` prints, and returns what is broken with the
hop that says so; the pack turns them into one-sentence messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import dns
from .entry import entries, is_public
from .index import Index, Resource
from .registry import Hop, Status, Walk, walk
from .trace import Backend, entry_hosts, entry_paths, is_address, trace_host

ANY_HOST = "any-host.invalid"
"""The host asked of an entry whose rules name none (a catch-all): matches only host-less rules."""


@dataclass(frozen=True)
class CertificateGap:
    entry: Resource
    host: str
    hop: Hop


@dataclass(frozen=True)
class UnroutedName:
    name: str
    backend: Backend
    hop: Hop


@dataclass(frozen=True)
class OpenEntry:
    entry: Resource
    host: str
    workload: Resource
    hop: Hop
    declared_none: bool


def unresolved_targets(index: Index) -> list[tuple[dns.Target, dns.Zone]]:
    """(a) Names probed by health checks or targeted by CNAMEs/aliases/endpoints, in a zone of the
    stack that has no record for them."""
    return dns.unresolved_targets(index)


def certificate_gaps(index: Index) -> list[CertificateGap]:
    """(b) Hosts of an Ingress or Gateway that no certificate the entry serves covers."""
    out = []
    for e in entries(index):
        for host in entry_hosts(index, e):
            w = Walk(index, host, None)
            hops = walk(w, e, "entry", stop_after="certificate")
            cert = next((h for h in hops if h.name == "certificate"), None)
            if cert is not None and cert.status is Status.BROKEN:
                out.append(CertificateGap(e, host, cert))
    return out


def unrouted_names(index: Index) -> list[UnroutedName]:
    """(c) DNS names of the stack (global weighted, failover, latency, geo and multivalue names, and
    the names they chain through) that an entry they answer with has no rule for (the client sends
    the name itself as Host, facts: host-header), or whose answer reaches no load balancer at all
    (a broken entry hop: an address nothing binds, an Ingress no controller serves)."""
    out = []
    seen: set[tuple[str, str | None]] = set()
    for name in dns.DnsView.of(index).names():
        for b in trace_host(index, name).backends:
            hop = next((h for h in (b.hop("entry"), b.hop("route")) if h is not None and h.status is Status.BROKEN),
                       None)
            if hop is not None and hop.urn is not None and (name, hop.urn) not in seen:
                seen.add((name, hop.urn))
                out.append(UnroutedName(name, b, hop))
    return out


def global_names(index: Index) -> list[str]:
    """Names answering with several backends (weighted, failover, latency, geo, multivalue, Traffic Manager)."""
    return dns.global_names(index, is_address)


def unserved_routes(index: Index) -> list[tuple[Resource, str, Hop]]:
    """(e) (entry, host, hop) where a rule of an Ingress or Gateway leads to no Service or to a
    Service without serving pods on the entry's cluster."""
    out = []
    seen: set[tuple[str | None, str]] = set()
    for e in entries(index):
        for host in entry_hosts(index, e) or [ANY_HOST]:
            for path in entry_paths(index, e, host):
                w = Walk(index, host, path)
                hops = walk(w, e, "entry", stop_after="workload")
                bad = next((h for h in hops if h.name in ("service", "workload") and h.status is Status.BROKEN), None)
                if bad is not None and (bad.urn, bad.detail) not in seen:
                    seen.add((bad.urn, bad.detail))
                    out.append((e, host, bad))
    return out


def open_entries(index: Index) -> list[OpenEntry]:
    """(d) Workloads a public entry routes to whose auth hop is broken or declared none."""
    out: list[OpenEntry] = []
    seen: set[tuple[str, bool]] = set()
    for e in entries(index):
        if not is_public(index, e):
            continue
        for host in entry_hosts(index, e) or [ANY_HOST]:
            for path in entry_paths(index, e, host):
                w = Walk(index, host, path)
                hops = walk(w, e, "entry", stop_after="auth")
                auth = next((h for h in hops if h.name == "auth"), None)
                if auth is None or w.workload is None:
                    continue
                declared = w.extra.get("auth") == "none"
                if auth.status is Status.BROKEN or declared:
                    key = (w.workload.urn, declared)
                    if key not in seen:
                        seen.add(key)
                        out.append(OpenEntry(e, host, w.workload, auth, declared))
    return out


# --- the workload's supply (image, model, autoscaler): every pod source of the stack --------------

@dataclass(frozen=True)
class SupplyFinding:
    workload: Resource
    hop: Hop
    outside: str | None = None
    """What the workload takes from outside the cell on this hop (images, a hub model), when it still serves."""


def _supply_walk(index: Index, workload: Resource) -> Walk:
    from .model import engine_of
    from .workload import template_of
    w = Walk(index, workload.k8s_name or workload.name, None)
    w.cluster = index.cluster(workload)
    t = template_of(workload)
    if t is not None and t.containers:
        w.container = next((c for c in t.containers if engine_of(c) is not None), t.containers[0])
    return w


def supply(index: Index, hop_name: str) -> list[SupplyFinding]:
    """The `hop_name` hop (image, model or autoscaler) of every Deployment, StatefulSet, ReplicaSet, Pod
    and InferenceService of the stack, whether or not an entry routes to it."""
    from .registry import resolvers
    from .workload import POD_SOURCES
    found: list[SupplyFinding] = []
    for workload in index.of_type(*POD_SOURCES):
        w = _supply_walk(index, workload)
        chosen = next((r for r in resolvers(hop_name) if r.handles(w, workload)), None)
        if chosen is None:
            continue
        hop = chosen.resolve(w, workload).hop
        outside: str | None = None
        if hop_name == "image":
            far = [p for p in w.extra.get("images", []) if p.where == "outside"]
            outside = ", ".join(p.image for p in far) or None
        elif hop_name == "model":
            outside = w.extra.get("model_outside")
        found.append(SupplyFinding(workload, hop, outside))
    return found


def model_servers(index: Index) -> list[Resource]:
    """Pod sources with a recognised model server container."""
    from .model import engine_of
    from .workload import template_of
    out = []
    from .workload import POD_SOURCES
    for workload in index.of_type(*POD_SOURCES):
        t = template_of(workload)
        if t is not None and any(engine_of(c) is not None for c in t.containers):
            out.append(workload)
    return out
