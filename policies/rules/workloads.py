"""Kubernetes workloads: Deployments, DaemonSets, StatefulSets and KServe InferenceServices.

Every rule checks the pod template's containers (for InferenceServices: the predictor's, and the
transformer's and explainer's when present, including the framework/model container KServe fills
from a serving runtime). Exemptions are `namespace/name` patterns (fnmatch) in each rule's
`exempt_workloads` setting.

The NVIDIA device plugin DaemonSet (kube-system/nvidia-device-plugin) is exempt by default from the
probe, non-root and GPU-limit rules: it is a node agent that must run as root to write its socket
into the kubelet's host directory /var/lib/kubelet/device-plugins; it serves no HTTP or gRPC health
endpoint (upstream ships it without probes: the kubelet's device-plugin registration is its health
signal); and it tolerates the GPU taint to land on GPU nodes while it *advertises* GPUs rather than
consuming one. It still gets requests and limits, a read-only root, no privilege escalation and a
pinned image.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from pulumi_policy import ResourceValidationPolicy, Severity

from .common import (
    STRING_LIST,
    Resource,
    Setting,
    UNKNOWN,
    as_list,
    get,
    label_of,
    need,
    number,
    resource_policy,
)

POD_TEMPLATE_WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet",
                          "kubernetes:apps/v1:StatefulSet")
INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
WORKLOADS = (*POD_TEMPLATE_WORKLOADS, INFERENCE_SERVICE)

KSERVE_COMPONENTS = ("predictor", "transformer", "explainer")
KSERVE_FRAMEWORKS = ("model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface",
                     "pmml", "lightgbm", "paddle", "art", "alibi")
GPU_RESOURCE = "nvidia.com/gpu"
DEVICE_PLUGIN = "kube-system/nvidia-device-plugin"


@dataclass
class Container:
    name: str
    spec: dict[str, Any]
    init: bool
    where: str
    image_optional: bool = False
    """A KServe framework container: without an image, the serving runtime supplies one."""


@dataclass
class Pod:
    """One pod spec of a workload and its containers."""

    spec: dict[str, Any]
    containers: list[Container]
    where: str


def pods(workload: Resource) -> list[Pod]:
    spec = need(workload.get("spec"), "spec") or {}
    if workload.type in POD_TEMPLATE_WORKLOADS:
        pod = need(get(spec, "template", "spec"), "spec.template.spec") or {}
        return [_pod(pod, "")]
    found = []
    for component in KSERVE_COMPONENTS:
        pod = get(spec, component)
        if not isinstance(pod, dict):
            continue
        built = _pod(pod, f"{component} ")
        for framework in KSERVE_FRAMEWORKS:
            extra = pod.get(framework)
            if isinstance(extra, dict):
                name = _text(extra.get("name"), framework)
                built.containers.append(Container(name, extra, False, f"{component} {framework} container '{name}'",
                                                  image_optional=True))
        found.append(built)
    return found


def _text(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


def _pod(pod: Any, prefix: str) -> Pod:
    containers: list[Container] = []
    for init, key in ((False, "containers"), (True, "initContainers")):
        for index, c in enumerate(as_list(get(pod, key))):
            if not isinstance(c, dict):
                continue
            name = _text(c.get("name"), str(index))
            kind = "init container" if init else "container"
            containers.append(Container(name, c, init, f"{prefix}{kind} '{name}'"))
    return Pod(pod if isinstance(pod, dict) else {}, containers, prefix.strip())


def namespace_of(workload: Resource) -> str:
    namespace = workload.get("metadata", "namespace")
    if isinstance(namespace, str) and namespace:
        return namespace
    if namespace is UNKNOWN:
        return "<unknown>"
    provider_namespace = workload.provider_props.get("namespace")
    if isinstance(provider_namespace, str) and provider_namespace:
        return provider_namespace
    return "default"


def identity(workload: Resource) -> str:
    name = workload.get("metadata", "name")
    return f"{namespace_of(workload)}/{name if isinstance(name, str) and name else workload.name}"


def is_exempt(workload: Resource, config: Mapping[str, Any]) -> bool:
    me = identity(workload)
    return any(fnmatch.fnmatchcase(me, pattern) for pattern in config.get("exempt_workloads", []))


def exempt_setting(default: list[str]) -> Setting:
    return Setting("exempt_workloads", {**STRING_LIST, "description":
                                        "Workloads this rule skips, as namespace/name patterns (fnmatch)."}, default)


def where(workload: Resource, container: Container) -> str:
    return f"{container.where} of {label_of(workload)} ({identity(workload)})"


def _workload_check(body: Any) -> Any:
    """Skip the workloads the rule's `exempt_workloads` setting lists."""

    def check(workload: Resource, config: Mapping[str, Any]) -> Iterator[str]:
        if is_exempt(workload, config):
            return
        yield from body(workload, config)

    return check


REQUESTS = Setting("required_requests", {**STRING_LIST, "description": "Resources every container must request."},
                   ["cpu", "memory"])
LIMITS = Setting("required_limits", {**STRING_LIST, "description": "Resources every container must limit."},
                 ["cpu", "memory"])


def _resources(workload: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    for pod in pods(workload):
        for c in pod.containers:
            resources = need(c.spec.get("resources"), "resources") or {}
            missing = [f"requests.{r}" for r in config["required_requests"] if get(resources, "requests", r) is None]
            missing += [f"limits.{r}" for r in config["required_limits"] if get(resources, "limits", r) is None]
            if missing:
                yield f"Set {', '.join(missing)} on {where(workload, c)}."


def tolerates_gpu_taint(pod: Pod) -> bool:
    for t in as_list(pod.spec.get("tolerations")):
        key = get(t, "key")
        if key == GPU_RESOURCE or (key in (None, "") and get(t, "operator") == "Exists"):
            return True
    return False


def _gpu_limits(workload: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    for pod in pods(workload):
        if not tolerates_gpu_taint(pod):
            continue
        runs = [c for c in pod.containers if not c.init]
        limits = [get(c.spec, "resources", "limits", GPU_RESOURCE) for c in runs]
        if not any(v is UNKNOWN or (number(v) or 0) >= 1 for v in limits):
            names = ", ".join(f"'{c.name}'" for c in runs) or "its containers"
            yield (f"Set limits.{GPU_RESOURCE} on container {names} of {label_of(workload)} ({identity(workload)}), "
                   f"which tolerates the {GPU_RESOURCE} taint.")


def _probes(workload: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    for pod in pods(workload):
        for c in pod.containers:
            if c.init:
                continue
            missing = [p for p in ("livenessProbe", "readinessProbe") if c.spec.get(p) is None]
            if missing:
                yield f"Add {' and '.join(missing)} to {where(workload, c)}."


def _effective(pod: Pod, c: Container, key: str) -> Any:
    value = get(c.spec, "securityContext", key)
    return value if value is not None else get(pod.spec, "securityContext", key)


def _non_root(workload: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    for pod in pods(workload):
        for c in pod.containers:
            non_root = _effective(pod, c, "runAsNonRoot")
            user = _effective(pod, c, "runAsUser")
            uid = number(user)
            if non_root is UNKNOWN or user is UNKNOWN:
                continue
            if uid == 0 or not (non_root is True or (uid is not None and uid > 0)):
                yield f"Set securityContext.runAsNonRoot to true (and a non-zero runAsUser) on {where(workload, c)}."


def _read_only_root(workload: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    for pod in pods(workload):
        for c in pod.containers:
            if get(c.spec, "securityContext", "readOnlyRootFilesystem") not in (True, UNKNOWN):
                yield f"Set securityContext.readOnlyRootFilesystem to true on {where(workload, c)}."


def _no_escalation(workload: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    for pod in pods(workload):
        for c in pod.containers:
            escalation = get(c.spec, "securityContext", "allowPrivilegeEscalation")
            privileged = get(c.spec, "securityContext", "privileged")
            if escalation not in (False, UNKNOWN) or privileged is True:
                yield (f"Set securityContext.allowPrivilegeEscalation to false (and privileged to false) on "
                       f"{where(workload, c)}.")


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned, or None when it has a non-latest tag or a digest."""
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the latest tag"
    return None


def _pinned_images(workload: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    for pod in pods(workload):
        for c in pod.containers:
            image = c.spec.get("image")
            if image is None and c.image_optional:
                continue
            image = need(image, "image")
            if not isinstance(image, str) or not image:
                yield f"Set an image with an explicit version tag or digest on {where(workload, c)}."
                continue
            problem = image_problem(image)
            if problem:
                yield (f"Pin image '{image}' of {where(workload, c)} to a version tag or digest; it {problem}.")


def _namespace(workload: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    namespace = namespace_of(workload)
    if namespace == "default":
        yield f"Deploy {label_of(workload)} into a dedicated namespace instead of default (set metadata.namespace)."


def _policy(name: str, description: str, body: Any, settings: list[Setting],
            severity: Severity = Severity.HIGH) -> ResourceValidationPolicy:
    return resource_policy(name, description, WORKLOADS, _workload_check(body), settings=settings, severity=severity)


POLICIES = [
    _policy("workload-resources",
            "Kubernetes workloads must set CPU and memory requests and limits on every container.",
            _resources, [REQUESTS, LIMITS, exempt_setting([])], Severity.MEDIUM),
    _policy("workload-gpu-limits",
            "Kubernetes workloads that tolerate the nvidia.com/gpu taint must set an nvidia.com/gpu limit.",
            _gpu_limits, [exempt_setting([DEVICE_PLUGIN])]),
    _policy("workload-probes",
            "Kubernetes workloads must define liveness and readiness probes on every container.",
            _probes, [exempt_setting([DEVICE_PLUGIN])], Severity.MEDIUM),
    _policy("workload-non-root",
            "Kubernetes workloads must run every container as a non-root user.",
            _non_root, [exempt_setting([DEVICE_PLUGIN])]),
    _policy("workload-read-only-root-filesystem",
            "Kubernetes workloads must mount every container's root filesystem read-only.",
            _read_only_root, [exempt_setting([])]),
    _policy("workload-no-privilege-escalation",
            "Kubernetes workloads must forbid privilege escalation and privileged mode in every container.",
            _no_escalation, [exempt_setting([])]),
    _policy("workload-image-pinned",
            "Kubernetes workloads must pin every container image to a version tag or digest, never latest.",
            _pinned_images, [exempt_setting([])], Severity.MEDIUM),
    _policy("workload-not-default-namespace",
            "Kubernetes workloads must not run in the default namespace.",
            _namespace, [exempt_setting([])], Severity.MEDIUM),
]
