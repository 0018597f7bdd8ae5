"""Cluster mode: the hardened Kubernetes objects that serve a model on the cell's cluster.

Namespace (restricted Pod Security), ServiceAccount bound to the cloud's
workload identity, a Deployment (or a KServe InferenceService), Service,
HorizontalPodAutoscaler (autoscaling/v2), PodDisruptionBudget, NetworkPolicy
admitting only the load balancer, and an Ingress: the public HTTPS entry that
global traffic points at. Everything goes through the cluster's own provider.

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
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..catalog.gpus import MachineType
from ..compute.args import GPU_TAINT_KEY, POOL_LABEL
from .args import EndpointOutputs, IngressSettings, ModelEndpointArgs, WorkloadIdentity

RUN_AS = 10001
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority"
CONCURRENCY_METRIC = "inference_requests_in_flight"
INVOCATIONS_METRIC = "inference_requests_per_minute"


def _cloud(args: ModelEndpointArgs) -> Any:
    if args.cloud == "aws":
        from . import aws
        return aws
    if args.cloud == "azure":
        from . import azure
        return azure
    from . import gcp
    return gcp


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


def _container(args: ModelEndpointArgs, resources: k8s.core.v1.ResourceRequirementsArgsDict,
               model_uri: pulumi.Input[str]) -> k8s.core.v1.ContainerArgsDict:
    model = args.options.model
    return {
        "name": "model",
        "image": model.image,
        "image_pull_policy": "IfNotPresent",
        "ports": [{"name": "http", "container_port": model.port, "protocol": "TCP"}],
        "env": [{"name": "MODEL_URI", "value": model_uri},
                {"name": "MODEL_CACHE_DIR", "value": "/models"},
                {"name": "PORT", "value": str(model.port)}],
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
    metric = CONCURRENCY_METRIC if scaling.metric == "concurrency" else INVOCATIONS_METRIC
    return {"type": "Pods", "pods": {"metric": {"name": metric},
                                     "target": {"type": "AverageValue", "average_value": f"{scaling.target:g}"}}}


def build_cluster_endpoint(parent: pulumi.Resource, name: str, args: ModelEndpointArgs) -> EndpointOutputs:
    assert args.cluster is not None and args.gpu_pool is not None
    options, model = args.options, args.options.model
    cloud = _cloud(args)
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
    identity: WorkloadIdentity = cloud.workload_identity(parent, name, args, namespace, app)
    k8s.core.v1.ServiceAccount(
        f"{name}-service-account",
        metadata={"name": app, "namespace": namespace, "labels": labels,
                  "annotations": identity.service_account_annotations},
        automount_service_account_token=False,
        opts=in_ns)

    machine = args.gpu_pool.machine
    model_uri = pulumi.Output.concat(args.bucket_url, "/", model.artifact_path)
    container = _container(args, resources_for(machine, options.accelerator.count), model_uri)
    pod_labels = {**labels, **identity.pod_labels}
    pod_spec = _pod_spec(args, app, container)
    after_identity = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=identity.depends_on))

    if options.engine == "kserve":
        # KServe creates the Deployment, Service and autoscaler from this one object.
        k8s.apiextensions.CustomResource(
            f"{name}-inference-service",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            metadata={"name": app, "namespace": namespace, "labels": labels,
                      "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment",
                                      "serving.kserve.io/autoscalerClass": "hpa"}},
            spec={"predictor": {
                "minReplicas": options.min_replicas,
                "maxReplicas": options.max_replicas,
                "scaleMetric": "concurrency" if options.scaling.metric == "concurrency" else "rps",
                "scaleTarget": math.ceil(options.scaling.target),
                "serviceAccountName": app,
                "nodeSelector": pod_spec.get("node_selector"),
                "tolerations": _camel(tolerations_of(pod_spec)),
                "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "fsGroup": RUN_AS,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [_camel({**dict(container), "name": "kserve-container"})],
                "volumes": _camel(pod_spec.get("volumes")),
            }},
            opts=after_identity)
        backend_service = f"{app}-predictor"
    else:
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": app, "namespace": namespace, "labels": labels},
            spec={
                "replicas": options.min_replicas,
                "selector": {"match_labels": selector},
                "strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}},
                "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
            },
            # The autoscaler owns the replica count after creation.
            opts=pulumi.ResourceOptions.merge(after_identity, pulumi.ResourceOptions(ignore_changes=["spec.replicas"])))
        backend_service = app
        k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": app, "namespace": namespace, "labels": labels,
                      "annotations": _ingress(cloud, args).service_annotations},
            spec={"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": 80, "target_port": "http", "protocol": "TCP"}]},
            opts=in_ns)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-autoscaler",
            metadata={"name": app, "namespace": namespace, "labels": labels},
            spec={
                "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": app},
                "min_replicas": options.min_replicas,
                "max_replicas": options.max_replicas,
                "metrics": [_autoscaling_metric(args)],
                # GPU replicas are slow to start and expensive to churn: scale down cautiously.
                "behavior": {"scale_down": {"stabilization_window_seconds": 600,
                                            "policies": [{"type": "Pods", "value": 1, "period_seconds": 300}]}},
            },
            opts=in_ns)

    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-disruption-budget",
        metadata={"name": app, "namespace": namespace, "labels": labels},
        spec={"max_unavailable": 1, "selector": {"match_labels": selector}},
        opts=in_ns)

    ingress = _ingress(cloud, args)
    k8s.networking.v1.NetworkPolicy(
        f"{name}-network-policy",
        metadata={"name": app, "namespace": namespace, "labels": labels},
        spec={"pod_selector": {"match_labels": selector},
              "policy_types": ["Ingress"],
              "ingress": [{"from_": ingress.allowed_sources,
                           "ports": [{"protocol": "TCP", "port": model.port}]}]},
        opts=in_ns)
    assert options.hostname is not None
    # A `tls` entry without a secret is how the AWS controller discovers its ACM certificate; GKE's
    # controller fails on a secret-less entry (kubernetes/ingress-gce#1334), so clouds that attach
    # certificates by annotation say `tls_in_spec=False`.
    tls: list[k8s.networking.v1.IngressTLSArgsDict] = []
    if ingress.tls_in_spec:
        entry: k8s.networking.v1.IngressTLSArgsDict = {"hosts": [options.hostname]}
        if ingress.tls_secret_name:
            entry["secret_name"] = ingress.tls_secret_name
        tls.append(entry)
    ingress_spec: k8s.networking.v1.IngressSpecArgsDict = {
        "ingress_class_name": ingress.class_name,
        "rules": [{"host": options.hostname, "http": {"paths": [{
            "path": "/", "path_type": "Prefix",
            "backend": {"service": {"name": backend_service, "port": {"number": 80}}}}]}}]}
    if tls:
        ingress_spec["tls"] = tls
    k8s.networking.v1.Ingress(
        f"{name}-ingress",
        metadata={"name": app, "namespace": namespace, "labels": labels, "annotations": ingress.annotations},
        spec=ingress_spec,
        opts=in_ns)
    cloud.extra_ingress_objects(parent, name, args, namespace, labels)
    host = pulumi.Output.from_input(options.hostname)
    return EndpointOutputs(url=host.apply(lambda h: f"https://{h}"),
                           health_url=host.apply(lambda h: f"https://{h}{model.health_path}"),
                           entry_hostname=host)


def tolerations_of(pod_spec: k8s.core.v1.PodSpecArgsDict) -> Any:
    return pod_spec.get("tolerations")


def _ingress(cloud: Any, args: ModelEndpointArgs) -> IngressSettings:
    return cloud.ingress_settings(args)


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
