"""Follow a URL through the stack: DNS, then the hop resolvers, one walk per backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from . import dns, kinds
from .index import Index, Resource, fqdn, known_str, single_label_match, suffix_match
from .registry import HOPS, TERMINAL, Hop, Status, Walk, types_for, unknown, walk

SCHEMES = {"https": 443, "http": 80}


class UrlError(ValueError):
    """The URL cannot be traced (not http or https, no host)."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str) -> Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlError(f"{url!r} is not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UrlError(f"{url!r}: only https:// and http:// URLs can be traced")
    if not parts.hostname:
        raise UrlError(f"{url!r} has no host")
    return Target(url, scheme, fqdn(parts.hostname), port or SCHEMES[scheme], parts.path or "/")


@dataclass
class Backend:
    """One way a request to the URL can go (one DNS answer), hop by hop."""

    name: str
    hops: list[Hop]
    walk: Walk | None = field(default=None, repr=False)

    @property
    def verdict(self) -> Hop | None:
        """The first broken hop."""
        return next((h for h in self.hops if h.status is Status.BROKEN), None)

    @property
    def serving(self) -> bool:
        """Reaches a serving workload with no broken hop on the way."""
        return self.verdict is None and any(h.name == TERMINAL and h.status is Status.OK for h in self.hops)

    @property
    def stopped(self) -> Hop | None:
        """Where a backend that is neither broken nor serving stopped (an unknown-offline hop)."""
        if self.verdict is not None or self.serving or not self.hops:
            return None
        return self.hops[-1]

    def hop(self, name: str) -> Hop | None:
        return next((h for h in self.hops if h.name == name), None)

    def as_json(self) -> dict[str, Any]:
        verdict = self.verdict
        return {"name": self.name, "serving": self.serving,
                "verdict": verdict.as_json() if verdict is not None else None,
                "hops": [h.as_json() for h in self.hops]}


@dataclass
class Trace:
    target: Target
    backends: list[Backend]

    @property
    def ok(self) -> bool:
        return bool(self.backends) and all(b.serving for b in self.backends)

    def as_json(self) -> dict[str, Any]:
        t = self.target
        return {"url": t.url, "scheme": t.scheme, "host": t.host, "port": t.port, "path": t.path, "ok": self.ok,
                "hops": list(HOPS), "backends": [b.as_json() for b in self.backends]}


def is_address(r: Resource) -> bool:
    """Something the entry hop can start from."""
    return r.type in types_for("entry")


def entry_hosts(index: Index, entry: Resource) -> list[str]:
    """The host names an Ingress or Gateway serves (rule and TLS hosts; listener and attached route
    hostnames)."""
    hosts: list[str] = []
    if entry.type in kinds.INGRESS:
        for rule in entry.get("spec", "rules") or []:
            if isinstance(rule, dict) and known_str(rule.get("host")):
                hosts.append(fqdn(str(rule["host"])))
        for tls in entry.get("spec", "tls") or []:
            for h in (tls.get("hosts") or []) if isinstance(tls, dict) else []:
                if known_str(h):
                    hosts.append(fqdn(str(h)))
    elif entry.type in kinds.GATEWAY:
        for listener in entry.get("spec", "listeners") or []:
            if isinstance(listener, dict) and known_str(listener.get("hostname")):
                hosts.append(fqdn(str(listener["hostname"])))
        name = entry.k8s_name
        for route in index.objects(index.cluster(entry), kinds.HTTP_ROUTE):
            refs = route.get("spec", "parentRefs") or []
            if any(isinstance(ref, dict) and ref.get("name") == name
                   and (ref.get("namespace") or route.namespace) == entry.namespace for ref in refs):
                hosts += [fqdn(h) for h in route.get("spec", "hostnames") or [] if known_str(h)]
    return list(dict.fromkeys(hosts))


def entry_paths(index: Index, entry: Resource, host: str) -> list[str | None]:
    """Concrete paths the rules of `entry` route for `host` (a `/*` suffix dropped); [None] when none
    is known: walking each one visits every rule, not only the most specific one."""
    paths: list[str | None] = []
    if entry.type in kinds.INGRESS:
        for rule in entry.get("spec", "rules") or []:
            rule_host = rule.get("host") if isinstance(rule, dict) else None
            if not isinstance(rule, dict) or (rule_host and not single_label_match(str(rule_host), host)):
                continue
            for p in (rule.get("http") or {}).get("paths") or []:
                if isinstance(p, dict):
                    value = known_str(p.get("path")) or "/"
                    paths.append(value[:-2] or "/" if value.endswith("/*") else value)
    elif entry.type in kinds.GATEWAY:
        name = entry.k8s_name
        for route in index.objects(index.cluster(entry), kinds.HTTP_ROUTE):
            if not any(isinstance(ref, dict) and ref.get("name") == name for ref in route.get("spec", "parentRefs") or []):
                continue
            for rule in route.get("spec", "rules") or []:
                for m in (rule.get("matches") or []) if isinstance(rule, dict) else []:
                    value = known_str(((m.get("path") or {}) if isinstance(m, dict) else {}).get("value"))
                    if value:
                        paths.append(value)
    return list(dict.fromkeys(paths)) or [None]


def entries_for_host(index: Index, host: str) -> list[Resource]:
    """Ingresses and Gateways that name `host` (when DNS cannot say which entry answers)."""
    out = []
    for e in index.of_type(*kinds.INGRESS, *kinds.GATEWAY):
        match = suffix_match if e.type in kinds.GATEWAY else single_label_match
        if any(match(h, host) for h in entry_hosts(index, e)):
            out.append(e)
    return out


def trace_index(index: Index, target: Target, any_path: bool = False) -> Trace:
    paths = dns.resolve(index, target.host, is_address)
    if all(p.address is None and all(h.status is Status.UNKNOWN for h in p.hops) for p in paths):
        found = entries_for_host(index, target.host)
        if found:
            note = paths[0].hops[0].detail if paths and paths[0].hops else f"no record for {target.host}"
            paths = [dns.DnsPath([], [unknown("dns", None, f"{note}; following the entries that name the host")], e)
                     for e in found]
    backends: list[Backend] = []
    for p in paths:
        hops = list(p.hops)
        w: Walk | None = None
        if p.address is not None:
            w = Walk(index, target.host, None if any_path else target.path, target.scheme, target.port,
                     public=p.public)
            hops += walk(w, p.address, "entry")
        name = "/".join(p.labels) or (p.names[-1] if p.names else target.host)
        backends.append(Backend(name, hops, w))
    seen: dict[str, int] = {}
    for b in backends:
        seen[b.name] = seen.get(b.name, 0) + 1
        if seen[b.name] > 1:
            b.name = f"{b.name} #{seen[b.name]}"
    return Trace(target, backends)


def trace(resources: Iterable[Mapping[str, Any]] | Index, url: str) -> Trace:
    """Every backend a request to `url` can reach through the stack, hop by hop."""
    index = resources if isinstance(resources, Index) else Index.of(resources)
    return trace_index(index, parse_url(url))


def trace_host(index: Index, host: str, any_path: bool = True, scheme: str = "https") -> Trace:
    """`trace` for a bare host; with `any_path` a rule for the host matches whatever its path (the
    policies ask whether a host is routed at all)."""
    return trace_index(index, Target(f"{scheme}://{host}/", scheme, fqdn(host), SCHEMES[scheme], "/"), any_path)
