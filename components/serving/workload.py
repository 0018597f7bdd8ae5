"""Cluster mode: the hardened Kubernetes objects that serve a model on the cell's cluster.

Namespace (restricted Pod Security), ServiceAccount bound to the cloud's
workload identity, a Deployment (or a KServe InferenceService), Service,
HorizontalPodAutoscaler (autoscaling/v2), PodDisruptionBudget, NetworkPolicy
admitting only the entry's load balancer, and the cell's public HTTPS entry that
global traffic points at: the cloud's `entry()` (aws_entry.py: ALB Ingress behind
Global Accelerator with ACM and WAF; gcp.py: GKE Gateway on a global static
address with Certificate Manager; azure.py: the endpoint's own NGINX on a static
public IP with cert-manager), then the cell hostname's DNS record to its address.
Everything in the cluster goes through the cluster's own provider.

Pod defaults and why: non-root UID 10001, read-only root filesystem (emptyDir
for /tmp, the model cache and /dev/shm), no privilege escalation, every
capability dropped, seccomp RuntimeDefault, no service-account token (the
cloud identity webhooks project their own), GPU limit with the GPU taint
tolerated and the pool selected, startup/readiness/liveness probes on the
model's health path, CPU and memory requests equal to limits (a slice of the
GPU node sized by the catalog).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol, Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..catalog.gpus import MachineType
from ..catalog.regions import CLOUDS, Cloud
from ..common.dispatch import unknown
from ..compute.args import GPU_TAINT_KEY, POOL_LABEL
from ..secrets import SecretPlace, store_secret
from .args import (ENGINES, Engine, EndpointOutputs, Entry, EntryRequest, IngressSettings, ModelEndpointArgs,
                   PerMetric, WorkloadIdentity)

RUN_AS = 10001
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority"
CONCURRENCY_METRIC = "inference_requests_in_flight"
INVOCATIONS_METRIC = "inference_requests_per_minute"

HPA_METRICS: PerMetric[str] = {"invocations": INVOCATIONS_METRIC, "concurrency": CONCURRENCY_METRIC}
"""The per-pod metric the HorizontalPodAutoscaler tracks for each `Scaling.metric`."""
KSERVE_SCALE_METRICS: PerMetric[str] = {"invocations": "rps", "concurrency": "concurrency"}
"""KServe's `scaleMetric` for each `Scaling.metric`."""

EndpointBuilder = Callable[[pulumi.Resource, str, ModelEndpointArgs], EndpointOutputs]


class ClusterServing(Protocol):
    """What each cloud's serving module (`aws.py`, `azure.py`, `gcp.py`) gives a cluster-mode endpoint."""

    def workload_identity(self, parent: pulumi.Resource, name: str, args: ModelEndpointArgs, namespace: str,
                          service_account: str) -> WorkloadIdentity: ...

    def ingress_settings(self, args: ModelEndpointArgs) -> IngressSettings: ...

    def entry(self, request: EntryRequest) -> Entry: ...


def cluster_serving(cloud: Cloud) -> ClusterServing:
    """The cloud's serving module: workload identity and the load-balanced entry on its cluster."""
    match cloud:
        case "aws":
            from . import aws
            return aws
        case "azure":
            from . import azure
            return azure
        case "gcp":
            from . import gcp
            return gcp
        case _:
            unknown(cloud, "ModelEndpointArgs.cloud", CLOUDS)


def resources_for(machine: MachineType, gpus: int) -> k8s.core.v1.ResourceRequirementsArgsDict:
    """Requests = limits: this replica's share of the node (by GPUs), leaving a quarter for the system."""
    share = gpus / max(machine.gpu_count, 1)
    cpu = max(1, math.floor(machine.vcpus * share * 0.75))
    memory = max(2, math.floor(machine.memory_gib * share * 0.75))
    amount = {"cpu": str(cpu), "memory": f"{memory}Gi", "nvidia.com/gpu": str(gpus)}
    return {"requests": dict(amount), "limits": dict(amount)}


def _probe(path: str, port: int, period: int, failures: int, initial: int = 0) -> k8s.core.v1.ProbeArgsDict:
    return {"http_get": {"path": path, "port": port}, "period_seconds": period,
            "failure_threshold": failures, "timeout_seconds": 5, "initial_delay_seconds": initial}


API_KEY_ENV = "VLLM_API_KEY"
"""The variable vLLM's OpenAI-compatible server takes its API key from (the same as `--api-key`):
requests to its OpenAI routes need `Authorization: Bearer <key>`, the health path stays open
(vLLM docs, "OpenAI-Compatible Server"). Kept out of the command line so it never shows in `ps`."""
API_KEY_SECRET_KEY = "api-key"
AUTH_ANNOTATION = "aiinfra.io/auth"
"""Pod template annotation saying an endpoint runs without authentication on purpose (`none`)."""


def _container(args: ModelEndpointArgs, resources: k8s.core.v1.ResourceRequirementsArgsDict,
               model_uri: pulumi.Input[str], api_key_secret: str | None) -> k8s.core.v1.ContainerArgsDict:
    model = args.options.model
    env: list[k8s.core.v1.EnvVarArgsDict] = [{"name": "MODEL_URI", "value": model_uri},
                                             {"name": "MODEL_CACHE_DIR", "value": "/models"},
                                             {"name": "PORT", "value": str(model.port)}]
    if api_key_secret is not None:
        env.append({"name": API_KEY_ENV, "value_from": {"secret_key_ref": {"name": api_key_secret,
                                                                           "key": API_KEY_SECRET_KEY}}})
    return {
        "name": "model",
        "image": model.image,
        "image_pull_policy": "IfNotPresent",
        "ports": [{"name": "http", "container_port": model.port, "protocol": "TCP"}],
        "env": env,
        "resources": resources,
        # A GPU model can take minutes to load: the startup probe allows 10 minutes before liveness applies.
        "startup_probe": _probe(model.health_path, model.port, period=10, failures=60),
        "readiness_probe": _probe(model.health_path, model.port, period=5, failures=3),
        "liveness_probe": _probe(model.health_path, model.port, period=10, failures=3),
        "security_context": {
            "allow_privilege_escalation": False,
            "privileged": False,
            "read_only_root_filesystem": True,
            "run_as_non_root": True,
            "run_as_user": RUN_AS,
            "run_as_group": RUN_AS,
            "capabilities": {"drop": ["ALL"]},
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"},
                          {"name": "model-cache", "mount_path": "/models"},
                          {"name": "shm", "mount_path": "/dev/shm"}],
    }


def _pod_spec(args: ModelEndpointArgs, service_account: str,
              container: k8s.core.v1.ContainerArgsDict) -> k8s.core.v1.PodSpecArgsDict:
    assert args.gpu_pool is not None
    tolerations: list[k8s.core.v1.TolerationArgsDict] = [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
    if args.gpu_pool.options.spot and args.cloud == "azure":
        tolerations.append({"key": SPOT_TAINT, "operator": "Equal", "value": "spot", "effect": "NoSchedule"})
    return {
        "service_account_name": service_account,
        "automount_service_account_token": False,
        "enable_service_links": False,
        "node_selector": {POOL_LABEL: args.gpu_pool.options.name},
        "tolerations": tolerations,
        "termination_grace_period_seconds": 60,
        "security_context": {"run_as_non_root": True, "run_as_user": RUN_AS, "run_as_group": RUN_AS,
                             "fs_group": RUN_AS, "seccomp_profile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
                    {"name": "model-cache", "empty_dir": {"size_limit": "100Gi"}},
                    {"name": "shm", "empty_dir": {"medium": "Memory", "size_limit": "8Gi"}}],
    }


def _autoscaling_metric(args: ModelEndpointArgs) -> k8s.autoscaling.v2.MetricSpecArgsDict:
    scaling = args.options.scaling
    return {"type": "Pods", "pods": {"metric": {"name": HPA_METRICS[scaling.metric]},
                                     "target": {"type": "AverageValue", "average_value": f"{scaling.target:g}"}}}


@dataclass(frozen=True)
class _Workload:
    """What the engine's objects share: where they go, what they are called and the pod they run."""

    name: str
    args: ModelEndpointArgs
    serving: ClusterServing
    namespace: str
    app: str
    labels: dict[str, str]
    selector: dict[str, str]
    pod_labels: dict[str, str]
    pod_annotations: dict[str, str]
    pod_spec: k8s.core.v1.PodSpecArgsDict
    container: k8s.core.v1.ContainerArgsDict
    in_namespace: pulumi.ResourceOptions
    after_identity: pulumi.ResourceOptions


def _inference_service(w: _Workload) -> str:
    """KServe creates the Deployment, Service and autoscaler from this one object; returns its Service."""
    options = w.args.options
    k8s.apiextensions.CustomResource(
        f"{w.name}-inference-service",
        api_version="serving.kserve.io/v1beta1",
        kind="InferenceService",
        metadata={"name": w.app, "namespace": w.namespace, "labels": w.labels,
                  "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment",
                                  "serving.kserve.io/autoscalerClass": "hpa", **w.pod_annotations}},
        spec={"predictor": {
            "minReplicas": options.min_replicas,
            "maxReplicas": options.max_replicas,
            "scaleMetric": KSERVE_SCALE_METRICS[options.scaling.metric],
            "scaleTarget": math.ceil(options.scaling.target),
            "serviceAccountName": w.app,
            "nodeSelector": w.pod_spec.get("node_selector"),
            "tolerations": _camel(tolerations_of(w.pod_spec)),
            "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "fsGroup": RUN_AS,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [_camel({**dict(w.container), "name": "kserve-container"})],
            "volumes": _camel(w.pod_spec.get("volumes")),
        }},
        opts=w.after_identity)
    return f"{w.app}-predictor"


def _deployment(w: _Workload) -> str:
    """A hardened Deployment, its ClusterIP Service and a HorizontalPodAutoscaler; returns the Service."""
    options = w.args.options
    k8s.apps.v1.Deployment(
        f"{w.name}-deployment",
        metadata={"name": w.app, "namespace": w.namespace, "labels": w.labels},
        spec={
            "replicas": options.min_replicas,
            "selector": {"match_labels": w.selector},
            "strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}},
            "template": {"metadata": {"labels": w.pod_labels, "annotations": w.pod_annotations},
                         "spec": w.pod_spec},
        },
        # The autoscaler owns the replica count after creation.
        opts=pulumi.ResourceOptions.merge(w.after_identity, pulumi.ResourceOptions(ignore_changes=["spec.replicas"])))
    k8s.core.v1.Service(
        f"{w.name}-service",
        metadata={"name": w.app, "namespace": w.namespace, "labels": w.labels,
                  "annotations": w.serving.ingress_settings(w.args).service_annotations},
        spec={"type": "ClusterIP", "selector": w.selector,
              "ports": [{"name": "http", "port": 80, "target_port": "http", "protocol": "TCP"}]},
        opts=w.in_namespace)
    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{w.name}-autoscaler",
        metadata={"name": w.app, "namespace": w.namespace, "labels": w.labels},
        spec={
            "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": w.app},
            "min_replicas": options.min_replicas,
            "max_replicas": options.max_replicas,
            "metrics": [_autoscaling_metric(w.args)],
            # GPU replicas are slow to start and expensive to churn: scale down cautiously.
            "behavior": {"scale_down": {"stabilization_window_seconds": 600,
                                        "policies": [{"type": "Pods", "value": 1, "period_seconds": 300}]}},
        },
        opts=w.in_namespace)
    return w.app


EngineObjects = Callable[[_Workload], str]
"""Creates the engine's serving objects and returns the name of the Service the Ingress sends to."""


def _engine_objects(engine: Engine) -> EngineObjects:
    match engine:
        case "deployment":
            return _deployment
        case "kserve":
            return _inference_service
        case _:
            unknown(engine, "EndpointOptions.engine", ENGINES)


def cluster_builder(cloud: Cloud, engine: Engine) -> EndpointBuilder:
    """The cluster-mode builder for `cloud` and `engine`, chosen before anything is registered."""
    serving = cluster_serving(cloud)
    objects = _engine_objects(engine)

    def build(parent: pulumi.Resource, name: str, args: ModelEndpointArgs) -> EndpointOutputs:
        return _build_cluster_endpoint(parent, name, args, serving, objects)
    return build


def _build_cluster_endpoint(parent: pulumi.Resource, name: str, args: ModelEndpointArgs, cloud: ClusterServing,
                            engine_objects: EngineObjects) -> EndpointOutputs:
    assert args.cluster is not None and args.gpu_pool is not None
    options, model = args.options, args.options.model
    k8s_opts = pulumi.ResourceOptions(parent=parent, provider=args.cluster.provider)
    namespace = f"serve-{options.name}"
    app = options.name
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": f"{app}-{args.cluster.args.region}",
              "app.kubernetes.io/component": "inference", "app.kubernetes.io/part-of": "aiinfra",
              "app.kubernetes.io/managed-by": "pulumi"}
    selector = {"app.kubernetes.io/name": app, "app.kubernetes.io/component": "inference"}

    ns = k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata={"name": namespace, "labels": {**labels,
                                                 "pod-security.kubernetes.io/enforce": "restricted",
                                                 "pod-security.kubernetes.io/audit": "restricted"}},
        opts=k8s_opts)
    in_ns = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[ns]))
    identity = cloud.workload_identity(parent, name, args, namespace, app)
    k8s.core.v1.ServiceAccount(
        f"{name}-service-account",
        metadata={"name": app, "namespace": namespace, "labels": labels,
                  "annotations": identity.service_account_annotations},
        automount_service_account_token=False,
        opts=in_ns)

    api_key_secret, api_key_place = _api_key(parent, name, args, namespace, app, labels, in_ns)
    machine = args.gpu_pool.machine
    model_uri = pulumi.Output.concat(args.bucket_url, "/", model.artifact_path)
    container = _container(args, resources_for(machine, options.accelerator.count), model_uri, api_key_secret)
    pod_spec = _pod_spec(args, app, container)
    after_identity = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=identity.depends_on))
    backend_service = engine_objects(_Workload(
        name=name, args=args, serving=cloud, namespace=namespace, app=app, labels=labels, selector=selector,
        pod_labels={**labels, **identity.pod_labels},
        pod_annotations={AUTH_ANNOTATION: "none"} if options.auth == "none" else {},
        pod_spec=pod_spec, container=container,
        in_namespace=in_ns, after_identity=after_identity))

    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-disruption-budget",
        metadata={"name": app, "namespace": namespace, "labels": labels},
        spec={"max_unavailable": 1, "selector": {"match_labels": selector}},
        opts=in_ns)

    ingress = cloud.ingress_settings(args)
    k8s.networking.v1.NetworkPolicy(
        f"{name}-network-policy",
        metadata={"name": app, "namespace": namespace, "labels": labels},
        spec={"pod_selector": {"match_labels": selector},
              "policy_types": ["Ingress"],
              "ingress": [{"from_": ingress.allowed_sources,
                           "ports": [{"protocol": "TCP", "port": model.port}]}]},
        opts=in_ns)
    assert options.hostname is not None
    hostnames = [options.hostname, *(h for h in args.global_hostnames if h != options.hostname)]
    entry = cloud.entry(EntryRequest(parent=parent, name=name, args=args, namespace=namespace, labels=labels,
                                     service=backend_service, hostnames=hostnames, opts=in_ns))
    if args.dns_zone is not None:
        # The cell's own name, in the environment's zone, to the load balancer's address.
        args.dns_zone.record(parent, f"{name}-entry-record", options.hostname, entry.record_type, [entry.address],
                             ttl=60)
    host = pulumi.Output.from_input(options.hostname)
    return EndpointOutputs(url=host.apply(lambda h: f"https://{h}"),
                           health_url=host.apply(lambda h: f"https://{h}{model.health_path}"),
                           entry_hostname=host, entry_ip=entry.ip,
                           api_key_secret=api_key_place.reference if api_key_place is not None else None)


def _api_key(parent: pulumi.Resource, name: str, args: ModelEndpointArgs, namespace: str, app: str,
             labels: dict[str, str], opts: pulumi.ResourceOptions) -> tuple[str | None, SecretPlace | None]:
    """With auth `api_key`: the key in the cell's cloud secret store (where operators and clients of
    that cloud fetch it) and in a Kubernetes Secret the server reads it from; (Secret name, place)."""
    if args.options.auth != "api_key":
        return None, None
    assert args.api_key is not None  # the front door requires it
    place = store_secret(args.cloud, parent, f"{name}-api-key", args.api_key, args.environment, args.region,
                         description=f"API key of the {args.options.name} endpoint (Bearer token)",
                         resource_group_name=args.resource_group_name, project=args.project)
    secret = f"{app}-api-key"
    k8s.core.v1.Secret(
        f"{name}-api-key-k8s",
        metadata={"name": secret, "namespace": namespace, "labels": labels},
        type="Opaque",
        string_data={API_KEY_SECRET_KEY: pulumi.Output.secret(args.api_key)},
        opts=opts)
    return secret, place


def ingress_address(ingress: k8s.networking.v1.Ingress, field: Literal["hostname", "ip"]) -> pulumi.Output[str]:
    """The first load-balancer address the controller reports in the Ingress's status (the Kubernetes
    provider waits for it when creating an Ingress; unknown in a preview)."""
    def first(status: Any) -> str:
        balancer = getattr(status, "load_balancer", None)
        entries = getattr(balancer, "ingress", None) or []
        return str(getattr(entries[0], field, None) or "") if entries else ""
    return ingress.status.apply(first)


def standard_ingress(request: EntryRequest, ingress: IngressSettings) -> k8s.networking.v1.Ingress:
    """An Ingress of class `ingress.class_name` routing every one of the request's hostnames to its
    Service, with TLS for all of them (see IngressSettings.tls_in_spec)."""
    # A `tls` entry without a secret is how the AWS controller discovers its ACM certificate; GKE's
    # controller fails on a secret-less entry (kubernetes/ingress-gce#1334), so clouds that attach
    # certificates by annotation say `tls_in_spec=False`.
    tls: list[k8s.networking.v1.IngressTLSArgsDict] = []
    if ingress.tls_in_spec:
        entry: k8s.networking.v1.IngressTLSArgsDict = {"hosts": list(request.hostnames)}
        if ingress.tls_secret_name:
            entry["secret_name"] = ingress.tls_secret_name
        tls.append(entry)
    backend: k8s.networking.v1.IngressBackendArgsDict = {"service": {"name": request.service, "port": {"number": 80}}}
    spec: k8s.networking.v1.IngressSpecArgsDict = {
        "ingress_class_name": ingress.class_name,
        "rules": [{"host": host, "http": {"paths": [{"path": "/", "path_type": "Prefix", "backend": backend}]}}
                  for host in request.hostnames]}
    if tls:
        spec["tls"] = tls
    return k8s.networking.v1.Ingress(
        f"{request.name}-ingress",
        metadata={"name": request.args.options.name, "namespace": request.namespace, "labels": request.labels,
                  "annotations": ingress.annotations},
        spec=spec,
        opts=request.opts)


def tolerations_of(pod_spec: k8s.core.v1.PodSpecArgsDict) -> pulumi.Input[
        Sequence[pulumi.Input[k8s.core.v1.TolerationArgsDict]] | None]:
    return pod_spec.get("tolerations")


def _camel(value: Any) -> Any:
    """snake_case keys -> camelCase, for custom resources the typed SDK cannot translate."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            head, *rest = key.split("_")
            out[head + "".join(p.title() for p in rest)] = _camel(item)
        return out
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value
