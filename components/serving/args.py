"""Arguments and shared shapes of ModelEndpoint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Generic, Literal, TypedDict, TypeVar, get_args

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..catalog.regions import Cloud, PerCloud
from ..common import Environment, Problem
from ..common.dispatch import unknown

if TYPE_CHECKING:
    from ..alerts import AlertChannel
    from ..compute import GpuNodePool, KubernetesCluster
    from ..dns import DnsZone
    from ..images import ImageCache
    from ..metrics import ClusterMetrics
    from ..storage import ObjectStore

Mode = Literal["managed", "cluster"]
MODES: tuple[Mode, ...] = get_args(Mode)
Workload = Literal["deployment", "kserve"]
WORKLOADS: tuple[Workload, ...] = get_args(Workload)
Engine = Literal["vllm", "tgi", "custom"]
ENGINES: tuple[Engine, ...] = get_args(Engine)
Metric = Literal["invocations", "concurrency", "queue"]
METRICS: tuple[Metric, ...] = get_args(Metric)

V = TypeVar("V")


class PerMetric(TypedDict, Generic[V]):
    """A fact per autoscaling metric (see components.common.dispatch)."""

    invocations: V
    concurrency: V
    queue: V


ManagedMetric = Literal["invocations", "concurrency"]
"""The metrics a managed service scales on: none of them publishes a queue length (endpoint_problems
refuses `queue` in managed mode)."""
MANAGED_METRICS: tuple[ManagedMetric, ...] = get_args(ManagedMetric)


class PerManagedMetric(TypedDict, Generic[V]):
    """A fact per metric a managed service scales on."""

    invocations: V
    concurrency: V


def managed_metric(metric: Metric) -> ManagedMetric:
    """`metric` as a managed service's metric; `queue` was refused before anything was registered."""
    match metric:
        case "invocations" | "concurrency":
            return metric
        case "queue":
            raise AssertionError("scaling.metric queue reached a managed builder; endpoint_problems refuses it")
        case _:
            unknown(metric, "Scaling.metric", METRICS)


_DNS_LABEL = r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


STATIC_ENTRY_ADDRESS: PerCloud[bool] = {"aws": True, "azure": True, "gcp": True}
"""Whether a cell's cluster-mode entry has a stable public IPv4 address of its own: a static public
IP on Azure (the NGINX ingress's) and GCP (the global address of the load balancer); on AWS the
first static IPv4 address of a Global Accelerator in front of the ALB (the ALB itself is known by DNS
name only: its addresses change). With an address, global health checks connect to it with the
global name as Host and SNI, and Cloud DNS can route to it."""

RATE_LIMITED_ENTRY: PerCloud[bool] = {"aws": True, "azure": True, "gcp": True}
"""Whether a cell's cluster-mode entry enforces `EndpointOptions.rate_limit_per_minute` per client IP
(GCP: a Cloud Armor throttle rule on the load balancer's backend; AWS: a WAF rate-based rule on the
ALB, 60-second window; Azure: the endpoint's NGINX, `limit-rps`). Setting the limit on a cloud whose
entry does not enforce it is refused rather than silently ignored (today every cloud's does)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def image_problem(image: str) -> str | None:
    """None when the image is pinned to a tag other than `latest` or to a digest."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "allowed: an image pinned to a tag (not latest) or a digest, e.g. repo/server:1.4.2"
    if last.rsplit(":", 1)[1] in ("latest", ""):
        return "allowed: a tag other than latest, or a digest (@sha256:...)"
    return None


class ServerMetrics(_Strict):
    """A custom server's Prometheus metrics: what autoscaling reads (engine `custom`)."""

    running: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """Gauge of requests being processed now (scaling metric `concurrency`)."""
    waiting: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """Gauge of requests queued, not yet processed (scaling metric `queue`)."""
    success_total: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """Counter of finished requests (scaling metric `invocations`)."""
    path: str = Field(default="/metrics", pattern=r"^/[A-Za-z0-9._/-]*$")
    """Where the server exposes them. Default `/metrics`."""
    requests_total: str | None = Field(default=None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """Counter of every request answered; with `errors_total`, the endpoint alerts on its error ratio.
    Default: none (then only the global health check alerts for this endpoint)."""
    errors_total: str | None = Field(default=None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """Counter of failed (5xx) requests. Set with `requests_total` or not at all."""

    @model_validator(mode="after")
    def _both_counters(self) -> "ServerMetrics":
        if (self.requests_total is None) != (self.errors_total is None):
            raise ValueError("set requests_total and errors_total together (the error ratio needs both), or neither")
        return self


class ModelSource(_Strict):
    """What to serve: artifacts in the cell's object store and the container that serves them."""

    artifact_path: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*/$")
    """Prefix of the model artifacts in the cell's ObjectStore, ending in `/` (e.g. `models/llm-7b/v3/`).
    The endpoint may read only this prefix."""
    image: str | None = None
    """Serving container image, pinned (tag other than latest, or digest). Required except for
    GCP managed Model Garden / Hugging Face models."""
    port: int = Field(default=8080, ge=1024, le=65535)
    """Port the container listens on (unprivileged). Default 8080."""
    health_path: str = Field(default="/health", pattern=r"^/[A-Za-z0-9._/-]*$")
    """HTTP path answering 200 when the model is loaded; probes and global health checks use it."""
    size_gb: float | None = Field(default=None, gt=0, le=4000)
    """Cluster mode (required): the artifacts' size under `artifact_path`, in GB. Sizes the pod's model
    volume and the cold-start budget (time to copy and load it)."""
    served_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
    """Cluster mode: the model name clients send (`"model": ...` in OpenAI requests). Default: the
    endpoint's name."""
    args: list[str] = Field(default=[], max_length=64)
    """Cluster mode. Engine `vllm`/`tgi`: more server flags after the ones the library sets (each must
    be a flag of the pinned release; the library's own flags may not be repeated). Engine `custom`:
    the container's whole argument list (required). Default none."""
    metrics: "ServerMetrics | None" = None
    """Cluster mode, engine `custom` only (required there): the server's Prometheus metric names."""
    model_garden: str | None = None
    """GCP managed only: a Model Garden model (`publishers/<p>/models/<m>@<version>`)."""
    hugging_face: str | None = None
    """GCP managed only: a Hugging Face model id (`org/model`)."""

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str | None) -> str | None:
        if value is not None and (bad := image_problem(value)) is not None:
            raise ValueError(bad)
        return value


class Accelerator(_Strict):
    """GPUs per replica, from the catalog, or an explicit instance type."""

    gpu: str | None = None
    """Catalog GPU name (t4, l4, a10g (AWS), a10 (Azure), a100-40gb, a100-80gb, h100)."""
    count: int = Field(default=1, ge=1, le=8)
    """GPUs per replica. Default 1."""
    instance_type: str | None = None
    """Managed mode only: an explicit instance type (e.g. ml.g6.xlarge, Standard_NC4as_T4_v3)
    instead of `gpu`."""

    @model_validator(mode="after")
    def _one(self) -> "Accelerator":
        if (self.gpu is None) == (self.instance_type is None):
            raise ValueError("set exactly one of gpu or instance_type")
        return self


class Scaling(_Strict):
    """What the autoscaler tracks per replica."""

    metric: Metric = "concurrency"
    """`concurrency`: requests being processed per replica; `queue`: requests waiting per replica
    (cluster mode only: the engine's own queue gauge); `invocations`: requests per minute per
    replica. Default concurrency (the better signal for GPU inference, whose latency varies with
    load). In cluster mode each maps to the engine's real metric (components/catalog/engines.py)."""
    target: float = Field(default=4, gt=0)
    """Target value of the metric per replica. Default 4 in-flight requests."""


class EndpointOptions(_Strict):
    """The `endpoint` section of a cell."""

    name: str = Field(default="model", pattern=_DNS_LABEL)
    """Endpoint name (DNS label). Default `model`."""
    mode: Mode
    """`managed` (SageMaker, Azure ML, Vertex AI) or `cluster` (on the cell's Kubernetes cluster)."""
    model: ModelSource
    accelerator: Accelerator
    min_replicas: int = Field(default=1, ge=1, le=100)
    """Replicas kept warm. Default 1 (a cold GPU replica takes minutes to load a model)."""
    max_replicas: int = Field(default=2, ge=1, le=100)
    """Upper bound of autoscaling. Default 2."""
    scaling: Scaling = Scaling()
    engine: Engine = "vllm"
    """Cluster mode: the model server. `vllm` (default) or `tgi`: the library passes the server's real
    flags for the pinned release (model path, served name, port, tensor parallelism from the GPU
    count) and reads its real metrics; `custom`: `model.args`, `model.metrics` and `model.health_path`
    are yours."""
    workload: Workload = "deployment"
    """Cluster mode: a hardened Deployment (default) or a KServe InferenceService (needs KServe
    installed on the cluster)."""
    gpu_pool: str | None = None
    """Cluster mode: the cell's GPU pool to run on. Default: the pool whose GPU matches."""
    hostname: str | None = None
    """Public HTTPS name of this cell's entry (cluster mode), e.g. `aws-use1.models.example.com`."""
    auth: Literal["api_key", "none"] = "api_key"
    """Cluster mode: who may call the model. `api_key` (default): the model server rejects requests
    without the environment's API key (`Authorization: Bearer <key>` on the OpenAI routes; the health
    path stays open for health checks); the key is generated per environment (or taken from
    `aiinfra:secrets.api-key`), kept in each cell's cloud secret store and exported as a secret.
    `none`: anyone who reaches the entry spends the GPUs; refused in prod."""
    rate_limit_per_minute: int = Field(default=600, ge=10, le=100_000)
    """Cluster mode: requests a minute one client IP may send to this cell's entry; above it the entry
    refuses requests until the client's rate falls back (429 from AWS WAF and Cloud Armor; 503 from
    Azure's add-on NGINX, whose status code its operator owns). Default 600 (10 a second: far above
    one client's use of a GPU model, far below what exhausts it). See RATE_LIMITED_ENTRY."""

    @field_validator("engine", mode="before")
    @classmethod
    def _moved(cls, value: object) -> object:
        if value in get_args(Workload):
            raise ValueError(f"{value!r} moved to `workload` (deployment or kserve: the Kubernetes object); "
                             "`engine` is the model server: vllm, tgi or custom")
        return value

    @field_validator("hostname")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOSTNAME.match(value):
            raise ValueError("allowed: a lowercase DNS name such as aws-use1.models.example.com")
        return value

    @model_validator(mode="after")
    def _range(self) -> "EndpointOptions":
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas ({self.max_replicas}) must be at least min_replicas ({self.min_replicas})")
        return self


@dataclass(frozen=True)
class ModelEndpointArgs:
    """Arguments of ModelEndpoint."""

    cloud: Cloud
    """`aws`, `azure` or `gcp`; the provider passed in `opts` must match."""
    region: str
    """Region of the endpoint."""
    environment: Environment
    """Name, tags and protection of the environment."""
    options: EndpointOptions
    """Model, accelerator, replicas, scaling, mode; see EndpointOptions."""
    bucket_name: pulumi.Input[str]
    """The ObjectStore bucket (Azure: container) holding `options.model.artifact_path`."""
    bucket_url: pulumi.Input[str]
    """The ObjectStore URL (s3://, gs://, https://...)."""
    cluster: "KubernetesCluster | None" = None
    """Cluster mode: the cluster to run on."""
    gpu_pool: "GpuNodePool | None" = None
    """Cluster mode: the GPU pool to schedule on."""
    store: "ObjectStore | None" = None
    """The cell's ObjectStore: access grants target its `scope_id` (bucket ARN, container id, bucket)
    and, on AWS, its `key_arn`."""
    resource_group_name: pulumi.Input[str] | None = None
    """Azure only: the resource group."""
    project: str | None = None
    """GCP only: the project."""
    dns_zone: "DnsZone | None" = None
    """Cluster mode: the environment's DNS zone, where the entry's hostname gets its record (to the load
    balancer's address) and the certificate its DNS validation records. Default: none (records are the
    caller's business)."""
    api_key: pulumi.Input[str] | None = None
    """Cluster mode with auth `api_key` (required then): the key the model server enforces, a Pulumi
    secret; the same for every cell so one key works through the global name."""
    global_hostnames: tuple[str, ...] = ()
    """Cluster mode: global names (e.g. `chat.models.example.com`) clients also reach this endpoint by,
    through global traffic: the entry routes them and its certificate covers them. Default: none."""
    image_cache: "ImageCache | None" = None
    """The cell's image cache: pods pull the server and loader images through it. Default: none (pods
    pull from the upstream registries; refused in prod)."""
    metrics: "ClusterMetrics | None" = None
    """Cluster mode (required): the cluster's metrics pipeline; the endpoint's pods are scraped into it
    and KEDA scales them on the engine's own metric read back from it."""
    alerts: "AlertChannel | None" = None
    """Where the endpoint's alarms go (5xx rate of its entry; SageMaker rollback alarms), a channel of
    the endpoint's cloud and region. Default: none (refused in prod)."""


@dataclass(frozen=True)
class EndpointOutputs:
    """What every per-cloud/mode builder returns."""

    url: pulumi.Output[str]
    """Where clients reach the endpoint (HTTPS)."""
    health_url: pulumi.Output[str]
    """Deep health check URL (cluster mode: the public entry + health path)."""
    entry_hostname: pulumi.Output[str] | None
    """Public hostname for global traffic (cluster mode), None for managed endpoints."""
    api_key_secret: pulumi.Output[str] | None = None
    """Cluster mode with an API key: where the cell's cloud keeps it (ARN, Key Vault secret URI,
    Secret Manager name)."""
    entry_ip: pulumi.Output[str] | None = None
    """Cluster mode: the entry's stable public IPv4 address, where it has one (see STATIC_ENTRY_ADDRESS)."""
    cold_start_seconds: int | None = None
    """Cluster mode: the worst-case time for a new replica to serve (serving/coldstart.py)."""


@dataclass(frozen=True)
class WorkloadIdentity:
    """How pods of a cluster-mode endpoint get the cloud identity that may read the model prefix."""

    service_account_annotations: dict[str, pulumi.Input[str]]
    """Annotations on the Kubernetes ServiceAccount (IRSA role ARN, Azure client id, GCP service account)."""
    pod_labels: dict[str, str]
    """Labels the cloud's identity webhook selects on (Azure: azure.workload.identity/use=true)."""
    depends_on: list[pulumi.Resource]
    """Cloud resources pods need before they start (role, binding, association)."""


@dataclass(frozen=True)
class IngressSettings:
    """The cloud's load-balanced HTTPS entry for a cluster-mode endpoint."""

    class_name: str
    """IngressClass (alb, gce, webapprouting.kubernetes.azure.com)."""
    annotations: dict[str, pulumi.Input[str]]
    """Ingress annotations: scheme, TLS, health check path (values may be outputs: a certificate ARN)."""
    service_annotations: dict[str, str]
    """Service annotations (e.g. GKE container-native load balancing)."""
    allowed_sources: list[k8s.networking.v1.NetworkPolicyPeerArgsDict]
    """NetworkPolicy `from` peers through which the load balancer reaches the pods."""
    tls_secret_name: str | None
    """Secret holding the certificate (cert-manager), or None when the cloud attaches it."""
    tls_in_spec: bool = True
    """Whether the Ingress lists its TLS host in `spec.tls` (False where the certificate is attached
    by annotation and a secret-less entry breaks the controller, as on GKE)."""


@dataclass(frozen=True)
class EntryRequest:
    """What a cloud's `entry()` builds the public HTTPS entry of a cluster-mode endpoint from."""

    parent: pulumi.Resource
    name: str
    args: ModelEndpointArgs
    namespace: str
    labels: dict[str, str]
    service: str
    """The Service the entry sends to (port 80, named `http`)."""
    hostnames: list[str]
    """Every name the entry serves: the cell's own hostname first, then the global ones."""
    paths: list[tuple[str, Literal["Prefix", "Exact"]]]
    """What the entry routes to the Service: the server's API and health path, never its /metrics."""
    opts: pulumi.ResourceOptions
    """Options for Kubernetes objects in the endpoint's namespace."""


@dataclass(frozen=True)
class LoaderRequest:
    """What a cloud's `model_loader()` copies the model with: the endpoint's prefix in the cell's store
    into the pod's model volume, through the pod's workload identity, before the server starts."""

    args: ModelEndpointArgs
    source_url: pulumi.Output[str]
    """The artifacts' URL: the store's URL and the prefix, ending in `/` (s3://b/models/chat/v3/,
    gs://..., https://<account>.blob.core.windows.net/<container>/models/chat/v3/)."""
    target_dir: str
    """Where the server reads the model (`MODEL_DIR`), on the model volume."""
    volume_mounts: list[k8s.core.v1.VolumeMountArgsDict]
    """The model volume (and a writable /tmp) for the copy tool."""
    security_context: k8s.core.v1.SecurityContextArgsDict
    """The restricted container security context every container of the pod runs with."""
    image: Callable[[str], pulumi.Input[str]]
    """Turns an upstream image reference into the one pods pull (the cell's cache, when there is one)."""


@dataclass(frozen=True)
class ModelLoader:
    """A cloud's copy step: an init container, and what it ran, for people and `preflight trace`."""

    init_container: k8s.core.v1.ContainerArgsDict
    image: str
    """The copy tool's upstream image, pinned (components/catalog/images.py)."""
    tool: str
    """One line: `aws s3 sync through EKS Pod Identity`."""


@dataclass(frozen=True)
class Entry:
    """The entry a cloud built: what the cell hostname's DNS record answers with."""

    record_type: Literal["A", "CNAME"]
    address: pulumi.Output[str]
    """An IPv4 address (A) or the load balancer's DNS name (CNAME)."""
    ip: pulumi.Output[str] | None = None
    """The stable public IPv4 address, when the entry has one."""


def entry_zone_problems(args: ModelEndpointArgs, why: str, record: str) -> list[Problem]:
    """The check every cloud's cluster-mode entry shares: the environment's zone is given and holds
    every name the entry serves, because the entry's certificate is validated through `record`s the
    stack writes there. `why` completes "required for a cluster-mode endpoint on <cloud>: ..."."""
    if args.options.mode != "cluster":
        return []
    zone = args.dns_zone
    if zone is None:
        return [Problem("ModelEndpointArgs.dns_zone", None,
                        f"required for a cluster-mode endpoint on {why}; pass an existing zone with "
                        "DnsOptions.zone_id", missing=True)]
    return [Problem(path, host, f"allowed: a name in the zone {zone.zone_name!r}, where {record} is created")
            for path, host in entry_names(args) if not zone.covers(host)]


def entry_names(args: ModelEndpointArgs) -> list[tuple[str, str]]:
    """(key path, name) of every name a cluster-mode entry serves: its own, then the global ones."""
    own = [("ModelEndpointArgs.options.hostname", args.options.hostname)] if args.options.hostname else []
    return [*own, *(("ModelEndpointArgs.global_hostnames", h) for h in args.global_hostnames)]
