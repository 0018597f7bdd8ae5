"""Cluster mode: the hardened Kubernetes objects that serve a model on the cell's cluster.

Namespace (restricted Pod Security), ServiceAccount bound to the cloud's workload identity, a
Deployment (or a KServe InferenceService) whose init container copies the model from the cell's
store (the cloud's `model_loader`) before the engine starts with its real arguments
(serving/server.py), Service, a KEDA ScaledObject on the server's own metric read from the cluster's
managed Prometheus (components/metrics), PodDisruptionBudget, NetworkPolicy admitting only the
entry's load balancer and the metrics scraper, a 5xx alert rule, and the cell's public HTTPS entry
that global traffic points at: the cloud's `entry()` (aws_entry.py: ALB Ingress behind Global
Accelerator with ACM and WAF; gcp.py: GKE Gateway on a global static address with Certificate
Manager; azure.py: the endpoint's own NGINX on a static public IP with cert-manager), then the cell
hostname's DNS record to its address. Everything in the cluster goes through the cluster's own
provider; images come through the cell's image cache.

Pod defaults and why: non-root UID 10001, read-only root filesystem (emptyDir for /tmp, the model,
the engine's caches and /dev/shm), no privilege escalation, every capability dropped, seccomp
RuntimeDefault, no service-account token (the cloud identity webhooks project their own), GPU limit
with the GPU taint tolerated and the pool selected, a startup probe and Pulumi timeouts from the
cold-start budget (serving/coldstart.py), CPU and memory requests equal to limits (a slice of the GPU
node sized by the catalog).
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
from ..metrics import KEDA_AUTHENTICATION, SCRAPE_LABEL, AlertRuleRequest, MetricsBuilt, ScrapeRequest
from .args import (WORKLOADS, EndpointOutputs, Entry, EntryRequest, IngressSettings, LoaderRequest, ModelEndpointArgs,
                   ModelLoader, Workload, WorkloadIdentity)
from .coldstart import COLD_START_ANNOTATION, SERVER_START_ANNOTATION, cold_start
from .server import (CACHE_DIR, ERROR_RATIO_THRESHOLD, ERROR_WINDOW, EXPORTED_METRICS_ANNOTATION, MODEL_DIR,
                     MODEL_MOUNT, ServerContract, model_volume_gib, scaling_query, server_contract)

RUN_AS = 10001
LOADER_CONTAINER = "model-loader"
"""The init container that copies the model (every cloud's `model_loader`)."""
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority"
KEDA_API_VERSION = "keda.sh/v1alpha1"
SCALE_DOWN_WINDOW_SECONDS = 600
"""GPU replicas are slow to start and expensive to churn: scale down only after 10 minutes of low load,
one pod per 5 minutes."""

EndpointBuilder = Callable[[pulumi.Resource, str, ModelEndpointArgs], EndpointOutputs]


class ClusterServing(Protocol):
    """What each cloud's serving module (`aws.py`, `azure.py`, `gcp.py`) gives a cluster-mode endpoint."""

    def workload_identity(self, parent: pulumi.Resource, name: str, args: ModelEndpointArgs, namespace: str,
                          service_account: str) -> WorkloadIdentity: ...

    def ingress_settings(self, args: ModelEndpointArgs) -> IngressSettings: ...

    def entry(self, request: EntryRequest) -> Entry: ...

    def model_loader(self, request: LoaderRequest) -> ModelLoader: ...


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


def _security_context() -> k8s.core.v1.SecurityContextArgsDict:
    return {
        "allow_privilege_escalation": False,
        "privileged": False,
        "read_only_root_filesystem": True,
        "run_as_non_root": True,
        "run_as_user": RUN_AS,
        "run_as_group": RUN_AS,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def _container(args: ModelEndpointArgs, resources: k8s.core.v1.ResourceRequirementsArgsDict,
               contract: ServerContract, image: pulumi.Input[str], api_key_secret: str | None,
               startup_seconds: int) -> k8s.core.v1.ContainerArgsDict:
    model = args.options.model
    env = list(contract.env)
    if api_key_secret is not None:
        assert contract.api_key_env is not None  # server_problems refuses api_key without one
        env.append({"name": contract.api_key_env, "value_from": {"secret_key_ref": {
            "name": api_key_secret, "key": API_KEY_SECRET_KEY}}})
    return {
        "name": "model",
        "image": image,
        "image_pull_policy": "IfNotPresent",
        "args": contract.args,
        "ports": [{"name": "http", "container_port": model.port, "protocol": "TCP"}],
        "env": env,
        "resources": resources,
        # Loading a model into GPU memory takes minutes: the startup probe allows the cold-start
        # budget's load time before liveness applies (probe period 10 s).
        "startup_probe": _probe(model.health_path, model.port, period=10,
                                failures=max(6, math.ceil(startup_seconds / 10))),
        "readiness_probe": _probe(model.health_path, model.port, period=5, failures=3),
        "liveness_probe": _probe(model.health_path, model.port, period=10, failures=3),
        "security_context": _security_context(),
        "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"},
                          {"name": "model", "mount_path": MODEL_MOUNT, "read_only": True},
                          {"name": "cache", "mount_path": CACHE_DIR},
                          {"name": "shm", "mount_path": "/dev/shm"}],
    }


def _pod_spec(args: ModelEndpointArgs, service_account: str, container: k8s.core.v1.ContainerArgsDict,
              loader: ModelLoader, size_gb: float) -> k8s.core.v1.PodSpecArgsDict:
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
        "init_containers": [{**loader.init_container, "name": LOADER_CONTAINER}],
        "containers": [container],
        "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
                    {"name": "model", "empty_dir": {"size_limit": f"{model_volume_gib(size_gb)}Gi"}},
                    {"name": "cache", "empty_dir": {"size_limit": "20Gi"}},
                    {"name": "shm", "empty_dir": {"medium": "Memory", "size_limit": "8Gi"}}],
    }


def _query_labels(built: "MetricsBuilt") -> pulumi.Output[dict[str, str]]:
    """The cluster's label matchers as one Output of a dict (none where the store holds one cluster)."""
    if not built.query_labels:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**{k: pulumi.Output.from_input(v) for k, v in built.query_labels.items()}).apply(dict)


def _scaled_object(w: "_Workload", target: str) -> None:
    """KEDA scales the workload's Deployment on the server's own metric, read from the cluster's
    managed Prometheus (components/metrics). KEDA owns the HorizontalPodAutoscaler it creates; no
    fallback is set, so when the metric cannot be read the HPA keeps the current replica count (KEDA
    docs, "Scaling Deployments": the HPA does not act on a failing external metric) instead of
    dropping to a fixed one during a spike."""
    args, options = w.args, w.args.options
    assert args.metrics is not None  # the front door requires it in cluster mode
    built = args.metrics.built
    matchers: dict[str, str] = {"namespace": w.namespace}
    query = _query_labels(built).apply(
        lambda labels: scaling_query(options.scaling.metric, w.contract.metric_names, {**labels, **matchers}))
    metadata: dict[str, pulumi.Input[str]] = {
        "serverAddress": built.query_url, "query": query, "threshold": f"{options.scaling.target:g}",
        **built.trigger_metadata}
    k8s.apiextensions.CustomResource(
        f"{w.name}-scaled-object",
        api_version=KEDA_API_VERSION,
        kind="ScaledObject",
        metadata={"name": w.app, "namespace": w.namespace, "labels": w.labels},
        spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicaCount": options.min_replicas,
            "maxReplicaCount": options.max_replicas,
            "pollingInterval": 15,
            "advanced": {"horizontalPodAutoscalerConfig": {"name": w.app, "behavior": {"scaleDown": {
                "stabilizationWindowSeconds": SCALE_DOWN_WINDOW_SECONDS,
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}]}}}},
            "triggers": [{"type": "prometheus", "name": options.scaling.metric, "metricType": "AverageValue",
                          "metadata": metadata,
                          "authenticationRef": {"name": KEDA_AUTHENTICATION, "kind": "ClusterTriggerAuthentication"}}],
        },
        opts=pulumi.ResourceOptions.merge(w.in_namespace, pulumi.ResourceOptions(depends_on=built.ready)))


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
    contract: ServerContract
    in_namespace: pulumi.ResourceOptions
    after_identity: pulumi.ResourceOptions


def _inference_service(w: _Workload) -> str:
    """KServe creates the Deployment `<name>-predictor` and its Service from this one object; KEDA scales
    that Deployment (autoscalerClass `external`: KServe creates no HPA of its own; KServe docs,
    "Autoscaling with Kubernetes HPA" > "Disable HPA"). Returns the Service."""
    options = w.args.options
    k8s.apiextensions.CustomResource(
        f"{w.name}-inference-service",
        api_version="serving.kserve.io/v1beta1",
        kind="InferenceService",
        metadata={"name": w.app, "namespace": w.namespace, "labels": w.labels,
                  "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment",
                                  "serving.kserve.io/autoscalerClass": "external", **w.pod_annotations}},
        spec={"predictor": {
            "minReplicas": options.min_replicas,
            "maxReplicas": options.max_replicas,
            "serviceAccountName": w.app,
            "nodeSelector": w.pod_spec.get("node_selector"),
            "tolerations": _camel(tolerations_of(w.pod_spec)),
            "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "fsGroup": RUN_AS,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": _camel(w.pod_spec.get("init_containers")),
            "containers": [_camel({**dict(w.container), "name": "kserve-container"})],
            "volumes": _camel(w.pod_spec.get("volumes")),
        }},
        opts=w.after_identity)
    _scaled_object(w, f"{w.app}-predictor")
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
    _scaled_object(w, w.app)
    return w.app


WorkloadObjects = Callable[[_Workload], str]
"""Creates the workload's serving objects and returns the name of the Service the entry sends to."""


def _workload_objects(workload: Workload) -> WorkloadObjects:
    match workload:
        case "deployment":
            return _deployment
        case "kserve":
            return _inference_service
        case _:
            unknown(workload, "EndpointOptions.workload", WORKLOADS)


def cluster_builder(cloud: Cloud, workload: Workload) -> EndpointBuilder:
    """The cluster-mode builder for `cloud` and `workload`, chosen before anything is registered."""
    serving = cluster_serving(cloud)
    objects = _workload_objects(workload)

    def build(parent: pulumi.Resource, name: str, args: ModelEndpointArgs) -> EndpointOutputs:
        return _build_cluster_endpoint(parent, name, args, serving, objects)
    return build


def _build_cluster_endpoint(parent: pulumi.Resource, name: str, args: ModelEndpointArgs, cloud: ClusterServing,
                            workload_objects: WorkloadObjects) -> EndpointOutputs:
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
    assert model.size_gb is not None and model.image is not None  # server_problems, endpoint_problems
    contract = server_contract(options)
    pull = _puller(args)
    loader = cloud.model_loader(LoaderRequest(
        args=args, source_url=pulumi.Output.concat(args.bucket_url, "/", model.artifact_path), target_dir=MODEL_DIR,
        volume_mounts=[{"name": "model", "mount_path": MODEL_MOUNT}, {"name": "tmp", "mount_path": "/tmp"}],
        security_context=_security_context(), image=pull))
    budget = cold_start(args)
    container = _container(args, resources_for(machine, options.accelerator.count), contract, pull(model.image),
                           api_key_secret, budget.server_start_seconds)
    pod_spec = _pod_spec(args, app, container, loader, model.size_gb)
    waits = [*identity.depends_on, *(args.image_cache.ready if args.image_cache is not None else [])]
    after_identity = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(
        depends_on=waits,
        # Pulumi waits for the rollout (10 minutes by default): a first replica may need a new GPU node,
        # the image and the model first (the cold-start budget).
        custom_timeouts=pulumi.CustomTimeouts(create=f"{budget.total_seconds}s", update=f"{budget.total_seconds}s")))
    assert args.metrics is not None
    backend_service = workload_objects(_Workload(
        name=name, args=args, serving=cloud, namespace=namespace, app=app, labels=labels, selector=selector,
        pod_labels={**labels, **identity.pod_labels, SCRAPE_LABEL: "true"},
        pod_annotations={**({AUTH_ANNOTATION: "none"} if options.auth == "none" else {}),
                         "prometheus.io/scrape": "true", "prometheus.io/port": str(model.port),
                         "prometheus.io/path": contract.metrics_path,
                         COLD_START_ANNOTATION: str(budget.total_seconds),
                         SERVER_START_ANNOTATION: str(budget.server_start_seconds),
                         EXPORTED_METRICS_ANNOTATION: ",".join(contract.exported_metrics())},
        pod_spec=pod_spec, container=container, contract=contract,
        in_namespace=in_ns, after_identity=after_identity))
    args.metrics.scrape(ScrapeRequest(parent=parent, name=name, namespace=namespace, selector=selector,
                                      port_name="http", path=contract.metrics_path, opts=in_ns))
    _error_alert(parent, name, args, contract, namespace)

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
                           "ports": [{"protocol": "TCP", "port": model.port}]},
                          # The metrics scraper (the same port serves /metrics; the entry never routes it).
                          {"from_": args.metrics.built.scraper_peers,
                           "ports": [{"protocol": "TCP", "port": model.port}]}]},
        opts=in_ns)
    assert options.hostname is not None
    hostnames = [options.hostname, *(h for h in args.global_hostnames if h != options.hostname)]
    entry = cloud.entry(EntryRequest(parent=parent, name=name, args=args, namespace=namespace, labels=labels,
                                     service=backend_service, hostnames=hostnames, paths=contract.public_paths,
                                     opts=in_ns))
    if args.dns_zone is not None:
        # The cell's own name, in the environment's zone, to the load balancer's address.
        args.dns_zone.record(parent, f"{name}-entry-record", options.hostname, entry.record_type, [entry.address],
                             ttl=60)
    host = pulumi.Output.from_input(options.hostname)
    return EndpointOutputs(url=host.apply(lambda h: f"https://{h}"),
                           health_url=host.apply(lambda h: f"https://{h}{model.health_path}"),
                           entry_hostname=host, entry_ip=entry.ip,
                           api_key_secret=api_key_place.reference if api_key_place is not None else None,
                           cold_start_seconds=budget.total_seconds)


def _error_alert(parent: pulumi.Resource, name: str, args: ModelEndpointArgs, contract: ServerContract,
                 namespace: str) -> None:
    """The endpoint's 5xx alert: more than ERROR_RATIO_THRESHOLD of its requests failed for ERROR_WINDOW,
    evaluated by the cluster's managed Prometheus over the server's own counters. A server with no such
    counters (custom, unnamed) relies on the global health check's alert."""
    if args.alerts is None:
        return
    assert args.metrics is not None
    built = args.metrics.built
    ratio = _query_labels(built).apply(lambda ls: contract.error_ratio_query({**ls, "namespace": namespace}))
    if contract.requests_total is None:
        return
    args.metrics.alert(AlertRuleRequest(
        parent=parent, name=f"{name}-alert-5xx",
        title=f"{args.options.name} in {args.region}: more than {ERROR_RATIO_THRESHOLD:.0%} of requests failed "
              f"(5xx) for {ERROR_WINDOW}",
        expression=ratio.apply(lambda q: f"({q}) > {ERROR_RATIO_THRESHOLD:g}"),
        for_seconds=300, channel=args.alerts))


def _puller(args: ModelEndpointArgs) -> Callable[[str], pulumi.Input[str]]:
    """How pods name an image: through the cell's cache when there is one."""
    cache = args.image_cache
    if cache is None:
        return lambda image: image
    return cache.ref


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
        "rules": [{"host": host, "http": {"paths": [{"path": path, "path_type": kind, "backend": backend}
                                                     for path, kind in request.paths]}}
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
