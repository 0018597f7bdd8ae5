"""The request-path model (`requestpath`, policies/requestpath) on small hand-written plans: each
rule of a resolver that the fixture programs do not reach, the package's walls, its facts, and
how later hops plug in.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from typing import Any

import pytest

import requestpath
from requestpath import FACTS, Index, Status, registry, trace
from requestpath.checks import global_names
from tests.conftest import FIXTURES, REPO, plan_json

PACKAGE = REPO / "policies" / "requestpath"
P = "urn:pulumi:t::p::pulumi:providers:kubernetes::"

PATH_HOPS = ["dns", "entry", "certificate", "route", "service", "workload", "auth"]
"""The request's own hops; the pod's supply (image, model, autoscaler, cold-start) follows them (a bare
synthetic Deployment has no cold-start budget: unknown offline, never broken)."""


def _r(type_: str, name: str, inputs: dict[str, Any], provider: str | None = None,
       deps: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:t::p::{type_}::{name}", "type": type_, "name": name, "parent": None, "custom": True,
            "provider": provider, "dependencies": sorted({u for v in (deps or {}).values() for u in v}),
            "propertyDependencies": deps or {}, "inputs": inputs}


def urn(r: dict[str, Any]) -> str:
    return r["urn"]


ZONE = _r("aws:route53/zone:Zone", "zone", {"name": "example.com"})


def _record(name: str, host: str, **inputs: Any) -> dict[str, Any]:
    deps = inputs.pop("deps", {"zoneId": [urn(ZONE)]})
    return _r("aws:route53/record:Record", name, {"name": host, "zoneId": "<unknown>", **inputs}, deps=deps)


def _app(cluster: str = "a", service_cluster: str | None = None, annotations: dict[str, str] | None = None,
         env: list[dict[str, Any]] | None = None, path: str = "/", ingress: dict[str, Any] | None = None,
         pod_annotations: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """An Ingress, Service and Deployment (on provider `cluster`; the Service on `service_cluster`)."""
    ing = ingress or {"metadata": {"name": "app", "namespace": "ns", "annotations": annotations or {
        "kubernetes.io/ingress.class": "nginx"}},
        "spec": {"tls": [{"hosts": ["app.example.com"], "secretName": "tls"}],
                 "rules": [{"host": "app.example.com", "http": {"paths": [
                     {"path": path, "pathType": "Prefix",
                      "backend": {"service": {"name": "app", "port": {"number": 80}}}}]}}]}}
    return [
        _r("kubernetes:networking.k8s.io/v1:Ingress", "app-ingress", ing, P + cluster),
        _r("kubernetes:core/v1:Service", "app-service", {"metadata": {"name": "app", "namespace": "ns"}, "spec": {
            "selector": {"app": "app"}, "ports": [{"port": 80, "targetPort": 8000}]}}, P + (service_cluster or cluster)),
        _r("kubernetes:apps/v1:Deployment", "app", {"metadata": {"name": "app", "namespace": "ns"}, "spec": {
            "template": {"metadata": {"labels": {"app": "app"}, "annotations": pod_annotations or {}}, "spec": {
                "containers": [{"name": "server", "ports": [{"containerPort": 8000}],
                                "env": env if env is not None else [{"name": "VLLM_API_KEY", "value": "<secret>"}]}]}}}},
           P + cluster),
        _r("kubernetes:cert-manager.io/v1:Certificate", "app-cert", {"metadata": {"name": "tls", "namespace": "ns"},
                                                                    "spec": {"secretName": "tls",
                                                                             "dnsNames": ["app.example.com"],
                                                                             "issuerRef": {"name": "le",
                                                                                           "kind": "ClusterIssuer"}}},
           P + cluster),
        _r("kubernetes:cert-manager.io/v1:ClusterIssuer", "le", {"metadata": {"name": "le"}}, P + cluster),
    ]


def _hops(resources: list[dict[str, Any]], url: str = "https://app.example.com/v1/models") -> list[Any]:
    [backend] = trace(resources, url).backends
    return backend.hops


def _by_name(hops: list[Any]) -> dict[str, Any]:
    return {h.name: h for h in hops}


# --- the package's walls ------------------------------------------------------------------------------


def test_both_import_paths_give_the_same_module() -> None:
    """preflight imports the installed top-level package; the pack imports the sibling of rules/ from
    the policies/ directory, even with no site-packages at all (-S: the pack's own virtualenv has no
    aiinfra install)."""
    probe = ("import json, requestpath; print(json.dumps({'file': requestpath.__file__, 'names': sorted("
             "requestpath.__all__), 'hops': requestpath.HOPS, 'facts': sorted(requestpath.FACTS)}))")
    installed = subprocess.run([sys.executable, "-c", probe], cwd="/", capture_output=True, text=True, timeout=60)
    as_the_pack = subprocess.run([sys.executable, "-S", "-c", probe], cwd=REPO / "policies", capture_output=True,
                                 text=True, timeout=60)
    assert installed.returncode == 0 and as_the_pack.returncode == 0, installed.stderr + as_the_pack.stderr
    a, b = json.loads(installed.stdout), json.loads(as_the_pack.stdout)
    assert a == b
    assert a["file"] == str(PACKAGE / "__init__.py") == requestpath.__file__
    assert a["hops"] == [*PATH_HOPS, "image", "model", "autoscaler", "cold-start"]


def test_the_model_imports_only_the_standard_library() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in sys.stdlib_module_names, f"{path.name} imports {name}"


def test_every_fact_has_a_source_and_every_verdict_names_known_facts() -> None:
    for key, fact in FACTS.items():
        assert fact.key == key and fact.says and fact.source, key
    used: set[str] = set()
    for cloud in ("aws", "gcp", "azure"):
        for stack in ("good", "no-record", "not-on-cert", "no-rule", "no-endpoints", "no-auth"):
            plan = plan_json(stack, FIXTURES / "trace" / cloud)
            for b in trace(plan["resources"], "https://chat.models.example.com/v1/models").backends:
                for h in b.hops:
                    used |= set(h.facts)
                    if h.status is Status.BROKEN:
                        assert h.facts, h
    assert used <= set(FACTS), used - set(FACTS)


# --- DNS ------------------------------------------------------------------------------------------------


def test_an_unknown_value_is_never_a_break_by_itself() -> None:
    """A computed answer no resource fed: the trace stops, unknown offline, and does not call it broken."""
    record = _record("app", "app.example.com", type="CNAME", records=["<unknown>"])
    [backend] = trace([ZONE, record], "https://app.example.com/").backends
    assert backend.verdict is None and not backend.serving
    assert backend.stopped is not None and backend.stopped.status is Status.UNKNOWN
    assert "no resource of this stack fed it" in backend.stopped.detail


def test_a_name_outside_the_zones_of_the_stack_is_unknown_not_broken() -> None:
    record = _record("app", "app.example.com", type="CNAME", records=["app.elsewhere.org"])
    hops = _hops([ZONE, record], "https://app.example.com/")
    assert [h.status for h in hops] == [Status.OK, Status.UNKNOWN]
    assert "in no zone of this stack" in hops[1].detail


def test_a_relative_route53_name_is_in_its_zone() -> None:
    record = _record("app", "app", type="CNAME", records=["missing.example.com"])
    hops = _hops([ZONE, record], "https://app.example.com/")
    assert hops[0].status is Status.OK and hops[1].status is Status.BROKEN
    assert "no record for missing.example.com in zone example.com" in hops[1].detail


def test_a_delegated_zone_answers_for_its_names() -> None:
    """A record in the parent zone for a name of a more specific zone does not resolve."""
    sub = _r("aws:route53/zone:Zone", "sub", {"name": "eu.example.com"})
    record = _record("app", "app.eu.example.com", type="CNAME", records=["app.elsewhere.org"])
    hops = _hops([ZONE, sub, record], "https://app.eu.example.com/")
    assert [h.status for h in hops] == [Status.BROKEN] and "zone eu.example.com" in hops[0].detail


def test_traffic_manager_endpoints_are_backends_and_the_name_is_global() -> None:
    zone = _r("azure-native:dns:Zone", "zone", {"zoneName": "example.com"})
    cname = _r("azure-native:dns:RecordSet", "chat", {"zoneName": "example.com", "relativeRecordSetName": "chat",
                                                      "recordType": "CNAME", "cnameRecord": {"cname": "fx.trafficmanager.net"}})
    profile = _r("azure-native:trafficmanager:Profile", "tm", {
        "dnsConfig": {"relativeName": "fx"}, "trafficRoutingMethod": "Priority",
        "endpoints": [{"name": "east", "target": "east.example.org", "priority": 1},
                      {"name": "west", "target": "west.example.org", "priority": 2}]})
    result = trace([zone, cname, profile], "https://chat.example.com/")
    assert [b.name for b in result.backends] == ["east", "west"]
    assert all(b.hops[1].detail.startswith("fx.trafficmanager.net CNAME") for b in result.backends)
    assert global_names(Index.of([zone, cname, profile])) == ["chat.example.com"]


def test_a_health_check_with_an_ip_address_needs_no_record() -> None:
    """With ip_address, Route 53 connects to the address and sends fqdn as Host (facts)."""
    by_ip = _r("aws:route53/healthCheck:HealthCheck", "by-ip", {"fqdn": "a.example.com", "ipAddress": "192.0.2.1",
                                                               "type": "HTTPS"})
    by_name = _r("aws:route53/healthCheck:HealthCheck", "by-name", {"fqdn": "b.example.com", "type": "HTTPS"})
    found = requestpath.unresolved_targets(Index.of([ZONE, by_ip, by_name]))
    assert [(t.name, t.referrer.name) for t, _ in found] == [("b.example.com", "by-name")]


# --- entry, certificate, route, service, workload, auth --------------------------------------------------------


def _alias_to(ingress: dict[str, Any]) -> dict[str, Any]:
    return _record("app", "app.example.com", type="A", aliases=[{"name": "<unknown>", "zoneId": "Z"}],
                   deps={"zoneId": [urn(ZONE)], "aliases": [urn(ingress)]})


def test_a_healthy_nginx_path() -> None:
    app = _app()
    hops = _by_name(_hops([ZONE, _alias_to(app[0]), *app]))
    assert all(h.status is Status.OK for name, h in hops.items() if name in PATH_HOPS), hops
    assert not any(h.status is Status.BROKEN for h in hops.values()), hops
    assert "ClusterIssuer 'le'" in hops["certificate"].detail


def test_a_certificate_needs_its_issuer() -> None:
    app = [r for r in _app() if r["name"] != "le"]
    certificate = _by_name(_hops([ZONE, _alias_to(app[0]), *app]))["certificate"]
    assert certificate.status is Status.BROKEN and "ClusterIssuer 'le', which is not in this stack" in certificate.detail


def test_nginx_without_a_tls_entry_for_the_host_serves_its_fake_certificate() -> None:
    app = _app()
    app[0]["inputs"]["spec"]["tls"] = []
    certificate = _by_name(_hops([ZONE, _alias_to(app[0]), *app]))["certificate"]
    assert certificate.status is Status.BROKEN and certificate.facts == ("nginx-fake-certificate",)


def _alb(annotations: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "app", "namespace": "ns", "annotations": {
        "kubernetes.io/ingress.class": "alb", "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS":443}]',
        **annotations}}, "spec": {"rules": [{"host": "app.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "app", "port": {"number": 80}}}}]}}]}}


def test_an_alb_without_certificate_arn_discovers_the_stacks_certificates() -> None:
    """aws-load-balancer-controller cert_discovery.go: every host needs an ACM certificate, or the
    whole Ingress fails with 'no certificate found for host'."""
    app = _app(ingress=_alb({"alb.ingress.kubernetes.io/scheme": "internet-facing"}))
    resources = [ZONE, _alias_to(app[0]), *app]
    certificate = _by_name(_hops(resources))["certificate"]
    assert certificate.status is Status.BROKEN and "'no certificate found for host: app.example.com'" in \
        certificate.detail
    wildcard = _r("aws:acm/certificate:Certificate", "wild", {"domainName": "*.example.com"})
    certificate = _by_name(_hops([*resources, wildcard]))["certificate"]
    assert certificate.status is Status.OK and "discovered" in certificate.detail


def test_an_internal_alb_behind_a_public_zone_is_broken() -> None:
    """The scheme annotation defaults to internal."""
    app = _app(ingress=_alb({}))
    entry = _by_name(_hops([ZONE, _alias_to(app[0]), *app]))["entry"]
    assert entry.status is Status.BROKEN and entry.facts == ("alb-scheme-internal",)


def test_a_global_accelerator_leads_to_its_albs_ingress() -> None:
    app = _app(ingress=_alb({"alb.ingress.kubernetes.io/scheme": "internet-facing",
                             "alb.ingress.kubernetes.io/certificate-arn": "<unknown>"}))
    certificate = _r("aws:acm/certificate:Certificate", "cert", {"domainName": "app.example.com"})
    app[0]["propertyDependencies"] = {"metadata": [urn(certificate)]}
    accelerator = _r("aws:globalaccelerator/accelerator:Accelerator", "ga", {"name": "ga"})
    listener = _r("aws:globalaccelerator/listener:Listener", "ga-listener", {
        "protocol": "TCP", "portRanges": [{"fromPort": 443, "toPort": 443}]}, deps={"acceleratorArn": [urn(accelerator)]})
    group = _r("aws:globalaccelerator/endpointGroup:EndpointGroup", "ga-group", {
        "endpointConfigurations": [{"endpointId": "<unknown>"}]},
        deps={"listenerArn": [urn(listener)], "endpointConfigurations": [urn(app[0])]})
    record = _record("app", "app.example.com", type="A", records=["<unknown>"],
                     deps={"zoneId": [urn(ZONE)], "records": [urn(accelerator)]})
    hops = _by_name(_hops([ZONE, record, accelerator, listener, group, certificate, *app]))
    assert all(h.status is Status.OK for name, h in hops.items() if name in PATH_HOPS), hops
    assert not any(h.status is Status.BROKEN for h in hops.values()), hops
    assert hops["entry"].detail.startswith("Global Accelerator 'ga' (TCP 443) -> Ingress ns/app: ALB")
    listener["inputs"]["portRanges"] = [{"fromPort": 80, "toPort": 80}]
    entry = _by_name(_hops([ZONE, record, accelerator, listener, group, certificate, *app]))["entry"]
    assert entry.status is Status.BROKEN and "no TCP listener for port 443" in entry.detail


def test_an_azure_public_ip_leads_to_the_app_routing_nginx_that_names_it() -> None:
    """aks-app-routing-operator: an NginxIngressController passes spec.loadBalancerAnnotations to its
    LoadBalancer Service (azure-pip-name binds the IP) and serves the Ingresses of its class only."""
    ip = _r("azure-native:network:PublicIPAddress", "ip", {"publicIpAddressName": "ip-1"})
    controller = _r("kubernetes:approuting.kubernetes.azure.com/v1alpha1:NginxIngressController", "ctl", {
        "metadata": {"name": "nginx-app"}, "spec": {"ingressClassName": "nginx-app", "loadBalancerAnnotations": {
            "service.beta.kubernetes.io/azure-pip-name": "<unknown>"}}},
        P + "a", deps={"spec": [urn(ip)]})
    app = _app(annotations={}, ingress=None)
    app[0]["inputs"]["metadata"]["annotations"] = {}
    app[0]["inputs"]["spec"]["ingressClassName"] = "nginx-app"
    record = _record("app", "app.example.com", type="A", records=["<unknown>"],
                     deps={"zoneId": [urn(ZONE)], "records": [urn(ip)]})
    hops = _by_name(_hops([ZONE, record, ip, controller, *app]))
    assert all(h.status is Status.OK for name, h in hops.items() if name in PATH_HOPS), hops
    assert not any(h.status is Status.BROKEN for h in hops.values()), hops
    assert "NginxIngressController nginx-app (class nginx-app)" in hops["entry"].detail
    assert hops["entry"].facts == ("app-routing-nginx",)
    # An Ingress of another class is not this controller's: nothing routes the host.
    app[0]["inputs"]["spec"]["ingressClassName"] = "nginx-other"
    route = _by_name(_hops([ZONE, record, ip, controller, *app]))
    assert route["route"].status is Status.BROKEN, route
    # Named by the IP's name instead of a reference.
    controller["propertyDependencies"] = {}
    controller["inputs"]["spec"]["loadBalancerAnnotations"]["service.beta.kubernetes.io/azure-pip-name"] = "ip-1"
    app[0]["inputs"]["spec"]["ingressClassName"] = "nginx-app"
    assert _by_name(_hops([ZONE, record, ip, controller, *app]))["entry"].status is Status.OK
    # Neither: nothing answers on the IP.
    controller["inputs"]["spec"]["loadBalancerAnnotations"] = {}
    entry = _by_name(_hops([ZONE, record, ip, controller, *app]))["entry"]
    assert entry.status is Status.BROKEN and "nothing answers on it" in entry.detail


def test_an_autoscaler_minimum_counts_and_zero_replicas_have_no_endpoints() -> None:
    app = _app()
    app[2]["inputs"]["spec"]["replicas"] = 0
    resources = [ZONE, _alias_to(app[0]), *app]
    workload = _by_name(_hops(resources))["workload"]
    assert workload.status is Status.BROKEN and "keeps 0 replicas" in workload.detail
    hpa = _r("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "hpa", {
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "app"}, "minReplicas": 2}}, P + "a")
    workload = _by_name(_hops([*resources, hpa]))["workload"]
    assert workload.status is Status.OK and "2 replicas (HPA ns/app minReplicas)" in workload.detail


def test_a_gke_ingress_serves_its_managed_certificates_but_no_certificate_map() -> None:
    address = _r("gcp:compute/globalAddress:GlobalAddress", "ip", {"name": "app-ip"})
    record = _record("app", "app.example.com", type="A", records=["<unknown>"],
                     deps={"zoneId": [urn(ZONE)], "records": [urn(address)]})
    ingress = {"metadata": {"name": "app", "namespace": "ns", "annotations": {
        "kubernetes.io/ingress.class": "gce", "kubernetes.io/ingress.global-static-ip-name": "app-ip",
        "networking.gke.io/certmap": "app-map"}}, "spec": {"rules": [{"host": "app.example.com", "http": {
            "paths": [{"path": "/", "pathType": "Prefix",
                       "backend": {"service": {"name": "app", "port": {"number": 80}}}}]}}]}}
    resources = [ZONE, address, record, *_app(ingress=ingress)]
    certificate = _by_name(_hops(resources))["certificate"]
    assert certificate.status is Status.BROKEN and certificate.facts == ("gce-ingress-no-certmap",)
    ingress["metadata"]["annotations"]["networking.gke.io/managed-certificates"] = "app-cert"
    managed = _r("kubernetes:networking.gke.io/v1:ManagedCertificate", "managed", {
        "metadata": {"name": "app-cert", "namespace": "ns"}, "spec": {"domains": ["app.example.com"]}}, P + "a")
    certificate = _by_name(_hops([*resources, managed]))["certificate"]
    assert certificate.status is Status.OK and "ManagedCertificate ns/app-cert covers" in certificate.detail


def test_objects_of_one_backend_come_from_one_cluster() -> None:
    app = _app(service_cluster="b")
    hops = _by_name(_hops([ZONE, _alias_to(app[0]), *app]))
    assert hops["service"].status is Status.BROKEN
    assert "no Service ns/app on cluster a (there is one on b, another cluster)" in hops["service"].detail


def test_the_path_must_match_a_rule() -> None:
    app = _app(path="/v1")
    resources = [ZONE, _alias_to(app[0]), *app]
    assert _by_name(_hops(resources, "https://app.example.com/v1/models"))["route"].status is Status.OK
    route = _by_name(_hops(resources, "https://app.example.com/v1models"))["route"]
    assert route.status is Status.BROKEN and "no path of the rule" in route.detail


def test_gke_ignores_an_ingress_with_only_spec_ingress_class_name() -> None:
    """kubernetes/ingress-gce IsGCEIngress: the annotation, or neither annotation nor class name."""
    address = _r("gcp:compute/globalAddress:GlobalAddress", "ip", {"name": "app-ip"})
    record = _record("app", "app.example.com", type="A", records=["<unknown>"],
                     deps={"zoneId": [urn(ZONE)], "records": [urn(address)]})
    spec = {"rules": [{"host": "app.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "app", "port": {"number": 80}}}}]}}]}
    ignored = {"metadata": {"name": "app", "namespace": "ns",
                            "annotations": {"kubernetes.io/ingress.global-static-ip-name": "app-ip"}},
               "spec": {**spec, "ingressClassName": "gce"}}
    entry = _by_name(_hops([ZONE, address, record, *_app(ingress=ignored)]))["entry"]
    assert entry.status is Status.BROKEN and "gce-ingress-class" in entry.facts
    served = {"metadata": {"name": "app", "namespace": "ns", "annotations": {
        "kubernetes.io/ingress.global-static-ip-name": "app-ip", "kubernetes.io/ingress.class": "gce"}}, "spec": spec}
    hops = _by_name(_hops([ZONE, address, record, *_app(ingress=served)]))
    assert hops["entry"].status is Status.OK
    # No ManagedCertificate, pre-shared certificate or secret: no HTTPS frontend.
    assert hops["certificate"].status is Status.BROKEN and "no certificate" in hops["certificate"].detail


def test_an_open_server_declared_none_is_not_a_break() -> None:
    app = _app(env=[], pod_annotations={"aiinfra.io/auth": "none"})
    auth = _by_name(_hops([ZONE, _alias_to(app[0]), *app]))["auth"]
    assert auth.status is Status.OK and auth.detail.startswith("none (declared")
    app = _app(env=[], annotations={"kubernetes.io/ingress.class": "nginx",
                                    "nginx.ingress.kubernetes.io/auth-url": "https://auth.example.com/check"})
    auth = _by_name(_hops([ZONE, _alias_to(app[0]), *app]))["auth"]
    assert auth.status is Status.OK and "authenticates requests" in auth.detail


def test_an_ingress_named_by_dns_is_followed_when_the_zone_is_elsewhere() -> None:
    """No zone or record in the stack: the entries naming the host are traced, DNS unknown offline."""
    app = _app()
    [backend] = trace(app, "https://app.example.com/").backends
    assert backend.hops[0].status is Status.UNKNOWN and backend.serving


@pytest.mark.parametrize("san, host, covered", [
    ("*.example.com", "app.example.com", True),
    ("*.example.com", "a.b.example.com", False),
    ("*.example.com", "example.com", False),
    ("App.Example.com.", "app.example.com", True),
])
def test_certificate_names_cover_one_label(san: str, host: str, covered: bool) -> None:
    from requestpath.certificate import covers
    assert covers([san], host) is covered


def test_gateway_hostnames_are_suffix_matches() -> None:
    from requestpath.index import suffix_match
    assert suffix_match("*.example.com", "a.b.example.com") and not suffix_match("*.example.com", "example.com")


# --- the registry -------------------------------------------------------------------------------------------------


def test_a_later_hop_plugs_in_with_a_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """What issue 14's next items do: add a hop after auth and register its resolver by type."""
    monkeypatch.setattr(registry, "HOPS", list(registry.HOPS))
    monkeypatch.setattr(registry, "_RESOLVERS", {k: list(v) for k, v in registry._RESOLVERS.items()})  # noqa: SLF001
    registry.add_hop("model-source", after="auth")
    registry.register("model-source", ["kubernetes:apps/v1:Deployment"],
                      lambda w, r: registry.Step(registry.ok("model-source", r, "weights from s3://models"), None))
    app = _app()
    hops = _hops([ZONE, _alias_to(app[0]), *app])
    assert [h.name for h in hops][-2:] == ["auth", "model-source"]
    assert hops[-1].detail == "weights from s3://models"


def test_known_values_still_follow_their_links() -> None:
    """Under `pulumi up` of an existing stack the engine hands policies real outputs: an alias to the
    ALB's own hostname is still the Ingress's, through propertyDependencies."""
    app = _app()
    record = _record("app", "app.example.com", type="A",
                     aliases=[{"name": "k8s-ns-app-0123456789.us-east-1.elb.amazonaws.com", "zoneId": "Z"}],
                     deps={"zoneId": [urn(ZONE)], "aliases": [urn(app[0])]})
    hops = _by_name(_hops([ZONE, record, *app]))
    assert all(h.status is Status.OK for name, h in hops.items() if name in PATH_HOPS), hops
    assert not any(h.status is Status.BROKEN for h in hops.values()), hops
    assert hops["entry"].urn == urn(app[0])
