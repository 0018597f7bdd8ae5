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
* `ingress_settings`: GKE Ingress class `gce` (a global external Application
  Load Balancer), HTTPS only, a Google-managed certificate, a reserved global
  static IP (stable for DNS; the certificate provisions once the hostname
  resolves to it), container-native load balancing (NEGs). The load balancer's
  health check follows the pod's readiness probe, so no BackendConfig is needed
  for health checks. NetworkPolicy admits only Google's front ends and health
  checkers (35.191.0.0/16, 130.211.0.0/22), which reach NEG pods directly.
* `extra_ingress_objects`: the global address (role `ip`) and the
  `ManagedCertificate` `<endpoint name>-cert` for the hostname (role
  `certificate`, on the cluster's provider).

Known limits: the load balancer's backend service timeout stays at GKE's default
of 30 seconds (a BackendConfig `timeoutSec` would raise it), so long
non-streaming generations can be cut off. The Ingress `workload.py` writes has
a `spec.tls` entry without a secret, on which GKE's ingress controller fails
every sync (`secret "" does not exist`, kubernetes/ingress-gce#1334): the entry
must go for GKE (the managed certificate needs none); a strict xfail test in
tests/components/test_serving_gcp.py tracks it.
"""

from __future__ import annotations

import re

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from ..catalog.gpus import GPU_MACHINES, CatalogError, MachineType, gpu_machine
from ..common import Problem
from ..common.naming import global_name
from ..compute.gcp import GkeHandle
from .args import Accelerator, EndpointOptions, EndpointOutputs, IngressSettings, ModelEndpointArgs, WorkloadIdentity

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
"""Source ranges of Google's load-balancer front ends and health checkers (classic Application Load Balancer)."""

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
    return EndpointOutputs(url=url, health_url=url, entry_hostname=None)


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


def certificate_name(args: ModelEndpointArgs) -> str:
    """The ManagedCertificate of the endpoint's Ingress (same namespace)."""
    return f"{args.options.name}-cert"


def address_name(args: ModelEndpointArgs) -> str:
    """Cloud name of the endpoint's reserved global IP: stable per stack, region and endpoint (one cell per region)."""
    return global_name(f"{args.options.name}-{args.region}-ip")


def ingress_settings(args: ModelEndpointArgs) -> IngressSettings:
    """GKE Ingress (`gce`): HTTPS only on a reserved IP, a Google-managed certificate, NEG backends."""
    return IngressSettings(
        class_name="gce",
        annotations={
            "networking.gke.io/managed-certificates": certificate_name(args),
            "kubernetes.io/ingress.allow-http": "false",
            "kubernetes.io/ingress.global-static-ip-name": address_name(args),
        },
        # Container-native load balancing: the load balancer sends to pod IPs through NEGs, and its
        # health check follows the pod's readiness probe.
        service_annotations={"cloud.google.com/neg": '{"ingress": true}'},
        allowed_sources=[{"ip_block": {"cidr": cidr}} for cidr in GOOGLE_FRONT_ENDS],
        tls_secret_name=None,
        tls_in_spec=False,  # the ManagedCertificate is attached by annotation
    )


def extra_ingress_objects(parent: pulumi.Resource, name: str, args: ModelEndpointArgs, namespace: str,
                          labels: dict[str, str]) -> None:
    """The global address the Ingress takes and the ManagedCertificate for the hostname.

    No BackendConfig: the load balancer's health check follows the readiness probe.
    """
    assert args.cluster is not None and args.options.hostname is not None
    gcp.compute.GlobalAddress(
        f"{name}-ip",
        name=address_name(args),
        project=_project(args),
        address_type="EXTERNAL",
        ip_version="IPV4",
        description=f"Entry of the {args.options.name} endpoint: {args.options.hostname}",
        opts=args.environment.child(parent))
    k8s.apiextensions.CustomResource(
        f"{name}-certificate",
        api_version="networking.gke.io/v1",
        kind="ManagedCertificate",
        metadata={"name": certificate_name(args), "namespace": namespace, "labels": labels},
        spec={"domains": [args.options.hostname]},
        opts=pulumi.ResourceOptions(parent=parent, provider=args.cluster.provider))
