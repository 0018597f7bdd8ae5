"""The service hop: the Service the matched rule names, on the entry's cluster, in the rule's namespace,
with the port the rule asks for."""

from __future__ import annotations

from typing import Any

from . import kinds
from .index import UNKNOWN, Resource
from .registry import Step, Walk, broken, ok, register, unknown

HOP = "service"


def _port_matches(spec_port: dict[str, Any], wanted: Any) -> bool:
    if isinstance(wanted, bool):
        return False
    if isinstance(wanted, (int, float)):
        return spec_port.get("port") == wanted
    return isinstance(wanted, str) and spec_port.get("name") == wanted


def _service(w: Walk, holder: Resource) -> Step:
    if w.backend_ref is None or w.cluster is None:
        return Step(unknown(HOP, holder, "the route named no Service"), None)
    namespace, name, port = w.backend_ref
    found = w.index.objects(w.cluster, kinds.SERVICE, namespace=namespace, name=name)
    if not found:
        others = w.index.elsewhere(w.cluster, kinds.SERVICE, namespace, name)
        where = f" (there is one on {', '.join(c.label for c in others)}, another cluster)" if others else ""
        return Step(broken(HOP, holder, f"no Service {namespace}/{name} on cluster {w.cluster.label}{where}: "
                                        "the route leads nowhere", "backend-service"), None)
    svc = found[0]
    spec_type = svc.get("spec", "type")
    if spec_type == "ExternalName":
        return Step(unknown(HOP, svc, f"Service {svc.k8s_ref} is an ExternalName: its target is outside the plan"), None)
    ports = [p for p in svc.get("spec", "ports") or [] if isinstance(p, dict)]
    chosen = next((p for p in ports if _port_matches(p, port)), None)
    if chosen is None:
        listed = ", ".join(str(p.get("name") or p.get("port")) for p in ports) or "none"
        return Step(broken(HOP, svc, f"Service {svc.k8s_ref} has no port {port} (ports: {listed})",
                           "backend-service"), None)
    selector = svc.get("spec", "selector")
    if selector == UNKNOWN:
        return Step(unknown(HOP, svc, f"Service {svc.k8s_ref}: selector unknown offline"), None)
    if not isinstance(selector, dict) or not selector:
        return Step(unknown(HOP, svc, f"Service {svc.k8s_ref} has no selector: its endpoints are managed outside "
                                      "the plan"), None)
    w.service = svc
    w.target_port = chosen.get("targetPort", chosen.get("port"))
    return Step(ok(HOP, svc, f"Service {svc.k8s_ref} port {chosen.get('name') or chosen.get('port')} -> targetPort "
                             f"{w.target_port}"), svc)


register(HOP, (*kinds.INGRESS, *kinds.HTTP_ROUTE, *kinds.SERVICE), _service,
         describe="the Service a rule names (same cluster, rule's namespace, port)")
