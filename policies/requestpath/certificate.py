"""The certificate hop: a listener for the URL's scheme and port, and for https a certificate the
entry serves whose names cover the host (the SNI a client sends is the URL's host, all along a
CNAME chain: facts `host-header`).

- ALB Ingress: ACM certificates named by alb.ingress.kubernetes.io/certificate-arn (through
  propertyDependencies: the annotation is unknown offline), else the ones the controller discovers
  for the Ingress's hosts;
- GKE Ingress: ManagedCertificates, pre-shared certificates, TLS secrets (never a certificate map);
- GKE Gateway: the Certificate Manager map its networking.gke.io/certmap annotation names, or
  listener certificateRefs;
- NGINX (and any Ingress TLS secret): the cert-manager Certificate writing the tls[].secretName of
  the host's tls entry, with its issuer present, or cert-manager's ingress-shim annotation.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from . import facts as F
from . import kinds
from .entry import ingress_class
from .index import UNKNOWN, Cluster, Index, Resource, known_str, single_label_match, suffix_match
from .registry import Hop, Step, Walk, broken, ok, register, unknown

HOP = "certificate"


def covers(names: list[str], host: str) -> bool:
    return any(single_label_match(n, host) for n in names)


def _names(values: Any) -> list[str] | None:
    """Known string names of a list input; None when the list or one of them is unknown."""
    if values == UNKNOWN:
        return None
    out = []
    for v in values if isinstance(values, list) else []:
        if not known_str(v):
            return None
        out.append(str(v))
    return out


# --- cert-manager (any Ingress TLS secret, Gateway certificateRefs) ------------------------------------
def _issuer(index: Index, cluster: Cluster, namespace: str, kind: str, name: str) -> Resource | None:
    types = kinds.CERT_MANAGER_CLUSTER_ISSUER if kind == "ClusterIssuer" else kinds.CERT_MANAGER_ISSUER
    found = index.objects(cluster, types, namespace=None if kind == "ClusterIssuer" else namespace, name=name)
    return found[0] if found else None


def secret_certificate(index: Index, cluster: Cluster, namespace: str, secret: str, host: str,
                       holder: Resource) -> Hop:
    """The certificate cert-manager writes into `secret` (in `namespace` of `cluster`) for `holder`."""
    certs = [c for c in index.objects(cluster, kinds.CERT_MANAGER_CERTIFICATE, namespace=namespace)
             if c.get("spec", "secretName") == secret]
    if certs:
        cert = certs[0]
        names = _names(cert.get("spec", "dnsNames"))
        common = known_str(cert.get("spec", "commonName"))
        if names is None:
            return unknown(HOP, cert, f"cert-manager Certificate {cert.k8s_ref}: dnsNames unknown offline")
        names = names + ([common] if common else [])
        if not covers(names, host):
            return broken(HOP, cert, f"name not on the certificate: cert-manager Certificate {cert.k8s_ref} (secret "
                                     f"{secret}) covers {', '.join(names) or 'no name'}, not {host}",
                          "cert-manager-certificate")
        ref = cert.get("spec", "issuerRef") or {}
        kind = str(ref.get("kind") or "Issuer") if isinstance(ref, dict) else "Issuer"
        name = known_str(ref.get("name")) if isinstance(ref, dict) else None
        if name is None or _issuer(index, cluster, namespace, kind, name) is None:
            return broken(HOP, cert, f"cert-manager Certificate {cert.k8s_ref} names {kind} '{name}', which is not in "
                                     f"this stack on cluster {cluster.label}: nothing signs it",
                          "cert-manager-certificate")
        return ok(HOP, cert, f"cert-manager Certificate {cert.k8s_ref} (secret {secret}, {kind} '{name}') covers {host}",
                  "cert-manager-certificate")
    for annotation, kind in F.CERT_MANAGER_ISSUER_ANNOTATIONS.items():
        name = holder.annotations.get(annotation)
        if name:
            issuer = _issuer(index, cluster, holder.namespace, kind, name)
            if issuer is None:
                return broken(HOP, holder, f"{annotation}: {name} on {holder.kind} {holder.k8s_ref}, but {kind} "
                                           f"'{name}' is not in this stack on cluster {cluster.label}",
                              "cert-manager-ingress-shim")
            return ok(HOP, issuer, f"cert-manager's ingress-shim issues secret {secret} for the tls hosts of "
                                   f"{holder.kind} {holder.k8s_ref} ({kind} '{name}')", "cert-manager-ingress-shim")
    secrets = index.objects(cluster, ("kubernetes:core/v1:Secret",), namespace=namespace, name=secret)
    if secrets:
        return unknown(HOP, secrets[0], f"TLS secret {namespace}/{secret} is created by this stack; the names on its "
                                        "certificate are unknown offline")
    return broken(HOP, holder, f"no cert-manager Certificate or Secret of this stack provides secret "
                               f"{namespace}/{secret} on cluster {cluster.label}", "cert-manager-certificate")


def _tls_entries(ingresses: list[Resource], host: str) -> list[tuple[Resource, str | None]]:
    """(Ingress, secretName) of every tls entry whose hosts cover `host`."""
    out = []
    for ing in ingresses:
        for tls in ing.get("spec", "tls") or []:
            if not isinstance(tls, dict):
                continue
            hosts = [h for h in tls.get("hosts") or [] if isinstance(h, str)]
            if covers(hosts, host):
                out.append((ing, known_str(tls.get("secretName"))))
    return out


def _first_good(hops: list[Hop]) -> Hop:
    for status in ("ok", "unknown-offline"):
        for h in hops:
            if h.status.value == status:
                return h
    return hops[0]


def _plain_http(w: Walk, r: Resource, allowed: bool, why: str, *facts: str) -> Step:
    if allowed:
        return Step(ok(HOP, r, f"plain HTTP on port {w.port}: no certificate", *facts), r)
    return Step(broken(HOP, r, f"no HTTP listener on port {w.port}: {why}", *facts), r)


# --- ALB ---------------------------------------------------------------------------------------------------
def _acm_names(cert: Resource) -> list[str] | None:
    domain = known_str(cert.get("domainName"))
    sans = _names(cert.get("subjectAlternativeNames") or [])
    if domain is None or sans is None:
        return None
    return [domain, *sans]


def _acm_fed(index: Index, r: Resource) -> list[Resource]:
    """ACM certificates fed into `r`'s metadata, directly or through a CertificateValidation."""
    out = []
    for x in index.fed_by(r, "metadata"):
        if x.type == kinds.ACM_CERTIFICATE:
            out.append(x)
        elif x.type == kinds.ACM_VALIDATION:
            out += [c for c in index.fed_by(x, "certificateArn") if c.type == kinds.ACM_CERTIFICATE]
    return out


def _alb_ports(members: list[Resource]) -> set[tuple[str, int]] | None:
    ports: set[tuple[str, int]] = set()
    for m in members:
        raw = m.annotations.get(F.ALB["listen_ports"])
        if raw is None:
            ports.add(("HTTPS", 443) if m.annotations.get(F.ALB["certificate_arn"]) else ("HTTP", 80))
            continue
        try:
            entries = json.loads(raw)
        except ValueError:
            return None
        for entry in entries if isinstance(entries, list) else []:
            for proto, port in (entry.items() if isinstance(entry, dict) else []):
                ports.add((str(proto).upper(), int(port)))
    return ports


def _alb(w: Walk, r: Resource) -> Step:
    members = w.ingresses or [r]
    ports = _alb_ports(members)
    if ports is None:
        return Step(unknown(HOP, r, "alb.ingress.kubernetes.io/listen-ports is not valid JSON"), r)
    listed = ", ".join(f"{p}:{n}" for p, n in sorted(ports))
    if w.scheme == "http":
        redirect = any(m.annotations.get(F.ALB["ssl_redirect"]) for m in members)
        return _plain_http(w, r, ("HTTP", w.port) in ports, f"the ALB listens on {listed}"
                           + (" (HTTP redirects to HTTPS)" if redirect else ""), "alb-listen-ports")
    if ("HTTPS", w.port) not in ports:
        return Step(broken(HOP, r, f"no HTTPS listener on port {w.port}: the ALB listens on {listed}",
                           "alb-listen-ports"), r)
    annotated = [m for m in members if F.ALB["certificate_arn"] in m.annotations]
    stack_certs = w.index.of_type(kinds.ACM_CERTIFICATE)
    if annotated:
        certs: list[Resource] = []
        literal: list[str] = []
        for m in annotated:
            value = m.annotations[F.ALB["certificate_arn"]]
            if value == UNKNOWN:
                certs += [c for c in _acm_fed(w.index, m) if c not in certs]
            else:
                literal += [a.strip() for a in value.split(",") if a.strip()]
        return Step(_acm_verdict(w.host, r, certs, literal, "named by alb.ingress.kubernetes.io/certificate-arn"), r)
    hosts: list[str] = []
    for m in members:
        for rule in m.get("spec", "rules") or []:
            host = known_str(rule.get("host")) if isinstance(rule, dict) else None
            if host:
                hosts.append(host)
        for tls in m.get("spec", "tls") or []:
            for h in (tls.get("hosts") or []) if isinstance(tls, dict) else []:
                if known_str(h):
                    hosts.append(str(h))
    discovered: list[Resource] = []
    for h in dict.fromkeys(hosts):
        found = [c for c in stack_certs if (names := _acm_names(c)) is not None and covers(names, h)]
        if not found:
            return Step(broken(HOP, r, f"no ACM certificate of this stack covers {h} and the Ingress names none "
                                       "(alb.ingress.kubernetes.io/certificate-arn): the controller fails it with "
                                       f"'no certificate found for host: {h}'", "alb-certificates"), r)
        discovered += [c for c in found if c not in discovered]
    return Step(_acm_verdict(w.host, r, discovered, [], "discovered for the Ingress hosts"), r)


def _acm_verdict(host: str, r: Resource, certs: list[Resource], literal: list[str], how: str) -> Hop:
    unknown_names = []
    names_seen: list[str] = []
    for c in certs:
        names = _acm_names(c)
        if names is None:
            unknown_names.append(c)
            continue
        if covers(names, host):
            return ok(HOP, c, f"ACM certificate '{c.name}' ({how}) covers {host}", "alb-certificates")
        names_seen += names
    if literal:
        return unknown(HOP, r, f"certificate {', '.join(literal)} is not created by this stack: its names are unknown "
                               "offline", "alb-certificates")
    if unknown_names:
        return unknown(HOP, unknown_names[0], f"ACM certificate '{unknown_names[0].name}': names unknown offline")
    if not certs:
        return unknown(HOP, r, "alb.ingress.kubernetes.io/certificate-arn is computed from no ACM certificate of "
                               "this stack", "alb-certificates")
    return broken(HOP, certs[0], f"name not on the certificate: ACM certificate(s) {', '.join(repr(c.name) for c in certs)} "
                                 f"({how}) cover {', '.join(dict.fromkeys(names_seen))}, not {host}", "alb-certificates")


# --- GKE Ingress --------------------------------------------------------------------------------------------
def _gce(w: Walk, r: Resource) -> Step:
    if w.scheme == "http":
        return _plain_http(w, r, r.annotations.get(F.GCE["allow_http"], "true") != "false" and w.port == 80,
                           f"{F.GCE['allow_http']} is \"false\"", "gce-ingress-allow-http")
    if w.port != 443:
        return Step(broken(HOP, r, f"a GKE Ingress listens on 443 only, not {w.port}"), r)
    hops: list[Hop] = []
    cluster = w.index.cluster(r)
    for name in (n.strip() for n in r.annotations.get(F.GCE["managed_certificates"], "").split(",") if n.strip()):
        found = w.index.objects(cluster, kinds.MANAGED_CERTIFICATE, namespace=r.namespace, name=name)
        if not found:
            hops.append(broken(HOP, r, f"ManagedCertificate {r.namespace}/{name} is not in this stack",
                               "gke-managed-certificate"))
            continue
        domains = _names(found[0].get("spec", "domains"))
        if domains is None:
            hops.append(unknown(HOP, found[0], f"ManagedCertificate {found[0].k8s_ref}: domains unknown offline"))
        elif covers(domains, w.host):
            hops.append(ok(HOP, found[0], f"ManagedCertificate {found[0].k8s_ref} covers {w.host}",
                           "gke-managed-certificate"))
        else:
            hops.append(broken(HOP, found[0], f"name not on the certificate: ManagedCertificate {found[0].k8s_ref} "
                                              f"covers {', '.join(domains)}, not {w.host}", "gke-managed-certificate"))
    for name in (n.strip() for n in r.annotations.get(F.GCE["pre_shared_cert"], "").split(",") if n.strip()):
        found = [c for c in w.index.of_type(kinds.GCP_MANAGED_SSL, kinds.GCP_SSL) if c.get("name") == name]
        domains = _names(found[0].get("managed", "domains")) if found and found[0].type == kinds.GCP_MANAGED_SSL else None
        if domains is not None and found:
            hops.append(ok(HOP, found[0], f"pre-shared certificate '{name}' covers {w.host}") if covers(domains, w.host)
                        else broken(HOP, found[0], f"name not on the certificate: pre-shared certificate '{name}' "
                                                   f"covers {', '.join(domains)}, not {w.host}"))
        else:
            hops.append(unknown(HOP, found[0] if found else r, f"pre-shared certificate '{name}': names unknown offline"))
    for ing, secret in _tls_entries([r], w.host) or [(r, known_str(t.get("secretName")))
                                                      for t in r.get("spec", "tls") or [] if isinstance(t, dict)]:
        if secret:
            hops.append(secret_certificate(w.index, cluster, r.namespace, secret, w.host, ing))
    if not hops:
        certmap = r.annotations.get(F.GCE["certmap"])
        if certmap:
            return Step(broken(HOP, r, f"GKE Ingress cannot serve certificate map '{certmap}' "
                                       f"({F.GCE['certmap']}): only a GKE Gateway can", "gce-ingress-no-certmap"), r)
        return Step(broken(HOP, r, f"no certificate: the GKE Ingress names no ManagedCertificate, pre-shared "
                                   f"certificate or TLS secret, so it has no HTTPS frontend for {w.host}",
                           "gke-managed-certificate"), r)
    return Step(_first_good(hops), r)


# --- NGINX ---------------------------------------------------------------------------------------------------
def _nginx(w: Walk, r: Resource) -> Step:
    if w.scheme == "http":
        return _plain_http(w, r, w.port == 80, "NGINX listens on 80 and 443")
    if w.port != 443:
        return Step(broken(HOP, r, f"NGINX listens on 443, not {w.port}"), r)
    entries = _tls_entries(w.ingresses, w.host)
    if not entries:
        classes = sorted({ingress_class(i)[0] or "?" for i in w.ingresses}) or ["?"]
        return Step(broken(HOP, r, f"no Ingress of class {', '.join(classes)} has a tls entry for {w.host}: NGINX "
                                   "presents its self-signed fake certificate", "nginx-fake-certificate"), r)
    cluster = w.cluster or w.index.cluster(r)
    hops = [secret_certificate(w.index, cluster, ing.namespace, secret, w.host, ing) if secret
            else broken(HOP, ing, f"the tls entry of Ingress {ing.k8s_ref} for {w.host} has no secretName",
                        "nginx-fake-certificate")
            for ing, secret in entries]
    return Step(_first_good(hops), r)


# --- Gateway -----------------------------------------------------------------------------------------------------
def gateway_listeners(r: Resource, scheme: str, port: int, host: str) -> list[dict[str, Any]]:
    out = []
    for listener in r.get("spec", "listeners") or []:
        if not isinstance(listener, dict):
            continue
        if str(listener.get("protocol", "")).upper() != scheme.upper() or listener.get("port") != port:
            continue
        hostname = known_str(listener.get("hostname"))
        if hostname is not None and not suffix_match(hostname, host):
            continue
        out.append(listener)
    return out


def _gateway(w: Walk, r: Resource) -> Step:
    listeners = gateway_listeners(r, w.scheme, w.port, w.host)
    w.extra["listeners"] = listeners
    if not listeners:
        return Step(broken(HOP, r, f"Gateway {r.k8s_ref} has no {w.scheme.upper()} listener on port {w.port} for "
                                   f"{w.host}", "gateway-attachment"), r)
    if w.scheme == "http":
        return Step(ok(HOP, r, f"HTTP listener '{listeners[0].get('name')}' on port {w.port}: no certificate"), r)
    hops: list[Hop] = []
    cluster = w.index.cluster(r)
    for listener in listeners:
        for ref in (listener.get("tls") or {}).get("certificateRefs") or []:
            if isinstance(ref, dict) and known_str(ref.get("name")) and ref.get("kind", "Secret") == "Secret":
                hops.append(secret_certificate(w.index, cluster, str(ref.get("namespace") or r.namespace),
                                               str(ref["name"]), w.host, r))
    certmap = r.annotations.get(F.GKE_GATEWAY_CERTMAP)
    if certmap:
        hops.append(_certmap(w.index, r, certmap, w.host))
    if not hops:
        return Step(broken(HOP, r, f"no certificate: the HTTPS listener of Gateway {r.k8s_ref} has no "
                                   f"tls.certificateRefs and the Gateway no {F.GKE_GATEWAY_CERTMAP} annotation",
                           "gke-gateway-certmap"), r)
    return Step(_first_good(hops), r)


def _certmap(index: Index, gateway: Resource, name: str, host: str) -> Hop:
    maps = [m for m in index.of_type(kinds.GCP_CERT_MAP)
            if m.get("name") == name or (name == UNKNOWN and m.urn in gateway.refs("metadata"))]
    if not maps:
        return broken(HOP, gateway, f"certificate map '{name}' ({F.GKE_GATEWAY_CERTMAP}) is not in this stack",
                      "gke-gateway-certmap")
    cmap = maps[0]
    map_name = known_str(cmap.get("name"))
    entries = [e for e in index.of_type(kinds.GCP_CERT_MAP_ENTRY)
               if cmap.urn in e.refs("map") or (map_name is not None and e.get("map") == map_name)]
    by_host = [e for e in entries if known_str(e.get("hostname")) and single_label_match(str(e.get("hostname")), host)]
    chosen = by_host or [e for e in entries if e.get("matcher") == "PRIMARY"]
    if not chosen:
        listed = ", ".join(str(e.get("hostname") or e.get("matcher")) for e in entries) or "none"
        return broken(HOP, cmap, f"no entry of certificate map '{cmap.name}' serves {host} (entries: {listed}; no "
                                 "PRIMARY entry)", "gke-gateway-certmap")
    entry = chosen[0]
    certs = [c for c in index.fed_by(entry, "certificates") if c.type == kinds.GCP_CERTIFICATE]
    if not certs:
        return unknown(HOP, entry, f"certificate map entry '{entry.name}' names no certificate of this stack")
    seen: list[str] = []
    for cert in certs:
        domains = _names(cert.get("managed", "domains"))
        if domains is None:
            return unknown(HOP, cert, f"certificate '{cert.name}': names unknown offline (self-managed or computed)")
        if covers(domains, host):
            return ok(HOP, cert, f"certificate '{cert.name}' in map '{cmap.name}' (entry '{entry.name}') covers {host}",
                      "gke-gateway-certmap")
        seen += domains
    return broken(HOP, certs[0], f"name not on the certificate: certificate '{certs[0].name}' in map '{cmap.name}' "
                                 f"(entry '{entry.name}') covers {', '.join(seen)}, not {host}", "gke-gateway-certmap")


def _l4(w: Walk, r: Resource) -> Step:
    return Step(unknown(HOP, r, "an L4 load balancer: TLS, if any, terminates in the pods"), r)


def _flavour(name: str) -> Callable[[Walk, Resource], bool]:
    return lambda w, r: w.flavour == name


register(HOP, kinds.INGRESS, _alb, _flavour("alb"), "ALB listeners and ACM certificates")
register(HOP, kinds.INGRESS, _gce, _flavour("gce"), "GKE Ingress: ManagedCertificate, pre-shared, TLS secret")
register(HOP, (*kinds.INGRESS, *kinds.SERVICE, *kinds.HELM_RELEASE, *kinds.APP_ROUTING_NGINX), _nginx, _flavour("nginx"),
         "NGINX: the host's tls entry and its cert-manager Certificate")
register(HOP, kinds.GATEWAY, _gateway, describe="Gateway listener; certificate map or certificateRefs")
register(HOP, kinds.SERVICE, _l4, _flavour("l4"), "L4 load balancer")
