"""ModelEndpoint on GCP: Vertex AI Model Garden deployments, and GKE identity and ingress for cluster mode.

Managed mode (`build_managed`) deploys a Model Garden or Hugging Face model with
`vertex.AiEndpointWithModelGardenDeployment`: one resource that creates a Vertex
AI endpoint and deploys the model on dedicated GPU machines. It is the only
Pulumi resource that deploys anything to Vertex AI; none uploads and deploys a
custom container (terraform-provider-google #15303, #25152), so the front door
(`endpoint_problems`) refuses managed custom containers on GCP and points to
cluster mode. Children (role names): `vertex` (the endpoint with its
deployment).

* Machine: the catalog's machine for `accelerator.gpu` x `count` (e.g. l4 x 1 ->
  g2-standard-4 with one NVIDIA_L4), or the catalog machine named by
  `accelerator.instance_type` (its GPUs come from the catalog: A2, A3 and G2
  machine types have their GPUs built in; N1 needs the accelerator named).
* Autoscaling between `min_replicas` and `max_replicas` on the accelerator duty
  cycle (target 60%, stated explicitly; Vertex also scales on CPU utilization
  at 60%). Vertex cannot scale on in-flight requests or invocations per replica,
  so an explicit `scaling` section is refused rather than silently ignored.
* A dedicated endpoint: its own DNS name, isolated from other tenants' traffic,
  with streaming and long timeouts (Google's recommendation for generative
  models; a dedicated endpoint is not reachable through the shared
  `<region>-aiplatform.googleapis.com` name). `url` is its predict URL,
  `https://<endpoint id>.<region>-<project number>.prediction.vertexai.goog/v1/
  projects/<project>/locations/<region>/endpoints/<endpoint id>:predict` (Vertex
  documents the DNS name as `<endpoint id>.<region>-<uid>`, uid being the
  project number unless fast tryout is on, which this never turns on);
  `health_url` is the same (Vertex exposes no unauthenticated health path; it
  health-checks the model server itself and replaces failed replicas).
  `entry_hostname` is None: every call needs a Google OAuth token, so the
  endpoint cannot sit directly behind a shared DNS name for global traffic.
* Declaring a Model Garden model accepts its license (`model_config.accept_eula`);
  gated Hugging Face models need an access token, which the spec has no field
  for, so only public Hugging Face models deploy.
* Every input of the resource is immutable: any change replaces the endpoint
  (create-before-delete: the new one is deployed, then the old one removed; it
  needs GPU quota for both meanwhile), and the endpoint id, hence `url`, changes.
  Vertex endpoints created this way carry no labels (the resource has none).
* With an alert channel: `alert-5xx`, a Cloud Monitoring alert policy when more than 5% of the
  endpoint's responses are 5xx for 5 minutes (`prediction/online/response_count` by `response_code`).
* `model.artifact_path` is not used (Model Garden brings the weights), and
  `model.image`, `model.port` and `model.health_path` are refused when set:
  Vertex picks the serving container.

Cluster mode on GKE (`workload.py` builds the Kubernetes objects and calls here):

* `workload_identity`: a Google service account per endpoint holding
  `roles/storage.objectViewer` on the cell's bucket under an IAM condition that
  admits only objects under `model.artifact_path` (and listing under it), and
  `roles/iam.workloadIdentityUser` for exactly the endpoint's Kubernetes service
  account (`<project>.svc.id.goog[<namespace>/<name>]`). Conditions need
  uniform bucket-level access, which the ObjectStore bucket has. Children
  (role names): `reader` (the account), `reader-bucket`, `reader-workload-identity`.
* `model_loader`: an init container running the Google Cloud CLI (`GCP_MODEL_LOADER`, components/catalog/
  images.py, pulled through the cell's cache) that copies exactly the endpoint's prefix with `gcloud
  storage rsync --recursive gs://<bucket>/<prefix>/ /models/model` as the endpoint's reader account:
  Workload Identity Federation answers its token requests from the GKE metadata server, so nothing is
  mounted for it. Trade-off: the whole model is on the pod's volume before the server starts (a copy at
  the cell's bandwidth on every new replica, counted in the cold-start budget), in exchange for the
  engine's plain local loading and no FUSE sidecar or privileged driver.
* `entry`: the public HTTPS entry, a GKE Gateway (a global external Application
  Load Balancer) with a Certificate Manager certificate for the cell's hostname
  and every global name. Not a GKE Ingress: the global name round-robins over
  clouds, so a Google-managed certificate with load-balancer authorization can
  never validate it, and GKE Ingress cannot use Certificate Manager
  (kubernetes/ingress-gce#1692: "Cloud Certificate Manager will natively be
  supported using the Gateway API in GKE"). Children (role names):
  - `ip`: a global static IPv4 address named per endpoint and region
    (`address_name`). Every GlobalAddress field but `labels` is ForceNew
    (magic-modules mmv1/products/compute/GlobalAddress.yaml: `immutable: true`;
    only labels have an update URL), so nothing in it names a hostname:
    renaming the entry keeps the address and its IP. Its `description` is also
    ignored after creation, so rewording it never replaces the address.
  - `dns-authorization-<i>`: a Certificate Manager DNS authorization per name
    (the cell's hostname first, then the global names), of type
    `PER_PROJECT_RECORD`: its validation record is `_acme-challenge_<id>.<name>`,
    unique to the project, so every cloud and project proving the same global
    name writes its own record beside the others instead of fighting over
    `_acme-challenge.<name>` (Certificate Manager docs, "Manage DNS
    authorizations"). Its CNAME (`dns_resource_records`) is created in the
    environment's zone as `dns-authorization-<i>-record` (`DnsZone.record`).
  - `certificate`: one Google-managed certificate for every name, issued through
    those authorizations (before traffic arrives: DNS authorization needs no
    serving load balancer).
  - `certificate-map` (named `certificate_map_name`) and
    `certificate-map-entry-<i>`: one entry per name (SNI hostname matcher).
    Authorizations, certificate and entries are named by `certificate_manager_name`
    after the names they hold, so a renamed entry's replacements are created before
    the old ones go.
  - `armor`: a Cloud Armor security policy throttling each client IP to
    `rate_limit_per_minute` (429 above it); `tls`: an SSL policy (TLS 1.2 and up,
    RESTRICTED profile: forward-secret AEAD suites only).
  - Kubernetes objects in the endpoint's namespace (`GATEWAY_API`,
    `GKE_POLICY_API`): `gateway` (class `gke-l7-global-external-managed`, the
    certificate map by the `networking.gke.io/certmap` annotation, the address by
    `spec.addresses: [{type: NamedAddress}]`, one HTTPS listener on 443 and no
    HTTP listener: a redirect would still receive each first request, API key
    included, in clear text), `route` (HTTPRoute: every name, prefix `/` to the
    Service's port 80), `health-check` (HealthCheckPolicy: HTTP on the model's
    health path at the serving port), `backend-policy` (GCPBackendPolicy:
    600 s response timeout, connection draining, the Cloud Armor policy, request
    logging) and `gateway-policy` (GCPGatewayPolicy: the SSL policy). Field names
    follow GoogleCloudPlatform/gke-gateway-api apis/networking/v1 and GKE docs
    "Configure Gateway resources using Policies", "Deploying Gateways" and
    "Secure a Gateway".
  The cell's hostname gets an A record to the address (`workload.py`).
* `ingress_settings`: what the Service and NetworkPolicy take from the entry. The
  Gateway sends to pods through zonal NEGs (container-native load balancing is the
  default of GKE's GatewayClasses, GKE docs "GatewayClass capabilities"), so the
  Service needs no `cloud.google.com/neg` annotation; the NetworkPolicy admits only
  Google's front ends and health checkers, 35.191.0.0/16 and 130.211.0.0/22: for the
  global external Application Load Balancer with zonal NEG backends the proxies use
  the health checkers' ranges (Cloud Load Balancing docs, "Firewall rules").

Without a DNS zone (`ModelEndpointArgs.dns_zone`) a cluster-mode endpoint on GCP is
refused before anything is registered: its certificate would never be issued.

Known limits: the pods' termination grace period (60 s, `workload.py`) bounds what
draining can save; a generation longer than that on a pod being removed is cut.
The backend timeout counts the whole response on this load balancer, so a single
generation longer than 600 s is cut too. A replaced certificate (a name added or
changed) serves only once Certificate Manager has issued it.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from ..catalog.gpus import GPU_MACHINES, CatalogError, MachineType, gpu_machine
from ..catalog.images import model_loader as loader_image
from ..common import Problem
from ..common.naming import global_name
from ..compute.gcp import GkeHandle
from .args import (Accelerator, EndpointOptions, EndpointOutputs, Entry, EntryRequest, IngressSettings, LoaderRequest,
                   ModelEndpointArgs, ModelLoader, WorkloadIdentity, entry_zone_problems)

VERTEX_ACCELERATORS: dict[str, str] = {
    "nvidia-tesla-t4": "NVIDIA_TESLA_T4",
    "nvidia-l4": "NVIDIA_L4",
    "nvidia-tesla-a100": "NVIDIA_TESLA_A100",
    "nvidia-a100-80gb": "NVIDIA_A100_80GB",
    "nvidia-h100-80gb": "NVIDIA_H100_80GB",
}
"""Vertex AI `machine_spec.accelerator_type` per GKE / Compute Engine accelerator type (the catalog's)."""

DUTY_CYCLE_METRIC = "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle"
DUTY_CYCLE_TARGET = 60
"""Percent accelerator duty cycle per replica Vertex AI scales out above (Vertex's default, made explicit)."""

GOOGLE_FRONT_ENDS = ("35.191.0.0/16", "130.211.0.0/22")
"""Source ranges of Google's health checkers, which are also those of the global external Application
Load Balancer's proxies when its backends are zonal NEGs (Cloud Load Balancing docs, "Firewall rules":
"GFE proxy ranges: same as health check ranges if the backends are ... zonal NEGs (GCE_VM_IP_PORT)")."""

GATEWAY_API = "gateway.networking.k8s.io/v1"
"""Gateway and HTTPRoute, as GKE installs them with the Gateway API enabled (compute/gcp.py)."""
GATEWAY_CLASS = "gke-l7-global-external-managed"
"""GKE's managed GatewayClass for a global external Application Load Balancer (GKE docs, "GatewayClass
capabilities"): a global address, Certificate Manager maps, Cloud Armor, SSL policies."""
GKE_POLICY_API = "networking.gke.io/v1"
"""HealthCheckPolicy, GCPBackendPolicy and GCPGatewayPolicy (GoogleCloudPlatform/gke-gateway-api
apis/networking/v1: healthcheck_types.go, gcpbackendpolicy_types.go, gcpgatewaypolicy_types.go)."""
CERTMAP_ANNOTATION = "networking.gke.io/certmap"
"""The Gateway annotation naming the Certificate Manager map its HTTPS listeners serve (GKE docs, "Secure
a Gateway"; the map must be in the cluster's project)."""
HTTPS_LISTENER = "https"

BACKEND_TIMEOUT_SECONDS = 600
"""The backend service's response timeout: on the global external Application Load Balancer it bounds the
whole response, a streamed generation included (default 30 s when GCPBackendPolicy omits `timeoutSec`)."""
DRAINING_SECONDS = 60
"""Connection draining of removed endpoints: the pods' termination grace period (workload.py); draining
longer than a pod lives gains nothing."""
SSL_MIN_TLS = "TLS_1_2"
SSL_PROFILE = "RESTRICTED"
"""RESTRICTED: forward-secret AEAD cipher suites only (TLS 1.2 ECDHE with AES-GCM or ChaCha20, and TLS 1.3),
like the TLS 1.3 policy of the AWS entry (Cloud Load Balancing docs, "SSL policies overview")."""
THROTTLE_PRIORITY = 1000
DEFAULT_RULE_PRIORITY = 2147483647
"""Cloud Armor's default rule: the lowest priority, matching every source; a policy always has one."""
RATE_INTERVAL_SECONDS = 60

OBJECT_VIEWER = "roles/storage.objectViewer"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"

_MODEL_GARDEN = re.compile(r"^publishers/[a-z0-9][a-z0-9-]*/models/[A-Za-z0-9._-]+@[A-Za-z0-9._-]+$")
_HUGGING_FACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


# --- Managed: Vertex AI Model Garden -------------------------------------------------------

def vertex_machine(accelerator: Accelerator) -> MachineType:
    """The catalog machine a Vertex deployment runs on: by GPU and count, or by `instance_type`.

    Raises CatalogError when the catalog has no such GCP GPU machine.
    """
    if accelerator.gpu is not None:
        return gpu_machine("gcp", accelerator.gpu, accelerator.count)
    for machine in GPU_MACHINES:
        if machine.cloud == "gcp" and machine.name == accelerator.instance_type:
            return machine
    names = ", ".join(m.name for m in GPU_MACHINES if m.cloud == "gcp")
    raise CatalogError(f"allowed: a GCP GPU machine type of the catalog: {names}")


def vertex_problems(options: EndpointOptions) -> list[Problem]:
    """What a Vertex AI Model Garden deployment cannot express; paths relative to the endpoint options.

    Needs nothing but the options, so the spec's validation can call it before anything is registered.
    """
    model, acc = options.model, options.accelerator
    problems: list[Problem] = []
    if model.model_garden and model.hugging_face:
        problems.append(Problem("model.hugging_face", model.hugging_face,
                                "allowed: only one of model_garden and hugging_face"))
    elif model.model_garden and not _MODEL_GARDEN.match(model.model_garden):
        problems.append(Problem("model.model_garden", model.model_garden,
                                "allowed: publishers/<publisher>/models/<model>@<version>, "
                                "e.g. publishers/google/models/gemma3@gemma-3-1b-it"))
    elif model.hugging_face and not _HUGGING_FACE.match(model.hugging_face):
        problems.append(Problem("model.hugging_face", model.hugging_face,
                                "allowed: a Hugging Face model id <org>/<model>, e.g. google/gemma-2-2b-it"))
    for field in ("image", "port", "health_path"):
        if field in model.model_fields_set:
            problems.append(Problem(f"model.{field}", getattr(model, field),
                                    "allowed: unset for Model Garden and Hugging Face models on Vertex AI, "
                                    "which bring their own serving container"))
    if "scaling" in options.model_fields_set:
        problems.append(Problem("scaling", options.scaling.model_dump(),
                                "allowed: unset on Vertex AI, which scales between min_replicas and max_replicas "
                                f"on accelerator duty cycle ({DUTY_CYCLE_TARGET}%) and CPU utilization, not on "
                                "in-flight requests or invocations; use mode: cluster for request-based scaling"))
    try:
        machine = vertex_machine(acc)
    except CatalogError as error:
        problems.append(Problem("accelerator.instance_type" if acc.instance_type else "accelerator.gpu",
                                acc.instance_type or acc.gpu, str(error)))
    else:
        if machine.accelerator not in VERTEX_ACCELERATORS:
            problems.append(Problem("accelerator", machine.name,
                                    f"allowed: a machine with a GPU Vertex AI serves on "
                                    f"({', '.join(sorted(VERTEX_ACCELERATORS))})"))
        if acc.instance_type is not None and "count" in acc.model_fields_set and acc.count != machine.gpu_count:
            problems.append(Problem("accelerator.count", acc.count,
                                    f"allowed: {machine.gpu_count} (the GPUs of {machine.name}), or unset"))
    return problems


def predict_url(project: str, region: str, endpoint_id: str, project_number: str) -> str:
    """The predict URL of a dedicated Vertex AI endpoint (its own DNS name, not `<region>-aiplatform.googleapis.com`)."""
    return (f"https://{endpoint_id}.{region}-{project_number}.prediction.vertexai.goog/v1/"
            f"projects/{project}/locations/{region}/endpoints/{endpoint_id}:predict")


def build_managed(parent: pulumi.Resource, name: str, args: ModelEndpointArgs) -> EndpointOutputs:
    """A Model Garden (or Hugging Face) model on a dedicated Vertex AI endpoint; see the module docstring."""
    options, model = args.options, args.options.model
    assert args.project is not None  # the front door requires it (and checked the options)
    project, region = args.project, args.region
    machine = vertex_machine(options.accelerator)
    assert machine.accelerator is not None
    deployment = gcp.vertex.AiEndpointWithModelGardenDeployment(
        f"{name}-vertex",
        project=project,
        location=region,
        publisher_model_name=model.model_garden,
        hugging_face_model_id=model.hugging_face,
        # Declaring the model in the stack is accepting its license (Gemma, Llama and others require it).
        model_config={"accept_eula": True},
        endpoint_config={"endpoint_display_name": name, "dedicated_endpoint_enabled": True},
        deploy_config={"dedicated_resources": {
            "machine_spec": {"machine_type": machine.name,
                             "accelerator_type": VERTEX_ACCELERATORS[machine.accelerator],
                             "accelerator_count": machine.gpu_count},
            "min_replica_count": options.min_replicas,
            "max_replica_count": options.max_replicas,
            "autoscaling_metric_specs": [{"metric_name": DUTY_CYCLE_METRIC, "target": DUTY_CYCLE_TARGET}],
        }},
        opts=args.environment.child(parent))
    number = gcp.organizations.get_project_output(
        project_id=project, opts=pulumi.InvokeOutputOptions(parent=parent)).number
    url = pulumi.Output.all(deployment.endpoint, number).apply(
        lambda values: predict_url(project, region, values[0], values[1]))
    if args.alerts is not None:
        _vertex_error_alert(parent, name, args, deployment.endpoint)
    return EndpointOutputs(url=url, health_url=url, entry_hostname=None)


VERTEX_RESPONSES = "aiplatform.googleapis.com/prediction/online/response_count"
"""Vertex AI's count of online prediction responses (DELTA, INT64) on resource `aiplatform.googleapis.com/
Endpoint` (label `endpoint_id`), by `response_code` class (`1xx` .. `5xx`). Source: Google Cloud metrics
list, "aiplatform" (prediction/online/response_count)."""


def vertex_responses_filter(endpoint_id: str, code: str | None = None) -> str:
    """Cloud Monitoring filter of one endpoint's responses (of one code class when given)."""
    text = (f'metric.type="{VERTEX_RESPONSES}" AND resource.type="aiplatform.googleapis.com/Endpoint" AND '
            f'resource.labels.endpoint_id="{endpoint_id}"')
    return text + (f' AND metric.labels.response_code="{code}"' if code else "")


def _vertex_error_alert(parent: pulumi.Resource, name: str, args: ModelEndpointArgs,
                        endpoint_id: pulumi.Output[str]) -> None:
    """An alert policy: more than ERROR_RATIO_THRESHOLD of the endpoint's responses were 5xx for ERROR_WINDOW
    (a ratio condition: 5xx responses over all responses, each summed over the endpoint's deployments)."""
    from ..alerts.gcp import alert_policy
    from .server import ERROR_RATIO_THRESHOLD, ERROR_WINDOW
    assert args.alerts is not None and args.project is not None
    title = (f"{args.options.name} in {args.region} (Vertex AI): more than {ERROR_RATIO_THRESHOLD:.0%} of "
             f"requests failed (5xx) for {ERROR_WINDOW}")
    aggregation: gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgsDict = {
        "alignment_period": "60s", "per_series_aligner": "ALIGN_RATE", "cross_series_reducer": "REDUCE_SUM"}
    alert_policy(
        parent, f"{name}-alert-5xx", args.alerts, args.project, title,
        {"display_name": title,
         "condition_threshold": {
             "filter": endpoint_id.apply(lambda e: vertex_responses_filter(e, "5xx")),
             "aggregations": [aggregation],
             "denominator_filter": endpoint_id.apply(vertex_responses_filter),
             "denominator_aggregations": [aggregation],
             "comparison": "COMPARISON_GT",
             "threshold_value": ERROR_RATIO_THRESHOLD,
             "duration": "300s",
             "trigger": {"count": 1},
         }},
        environment=args.environment,
        documentation=f"{title}. Vertex AI replaces failing replicas itself; look at the endpoint's logs.")


# --- Cluster mode: workload identity and ingress on GKE ------------------------------------

def prefix_condition(bucket: str, prefix: str) -> str:
    """CEL admitting the objects under `prefix` in `bucket`, and listing under it (nothing else)."""
    return (f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}") || '
            f'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("{prefix}")')


def endpoint_project(args: ModelEndpointArgs) -> str | None:
    """The project an endpoint lives in: its GKE cluster's, else `ModelEndpointArgs.project`."""
    handle = args.cluster.handle if args.cluster is not None else None
    return (handle.project if isinstance(handle, GkeHandle) else None) or args.project


def _project(args: ModelEndpointArgs) -> str:
    project = endpoint_project(args)
    assert project is not None  # the front door requires one on GCP
    return project


def workload_identity(parent: pulumi.Resource, name: str, args: ModelEndpointArgs, namespace: str,
                      service_account: str) -> WorkloadIdentity:
    """A Google service account that may read only the model's prefix, bound to the pods' service account."""
    env = args.environment
    project = _project(args)
    prefix = args.options.model.artifact_path
    bucket = pulumi.Output.from_input(args.store.scope_id if args.store is not None else args.bucket_name)
    account = gcp.serviceaccount.Account(
        f"{name}-reader",
        account_id=global_name(f"{name}-reader", max_length=30),
        display_name=f"Model endpoint {args.options.name} ({namespace}/{service_account})",
        description=f"Reads {prefix} of the model bucket for the {args.options.name} endpoint on GKE",
        project=project,
        opts=env.child(parent))
    member = account.email.apply(lambda email: f"serviceAccount:{email}")
    reader = gcp.storage.BucketIAMMember(
        f"{name}-reader-bucket",
        bucket=bucket,
        role=OBJECT_VIEWER,
        member=member,
        condition={
            "title": f"{args.options.name}-model-prefix",
            "description": f"Only objects under {prefix}",
            "expression": bucket.apply(lambda b: prefix_condition(b, prefix)),
        },
        opts=env.child(parent))
    binding = gcp.serviceaccount.IAMMember(
        f"{name}-reader-workload-identity",
        service_account_id=account.name,
        role=WORKLOAD_IDENTITY_USER,
        member=f"serviceAccount:{project}.svc.id.goog[{namespace}/{service_account}]",
        opts=env.child(parent))
    return WorkloadIdentity(service_account_annotations={"iam.gke.io/gcp-service-account": account.email},
                            pod_labels={}, depends_on=[reader, binding])


LOADER_SCRIPT = """\
# The GKE metadata server may start answering a new pod's token requests only after a few seconds
# (a limitation GKE's Workload Identity docs state; r-lib/gargle#186 quotes it): retry the copy.
mkdir -p "$2"
for attempt in 1 2 3 4 5 6; do
  gcloud storage rsync --recursive "$1" "$2" && exit 0
  echo "copy attempt $attempt failed; retrying in 10 s" >&2
  sleep 10
done
exit 1
"""
"""The copy: `gcloud storage rsync --recursive <prefix> <model dir>` (copies what is missing, so a restarted
init container resumes), retried while the pod's metadata-server identity comes up. Source and target
are positional arguments (`$1`, `$2`), never spliced into the script."""

LOADER_RESOURCES = {"cpu": "1", "memory": "2Gi"}
"""Requests = limits of the copy: `gcloud storage` streams objects to disk with a few parallel workers."""


def model_loader(request: LoaderRequest) -> ModelLoader:
    """An init container copying exactly the endpoint's prefix (`request.source_url`, `gs://<bucket>/<prefix>/`)
    onto the model volume with the Google Cloud CLI, as the endpoint's Google service account.

    Credentials: GKE Workload Identity Federation serves the pod's tokens from the GKE metadata server
    (node pools run `workload_metadata_config.mode: GKE_METADATA`, compute/gcp.py), which answers for the
    Kubernetes service account's annotated Google service account (`workload_identity`); no Kubernetes
    token is mounted or needed (the pod's `automount_service_account_token` is False). That account may
    read only the prefix (its bucket grant's IAM condition). The root filesystem is read-only:
    `CLOUDSDK_CONFIG` and `HOME` point under the writable /tmp volume."""
    pinned = loader_image("gcp")
    container: k8s.core.v1.ContainerArgsDict = {
        "name": "model-loader",
        "image": request.image(pinned.image),
        "command": ["/bin/sh", "-c", LOADER_SCRIPT, "model-loader"],
        "args": [request.source_url, request.target_dir],
        "env": [{"name": "CLOUDSDK_CONFIG", "value": "/tmp/gcloud"},
                {"name": "HOME", "value": "/tmp"},
                {"name": "CLOUDSDK_CORE_DISABLE_PROMPTS", "value": "1"},
                {"name": "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "value": "true"}],
        "resources": {"requests": dict(LOADER_RESOURCES), "limits": dict(LOADER_RESOURCES)},
        "security_context": request.security_context,
        "volume_mounts": request.volume_mounts,
    }
    return ModelLoader(init_container=container, image=pinned.image,
                       tool="gcloud storage rsync through GKE Workload Identity Federation (metadata server)")


def _names_prefix(args: ModelEndpointArgs) -> str:
    return f"{args.options.name}-{args.region}"


def address_name(args: ModelEndpointArgs) -> str:
    """Cloud name of the endpoint's reserved global IP: stable per stack, region and endpoint (one cell per
    region), never a hostname."""
    return global_name(f"{_names_prefix(args)}-ip")


def certificate_map_name(args: ModelEndpointArgs) -> str:
    """The Certificate Manager map the endpoint's Gateway serves (its `networking.gke.io/certmap`)."""
    return global_name(f"{_names_prefix(args)}-certs")


def security_policy_name(args: ModelEndpointArgs) -> str:
    """The Cloud Armor policy of the endpoint's backend (GCPBackendPolicy `securityPolicy` names it)."""
    return global_name(f"{_names_prefix(args)}-armor")


def ssl_policy_name(args: ModelEndpointArgs) -> str:
    """The SSL policy of the endpoint's Gateway (GCPGatewayPolicy `sslPolicy` names it)."""
    return global_name(f"{_names_prefix(args)}-tls")


def certificate_manager_name(args: ModelEndpointArgs, role: str, *names: str) -> str:
    """Cloud name of a Certificate Manager resource whose ForceNew fields hold `names` (the domain of a
    DNS authorization, the domains of the certificate, the hostname of a map entry): it changes with them,
    so a replacement is created before the old one is deleted without a name clash. Explicit rather than
    auto-named because those names allow at most 64 characters (magic-modules mmv1/products/
    certificatemanager: `[a-zA-Z][a-zA-Z0-9_-]*`, 1-64) and Pulumi's auto-names do not know it."""
    return global_name("-".join([_names_prefix(args), role, *names]))


def entry_problems(args: ModelEndpointArgs) -> list[Problem]:
    """A cluster-mode entry on GCP needs the environment's zone, holding every name it serves: its
    certificate is issued only once the DNS authorizations' records exist, and the stack writes them there."""
    return entry_zone_problems(args, "GCP: its Certificate Manager certificate is issued only once the DNS "
                                     "authorization records exist, and the stack creates them in this zone",
                               "its certificate's DNS authorization record")


def ingress_settings(args: ModelEndpointArgs) -> IngressSettings:
    """What the Service and NetworkPolicy take from the GKE entry (the entry itself is a Gateway: `entry`).

    `class_name` is the GatewayClass, for the record; no Ingress is written on GKE.
    """
    return IngressSettings(
        class_name=GATEWAY_CLASS,
        annotations={},
        # The Gateway controller creates zonal NEGs for the Services its routes name (container-native
        # load balancing is the default of every GKE GatewayClass); `cloud.google.com/neg` is for Ingress.
        service_annotations={},
        allowed_sources=[{"ip_block": {"cidr": cidr}} for cidr in GOOGLE_FRONT_ENDS],
        tls_secret_name=None,
        tls_in_spec=False,
    )


def _first_record(auth: gcp.certificatemanager.DnsAuthorization) -> pulumi.Output[Any]:
    return auth.dns_resource_records.apply(lambda records: records[0])


def _certificate(request: EntryRequest, project: str) -> gcp.certificatemanager.CertificateMap:
    """DNS authorizations and their records, the certificate for every name and the map serving it."""
    parent, name, args = request.parent, request.name, request.args
    env, zone = args.environment, args.dns_zone
    assert zone is not None  # entry_problems
    authorizations, records = [], []
    for i, host in enumerate(request.hostnames):
        auth = gcp.certificatemanager.DnsAuthorization(
            f"{name}-dns-authorization-{i}",
            name=certificate_manager_name(args, "auth", host),
            project=project,
            location="global",
            domain=host,
            # One record per project (`_acme-challenge_<id>.<name>`), so other projects and clouds
            # validating the same global name keep their own records.
            type="PER_PROJECT_RECORD",
            description=f"Proves {host} for the certificate of the {args.options.name} endpoint in {args.region}",
            opts=env.child(parent))
        first = _first_record(auth)
        # The record Certificate Manager asks for is a CNAME (`dns_resource_records[0].type`). The
        # global names' records are shared by every cell of the project proving the same name.
        records.append(zone.record(
            parent, f"{name}-dns-authorization-{i}-record",
            first.apply(lambda r: str(r.name)), "CNAME", first.apply(lambda r: [str(r.data)]),
            ttl=300, allow_overwrite=i > 0))
        authorizations.append(auth)
    certificate = gcp.certificatemanager.Certificate(
        f"{name}-certificate",
        name=certificate_manager_name(args, "cert", *request.hostnames),
        project=project,
        location="global",
        scope="DEFAULT",  # served by global external Application Load Balancers
        description=f"The {args.options.name} endpoint's entry in {args.region}",
        managed={"domains": list(request.hostnames),
                 "dns_authorizations": [a.id for a in authorizations]},
        opts=env.child(parent, depends_on=records))
    certificate_map = gcp.certificatemanager.CertificateMap(
        f"{name}-certificate-map",
        name=certificate_map_name(args),
        project=project,
        description=f"The {args.options.name} endpoint's entry in {args.region}",
        opts=env.child(parent))
    for i, host in enumerate(request.hostnames):
        gcp.certificatemanager.CertificateMapEntry(
            f"{name}-certificate-map-entry-{i}",
            name=certificate_manager_name(args, "entry", host),
            project=project,
            map=certificate_map.name,
            hostname=host,
            certificates=[certificate.id],
            opts=env.child(parent))
    return certificate_map


def _security_policy(request: EntryRequest, project: str) -> gcp.compute.SecurityPolicy:
    """Cloud Armor: each client IP may send `rate_limit_per_minute` requests a minute; above, 429."""
    args = request.args
    everyone: gcp.compute.SecurityPolicyRuleMatchArgsDict = {"versioned_expr": "SRC_IPS_V1",
                                                             "config": {"src_ip_ranges": ["*"]}}
    return gcp.compute.SecurityPolicy(
        f"{request.name}-armor",
        name=security_policy_name(args),
        project=project,
        type="CLOUD_ARMOR",
        description=f"Rate limit per client of the {args.options.name} endpoint in {args.region}",
        rules=[
            {"priority": THROTTLE_PRIORITY, "action": "throttle",
             "description": f"At most {args.options.rate_limit_per_minute} requests a minute per client IP",
             "match": everyone,
             "rate_limit_options": {
                 "conform_action": "allow", "exceed_action": "deny(429)", "enforce_on_key": "IP",
                 "rate_limit_threshold": {"count": args.options.rate_limit_per_minute,
                                          "interval_sec": RATE_INTERVAL_SECONDS}}},
            {"priority": DEFAULT_RULE_PRIORITY, "action": "allow", "description": "Default rule",
             "match": everyone},
        ],
        opts=args.environment.child(request.parent))


def entry(request: EntryRequest) -> Entry:
    """The GKE Gateway entry with its address, certificate map, Cloud Armor and SSL policies (see the
    module docstring); the cell's name is an A record to the address."""
    parent, name, args, namespace, labels = request.parent, request.name, request.args, request.namespace, request.labels
    assert args.cluster is not None and args.options.hostname is not None
    env, project, app = args.environment, _project(args), args.options.name
    address = gcp.compute.GlobalAddress(
        f"{name}-ip",
        name=address_name(args),
        project=project,
        address_type="EXTERNAL",
        ip_version="IPV4",
        description=f"Entry of the {app} endpoint in {args.region}",
        # Every field but labels is ForceNew: a reworded description must not replace the address (and
        # its IP, which DNS and clients hold).
        opts=env.child(parent, ignore_changes=["description"]))
    certificate_map = _certificate(request, project)
    armor = _security_policy(request, project)
    ssl_policy = gcp.compute.SSLPolicy(
        f"{name}-tls",
        name=ssl_policy_name(args),
        project=project,
        min_tls_version=SSL_MIN_TLS,
        profile=SSL_PROFILE,
        description=f"TLS of the {app} endpoint's entry in {args.region}",
        opts=env.child(parent))

    def custom(role: str, api_version: str, kind: str, spec: dict[str, Any],
               annotations: dict[str, pulumi.Input[str]] | None = None,
               after: Sequence[pulumi.Resource] = ()) -> k8s.apiextensions.CustomResource:
        metadata: dict[str, Any] = {"name": app, "namespace": namespace, "labels": labels}
        if annotations:
            metadata["annotations"] = annotations
        return k8s.apiextensions.CustomResource(
            f"{name}-{role}", api_version=api_version, kind=kind, metadata=metadata, spec=spec,
            opts=pulumi.ResourceOptions.merge(request.opts, pulumi.ResourceOptions(depends_on=list(after))))

    gateway = custom("gateway", GATEWAY_API, "Gateway", {
        "gatewayClassName": GATEWAY_CLASS,
        "addresses": [{"type": "NamedAddress", "value": address.name}],
        # No `tls`: the certificate map serves the HTTPS listener (Gateway API allows an HTTPS listener
        # without tls; GKE docs, "Secure a Gateway").
        "listeners": [{"name": HTTPS_LISTENER, "protocol": "HTTPS", "port": 443,
                       "allowedRoutes": {"namespaces": {"from": "Same"}}}],
    }, annotations={CERTMAP_ANNOTATION: certificate_map.name})
    service_ref = {"group": "", "kind": "Service", "name": request.service}
    custom("route", GATEWAY_API, "HTTPRoute", {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": app,
                        "sectionName": HTTPS_LISTENER}],
        "hostnames": list(request.hostnames),
        "rules": [{"matches": [{"path": {"type": "PathPrefix" if kind == "Prefix" else "Exact", "value": path}}
                               for path, kind in request.paths],
                   "backendRefs": [{"name": request.service, "port": 80}]}],
    }, after=[gateway])
    custom("health-check", GKE_POLICY_API, "HealthCheckPolicy", {
        "default": {"checkIntervalSec": 10, "timeoutSec": 5, "healthyThreshold": 2, "unhealthyThreshold": 3,
                    # USE_SERVING_PORT: each NEG endpoint's own port, the pod's (NetworkPolicy admits it).
                    "config": {"type": "HTTP", "httpHealthCheck": {
                        "requestPath": args.options.model.health_path, "portSpecification": "USE_SERVING_PORT"}}},
        "targetRef": service_ref,
    })
    custom("backend-policy", GKE_POLICY_API, "GCPBackendPolicy", {
        "default": {"timeoutSec": BACKEND_TIMEOUT_SECONDS,
                    "connectionDraining": {"drainingTimeoutSec": DRAINING_SECONDS},
                    "securityPolicy": armor.name,
                    "logging": {"enabled": True, "sampleRate": 1_000_000}},
        "targetRef": service_ref,
    })
    custom("gateway-policy", GKE_POLICY_API, "GCPGatewayPolicy", {
        "default": {"sslPolicy": ssl_policy.name},
        "targetRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": app},
    }, after=[gateway])
    return Entry(record_type="A", address=address.address, ip=address.address)
