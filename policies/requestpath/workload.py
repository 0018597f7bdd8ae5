"""The workload hop: the pods behind the Service, i.e. its endpoints.

A workload serves when its pod template's labels include the Service's selector (same cluster and
namespace), it keeps at least one replica (`replicas`, or an HPA's `minReplicas`; an
InferenceService's `minReplicas`), and one of its containers declares the Service's targetPort
(by name; a numeric targetPort also matches a pod that declares no ports).

Pod sources are a registry keyed by type (Deployment, StatefulSet, ReplicaSet, Pod, KServe
InferenceService): a new workload kind adds one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import kinds
from .index import UNKNOWN, Resource
from .registry import Step, Walk, broken, ok, register, unknown

HOP = "workload"


@dataclass(frozen=True)
class PodTemplate:
    labels: dict[str, Any] | None
    """None when unknown offline."""
    annotations: dict[str, Any]
    containers: list[dict[str, Any]]
    replicas: Any
    """An int, or UNKNOWN."""
    default_port: int | None = None
    """The port a container serves on when it declares none (KServe: 8080)."""
    init_containers: tuple[dict[str, Any], ...] = ()
    volumes: tuple[dict[str, Any], ...] = ()
    service_account: str | None = None


def _template(r: Resource, replicas_key: tuple[str, ...] | None) -> PodTemplate:
    template = r.get("spec", "template") if replicas_key is not None else {"metadata": r.get("metadata"),
                                                                           "spec": r.get("spec")}
    if not isinstance(template, dict):
        return PodTemplate(None, {}, [], UNKNOWN)
    meta = template.get("metadata") or {}
    labels = meta.get("labels") if isinstance(meta, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    spec = template.get("spec") or {}
    containers = [c for c in (spec.get("containers") or []) if isinstance(c, dict)] if isinstance(spec, dict) else []
    replicas = r.get(*replicas_key, default=1) if replicas_key is not None else 1
    return PodTemplate(labels if isinstance(labels, dict) else None,
                       annotations if isinstance(annotations, dict) else {}, containers, replicas,
                       init_containers=_dicts(spec, "initContainers"), volumes=_dicts(spec, "volumes"),
                       service_account=_string(spec, "serviceAccountName"))


def _dicts(spec: Any, key: str) -> tuple[dict[str, Any], ...]:
    value = spec.get(key) if isinstance(spec, dict) else None
    return tuple(v for v in value if isinstance(v, dict)) if isinstance(value, list) else ()


def _string(spec: Any, key: str) -> str | None:
    value = spec.get(key) if isinstance(spec, dict) else None
    return value if isinstance(value, str) else None


def _inference_service(r: Resource) -> PodTemplate:
    predictor = r.get("spec", "predictor") or {}
    if not isinstance(predictor, dict):
        return PodTemplate(None, {}, [], UNKNOWN)
    name = r.k8s_name
    labels = {**r.labels, **({"serving.kserve.io/inferenceservice": name} if name else {}), "component": "predictor"}
    containers = [c for c in predictor.get("containers") or [] if isinstance(c, dict)]
    model = predictor.get("model")
    if isinstance(model, dict):
        containers = [{"name": "kserve-container", **model}, *containers]
    annotations = {**r.annotations, **(predictor.get("annotations") or {})}
    return PodTemplate(labels, annotations, containers, predictor.get("minReplicas", 1), 8080,
                       init_containers=_dicts(predictor, "initContainers"), volumes=_dicts(predictor, "volumes"),
                       service_account=_string(predictor, "serviceAccountName"))


POD_SOURCES: dict[str, Callable[[Resource], PodTemplate]] = {
    kinds.DEPLOYMENT: lambda r: _template(r, ("spec", "replicas")),
    kinds.STATEFUL_SET: lambda r: _template(r, ("spec", "replicas")),
    kinds.REPLICA_SET: lambda r: _template(r, ("spec", "replicas")),
    kinds.POD: lambda r: _template(r, None),
    kinds.INFERENCE_SERVICE: _inference_service,
}


def template_of(r: Resource) -> PodTemplate | None:
    source = POD_SOURCES.get(r.type)
    return source(r) if source is not None else None


def scaled_target(r: Resource) -> tuple[str, str | None]:
    """(kind, name) an autoscaler of `r` targets: KServe's Deployment `<name>-predictor` for an
    InferenceService (serving.kserve.io docs: RawDeployment mode)."""
    if r.type == kinds.INFERENCE_SERVICE:
        return "Deployment", f"{r.k8s_name}-predictor" if r.k8s_name else None
    return r.kind, r.k8s_name


def scalers_of(w: Walk, r: Resource) -> list[Resource]:
    """The KEDA ScaledObjects and HPAs of the workload's cluster and namespace that target `r`."""
    cluster = w.cluster or w.index.cluster(r)
    kind, name = scaled_target(r)
    found = []
    for scaler in w.index.objects(cluster, (*kinds.HPA, *kinds.SCALED_OBJECT), namespace=r.namespace):
        ref = scaler.get("spec", "scaleTargetRef") or {}
        if isinstance(ref, dict) and ref.get("name") == name and ref.get("kind", "Deployment") == kind:
            found.append(scaler)
    return found


def _min_replicas(w: Walk, r: Resource, t: PodTemplate) -> tuple[Any, str]:
    """(minimum replicas, where from)."""
    for scaler in scalers_of(w, r):
        if scaler.type in kinds.SCALED_OBJECT:
            # KEDA's default minReplicaCount is 0 (KEDA docs, ScaledObject spec).
            return scaler.get("spec", "minReplicaCount", default=0), f"ScaledObject {scaler.k8s_ref} minReplicaCount"
    if r.type in (kinds.DEPLOYMENT, kinds.STATEFUL_SET, kinds.REPLICA_SET) and w.cluster is not None:
        for hpa in w.index.objects(w.cluster, kinds.HPA, namespace=r.namespace):
            ref = hpa.get("spec", "scaleTargetRef") or {}
            if isinstance(ref, dict) and ref.get("name") == r.k8s_name and ref.get("kind") == r.kind:
                return hpa.get("spec", "minReplicas", default=1), f"HPA {hpa.k8s_ref} minReplicas"
    return t.replicas, "replicas"


def _container_for(t: PodTemplate, target: Any) -> tuple[dict[str, Any] | None, str]:
    """The container serving `target` (a port name or number), and how it was matched."""
    if isinstance(target, str) and not target.isdigit():
        for c in t.containers:
            for p in c.get("ports") or []:
                if isinstance(p, dict) and p.get("name") == target:
                    return c, f"container '{c.get('name')}' port {target} ({p.get('containerPort')})"
        return None, f"no container declares a port named {target}"
    number = int(target) if isinstance(target, (int, float, str)) and str(target).split(".")[0].isdigit() else None
    declared = [(c, p) for c in t.containers for p in c.get("ports") or [] if isinstance(p, dict)]
    for c, p in declared:
        if p.get("containerPort") == number:
            return c, f"container '{c.get('name')}' port {number}"
    if not declared and t.containers:
        if t.default_port is not None and number not in (None, t.default_port):
            return None, f"the container serves on {t.default_port}, not {number}"
        return t.containers[0], f"container '{t.containers[0].get('name')}' (port {number} not declared)"
    return None, f"no container declares port {number}"


def _workload(w: Walk, svc: Resource) -> Step:
    selector = svc.get("spec", "selector") or {}
    cluster = w.cluster or w.index.cluster(svc)
    candidates: list[tuple[Resource, PodTemplate]] = []
    unknown_labels: list[Resource] = []
    for r in w.index.objects(cluster, tuple(POD_SOURCES), namespace=svc.namespace):
        t = template_of(r)
        if t is None:
            continue
        if t.labels is None:
            unknown_labels.append(r)
            continue
        if all(t.labels.get(k) == v for k, v in selector.items()):
            candidates.append((r, t))
    wanted = ", ".join(f"{k}={v}" for k, v in selector.items())
    if not candidates:
        if unknown_labels:
            return Step(unknown(HOP, unknown_labels[0], f"pod labels of {unknown_labels[0].kind} "
                                                        f"{unknown_labels[0].k8s_ref} are unknown offline"), None)
        return Step(broken(HOP, svc, f"no endpoints: selector {wanted} of Service {svc.k8s_ref} matches the pods of no "
                                     f"workload in namespace {svc.namespace} on cluster {cluster.label}",
                           "service-selector"), None)
    problems: list[tuple[Resource, str]] = []
    for r, t in candidates:
        replicas, source = _min_replicas(w, r, t)
        if replicas == UNKNOWN or not isinstance(replicas, (int, float)):
            problems.append((r, f"{r.kind} {r.k8s_ref}: {source} unknown offline"))
            continue
        container, how = _container_for(t, w.target_port)
        if replicas < 1 and r.type != kinds.INFERENCE_SERVICE and "ScaledObject" not in source:
            problems.append((r, f"no endpoints: {r.kind} {r.k8s_ref} keeps {int(replicas)} replicas ({source})"))
            continue
        if container is None:
            problems.append((r, f"no endpoints: {r.kind} {r.k8s_ref}: {how} (Service {svc.k8s_ref} targetPort "
                                f"{w.target_port})"))
            continue
        w.workload, w.container = r, container
        count = int(replicas)
        scale = f"{count} replica{'s' if count != 1 else ''} ({source})" if count >= 1 else \
            "scales from zero (minReplicas 0)"
        return Step(ok(HOP, r, f"{r.kind} {r.k8s_ref}: {scale}, {how}", "service-selector", "hpa-min-replicas"), r)
    r, why = problems[0]
    status = unknown if "unknown offline" in why else broken
    return Step(status(HOP, r, why, "service-selector"), None)


register(HOP, kinds.SERVICE, _workload, describe="pods matching the Service selector, replicas, container port")
