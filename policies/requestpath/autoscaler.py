"""The autoscaler hop: does what scales the workload read a metric that exists?

A KEDA ScaledObject's prometheus trigger holds when (1) every metric its query names is one the
server exports (facts.ENGINES by image, else the pod's aiinfra.io/exported-metrics annotation),
(2) the pods are scraped (labelled for the cluster's scraper and a scraper exists in the stack:
an Amazon Managed Service for Prometheus scraper, a PodMonitoring/PodMonitor, an Azure Monitor
data collection rule) and (3) served back: KEDA is on the cluster (its Helm release, or the AKS
add-on) and the trigger's authentication object exists. An HPA on a Pods, Object or External metric
needs an adapter on the cluster to serve it. A workload with no autoscaler holds (fixed replicas).
"""

from __future__ import annotations

import re
from typing import Any

from . import facts as F
from . import kinds
from .index import UNKNOWN, Index, Resource, known_str
from .model import engine_of
from .registry import Step, Walk, add_hop, broken, ok, register, unknown
from .workload import POD_SOURCES, PodTemplate, scalers_of, template_of

HOP = "autoscaler"
add_hop(HOP, after="model")

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PROMQL_WORDS = frozenset({"sum", "avg", "min", "max", "count", "rate", "irate", "increase", "by", "without", "on",
                           "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool",
                           "histogram_quantile", "clamp_min", "clamp_max", "abs", "topk", "bottomk", "vector",
                           "scalar", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "label_replace"})
_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def metric_names(query: str) -> set[str]:
    """Metric names a PromQL expression selects (identifiers outside braces and not functions)."""
    outside = re.sub(r"\{[^}]*\}", " ", query)
    outside = re.sub(r"\[[^\]]*\]", " ", outside)
    outside = re.sub(r'"[^"]*"', " ", outside)
    outside = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", outside)
    names = set()
    for match in _NAME.finditer(outside):
        word = match.group(0)
        end = match.end()
        if word in _PROMQL_WORDS or (end < len(outside) and outside[end:].lstrip().startswith("(")):
            continue
        if word.replace("_", "").isdigit():
            continue
        names.add(word)
    return names


def _base(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and suffix != "_total":
            return name[: -len(suffix)]
    return name


def exported(t: PodTemplate, server: dict[str, Any]) -> tuple[frozenset[str] | None, str | None, str]:
    """(names the server exports, the engine's own prefix, where that is known from)."""
    engine = engine_of(server)
    if engine is not None:
        return engine.metrics, engine.metric_prefix, f"{engine.name} (by image)"
    declared = t.annotations.get(F.EXPORTED_METRICS_ANNOTATION)
    if declared:
        return frozenset(n.strip() for n in declared.split(",") if n.strip()), None, \
            f"annotation {F.EXPORTED_METRICS_ANNOTATION}"
    return None, None, ""


def _produced(names: set[str], known: frozenset[str], prefix: str | None) -> tuple[list[str], list[str]]:
    """(names nobody produces, names of the engine's prefix it may produce in another release)."""
    missing, maybe = [], []
    for n in sorted(names):
        if n in known or _base(n) in known:
            continue
        (maybe if prefix and n.startswith(prefix) else missing).append(n)
    return missing, maybe


def _scraped(index: Index, w: Walk, workload: Resource, t: PodTemplate) -> tuple[bool, str]:
    labels = t.labels or {}
    annotated = labels.get(F.SCRAPE_LABEL[0]) == F.SCRAPE_LABEL[1] or \
        t.annotations.get(F.SCRAPE_ANNOTATION[0]) == F.SCRAPE_ANNOTATION[1]
    cluster = w.cluster or index.cluster(workload)
    monitors = [m for m in index.objects(cluster, kinds.POD_MONITORING, namespace=workload.namespace)
                if all(labels.get(k) == v for k, v in ((m.get("spec", "selector", "matchLabels") or {}).items()))]
    if monitors:
        return True, f"{monitors[0].kind} {monitors[0].k8s_ref}"
    scrapers = index.of_type(kinds.AMP_SCRAPER, *kinds.AZURE_DATA_COLLECTION_RULE)
    if annotated and scrapers:
        return True, f"{scrapers[0].name} (pods labelled {F.SCRAPE_LABEL[0]}={F.SCRAPE_LABEL[1]})"
    if not annotated:
        return False, f"the pods carry neither {F.SCRAPE_LABEL[0]}={F.SCRAPE_LABEL[1]} nor a PodMonitoring selects them"
    return False, "no scraper in the stack collects them (no managed Prometheus scraper, PodMonitoring or data " \
                  "collection rule)"


def keda_on(index: Index, w: Walk, scaler: Resource) -> str | None:
    """What installs KEDA on the workload's cluster, or None."""
    cluster = w.cluster or index.cluster(scaler)
    for release in index.objects(cluster, kinds.HELM_RELEASE):
        if known_str(release.get("chart")) in F.KEDA_CHARTS:
            return f"Helm release {release.name}"
    node = index.cluster_resource(cluster)
    if node is not None and node.get("workloadAutoScalerProfile", "keda", "enabled") is True:
        return f"the AKS KEDA add-on of {node.name}"
    return None


def _auth_object(index: Index, w: Walk, scaler: Resource, trigger: dict[str, Any]) -> tuple[bool, str]:
    ref = trigger.get("authenticationRef")
    if not isinstance(ref, dict):
        return True, "no authentication"
    cluster = w.cluster or index.cluster(scaler)
    kind = ref.get("kind") or "TriggerAuthentication"
    types = kinds.CLUSTER_TRIGGER_AUTHENTICATION if kind == "ClusterTriggerAuthentication" else kinds.TRIGGER_AUTHENTICATION
    found = index.objects(cluster, types, namespace=None if kind == "ClusterTriggerAuthentication" else scaler.namespace,
                          name=ref.get("name"))
    return bool(found), f"{kind} {ref.get('name')}"


def _scaled_object(w: Walk, workload: Resource, t: PodTemplate, server: dict[str, Any], scaler: Resource) -> Step:
    triggers = [x for x in scaler.get("spec", "triggers") or [] if isinstance(x, dict)]
    prometheus = [x for x in triggers if x.get("type") == "prometheus"]
    if not prometheus:
        kinds_ = ", ".join(str(x.get("type")) for x in triggers) or "none"
        return Step(ok(HOP, scaler, f"ScaledObject {scaler.k8s_ref} (triggers: {kinds_})", "keda-prometheus"), workload)
    trigger = prometheus[0]
    query = (trigger.get("metadata") or {}).get("query")
    if not isinstance(query, str) or query == UNKNOWN:
        return Step(unknown(HOP, scaler, f"ScaledObject {scaler.k8s_ref}: query unknown offline"), workload)
    names = metric_names(query)
    known, prefix, source = exported(t, server)
    if known is None:
        return Step(unknown(HOP, scaler, f"ScaledObject {scaler.k8s_ref} reads {', '.join(sorted(names))}; container "
                            f"'{server.get('name')}' is no recognised engine and declares no "
                            f"{F.EXPORTED_METRICS_ANNOTATION}"), workload)
    missing, maybe = _produced(names, known, prefix)
    if missing:
        return Step(broken(HOP, scaler, f"ScaledObject {scaler.k8s_ref} scales on {', '.join(missing)}, which "
                           f"nobody produces (container '{server.get('name')}' exports the metrics of {source}): "
                           "it never scales", "engine-metrics", "keda-prometheus"), workload)
    scraped, how = _scraped(w.index, w, workload, t)
    if not scraped:
        return Step(broken(HOP, scaler, f"ScaledObject {scaler.k8s_ref} reads {', '.join(sorted(names))}, but {how}",
                           "scrape-annotations"), workload)
    keda = keda_on(w.index, w, scaler)
    if keda is None:
        return Step(broken(HOP, scaler, f"ScaledObject {scaler.k8s_ref}: KEDA is not installed on the cluster (no "
                           "keda Helm release, no AKS KEDA add-on): nothing acts on it", "keda-prometheus"), workload)
    auth_found, auth = _auth_object(w.index, w, scaler, trigger)
    if not auth_found:
        return Step(broken(HOP, scaler, f"ScaledObject {scaler.k8s_ref} authenticates with {auth}, which the cluster "
                           "does not have", "keda-prometheus"), workload)
    target = (trigger.get("metadata") or {}).get("threshold")
    note = f" (metrics of another {prefix} release: {', '.join(maybe)})" if maybe else ""
    return Step(ok(HOP, scaler, f"KEDA ({keda}) scales {scaler.get('spec', 'minReplicaCount', default=0)}.."
                   f"{scaler.get('spec', 'maxReplicaCount', default=100)} on {', '.join(sorted(names))} "
                   f"(target {target}), produced by {source}{note}, scraped by {how}, read with {auth}",
                   "engine-metrics", "scrape-annotations", "keda-prometheus"), workload)


def _hpa(w: Walk, workload: Resource, t: PodTemplate, server: dict[str, Any], hpa: Resource) -> Step:
    custom = []
    for metric in hpa.get("spec", "metrics") or []:
        if not isinstance(metric, dict) or metric.get("type") in (None, "Resource", "ContainerResource"):
            continue
        body = metric.get(str(metric.get("type"))[0].lower() + str(metric.get("type"))[1:]) or {}
        name = ((body.get("metric") or {}) if isinstance(body, dict) else {}).get("name")
        if isinstance(name, str):
            custom.append(name)
    if not custom:
        return Step(ok(HOP, hpa, f"HPA {hpa.k8s_ref} on resource metrics", "hpa-min-replicas"), workload)
    known, prefix, source = exported(t, server)
    if known is not None:
        missing, _ = _produced(set(custom), known, prefix)
        if missing:
            return Step(broken(HOP, hpa, f"HPA {hpa.k8s_ref} scales on {', '.join(missing)}, which nobody produces "
                               f"(container '{server.get('name')}' exports the metrics of {source}): it never scales",
                               "engine-metrics", "hpa-custom-metrics"), workload)
    cluster = w.cluster or w.index.cluster(hpa)
    adapters = [r for r in w.index.objects(cluster, kinds.HELM_RELEASE)
                if known_str(r.get("chart")) in F.METRICS_ADAPTER_CHARTS]
    if not adapters:
        return Step(broken(HOP, hpa, f"HPA {hpa.k8s_ref} scales on {', '.join(custom)}, but no metrics adapter on the "
                           "cluster serves it to the metrics API: it never scales", "hpa-custom-metrics"), workload)
    return Step(ok(HOP, hpa, f"HPA {hpa.k8s_ref} on {', '.join(custom)}, served by {adapters[0].name}",
                   "hpa-custom-metrics"), workload)


def _autoscaler(w: Walk, workload: Resource) -> Step:
    t = template_of(workload)
    if t is None or not t.containers:
        return Step(unknown(HOP, workload, "containers unknown offline"), workload)
    server = w.container or t.containers[0]
    scalers = scalers_of(w, workload)
    if not scalers:
        return Step(ok(HOP, workload, f"{workload.kind} {workload.k8s_ref} is not autoscaled (fixed replicas)"),
                    workload)
    scaler = scalers[0]
    if scaler.type in kinds.SCALED_OBJECT:
        return _scaled_object(w, workload, t, server, scaler)
    return _hpa(w, workload, t, server, scaler)


register(HOP, tuple(POD_SOURCES), _autoscaler,
         describe="the autoscaler's metric: produced by the server, scraped, served by KEDA or an adapter")
