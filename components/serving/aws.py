"""ModelEndpoint on AWS: SageMaker for managed endpoints; Pod Identity and an ALB for cluster mode.

Managed children (role names): `execution-role`, `read-policy` (the model prefix,
the image's ECR repository, the endpoint's log group, metrics into SageMaker's
namespaces), `key-policy` (kms:Decrypt on the store's key through S3), `log-group`,
`model`, `endpoint-config`, `endpoint-key` (only for instance types without local
storage, see `has_local_storage`), `alarm-5xx`, `alarm-latency` (both also notify
the alert channel), `scaling-instance-type` (see `build_managed`), `endpoint`,
`scaling-target`, `scaling-policy`.

Cluster-mode children: `pod-role`, `pod-read-policy`, `pod-key-policy`,
`pod-identity`, the `ingress` and around it (`aws_entry.py`) the certificate and
its validation records, the access-log bucket, the WAF web ACL and the Global
Accelerator; the cluster gets the AWS Load Balancer Controller once
(`compute.aws.install_load_balancer_controller`), which turns the endpoint's
Ingress (class `alb`) into an internet-facing ALB.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..catalog.gpus import CatalogError, gpu_machine
from ..catalog.images import AWS_MODEL_LOADER
from ..common import Problem
from ..common.naming import global_name
from ..compute.aws import ALB_SSL_POLICY, EksHandle, LoadBalancerController, install_load_balancer_controller
from ..common.aws_arn import partition
from .args import (EndpointOptions, EndpointOutputs, Entry, EntryRequest, IngressSettings, LoaderRequest, ModelEndpointArgs,
                   ModelLoader, PerManagedMetric, WorkloadIdentity, entry_names, entry_zone_problems, managed_metric)
from .aws_entry import (MAX_CERTIFICATE_NAMES, access_logs, accelerator, certificate, first_static_ip,
                        load_balancer_attributes, load_balancer_name, web_acl)
from ..common.aws_iam import POD_IDENTITY_TRUST, trust_policy
from ..common.aws_kms import customer_key

METRICS_NAMESPACES = "/aws/sagemaker/*"
"""CloudWatch namespaces the execution role may publish to: SageMaker's own (`/aws/sagemaker/Endpoints`
holds the instance CPU, memory, GPU and disk metrics of an endpoint)."""
VARIANT = "primary"
"""The one production variant. Blue/green updates need the same variant name in old and new configs."""
SAGEMAKER_PORT = 8080
SAGEMAKER_HEALTH_PATH = "/ping"
"""SageMaker sends `GET /ping` and `POST /invocations` to port 8080 of the container; nothing else is routed."""
MODEL_DIR = "/opt/ml/model"
"""Where SageMaker copies the model prefix before the container starts."""
STARTUP_TIMEOUT_SECONDS = 600
"""Same 10 minutes the cluster-mode startup probe allows a GPU model to load."""
DOWNLOAD_TIMEOUT_SECONDS = 1200
"""Copying multi-GB weights from S3 to the instance."""
BAKE_SECONDS = 600
"""How long new capacity takes traffic under the rollback alarms before the update proceeds/finishes."""
TERMINATION_WAIT_SECONDS = 300
"""The old fleet stays up this long after a successful update (fast manual rollback)."""
UPDATE_TIMEOUT_SECONDS = 3600
"""Upper bound of a whole blue/green update (GPU capacity, download, startup, baking)."""
LATENCY_ALARM_SECONDS = 10
"""Rollback when p99 model latency stays above this for three minutes."""
SCALE_OUT_COOLDOWN = 120
SCALE_IN_COOLDOWN = 600
"""GPU instances are slow to start and costly to churn: scale out quickly, scale in cautiously."""

POD_IDENTITY_ANNOTATION = "aiinfra.io/pod-identity-role"
"""Informative only: Pod Identity binds the role by namespace/service account (no IRSA annotation is needed)."""

PREDEFINED_METRICS: PerManagedMetric[str] = {
    "invocations": "SageMakerVariantInvocationsPerInstance",
    "concurrency": "SageMakerVariantConcurrentRequestsPerModelHighResolution",
}
"""Scaling.metric -> Application Auto Scaling predefined metric. Invocations are per instance per minute;
concurrency is the high-resolution (10 s) in-flight requests per model copy (one copy per instance here)."""

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repo>[a-z0-9._/-]+)[:@]")
_LOCAL_STORAGE_FAMILIES = {"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"}
_STORAGE_SUFFIX = re.compile(r"^[a-z]+\d+[a-z]*d[a-z]*$")  # m5d, c6id, r5dn, g4dn, p4d, p4de ...


# --- shared -----------------------------------------------------------------------------------

def _policy(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def prefix_read_statements(bucket_arn: str, prefix: str) -> list[dict[str, Any]]:
    """Read objects under `prefix` and list only that prefix; nothing else in the bucket."""
    return [
        {"Sid": "ReadModelPrefix", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{bucket_arn}/{prefix}*"]},
        {"Sid": "ListModelPrefix", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn],
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}},
    ]


def key_statements(key_arn: str, region: str) -> list[dict[str, Any]]:
    """Decrypt with the store's key, and only for S3 reads in the store's region."""
    return [{"Sid": "DecryptModelObjects", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key_arn],
             "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.{_dns_suffix(region)}"}}}]


def _dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if partition(region) == "aws-cn" else "amazonaws.com"


def _store_grants(parent: pulumi.Resource, name: str, args: ModelEndpointArgs,
                  role: aws.iam.Role, extra: pulumi.Input[list[dict[str, Any]]] | None = None,
                  prefix_role: str = "") -> list[pulumi.Resource]:
    """Inline policies of `role`: the model prefix (plus `extra` statements), and the store's key.

    Two policies, not one: the prefix policy is built from known values and shows in an offline plan;
    the key ARN is only known once the key exists.
    """
    store = args.store
    assert store is not None
    env, region, prefix = args.environment, args.region, args.options.model.artifact_path
    read = pulumi.Output.all(store.scope_id, extra or []).apply(
        lambda a: _policy(prefix_read_statements(a[0], prefix) + list(a[1])))
    grants: list[pulumi.Resource] = [
        aws.iam.RolePolicy(f"{name}-{prefix_role}read-policy", role=role.id, policy=read, opts=env.child(parent))]
    if store.key_arn is not None:
        grants.append(aws.iam.RolePolicy(
            f"{name}-{prefix_role}key-policy", role=role.id,
            policy=store.key_arn.apply(lambda k: _policy(key_statements(k, region))), opts=env.child(parent)))
    return grants


# --- cluster mode -----------------------------------------------------------------------------

def _handle(args: ModelEndpointArgs) -> EksHandle:
    assert args.cluster is not None
    handle = args.cluster.handle
    if not isinstance(handle, EksHandle):
        raise TypeError(f"a cluster-mode endpoint on AWS needs an EKS cluster, got handle {type(handle).__name__}")
    return handle


def _controller(args: ModelEndpointArgs) -> LoadBalancerController:
    """The cluster's AWS Load Balancer Controller (installed by the first endpoint that asks)."""
    assert args.cluster is not None
    return install_load_balancer_controller(args.cluster, _handle(args))


def workload_identity(parent: pulumi.Resource, name: str, args: ModelEndpointArgs, namespace: str,
                      service_account: str) -> WorkloadIdentity:
    """EKS Pod Identity: a role pods of `namespace/service_account` get, reading only the model's prefix.

    The role trusts `pods.eks.amazonaws.com`; the association binds it to the service account (no
    annotation is involved, the one set here only names the role for people reading the cluster).
    Also makes sure the cluster runs the AWS Load Balancer Controller the endpoint's Ingress needs.
    """
    assert args.store is not None  # the front door requires it on AWS
    handle = _handle(args)
    _controller(args)
    env = args.environment
    role = aws.iam.Role(
        f"{name}-pod-role",
        description=f"Pods of {namespace}/{service_account}: read {args.options.model.artifact_path}",
        assume_role_policy=POD_IDENTITY_TRUST,
        opts=env.child(parent))
    grants = _store_grants(parent, name, args, role, prefix_role="pod-")
    association = aws.eks.PodIdentityAssociation(
        f"{name}-pod-identity",
        cluster_name=handle.cluster_name, namespace=namespace, service_account=service_account,
        role_arn=role.arn, region=handle.region,
        opts=env.child(parent, depends_on=[handle.pod_identity_addon, *grants]))
    return WorkloadIdentity(service_account_annotations={POD_IDENTITY_ANNOTATION: role.arn},
                            pod_labels={}, depends_on=[association])


def model_loader(request: LoaderRequest) -> ModelLoader:
    """An init container that copies exactly the endpoint's prefix from the cell's bucket onto the model
    volume with `aws s3 sync`, as the pod's EKS Pod Identity role (which reads only that prefix).

    Credentials: the EKS Pod Identity webhook adds `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
    `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` and a projected token volume of its own to every container,
    init containers included, of a pod whose service account has an association; it does not use the
    automounted service-account token, so `automountServiceAccountToken: false` changes nothing
    (aws/amazon-eks-pod-identity-webhook pkg/handler/handler.go `getPodSpecPatch`: a projected
    `serviceAccountToken` volume of its own, patches to `/spec/containers` and `/spec/initContainers`;
    AWS SDKs and Tools reference guide, "Container credential provider"). The AWS CLI v2 reads
    container credentials from these variables. Region: `AWS_REGION`, the bucket's region (the cell's).
    Read-only root: HOME is /tmp (the CLI writes nothing else; its cache dir is under HOME), and the image
    runs as the pod's UID 10001 (it sets no USER of its own).
    """
    args = request.args
    region = args.region
    command = request.source_url.apply(lambda url: [
        "aws", "s3", "sync", url, request.target_dir, "--no-progress", "--only-show-errors"])
    container: k8s.core.v1.ContainerArgsDict = {
        "name": "model-loader",
        "image": request.image(AWS_MODEL_LOADER.image),
        "image_pull_policy": "IfNotPresent",
        "command": command,
        "env": [{"name": "AWS_REGION", "value": region},
                {"name": "AWS_DEFAULT_REGION", "value": region},
                {"name": "HOME", "value": "/tmp"},
                {"name": "AWS_CONFIG_FILE", "value": "/tmp/.aws/config"},
                {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/tmp/.aws/credentials"},
                {"name": "AWS_PAGER", "value": ""}],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        "security_context": request.security_context,
        "volume_mounts": request.volume_mounts,
    }
    return ModelLoader(init_container=container, image=AWS_MODEL_LOADER.image,
                       tool="aws s3 sync through EKS Pod Identity")


ALB_ANNOTATION_PREFIX = "alb.ingress.kubernetes.io"


def ingress_settings(args: ModelEndpointArgs) -> IngressSettings:
    """An internet-facing ALB (AWS Load Balancer Controller) sending to pod IPs, HTTPS 443 only, TLS 1.2+.

    The settings every Ingress of this endpoint shares; `entry` adds what names other resources (the
    certificate, the web ACL, the log bucket, the ALB's own name). Pods are reached from the ALB's
    addresses in the VPC, so the NetworkPolicy admits the VPC CIDR (the primary CIDR; the created
    networks have no other).
    """
    model = args.options.model
    controller = _controller(args)
    prefix = ALB_ANNOTATION_PREFIX
    return IngressSettings(
        class_name="alb",
        annotations={
            f"{prefix}/scheme": "internet-facing",
            f"{prefix}/target-type": "ip",
            f"{prefix}/listen-ports": '[{"HTTPS":443}]',
            f"{prefix}/ssl-policy": ALB_SSL_POLICY,
            f"{prefix}/backend-protocol": "HTTP",
            f"{prefix}/healthcheck-path": model.health_path,
            f"{prefix}/healthcheck-protocol": "HTTP",
            f"{prefix}/success-codes": "200",
            # Deregister within the pods' 60 s termination grace period.
            f"{prefix}/target-group-attributes": "deregistration_delay.timeout_seconds=60",
        },
        service_annotations={},
        allowed_sources=[{"ip_block": {"cidr": controller.vpc_cidr}}],
        tls_secret_name=None,
    )


def entry_problems(args: ModelEndpointArgs) -> list[Problem]:
    """A cluster-mode entry on AWS needs the environment's zone, holding every name it serves: its ACM
    certificate is issued only once the DNS validation records exist, and the stack writes them there.
    ACM takes at most MAX_CERTIFICATE_NAMES names on one certificate by default."""
    problems = entry_zone_problems(args, "AWS: its ACM certificate is issued only once the DNS validation "
                                         "records exist, and the stack creates them (and the entry's A record) "
                                         "in this zone", "its certificate's DNS validation record")
    if args.options.mode == "cluster" and len({h for _, h in entry_names(args)}) > MAX_CERTIFICATE_NAMES:
        problems.append(Problem("ModelEndpointArgs.global_hostnames", list(args.global_hostnames),
                                f"allowed: at most {MAX_CERTIFICATE_NAMES - 1} global names (ACM's default quota "
                                f"is {MAX_CERTIFICATE_NAMES} names per certificate, the cell's own included)"))
    return problems


def entry(request: EntryRequest) -> Entry:
    """The endpoint's public HTTPS entry: an ALB Ingress behind a Global Accelerator.

    The Ingress names its ALB, the validated ACM certificate of every name it routes, the WAF web ACL
    and the access-log bucket (each an output of the resource it names, so the Ingress is created after
    them and deleted before them). It also depends on the controller's Helm release: the controller's
    validating webhook for Ingresses (`vingress.elbv2.k8s.aws`) fails closed (`failurePolicy: Fail`,
    helm/aws-load-balancer-controller/templates/webhook.yaml, v2.14.0), and on delete only the running
    controller removes the ALB and the Ingress's `ingress.k8s.aws/resources` finalizer
    (pkg/ingress/finalizer.go): deleted after the controller, the ALB would leak and keep its subnets,
    security group and ENIs, blocking the VPC's deletion.

    The cell's name is an A record to the accelerator's first static IPv4 address, the same address
    `Entry.ip` gives global traffic: health checks then probe exactly what the cell's record answers.
    """
    from .workload import standard_ingress
    args, name, parent = request.args, request.name, request.parent
    controller = _controller(args)
    settings = ingress_settings(args)
    lb_name = load_balancer_name(name)
    validated = certificate(parent, name, args, request.hostnames)
    logs_policy = access_logs(parent, name, args)
    acl = web_acl(parent, name, args)
    prefix = ALB_ANNOTATION_PREFIX
    annotations: dict[str, pulumi.Input[str]] = {
        **settings.annotations,
        f"{prefix}/load-balancer-name": lb_name,
        f"{prefix}/certificate-arn": validated.certificate_arn,
        f"{prefix}/wafv2-acl-arn": acl.arn,
        f"{prefix}/load-balancer-attributes": load_balancer_attributes(logs_policy),
    }
    opts = pulumi.ResourceOptions.merge(request.opts, pulumi.ResourceOptions(depends_on=[controller.release]))
    ingress = standard_ingress(replace(request, opts=opts), replace(settings, annotations=annotations))
    accel = accelerator(parent, name, args.environment, args.region, ingress, lb_name)
    address = first_static_ip(accel)
    return Entry(record_type="A", address=address, ip=address)


# --- managed (SageMaker) ----------------------------------------------------------------------

def has_local_storage(instance_type: str) -> bool:
    """Whether an `ml.*` instance type has local (NVMe) instance storage.

    SageMaker rejects an endpoint config that names a KMS key for such types (their local volumes are
    encrypted by the instance's hardware): every GPU family of the catalog (g4dn, g5, g6, p4d, p4de, p5).
    """
    family = instance_type.removeprefix("ml.").split(".", 1)[0]
    return family in _LOCAL_STORAGE_FAMILIES or bool(_STORAGE_SUFFIX.match(family))


def sagemaker_instance_type(args: ModelEndpointArgs) -> str:
    acc = args.options.accelerator
    if acc.instance_type is not None:
        return acc.instance_type
    assert acc.gpu is not None
    return "ml." + gpu_machine("aws", acc.gpu, acc.count).name


def sagemaker_problems(options: EndpointOptions, region: str) -> list[Problem]:
    """What a SageMaker endpoint cannot serve; paths relative to the endpoint options.

    Needs only the options and the region, so the spec's validation reports these with their
    config key paths before anything is registered (and the front door does for library users).
    """
    model = options.model
    problems: list[Problem] = []
    image = model.image or ""
    match = _ECR_IMAGE.match(image)
    if match is None:
        problems.append(Problem(
            "model.image", model.image,
            "allowed on SageMaker: an ECR image (<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>); "
            "copy public images into ECR (or an ECR pull-through cache) first"))
    elif match["region"] != region:
        problems.append(Problem("model.image", model.image,
                                f"allowed on SageMaker: an ECR image in the endpoint's region {region!r}"))
    if model.port != SAGEMAKER_PORT:
        problems.append(Problem("model.port", model.port,
                                f"allowed on SageMaker: {SAGEMAKER_PORT} (SageMaker sends every request there)"))
    if model.health_path != SAGEMAKER_HEALTH_PATH:
        problems.append(Problem("model.health_path", model.health_path,
                                f"allowed on SageMaker: {SAGEMAKER_HEALTH_PATH} (the only health check it sends)"))
    acc = options.accelerator
    if acc.instance_type is not None and not acc.instance_type.startswith("ml."):
        problems.append(Problem("accelerator.instance_type", acc.instance_type,
                                "allowed on SageMaker: an ml.* instance type, e.g. ml.g6.xlarge"))
    elif acc.gpu is not None:
        try:
            machine = gpu_machine("aws", acc.gpu, acc.count).name
        except CatalogError:
            pass  # endpoint_problems reports a GPU the catalog does not offer
        else:
            if machine.endswith(".metal"):
                problems.append(Problem("accelerator", {"gpu": acc.gpu, "count": acc.count},
                                        f"allowed on SageMaker: not ml.{machine} (no metal instances); "
                                        "set accelerator.instance_type, e.g. ml.g4dn.12xlarge"))
    return problems


def _repository_arn(image: str) -> str:
    match = _ECR_IMAGE.match(image)
    assert match is not None
    return f"arn:{partition(match['region'])}:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"


def scaling_marker_name(endpoint_name: str, instance_type: str) -> str:
    """The SSM parameter that ties the scaling target to the instance type (see `build_managed`)."""
    return f"/aiinfra/sagemaker/{endpoint_name}/scaling-instance-type/{instance_type}"


def _runtime_url(region: str, endpoint_name: str) -> str:
    return f"https://runtime.sagemaker.{region}.{_dns_suffix(region)}/endpoints/{endpoint_name}/invocations"


def build_managed(parent: pulumi.Resource, name: str, args: ModelEndpointArgs) -> EndpointOutputs:
    """A SageMaker real-time endpoint serving the model prefix with a custom container.

    - Execution role: reads only the model prefix (and decrypts with the store's key through S3),
      pulls only the serving image's ECR repository, writes only the endpoint's log group and metrics
      only into SageMaker's namespaces.
    - Model: auto-named; the prefix is copied uncompressed (S3Prefix) to /opt/ml/model; network
      isolation is on, so the container cannot call out (no exfiltration, no Hub downloads): SageMaker
      itself fetches the weights with the role before the container starts.
    - Endpoint config: auto-named, so a change creates the new config before the old one is deleted
      (fixed names break updates: terraform-provider-aws #40048); least-outstanding-requests routing;
      a customer KMS key for the ML volume unless the instance type has local storage (SageMaker rejects
      a key there; local NVMe is hardware-encrypted).
    - Endpoint: a fixed, stack-unique name (the URL and alarms need it before it exists; only a
      rename replaces it); blue/green updates (canary of one instance when at least two run, else all
      at once) baked under two alarms (5XX errors, p99 latency) that roll the update back.
    - Autoscaling between min and max replicas on invocations per instance per minute, or on the
      high-resolution concurrent requests per model. A change of instance type deregisters the scaling
      target before the endpoint's update and registers it again after (the `scaling-instance-type`
      marker, replaced delete-before-replace), since SageMaker refuses to change the instance type of
      a variant that is an auto scaling target.
    - Both rollback alarms also notify the alert channel (`args.alerts`).

    The URL is SageMaker's runtime API, which requires SigV4-signed requests: it cannot sit directly
    behind a shared DNS name. Putting a managed endpoint behind global traffic needs a per-cloud front
    door (e.g. API Gateway with IAM auth calling the endpoint, serving the shared hostname's certificate
    and a deep health path). `entry_hostname` is therefore None.
    """
    options, model, env, region = args.options, args.options.model, args.environment, args.region
    part = partition(region)
    endpoint_name = global_name(name)
    log_group_name = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    instance_type = sagemaker_instance_type(args)
    assert model.image is not None

    log_group = aws.cloudwatch.LogGroup(
        f"{name}-log-group", name=log_group_name, retention_in_days=env.log_retention_days, region=region,
        opts=env.child(parent, stateful=True))
    role = aws.iam.Role(
        f"{name}-execution-role",
        description=f"SageMaker endpoint {endpoint_name}: read {model.artifact_path}",
        assume_role_policy=trust_policy("sagemaker.amazonaws.com"),
        opts=env.child(parent))
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id
    repository = _repository_arn(model.image)

    def runtime_statements(account_id: str) -> list[dict[str, Any]]:
        group_arn = f"arn:{part}:logs:{region}:{account_id}:log-group:{log_group_name}"
        return [
            {"Sid": "EcrToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {"Sid": "PullServingImage", "Effect": "Allow",
             "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
             "Resource": [repository]},
            {"Sid": "EndpointLogs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
             "Resource": [group_arn, f"{group_arn}:*"]},
            # The instance and container metrics SageMaker publishes with the role (SageMaker developer
            # guide, "CreateModel API: Execution Role Permissions" lists cloudwatch:PutMetricData, which
            # takes no resource); only into SageMaker's own namespaces (/aws/sagemaker/Endpoints).
            {"Sid": "EndpointMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
             "Condition": {"StringLike": {"cloudwatch:namespace": [METRICS_NAMESPACES]}}},
        ]

    grants = _store_grants(parent, name, args, role, extra=account.apply(runtime_statements))

    model_uri = pulumi.Output.from_input(args.bucket_name).apply(lambda b: f"s3://{b}/{model.artifact_path}")
    sm_model = aws.sagemaker.Model(
        f"{name}-model",
        execution_role_arn=role.arn,
        enable_network_isolation=True,
        primary_container={
            "image": model.image,
            "mode": "SingleModel",
            "model_data_source": {"s3_data_sources": [{
                "s3_uri": model_uri, "s3_data_type": "S3Prefix", "compression_type": "None"}]},
            # The same variables cluster mode sets, pointing at SageMaker's copy of the prefix;
            # Hugging Face containers (TGI/TEI) read HF_MODEL_ID.
            "environment": {"MODEL_URI": MODEL_DIR, "MODEL_CACHE_DIR": MODEL_DIR, "HF_MODEL_ID": MODEL_DIR,
                            "PORT": str(SAGEMAKER_PORT)},
        },
        region=region,
        opts=env.child(parent, depends_on=grants))

    key: aws.kms.Key | None = None
    if not has_local_storage(instance_type):
        key = customer_key(f"{name}-endpoint-key", f"ML storage volumes of SageMaker endpoint {endpoint_name}",
                           region, env.child(parent))
    config = aws.sagemaker.EndpointConfiguration(
        f"{name}-endpoint-config",
        production_variants=[{
            "variant_name": VARIANT,
            "model_name": sm_model.name,
            "instance_type": instance_type,
            "initial_instance_count": options.min_replicas,
            "container_startup_health_check_timeout_in_seconds": STARTUP_TIMEOUT_SECONDS,
            "model_data_download_timeout_in_seconds": DOWNLOAD_TIMEOUT_SECONDS,
            # Inference latency varies with the request: send to the least busy instance.
            "routing_configs": [{"routing_strategy": "LEAST_OUTSTANDING_REQUESTS"}],
        }],
        kms_key_arn=key.arn if key is not None else None,
        region=region,
        opts=env.child(parent))

    # Rollback alarms also tell the channel (issue 15): a rolled-back update, and 5XX errors outside updates.
    actions = list(args.alerts.targets) if args.alerts is not None else []
    dimensions = {"EndpointName": endpoint_name, "VariantName": VARIANT}
    errors = aws.cloudwatch.MetricAlarm(
        f"{name}-alarm-5xx",
        name=f"{endpoint_name}-invocation-5xx",
        alarm_description=f"5XX responses of SageMaker endpoint {endpoint_name}: rolls back a blue/green update",
        namespace="AWS/SageMaker", metric_name="Invocation5XXErrors", dimensions=dimensions,
        statistic="Sum", period=60, evaluation_periods=2, datapoints_to_alarm=2, threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
        alarm_actions=actions, ok_actions=actions,
        region=region, opts=env.child(parent))
    latency = aws.cloudwatch.MetricAlarm(
        f"{name}-alarm-latency",
        name=f"{endpoint_name}-model-latency",
        alarm_description=f"p99 model latency of SageMaker endpoint {endpoint_name} above "
                          f"{LATENCY_ALARM_SECONDS} s: rolls back a blue/green update",
        namespace="AWS/SageMaker", metric_name="ModelLatency", dimensions=dimensions,
        extended_statistic="p99", period=60, evaluation_periods=3, datapoints_to_alarm=3,
        threshold=LATENCY_ALARM_SECONDS * 1_000_000,  # microseconds
        comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
        alarm_actions=actions, ok_actions=actions,
        region=region, opts=env.child(parent))

    routing: aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgsDict
    if options.min_replicas >= 2:
        # One instance is at most half of any fleet this endpoint runs (autoscaling never goes below min).
        routing = {"type": "CANARY", "canary_size": {"type": "INSTANCE_COUNT", "value": 1},
                   "wait_interval_in_seconds": BAKE_SECONDS}
    else:
        routing = {"type": "ALL_AT_ONCE", "wait_interval_in_seconds": BAKE_SECONDS}
    deployment: aws.sagemaker.EndpointDeploymentConfigArgsDict = {
        "blue_green_update_policy": {
            "traffic_routing_configuration": routing,
            "termination_wait_in_seconds": TERMINATION_WAIT_SECONDS,
            "maximum_execution_timeout_in_seconds": UPDATE_TIMEOUT_SECONDS,
        },
        "auto_rollback_configuration": {"alarms": [{"alarm_name": errors.name}, {"alarm_name": latency.name}]},
    }
    # UpdateEndpoint fails when the update changes the instance type of a variant that is an auto scaling
    # target (SageMaker API reference, UpdateEndpoint). The marker names the instance type and is replaced
    # delete-before-replace when it changes; the scaling target's resource id is computed from it, so the
    # engine deletes the target and its policy (deregistering the variant) before the marker, the marker
    # before the endpoint's update (the endpoint depends on it), and registers them again after the update.
    marker = aws.ssm.Parameter(
        f"{name}-scaling-instance-type",
        name=scaling_marker_name(endpoint_name, instance_type),
        description=f"Instance type the scaling target of SageMaker endpoint {endpoint_name} is registered for",
        type="String", value=instance_type, region=region,
        opts=env.child(parent, delete_before_replace=True))
    endpoint = aws.sagemaker.Endpoint(
        f"{name}-endpoint",
        name=endpoint_name,
        endpoint_config_name=config.name,
        deployment_config=deployment,
        region=region,
        opts=env.child(parent, depends_on=[log_group, marker, *grants]))

    target = aws.appautoscaling.Target(
        f"{name}-scaling-target",
        service_namespace="sagemaker",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        resource_id=pulumi.Output.all(endpoint.name, marker.name).apply(
            lambda a: f"endpoint/{a[0]}/variant/{VARIANT}"),
        min_capacity=options.min_replicas,
        max_capacity=options.max_replicas,
        region=region,
        opts=env.child(parent))
    aws.appautoscaling.Policy(
        f"{name}-scaling-policy",
        policy_type="TargetTrackingScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        target_tracking_scaling_policy_configuration={
            "target_value": options.scaling.target,
            "predefined_metric_specification": {"predefined_metric_type": PREDEFINED_METRICS[managed_metric(options.scaling.metric)]},
            "scale_out_cooldown": SCALE_OUT_COOLDOWN,
            "scale_in_cooldown": SCALE_IN_COOLDOWN,
        },
        region=region,
        opts=env.child(parent))

    url = endpoint.name.apply(lambda n: _runtime_url(region, n))
    return EndpointOutputs(url=url, health_url=url, entry_hostname=None)
