"""The route hop: the rule of the entry that takes the request's host (and path) to a Service.

- Ingress family (ALB group, GKE Ingress, NGINX class): `spec.rules[].host` equal to the host (or a
  one-label wildcard, or no host at all), the longest path that matches; else `spec.defaultBackend`;
  else the controller's own default answer, 404 (facts: alb-default-action, nginx-default-backend,
  gce-ingress-default-backend).
- Gateway: an HTTPRoute attached to the Gateway (parentRefs, allowedRoutes) whose hostnames
  include the host and whose rule matches the path (facts: gateway-attachment, gateway-no-route).
- L4 load balancer: every connection goes to the Service itself.

The host is the URL's host, not the name a CNAME led to: a client sends the global name as Host
all along the chain (facts: host-header).
"""

from __future__ import annotations

from typing import Any

from . import kinds
from .certificate import gateway_listeners
from .entry import ingress_class
from .index import UNKNOWN, Resource, known_str, single_label_match, suffix_match
from .registry import Step, Walk, broken, ok, register, unknown

HOP = "route"

_DEFAULT_ANSWER = {
    "alb": ("the ALB answers 404 (its listener's default action)", "alb-default-action"),
    "nginx": ("NGINX answers from its default backend (404)", "nginx-default-backend"),
    "gce": ("the GKE load balancer sends it to kube-system/default-http-backend (404)", "gce-ingress-default-backend"),
}


def path_match(rule_path: Any, path_type: Any, path: str | None) -> int | None:
    """How specific a match `rule_path` is for `path` (None: no match; any path matches when `path` is None)."""
    rp = rule_path if isinstance(rule_path, str) and rule_path else "/"
    if path is None:
        return len(rp)
    if path_type == "Exact":
        return len(rp) if path == rp else None
    prefix = rp[:-2] if rp.endswith("/*") else rp.rstrip("/")  # `/*`: the ALB's ImplementationSpecific form
    if prefix in ("", "/"):
        return 1
    return len(prefix) if path == prefix or path.startswith(prefix + "/") else None


def _backend(raw: Any) -> tuple[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    service = raw.get("service")
    if isinstance(service, dict):
        port = service.get("port") or {}
        value = port.get("number", port.get("name")) if isinstance(port, dict) else None
        return (str(service.get("name")), value) if known_str(service.get("name")) else None
    if known_str(raw.get("serviceName")):  # extensions/v1beta1
        return str(raw["serviceName"]), raw.get("servicePort")
    return None


def _ingress_route(w: Walk, subject: Resource) -> Step:
    ingresses = w.ingresses or ([subject] if subject.type in kinds.INGRESS else [])
    best: tuple[tuple[int, int], Resource, Any, str] | None = None
    host_seen: list[Resource] = []
    unknown_hosts = False
    for ing in ingresses:
        for rule in ing.get("spec", "rules") or []:
            if not isinstance(rule, dict):
                continue
            rule_host = rule.get("host")
            if rule_host == UNKNOWN:
                unknown_hosts = True
                continue
            if not rule_host:
                rank = 0
            elif str(rule_host).lower() == w.host:
                rank = 2
            elif single_label_match(str(rule_host), w.host):
                rank = 1
            else:
                continue
            host_seen.append(ing)
            for p in (rule.get("http") or {}).get("paths") or []:
                if not isinstance(p, dict):
                    continue
                m = path_match(p.get("path"), p.get("pathType"), w.path)
                if m is not None and (best is None or (rank, m) > best[0]):
                    best = ((rank, m), ing, p.get("backend"), f"host {rule_host or '*'} path {p.get('path') or '/'}")
    if best is not None:
        _, ing, raw, what = best
        return _to_backend(w, ing, raw, f"Ingress {ing.k8s_ref} rule {what}")
    defaults = [i for i in ingresses if i.get("spec", "defaultBackend") is not None or i.get("spec", "backend")]
    if defaults:
        ing = defaults[0]
        return _to_backend(w, ing, ing.get("spec", "defaultBackend") or ing.get("spec", "backend"),
                           f"Ingress {ing.k8s_ref} spec.defaultBackend (no rule names {w.host})")
    if unknown_hosts:
        return Step(unknown(HOP, subject, "a rule host is unknown offline"), None)
    answer, fact = _DEFAULT_ANSWER.get(w.flavour or "", ("the controller answers 404", ""))
    names = ", ".join(dict.fromkeys(i.k8s_ref for i in ingresses)) or "none"
    if host_seen:
        return Step(broken(HOP, host_seen[0], f"no path of the rule for {w.host} in Ingress {host_seen[0].k8s_ref} "
                                              f"matches {w.path}: {answer}", "ingress-path-prefix", fact), None)
    classes = ", ".join(sorted({ingress_class(i)[0] or "?" for i in ingresses}))
    where = (f"no Ingress of class {classes} ({names}) names it and none has a defaultBackend" if w.flavour == "nginx"
             else f"Ingress {names} has no rule for it and no defaultBackend")
    return Step(broken(HOP, subject if subject.type in kinds.INGRESS else (ingresses[0] if ingresses else subject),
                       f"no rule for host {w.host}: {where}, so {answer}", "host-header", fact), None)


def _to_backend(w: Walk, ing: Resource, raw: Any, what: str) -> Step:
    backend = _backend(raw)
    w.route = ing
    if backend is None:
        return Step(unknown(HOP, ing, f"{what}: the backend is not a Service the model follows"), None)
    name, port = backend
    w.backend_ref = (ing.namespace, name, port)
    return Step(ok(HOP, ing, f"{what} -> Service {name}:{port}"), ing)


# --- Gateway API ----------------------------------------------------------------------------------------------
def _allowed(listener: dict[str, Any], gateway: Resource, route: Resource) -> bool:
    namespaces = ((listener.get("allowedRoutes") or {}).get("namespaces") or {}) if isinstance(
        listener.get("allowedRoutes"), dict) else {}
    origin = namespaces.get("from", "Same") if isinstance(namespaces, dict) else "Same"
    return origin != "Same" or route.namespace == gateway.namespace


def attached_routes(w: Walk, gateway: Resource, listeners: list[dict[str, Any]]) -> list[Resource]:
    """HTTPRoutes attached to `gateway` through one of `listeners` (facts: gateway-attachment)."""
    name = gateway.k8s_name
    out = []
    for route in w.index.objects(w.index.cluster(gateway), kinds.HTTP_ROUTE):
        for ref in route.get("spec", "parentRefs") or []:
            if not isinstance(ref, dict) or ref.get("name") != name or ref.get("kind", "Gateway") != "Gateway":
                continue
            if (ref.get("namespace") or route.namespace) != gateway.namespace:
                continue
            section = ref.get("sectionName")
            usable = [lst for lst in listeners if section is None or lst.get("name") == section]
            if any(_allowed(lst, gateway, route) for lst in usable):
                out.append(route)
                break
    return out


def _gateway_route(w: Walk, gateway: Resource) -> Step:
    listeners = w.extra.get("listeners") or gateway_listeners(gateway, w.scheme, w.port, w.host)
    routes = attached_routes(w, gateway, listeners)
    for_host = [r for r in routes if not r.get("spec", "hostnames")
                or any(isinstance(h, str) and suffix_match(h, w.host) for h in r.get("spec", "hostnames") or [])]
    best: tuple[int, Resource, dict[str, Any]] | None = None
    for route in for_host:
        for rule in route.get("spec", "rules") or []:
            if not isinstance(rule, dict):
                continue
            matches = rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
            for m in matches:
                p = (m.get("path") or {"type": "PathPrefix", "value": "/"}) if isinstance(m, dict) else {}
                kind = "Exact" if p.get("type") == "Exact" else "Prefix"
                score = path_match(p.get("value"), kind, w.path) if p.get("type") != "RegularExpression" else None
                if score is not None and (best is None or score > best[0]):
                    best = (score, route, rule)
    if best is None:
        if for_host:
            return Step(broken(HOP, for_host[0], f"no rule of HTTPRoute {for_host[0].k8s_ref} matches {w.path}: the "
                                                 "Gateway answers 404", "gateway-no-route"), None)
        attached = ", ".join(r.k8s_ref for r in routes) or "none"
        return Step(broken(HOP, gateway, f"no rule for host {w.host}: no HTTPRoute attached to Gateway "
                                         f"{gateway.k8s_ref} (attached: {attached}) has that hostname, so the Gateway "
                                         "answers 404", "gateway-attachment", "gateway-no-route", "host-header"), None)
    _, route, rule = best
    w.route = route
    refs = [b for b in rule.get("backendRefs") or [] if isinstance(b, dict) and b.get("weight", 1) != 0
            and b.get("kind", "Service") == "Service"]
    if not refs or not known_str(refs[0].get("name")):
        return Step(unknown(HOP, route, f"HTTPRoute {route.k8s_ref}: the matched rule has no Service backendRef"), None)
    ref = refs[0]
    w.backend_ref = (str(ref.get("namespace") or route.namespace), str(ref["name"]), ref.get("port"))
    more = f" (+{len(refs) - 1} more backendRefs)" if len(refs) > 1 else ""
    return Step(ok(HOP, route, f"HTTPRoute {route.k8s_ref} (hostnames {', '.join(route.get('spec', 'hostnames') or ['*'])})"
                               f" -> Service {ref['name']}:{ref.get('port')}{more}", "gateway-attachment"), route)


def _l4_route(w: Walk, service: Resource) -> Step:
    w.route = service
    w.backend_ref = (service.namespace, service.k8s_name or service.name, w.port)
    return Step(ok(HOP, service, f"L4: every connection to port {w.port} goes to Service {service.k8s_ref}"), service)


register(HOP, (*kinds.INGRESS, *kinds.SERVICE, *kinds.HELM_RELEASE, *kinds.APP_ROUTING_NGINX), _ingress_route,
         lambda w, r: w.flavour in ("alb", "gce", "nginx"), "Ingress rules (host, path, defaultBackend)")
register(HOP, kinds.GATEWAY, _gateway_route, describe="HTTPRoutes attached to the Gateway")
register(HOP, kinds.SERVICE, _l4_route, lambda w, r: w.flavour == "l4", "L4: the Service itself")
