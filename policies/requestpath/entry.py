"""The entry hop: the load balancer object that owns the address a DNS answer points at.

Keyed by the type of what the answer points at:

- a Kubernetes Ingress (its status fed the record: AWS ALB, or an Ingress found by name);
- a GKE Gateway (its status fed the record);
- a GCP GlobalAddress / Address: the Gateway whose spec.addresses names it, or the GKE Ingress whose
  kubernetes.io/ingress.global-static-ip-name annotation names it;
- an Azure PublicIPAddress: the NGINX controller (a LoadBalancer Service, a Helm release or an
  application routing NginxIngressController) that binds it, whose Ingresses of its class are then
  the routing table;
- a LoadBalancer Service (an L4 entry, or an NGINX controller's Service).

The entry fixes the cluster every later hop looks in: objects of one backend come from one cluster.
"""

from __future__ import annotations

from typing import Any

from . import facts as F
from . import kinds
from .index import UNKNOWN, Cluster, Index, Resource, known_str
from .registry import Step, Walk, broken, ok, register, unknown

HOP = "entry"


# --- Ingress classes -------------------------------------------------------------------------------
def ingress_class(r: Resource) -> tuple[str | None, str]:
    """(class name, where it was read): the annotation wins over spec.ingressClassName (as every
    controller of facts.py reads it)."""
    annotated = r.annotations.get(F.INGRESS_CLASS_ANNOTATION)
    if annotated:
        return annotated, "annotation"
    spec = known_str(r.get("spec", "ingressClassName"))
    return (spec, "spec.ingressClassName") if spec else (None, "")


def flavour_of(index: Index, r: Resource) -> str | None:
    """alb, gce, nginx or None (a class no resolver knows, or no class on a non-GKE cluster)."""
    name, source = ingress_class(r)
    cluster = index.cluster(r)
    if name is not None:
        for cls in index.objects(cluster, kinds.INGRESS_CLASS, name=name):
            controller = known_str(cls.get("spec", "controller"))
            if controller in F.INGRESS_CLASS_CONTROLLERS:
                return F.INGRESS_CLASS_CONTROLLERS[controller]
        declared = helm_classes(index, cluster).get(name)
        if declared is not None:
            return declared
        if name in F.ALB_CLASSES:
            return "alb"
        if name in F.GCE_CLASSES:
            return "gce"
        if name in F.NGINX_CLASSES or "nginx" in name:
            return "nginx"
        return None
    cluster_resource = index.get(cluster.key)
    if cluster_resource is not None and cluster_resource.type == "gcp:container/cluster:Cluster":
        return "gce"  # a class-less Ingress on GKE is GKE's (facts: gce-ingress-class)
    return None


def helm_classes(index: Index, cluster: Cluster) -> dict[str, str]:
    """Ingress class name -> flavour for the controllers Helm or AKS's application routing operator
    install on `cluster` (facts: helm-ingress-class, app-routing-nginx)."""
    key = f"helm-classes:{cluster.key}"
    found = index.memo.get(key)
    if isinstance(found, dict):
        return found
    classes: dict[str, str] = {}
    for release in index.objects(cluster, kinds.HELM_RELEASE):
        chart = str(release.get("chart") or "")
        values = release.get("values")
        values = values if isinstance(values, dict) else {}
        if "aws-load-balancer-controller" in chart:
            classes[known_str(values.get("ingressClass")) or "alb"] = "alb"
        elif _is_nginx_controller(release):
            classes[_nginx_class(release)] = "nginx"
    for controller in index.objects(cluster, kinds.APP_ROUTING_NGINX):
        classes[_nginx_class(controller)] = "nginx"
    index.memo[key] = classes
    return classes


def gce_ignores(r: Resource) -> str | None:
    """Why GKE's Ingress controller ignores `r` (None: it serves it). facts: gce-ingress-class."""
    annotated = r.annotations.get(F.INGRESS_CLASS_ANNOTATION)
    spec = known_str(r.get("spec", "ingressClassName"))
    if annotated is None and spec is not None:
        return (f"it sets spec.ingressClassName '{spec}' without the {F.INGRESS_CLASS_ANNOTATION}: gce annotation, "
                "and GKE's Ingress controller ignores such an Ingress")
    if annotated is not None and annotated not in F.GCE_CLASSES:
        return f"its {F.INGRESS_CLASS_ANNOTATION} is '{annotated}', not gce"
    return None


def served_ingresses(index: Index, entry: Resource, flavour: str, cluster: Cluster,
                     nginx_class: str | None = None) -> list[Resource]:
    """The Ingress objects one load balancer serves: an ALB's group, an NGINX class, else `entry`."""
    if flavour == "alb" and entry.type in kinds.INGRESS:
        group = entry.annotations.get(F.ALB["group"])
        if not group:
            return [entry]
        return [i for i in index.objects(cluster, kinds.INGRESS)
                if i.annotations.get(F.ALB["group"]) == group and flavour_of(index, i) == "alb"]
    if flavour == "nginx":
        wanted = nginx_class if nginx_class is not None else (ingress_class(entry)[0] if entry.type in kinds.INGRESS
                                                              else None)
        return [i for i in index.objects(cluster, kinds.INGRESS)
                if flavour_of(index, i) == "nginx" and (wanted is None or ingress_class(i)[0] == wanted)]
    return [entry] if entry.type in kinds.INGRESS else []


def _enter(w: Walk, entry: Resource, flavour: str, detail: str, *facts: str,
           nginx_class: str | None = None) -> Step:
    w.entry = entry
    w.flavour = flavour
    w.cluster = w.index.cluster(entry)
    w.ingresses = served_ingresses(w.index, entry, flavour, w.cluster, nginx_class)
    return Step(ok(HOP, entry, f"{detail}; cluster {w.cluster.label}", *facts), entry)


# --- Ingress ---------------------------------------------------------------------------------------------
def _ingress(w: Walk, r: Resource, via: str = "") -> Step:
    flavour = flavour_of(w.index, r)
    name, source = ingress_class(r)
    prefix = f"{via}Ingress {r.k8s_ref}"
    if flavour == "alb":
        scheme = r.annotations.get(F.ALB["scheme"], "internal")
        if scheme != "internet-facing" and w.public:
            return Step(broken(HOP, r, f"{prefix}: its ALB is {scheme} (alb.ingress.kubernetes.io/scheme; default "
                                       "internal), but a public zone points at it", "alb-scheme-internal"), r)
        return _enter(w, r, "alb", f"{prefix}: ALB ({scheme}) of class {name}", "alb-ingress-class")
    if flavour == "gce":
        why = gce_ignores(r)
        if why is not None:
            return Step(broken(HOP, r, f"{prefix} gets no load balancer: {why}", "gce-ingress-class"), r)
        scope = F.GCE_CLASSES.get(name or "gce", "external")
        return _enter(w, r, "gce", f"{prefix}: GKE Ingress load balancer ({scope})", "gce-ingress-class")
    if flavour == "nginx":
        return _enter(w, r, "nginx", f"{prefix}: NGINX of class {name}", nginx_class=name)
    if name is None:
        return Step(unknown(HOP, r, f"{prefix} has no class: the cluster's default IngressClass serves it, which the "
                                    "plan does not show"), None)
    return Step(unknown(HOP, r, f"{prefix} has class '{name}' ({source}), which no entry resolver knows"), None)


register(HOP, kinds.INGRESS, lambda w, r: _ingress(w, r),
         describe="Ingress: ALB (AWS Load Balancer Controller), GKE Ingress or NGINX, by class")


# --- Gateway ---------------------------------------------------------------------------------------------
def _gateway(w: Walk, r: Resource, via: str = "", address: Resource | None = None) -> Step:
    cls = known_str(r.get("spec", "gatewayClassName")) or "?"
    scope, reach = F.GATEWAY_CLASSES.get(cls, (None, None))
    prefix = f"{via}Gateway {r.k8s_ref} of class {cls}"
    if address is not None and address.type == kinds.GCP_GLOBAL_ADDRESS and scope == "regional":
        return Step(broken(HOP, r, f"{prefix}: a regional Gateway cannot use GlobalAddress '{address.name}'",
                           "gke-gateway-classes"), r)
    if reach == "internal" and w.public:
        return Step(broken(HOP, r, f"{prefix}: an internal Gateway, but a public zone points at it",
                           "gke-gateway-classes"), r)
    w.entry, w.flavour = r, "gateway"
    w.cluster = w.index.cluster(r)
    w.ingresses = []
    return Step(ok(HOP, r, f"{prefix} ({scope or 'unknown scope'}, {reach or 'unknown reach'}); cluster "
                           f"{w.cluster.label}", "gke-gateway-classes"), r)


register(HOP, kinds.GATEWAY, lambda w, r: _gateway(w, r), describe="Gateway API Gateway")


# --- GCP addresses -----------------------------------------------------------------------------------------
def _uses_address(r: Resource, address: Resource, name: str | None) -> bool:
    if r.type in kinds.GATEWAY:
        if address.urn in r.refs("spec"):
            return True
        for a in r.get("spec", "addresses") or []:
            if isinstance(a, dict) and name is not None and a.get("value") == name:
                return True
        return False
    if address.urn in r.refs("metadata"):
        return True
    return name is not None and name in (r.annotations.get(F.GCE["static_ip"]),
                                         r.annotations.get(F.GCE["regional_static_ip"]))


def _gcp_address(w: Walk, r: Resource) -> Step:
    name = known_str(r.get("name"))
    users = [x for x in w.index.of_type(*kinds.GATEWAY, *kinds.INGRESS) if _uses_address(x, r, name)]
    what = f"{'GlobalAddress' if r.type == kinds.GCP_GLOBAL_ADDRESS else 'Address'} '{r.name}' ({name or 'auto-named'})"
    if not users:
        return Step(broken(HOP, r, f"{what}: no Gateway (spec.addresses) or GKE Ingress "
                                   f"({F.GCE['static_ip']}) uses it, so nothing answers on it"), None)
    user = users[0]
    via = f"{what} -> "
    if user.type in kinds.GATEWAY:
        return _gateway(w, user, via, r)
    return _ingress(w, user, via)


register(HOP, (kinds.GCP_GLOBAL_ADDRESS, kinds.GCP_ADDRESS), _gcp_address,
         describe="GlobalAddress/Address: the Gateway or GKE Ingress that names it")


# --- Azure public IP and LoadBalancer Services -------------------------------------------------------------
def _helm_values_mention(release: Resource, needles: list[str]) -> bool:
    values = release.get("values")
    return any(isinstance(v, str) and v in needles for v in _scalars(values))


def _scalars(value: Any) -> list[Any]:
    out: list[Any] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        else:
            out.append(v)
    return out


def _is_nginx_controller(r: Resource) -> bool:
    if r.type in kinds.APP_ROUTING_NGINX:
        return True
    if r.type in kinds.HELM_RELEASE:
        chart = str(r.get("chart") or "") + str(r.get("name") or "") + str(r.get("repositoryOpts", "repo") or "")
        return "nginx" in chart
    labels = r.labels
    return labels.get("app.kubernetes.io/name") == "ingress-nginx" or "nginx" in (r.k8s_name or "")


def _nginx_class(r: Resource) -> str:
    if r.type in kinds.APP_ROUTING_NGINX:
        return known_str(r.get("spec", "ingressClassName")) or "nginx.approuting.kubernetes.azure.com"
    if r.type in kinds.HELM_RELEASE:
        values = r.get("values")
        if isinstance(values, dict):
            controller = values.get("controller")
            if isinstance(controller, dict):
                resource = controller.get("ingressClassResource")
                if isinstance(resource, dict) and known_str(resource.get("name")):
                    return str(resource["name"])
                if known_str(controller.get("ingressClass")):
                    return str(controller["ingressClass"])
    return "nginx"


def _public_ip(w: Walk, r: Resource) -> Step:
    name = known_str(r.get("publicIpAddressName"))
    ip = known_str(r.get("ipAddress"))
    needles = [x for x in (name, ip) if x]
    users: list[Resource] = []
    for x in w.index.of_type(*kinds.SERVICE, *kinds.HELM_RELEASE, *kinds.APP_ROUTING_NGINX):
        if x.type in kinds.SERVICE and x.get("spec", "type") != "LoadBalancer":
            continue
        if r.urn in x.refs() or any(_lb_annotations(x).get(a) in needles for a in F.AZURE_PIP_ANNOTATIONS) \
                or (ip is not None and x.get("spec", "loadBalancerIP") == ip) \
                or (x.type in kinds.HELM_RELEASE and _helm_values_mention(x, needles)):
            users.append(x)
    what = f"PublicIPAddress '{r.name}'"
    if not users:
        return Step(broken(HOP, r, f"{what}: no LoadBalancer Service or ingress controller binds it "
                                   f"(loadBalancerIP, {F.AZURE_PIP_ANNOTATIONS[0]}), so nothing answers on it"), None)
    controller = users[0]
    return _load_balancer(w, controller, f"{what} -> ")


def _lb_annotations(r: Resource) -> dict[str, Any]:
    """The annotations the load balancer Service gets: its own, or those an application routing
    NginxIngressController passes on (facts: app-routing-nginx)."""
    if r.type in kinds.APP_ROUTING_NGINX:
        found = r.get("spec", "loadBalancerAnnotations")
        return found if isinstance(found, dict) else {}
    return r.annotations


def _load_balancer(w: Walk, r: Resource, via: str = "") -> Step:
    kind = ("Helm release" if r.type in kinds.HELM_RELEASE else
            "NginxIngressController" if r.type in kinds.APP_ROUTING_NGINX else "Service")
    ref = r.name if r.type in kinds.HELM_RELEASE else r.k8s_ref
    if _is_nginx_controller(r):
        cls = _nginx_class(r)
        facts = ("app-routing-nginx",) if r.type in kinds.APP_ROUTING_NGINX else ()
        return _enter(w, r, "nginx", f"{via}NGINX ingress controller {kind} {ref} (class {cls})", *facts,
                      nginx_class=cls)
    if r.type in kinds.SERVICE:
        w.entry, w.flavour, w.cluster, w.ingresses = r, "l4", w.index.cluster(r), []
        return Step(ok(HOP, r, f"{via}LoadBalancer Service {ref} (L4); cluster {w.cluster.label}"), r)
    return Step(unknown(HOP, r, f"{via}{kind} {ref}: not an ingress controller the model knows"), None)


register(HOP, (kinds.AZURE_PUBLIC_IP,), _public_ip,
         describe="PublicIPAddress: the NGINX controller (LoadBalancer Service, Helm release or application "
                  "routing NginxIngressController) bound to it")
register(HOP, kinds.SERVICE, lambda w, r: _load_balancer(w, r),
         applies=lambda w, r: r.get("spec", "type") in ("LoadBalancer", UNKNOWN),
         describe="LoadBalancer Service: an NGINX controller's or an L4 entry")


# --- AWS Global Accelerator -----------------------------------------------------------------------------------
def _ports(listener: Resource) -> list[tuple[int, int]]:
    out = []
    for r in listener.get("portRanges") or []:
        if isinstance(r, dict) and isinstance(r.get("fromPort"), int) and isinstance(r.get("toPort"), int):
            out.append((int(r["fromPort"]), int(r["toPort"])))
    return out


def _accelerator(w: Walk, r: Resource) -> Step:
    what = f"Global Accelerator '{r.name}'"
    listeners = [x for x, _ in w.index.consumers(r.urn, kinds.GLOBAL_ACCELERATOR_LISTENER)]
    serving = [x for x in listeners if x.get("protocol") in ("TCP", UNKNOWN)
               and any(lo <= w.port <= hi for lo, hi in _ports(x))]
    if not serving:
        listed = ", ".join(f"{x.get('protocol')} {lo}-{hi}" for x in listeners for lo, hi in _ports(x)) or "none"
        return Step(broken(HOP, r, f"{what} has no TCP listener for port {w.port} (listeners: {listed})",
                           "global-accelerator"), None)
    groups = [g for x in serving for g, _ in w.index.consumers(x.urn, kinds.GLOBAL_ACCELERATOR_ENDPOINTS)]
    targets = [t for g in groups for t in w.index.fed_by(g, "endpointConfigurations")
               if t.type in (*kinds.INGRESS, *kinds.SERVICE)]
    if not targets:
        return Step(broken(HOP, r, f"{what}: no endpoint group of its port-{w.port} listener names a load balancer "
                                   "of this stack", "global-accelerator"), None)
    more = f" (+{len(targets) - 1} more endpoints)" if len(targets) > 1 else ""
    via = f"{what} (TCP {w.port}){more} -> "
    target = targets[0]
    if target.type in kinds.INGRESS:
        return _ingress(w, target, via)
    return _load_balancer(w, target, via)


register(HOP, (kinds.GLOBAL_ACCELERATOR,), _accelerator,
         describe="Global Accelerator: listener for the port, endpoint group, the ALB of an Ingress")


# --- for the policies --------------------------------------------------------------------------------------
def entries(index: Index) -> list[Resource]:
    """Every Ingress and Gateway of the stack (the objects routing rules and certificates hang on)."""
    return index.of_type(*kinds.INGRESS, *kinds.GATEWAY)


def is_public(index: Index, r: Resource) -> bool:
    """Whether an entry is reachable from the internet, as far as the plan shows (unknown: yes)."""
    if r.type in kinds.GATEWAY:
        cls = known_str(r.get("spec", "gatewayClassName")) or ""
        return F.GATEWAY_CLASSES.get(cls, (None, "external"))[1] != "internal"
    flavour = flavour_of(index, r)
    if flavour == "alb":
        return r.annotations.get(F.ALB["scheme"], "internal") == "internet-facing"
    if flavour == "gce":
        return F.GCE_CLASSES.get(ingress_class(r)[0] or "gce", "external") == "external"
    if flavour == "nginx":
        cluster = index.cluster(r)
        cls = ingress_class(r)[0]
        controllers = [s for s in index.objects(cluster, kinds.SERVICE) if _is_nginx_controller(s)
                       and s.get("spec", "type") == "LoadBalancer"]
        controllers += [c for c in index.objects(cluster, kinds.APP_ROUTING_NGINX) if _nginx_class(c) == cls]
        if controllers and all(_lb_annotations(s).get(F.AZURE_INTERNAL_LB_ANNOTATION) == "true"
                               for s in controllers):
            return False
    return True
