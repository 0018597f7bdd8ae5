"""ModelEndpoint on Azure: an Azure ML managed online endpoint, and the workload identity and
ingress of cluster mode (AKS).

Managed mode children (role names): `kv` (Key Vault), `logs` (Log Analytics workspace),
`insights` (Application Insights), `workspace` (the Azure ML workspace), `datastore` (the
cell's model container as an identity-based datastore), `environment` (the serving image),
`model` (the artifact prefix as a registered model), `endpoint` (OnlineEndpoint),
`endpoint-logs` (diagnostic setting), `model-reader` (the endpoint identity's read access
to the container), `deployment` (OnlineDeployment), `traffic` (an ARM template deployment,
see below), `autoscale` (an Azure Monitor autoscale setting, when max > min replicas) and, with an
alert channel, `alert-5xx` (a metric alert on the endpoint's 5xx answers to the channel's action group).

Cluster mode children: `identity` (user-assigned identity), `federated-credential` (trusts
the cluster's OIDC issuer for the endpoint's ServiceAccount), `model-reader` (Storage Blob
Data Reader on the model's container), and the public entry (see below): `ingress-ip`,
`https-rule`, `nginx`, `certificate`, `ingress`.

Traffic without a cycle
-----------------------
An online endpoint's `traffic` names its deployments, and a deployment needs its endpoint
first (azureml-examples PR #2905). So the OnlineEndpoint is created *without* traffic, and
Pulumi ignores changes to `properties.traffic`; after the OnlineDeployment exists, an ARM
template deployment (`azure_native.resources.Deployment`, incremental mode) PUTs the same
endpoint again with `traffic: {<deployment>: 100}`. It depends on the OnlineDeployment, so
the order is endpoint -> deployment -> traffic, with no cycle. Deleting the ARM deployment
only deletes the deployment record; the endpoint and its traffic stay. The template carries
every property the OnlineEndpoint resource sets (location, identity, tags, auth mode, public
access), so any change to them changes the template too and re-applies the traffic right
after Pulumi updates the endpoint (whose PUT carries no traffic). The OnlineDeployment is
`deleted_with` the endpoint: deleting an endpoint deletes its deployments, and a deployment
still taking traffic cannot be deleted on its own; replacing the deployment alone (a change
of endpoint or workspace) needs its traffic moved first.

Managed-mode decisions
----------------------
- Auth mode `AADToken` (Microsoft Entra tokens, supported for managed online endpoints
  only): callers need a role with `.../onlineEndpoints/score/action` on the endpoint (e.g.
  AzureML Data Scientist); there are no static keys to leak or rotate.
- Managed deployments support only the `Default` scale type (TargetUtilization is for
  Kubernetes online deployments), so the deployment starts at `min_replicas` (sku capacity)
  and an Azure Monitor autoscale setting scales it between `min_replicas` and
  `max_replicas` on endpoint metrics divided per instance: `RequestsPerMinute` of this
  deployment for `invocations`, `ConnectionsActive` (open client connections, an
  approximation of in-flight requests) for `concurrency`.
- The workspace uses the cell's storage account (shared keys off, so its system datastores
  authenticate with identity), a Key Vault with Azure RBAC and purge protection, and
  Application Insights on a Log Analytics workspace. The Azure ML resource provider grants
  the workspace's system-assigned identity its roles on these at creation, so whoever runs
  Pulumi needs Owner or User Access Administrator on the resource group. No container
  registry is given: Azure ML creates one when it first needs it.
- Public network access stays on for the workspace and the endpoint (no private endpoints
  or private DNS are set up here); the endpoint still answers only Entra-authenticated calls.
- The serving image becomes an EnvironmentVersion (image plus liveness, readiness and
  scoring routes on the model's port) and the artifact prefix a ModelVersion on an
  identity-based datastore over the cell's container (`azureml://.../datastores/...`, the
  form Azure ML accepts for registered models); both are immutable, so their version is a
  hash of their content and a change registers a new version. The endpoint's
  system-assigned identity gets Storage Blob Data Reader on that container (Azure ML grants
  it only the workspace's default datastore by itself); the model is mounted read-only at
  `/models`.
- Scoring path: `/score` (the spec has no field for it yet).

Cluster-mode entry (`entry`)
----------------------------
A request for the cell's name or a global name arrives at a static public IP, passes the node
subnet's NSG on 443, reaches an NGINX of the endpoint's own, which terminates TLS with a
Let's Encrypt certificate for every name and proxies to the Service; the model server checks
the API key. What each piece is and why:

- `ingress-ip`: a Standard, static, IPv4 public IP, zone-redundant where the region has
  zones, in the cluster's address group (`compute.azure.ingress_addresses`, where the cluster
  identity is Network Contributor). The cell's name gets an A record to it (`workload.py`),
  and global health checks probe it (`Entry.ip`).
- `https-rule`: TCP 443 from `Internet` to that IP on the node subnet's NSG
  (`network.azure.allow_https_from_internet`); Azure's defaults deny everything else from the
  Internet and admit the load balancer's probes.
- `nginx`: an `NginxIngressController` (approuting.kubernetes.azure.com/v1alpha1, cluster
  scoped; the add-on's operator runs it in `app-routing-system`) with its own IngressClass
  `nginx-<endpoint>`, the IP given by name through `spec.loadBalancerAnnotations`
  (`service.beta.kubernetes.io/azure-pip-name` and
  `service.beta.kubernetes.io/azure-load-balancer-resource-group`; AKS docs "Advanced NGINX
  ingress controller and ingress configurations with the application routing add-on",
  "Create an NGINX ingress controller with a static IP address"), `httpDisabled: true` (no
  port 80 at all: a redirect would still receive each first request, API key included, in
  clear text; field added by aks-app-routing-operator #362) and the load balancer's TCP idle
  timeout above NGINX's proxy timeouts. Fields from the operator's
  config/crd/bases/approuting.kubernetes.azure.com_nginxingresscontrollers.yaml. The
  operator gives the controller Service `externalTrafficPolicy: Local` (pkg/manifests/nginx.go),
  so NGINX sees client IPs and per-client limits hold.
- `certificate`: a cert-manager `Certificate` for the cell's name and every global name into
  the secret `<endpoint>-tls`, from the cluster's ClusterIssuer `letsencrypt` (Let's Encrypt
  with ACME DNS-01 in the environment's zone; `compute.azure.install_cert_manager`). Explicit
  rather than the ingress-shim annotation, so it is ordered after cert-manager's release and
  visible in a plan.
- `ingress`: the Ingress of that class (`workload.standard_ingress`) after the controller and
  the Certificate, with proxy timeouts and buffering for streamed generations and abuse limits
  per client IP: `limit-rps` (from `rate_limit_per_minute`; `limit-rpm` below 60 a minute),
  `limit-burst-multiplier` and `limit-connections` (ingress-nginx annotations docs, "Rate
  Limiting"). NGINX answers 503 above a limit (ingress-nginx ConfigMap defaults
  `limit-req-status-code` and `limit-conn-status-code`, which the add-on's operator owns).

The NetworkPolicy admits only that controller's pods: namespace `app-routing-system` and label
`app` = `<controllerNamePrefix>-<collision count>`, the operator's pod label
(pkg/controller/nginxingress/nginx_ingress_controller.go `ToNginxIngressConfig`,
pkg/manifests/types.go `PodLabels`), the count being at most 5 (api/v1alpha1 `MaxCollisions`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from typing import TYPE_CHECKING, Mapping, cast

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as k8s

from ..catalog.gpus import gpu_machine
from ..common import Problem
from ..common.naming import stable_suffix
from ..common.azure_identity import federated_identity
from ..common.azure_keyvault import key_vault
from ..common.dispatch import unknown
from .args import (MANAGED_METRICS, managed_metric, EndpointOutputs, Entry, EntryRequest, IngressSettings, LoaderRequest,
                   ModelEndpointArgs, ModelLoader, WorkloadIdentity, entry_zone_problems)

if TYPE_CHECKING:
    from ..compute.azure import AksHandle

ml = azure_native.machinelearningservices

STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"

APP_ROUTING_NAMESPACE = "app-routing-system"
"""Where the application routing add-on runs its NGINX controllers (aks-app-routing-operator
pkg/config/config.go `DefaultNs`)."""
NGINX_API_VERSION = "approuting.kubernetes.azure.com/v1alpha1"
NGINX_MAX_COLLISIONS = 5
"""aks-app-routing-operator api/v1alpha1 `MaxCollisions`: the controller's resources are named
`<controllerNamePrefix>-<collision count>`, the count at most this."""
PROXY_TIMEOUT_SECONDS = 300
"""Generation can stream for minutes: NGINX waits this long for the model server (default 60 s)."""
LB_IDLE_TIMEOUT_MINUTES = 6
"""Azure load balancer TCP idle timeout for the entry (default 4 minutes, allowed 4-100:
cloud-provider-azure `service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout`), above
PROXY_TIMEOUT_SECONDS so a silent non-streamed generation is not cut by the load balancer first."""
CONNECTIONS_PER_CLIENT = 32
"""Concurrent connections one client IP may hold (ingress-nginx `limit-connections`): a streamed
generation holds one for minutes, so this bounds how many of the endpoint's GPU slots one address
can occupy (prod's chat: 4 replicas x 8 in flight)."""
BURST_MULTIPLIER = 5
"""ingress-nginx `limit-burst-multiplier` (its default, written out): a client may exceed its rate by this
many seconds' worth of requests at once before NGINX rejects."""

ONLINE_ENDPOINT_API_VERSION = "2025-12-01"
"""The API version azure-native 3.29 uses for OnlineEndpoint; the traffic template uses it too."""
AUTH_MODE = "AADToken"
DEPLOYMENT_NAME = "primary"
SCORING_PATH = "/score"
MODEL_MOUNT_PATH = "/models"
DATASTORE_NAME = "cell_models"
ENDPOINT_METRICS_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
ENDPOINT_LOG_CATEGORIES = ("AmlOnlineEndpointConsoleLog", "AmlOnlineEndpointTrafficLog",
                           "AmlOnlineEndpointEventLog")

LIVENESS: ml.ProbeSettingsArgsDict = {"initial_delay": "PT600S", "period": "PT10S", "timeout": "PT5S",
                                      "failure_threshold": 6, "success_threshold": 1}
"""A GPU model can take minutes to load: liveness starts after 10 minutes and restarts a
replica after one minute without an answer."""
READINESS: ml.ProbeSettingsArgsDict = {"initial_delay": "PT10S", "period": "PT5S", "timeout": "PT5S",
                                       "failure_threshold": 3, "success_threshold": 1}
"""Traffic reaches a replica only once its health path answers; 15 s of failures take it out."""
REQUEST_TIMEOUT = "PT90S"
MANAGED_5XX_PER_MINUTE = 1.0
"""The managed endpoint's 5xx alert fires above this many 5xx answers a minute, averaged over 5 minutes
(Azure ML gives a count, not a ratio, per status code class)."""


def _role(subscription_id: pulumi.Input[str], role_id: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("/subscriptions/", subscription_id,
                                "/providers/Microsoft.Authorization/roleDefinitions/", role_id)


def _client(parent: pulumi.Resource) -> pulumi.Output[azure_native.authorization.GetClientConfigResult]:
    return azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=parent))


# ---------------------------------------------------------------------------------------------
# Cluster mode
# ---------------------------------------------------------------------------------------------

def workload_identity(parent: pulumi.Resource, name: str, args: ModelEndpointArgs, namespace: str,
                      service_account: str) -> WorkloadIdentity:
    """A user-assigned identity the endpoint's ServiceAccount federates to, reading the model's container.

    Azure RBAC cannot scope a role assignment to a blob prefix: the narrowest scope is the
    container, so the pods may read every blob in the model container (read only), not just
    `artifact_path`. An ABAC condition on the blob path would narrow it further; the cell's
    container is meant to hold models only.
    """
    assert args.cluster is not None
    env = args.environment
    group = _group(args)
    federated = federated_identity(f"{name}-identity", f"{name}-federated-credential", resource_group_name=group,
                                   location=args.region, issuer=args.cluster.oidc_issuer, namespace=namespace,
                                   service_account=service_account, opts=env.child(parent))
    identity, credential = federated.identity, federated.credential
    reader = _blob_reader(parent, f"{name}-model-reader", args, identity.principal_id,
                          _client(parent).subscription_id)
    return WorkloadIdentity(
        service_account_annotations={"azure.workload.identity/client-id": identity.client_id},
        pod_labels={"azure.workload.identity/use": "true"},
        depends_on=[credential, reader])


_BLOB_URL = re.compile(r"^https://([a-z0-9]{3,24})\.blob\.[a-z0-9.]+/([a-z0-9][a-z0-9-]{1,62})/(.+/)$")
"""`https://<account>.blob.<suffix>/<container>/<prefix>/`: the store's URL and the model's prefix."""


def blob_location(url: str) -> tuple[str, str, str]:
    """(account, container, prefix) of a blob prefix URL (the prefix ends in `/`)."""
    found = _BLOB_URL.match(url)
    if found is None:
        raise ValueError(f"{url!r}: not a blob prefix URL https://<account>.blob.core.windows.net/<container>/<prefix>/")
    return found.group(1), found.group(2), found.group(3)


def loader_script(prefix: str, target_dir: str) -> str:
    """The copy step: sign in as the pod's workload identity, download every blob under `prefix` of
    $STORAGE_ACCOUNT/$STORAGE_CONTAINER, then move them from `<target>/.download/<prefix>`
    (download-batch keeps each blob's full name) to `<target>`, so the server finds the model's files
    at its root; fail when the prefix holds nothing."""
    staging = f"{target_dir}/.download"
    return "\n".join([
        "set -eu",
        'az login --service-principal --username "$AZURE_CLIENT_ID" --tenant "$AZURE_TENANT_ID" '
        '--federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")" --allow-no-subscriptions --output none',
        f"mkdir -p '{staging}'",
        'az storage blob download-batch --auth-mode login --account-name "$STORAGE_ACCOUNT" '
        f'--source "$STORAGE_CONTAINER" --pattern \'{prefix}*\' --destination \'{staging}\' '
        "--max-connections 16 --no-progress --output none",
        f"find '{staging}/{prefix.rstrip('/')}' -mindepth 1 -maxdepth 1 -exec mv -t '{target_dir}' {{}} +",
        f"rm -rf '{staging}'",
        f"test -n \"$(ls -A '{target_dir}')\" || {{ echo \"no blobs under $MODEL_SOURCE\" >&2; exit 1; }}",
    ])


def model_loader(request: LoaderRequest) -> ModelLoader:
    """An init container that copies the endpoint's blob prefix into the model volume with the Azure CLI,
    signed in as the pod's workload identity (Storage Blob Data Reader on the container,
    `workload_identity`).

    The pod's own service-account token is not automounted, and need not be: the Azure Workload
    Identity webhook (pods labelled `azure.workload.identity/use: "true"`, set by `workload_identity`)
    adds a projected service-account token volume of its own (`azure-identity-token`, audience
    api://AzureADTokenExchange) to the pod and mounts it, with AZURE_CLIENT_ID, AZURE_TENANT_ID,
    AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST, into every init container and container
    (Azure/azure-workload-identity pkg/webhook/webhook.go: `mutateContainers` runs over
    `pod.Spec.InitContainers` and `pod.Spec.Containers`, then `addProjectedServiceAccountTokenVolume`).
    The CLI keeps its login under /tmp (HOME, AZURE_CONFIG_DIR): the root filesystem is read-only.
    The prefix is written into the script (visible in a plan); the account and container come from the
    store's URL, checked to end in that prefix.
    """
    from ..catalog.images import model_loader as pinned
    image = pinned("azure").image
    prefix = request.args.options.model.artifact_path

    def location(url: str) -> tuple[str, str, str]:
        found = blob_location(url)
        if found[2] != prefix:
            raise ValueError(f"{url!r}: the model source must end in the endpoint's prefix {prefix!r}")
        return found
    where = request.source_url.apply(location)
    container: k8s.core.v1.ContainerArgsDict = {
        "name": "model-loader",
        "image": request.image(image),
        "command": ["/bin/sh", "-c"],
        "args": [loader_script(prefix, request.target_dir)],
        "env": [{"name": "HOME", "value": "/tmp"},
                {"name": "AZURE_CONFIG_DIR", "value": "/tmp/.azure"},
                {"name": "AZURE_CORE_COLLECT_TELEMETRY", "value": "false"},
                {"name": "AZURE_CORE_ONLY_SHOW_ERRORS", "value": "true"},
                {"name": "MODEL_SOURCE", "value": request.source_url},
                {"name": "STORAGE_ACCOUNT", "value": where.apply(lambda w: w[0])},
                {"name": "STORAGE_CONTAINER", "value": where.apply(lambda w: w[1])}],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        "security_context": request.security_context,
        "volume_mounts": request.volume_mounts,
    }
    return ModelLoader(init_container=container, image=image,
                       tool="az storage blob download-batch through Azure workload identity")


def ingress_class(args: ModelEndpointArgs) -> str:
    """The endpoint's own IngressClass (and its NginxIngressController's name): cluster scoped, unique
    per cluster because endpoint names are unique per cell."""
    return f"nginx-{args.options.name}"


def controller_prefix(args: ModelEndpointArgs) -> str:
    """`controllerNamePrefix`: the operator names the controller's Deployment, Service and pod label
    `app` after it (at most 60 characters: an endpoint name has at most 32)."""
    return f"nginx-{args.options.name}"


def entry_problems(args: ModelEndpointArgs) -> list[Problem]:
    """A cluster-mode entry on Azure needs the environment's zone, holding every name it serves, on a
    provider cert-manager can get DNS-01 credentials for: its certificate is issued only once the
    challenge records exist there."""
    from ..dns import acme_dns01_problems
    problems = entry_zone_problems(args, "Azure: cert-manager proves its names to Let's Encrypt with ACME "
                                         "DNS-01 records in this zone", "cert-manager's DNS-01 challenge record")
    if args.options.mode == "cluster" and args.dns_zone is not None:
        problems = [*acme_dns01_problems(args.dns_zone.dns_provider, "azure"), *problems]
    return problems


def rate_limit_annotations(rate_limit_per_minute: int) -> dict[str, str]:
    """ingress-nginx per-client-IP limits: `limit-rps` (requests a second, rounded down so never looser
    than asked; `limit-rpm` under 60 a minute), the burst multiplier and `limit-connections`."""
    prefix = "nginx.ingress.kubernetes.io/"
    rate = ({f"{prefix}limit-rps": str(rate_limit_per_minute // 60)} if rate_limit_per_minute >= 60
            else {f"{prefix}limit-rpm": str(rate_limit_per_minute)})
    return {**rate, f"{prefix}limit-burst-multiplier": str(BURST_MULTIPLIER),
            f"{prefix}limit-connections": str(CONNECTIONS_PER_CLIENT)}


def ingress_settings(args: ModelEndpointArgs) -> IngressSettings:
    """The endpoint's own NGINX (application routing add-on), TLS from cert-manager, only its pods admitted."""
    prefix = controller_prefix(args)
    return IngressSettings(
        class_name=ingress_class(args),
        annotations={
            # Generation can stream for minutes: no 60 s cut-off, no response buffering.
            "nginx.ingress.kubernetes.io/proxy-read-timeout": str(PROXY_TIMEOUT_SECONDS),
            "nginx.ingress.kubernetes.io/proxy-send-timeout": str(PROXY_TIMEOUT_SECONDS),
            "nginx.ingress.kubernetes.io/proxy-buffering": "off",
            "nginx.ingress.kubernetes.io/proxy-body-size": "16m",
            **rate_limit_annotations(args.options.rate_limit_per_minute),
        },
        service_annotations={},
        allowed_sources=[{
            "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": APP_ROUTING_NAMESPACE}},
            "pod_selector": {"match_expressions": [{
                "key": "app", "operator": "In",
                "values": [f"{prefix}-{n}" for n in range(NGINX_MAX_COLLISIONS + 1)]}]},
        }],
        tls_secret_name=f"{args.options.name}-tls",
    )


def _aks(args: ModelEndpointArgs) -> "AksHandle":
    from ..compute.azure import AksHandle
    assert args.cluster is not None
    handle = args.cluster.handle
    if not isinstance(handle, AksHandle):
        raise TypeError(f"a cluster-mode endpoint on Azure needs an AKS cluster, got {type(handle).__name__}")
    return handle


def entry(request: EntryRequest) -> Entry:
    """The public HTTPS entry: a static IP, the NSG rule for it, the endpoint's NGINX on that IP, a
    Let's Encrypt certificate for every name, and the Ingress (see the module docstring)."""
    from ..compute.azure import LB_IDLE_TIMEOUT_ANNOTATION, PIP_NAME_ANNOTATION, PIP_RESOURCE_GROUP_ANNOTATION
    from ..compute.azure import ingress_addresses, install_cert_manager
    from ..network.azure import allow_https_from_internet, region_zones
    from .workload import standard_ingress
    args, name = request.args, request.name
    assert args.cluster is not None and args.dns_zone is not None  # cluster mode; entry_problems
    cluster, env = args.cluster, args.environment
    handle = _aks(args)
    addresses = ingress_addresses(cluster, handle)
    ip = azure_native.network.PublicIPAddress(
        f"{name}-ingress-ip",
        resource_group_name=addresses.resource_group_name,
        location=args.region,
        sku={"name": azure_native.network.PublicIPAddressSkuName.STANDARD,
             "tier": azure_native.network.PublicIPAddressSkuTier.REGIONAL},
        public_ip_allocation_method=azure_native.network.IPAllocationMethod.STATIC,
        public_ip_address_version=azure_native.network.IPVersion.I_PV4,
        # Zone-redundant (a Standard public IP is in one zone or all of them): the entry's address
        # survives a zone loss, like the load balancer frontend that uses it.
        zones=region_zones(args.region, 3) or None,
        opts=env.child(request.parent))
    address = ip.ip_address.apply(lambda a: a or "")
    allow_https_from_internet(request.parent, name, cluster.args.network, address, env)

    settings = ingress_settings(args)
    k8s_opts = pulumi.ResourceOptions(parent=request.parent, provider=cluster.provider)
    controller = k8s.apiextensions.CustomResource(
        f"{name}-nginx",
        api_version=NGINX_API_VERSION,
        kind="NginxIngressController",
        metadata={"name": settings.class_name, "labels": request.labels},
        spec={
            "ingressClassName": settings.class_name,
            "controllerNamePrefix": controller_prefix(args),
            "httpDisabled": True,
            "loadBalancerAnnotations": {
                PIP_NAME_ANNOTATION: ip.name,
                PIP_RESOURCE_GROUP_ANNOTATION: addresses.resource_group_name,
                LB_IDLE_TIMEOUT_ANNOTATION: str(LB_IDLE_TIMEOUT_MINUTES),
            },
        },
        # The cloud provider may attach the IP only once the cluster identity's role exists.
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[ip, addresses.role])))

    manager = install_cert_manager(cluster, handle, args.dns_zone)
    certificate = k8s.apiextensions.CustomResource(
        f"{name}-certificate",
        api_version="cert-manager.io/v1",
        kind="Certificate",
        metadata={"name": args.options.name, "namespace": request.namespace, "labels": request.labels},
        spec={
            "secretName": settings.tls_secret_name,
            "dnsNames": list(request.hostnames),
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": manager.issuer_name},
            "privateKey": {"rotationPolicy": "Always"},
        },
        opts=pulumi.ResourceOptions.merge(request.opts, pulumi.ResourceOptions(
            depends_on=[manager.release, manager.issuer])))
    standard_ingress(dataclasses.replace(request, opts=pulumi.ResourceOptions.merge(
        request.opts, pulumi.ResourceOptions(depends_on=[controller, certificate]))), settings)
    return Entry(record_type="A", address=address, ip=address)


# ---------------------------------------------------------------------------------------------
# Managed mode
# ---------------------------------------------------------------------------------------------

def instance_type(args: ModelEndpointArgs) -> str:
    """The explicit instance type, else the catalog's VM size for the GPU and count."""
    acc = args.options.accelerator
    if acc.instance_type is not None:
        return acc.instance_type
    assert acc.gpu is not None
    return gpu_machine("azure", acc.gpu, acc.count).name


def endpoint_name(name: str, options_name: str) -> str:
    """`<endpoint>-<hash>`: the scoring host `<name>.<region>.inference.ml.azure.com` is regional."""
    suffix = stable_suffix(f"{name}-endpoint", 8)
    return f"{options_name[: 32 - len(suffix) - 1].rstrip('-')}-{suffix}"


def workspace_name(name: str) -> str:
    """`<name>-mlw-<hash>`, at most 33 characters (the workspace limit)."""
    suffix = stable_suffix(f"{name}-workspace")
    stem = re.sub(r"[^a-zA-Z0-9-]+", "-", f"{name}-mlw")
    return f"{stem[: 33 - len(suffix) - 1].rstrip('-')}-{suffix}"


def _version(*parts: str) -> str:
    """An immutable asset's version: a hash of what it is made of."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _account_id(container_id: str) -> str:
    """`.../storageAccounts/<account>/blobServices/default/containers/<c>` -> the account id."""
    return container_id.split("/blobServices/", 1)[0]


def _account_name(container_id: str) -> str:
    return _account_id(container_id).rsplit("/", 1)[-1]


def _container_name(container_id: str) -> str:
    return container_id.rsplit("/", 1)[-1]


def build_managed(parent: pulumi.Resource, name: str, args: ModelEndpointArgs) -> EndpointOutputs:
    """An Azure ML managed online endpoint serving the custom image with the model mounted."""
    assert args.store is not None  # the front door requires it on Azure: the workspace uses its account
    env = args.environment
    options, model = args.options, args.options.model
    assert model.image is not None
    group = _group(args)
    client = _client(parent)
    container_id = args.store.scope_id

    vault = key_vault(parent, name, env, group, args.region, client.tenant_id)
    logs = azure_native.operationalinsights.Workspace(
        f"{name}-logs",
        resource_group_name=group,
        location=args.region,
        sku={"name": azure_native.operationalinsights.WorkspaceSkuNameEnum.PER_GB2018},
        retention_in_days=env.log_retention_days,
        opts=env.child(parent, stateful=True))
    insights = azure_native.applicationinsights.Component(
        f"{name}-insights",
        resource_group_name=group,
        location=args.region,
        kind="web",
        application_type=azure_native.applicationinsights.ApplicationType.WEB,
        ingestion_mode=azure_native.applicationinsights.IngestionMode.LOG_ANALYTICS,
        workspace_resource_id=logs.id,
        opts=env.child(parent))

    ws_name = workspace_name(name)
    workspace = ml.Workspace(
        f"{name}-workspace",
        workspace_name=ws_name,
        resource_group_name=group,
        location=args.region,
        kind="Default",
        sku={"name": "Basic", "tier": ml.SkuTier.BASIC},
        identity={"type": ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED},
        storage_account=container_id.apply(_account_id),
        key_vault=vault.id,
        application_insights=insights.id,
        # The cell's account has shared keys off: the workspace's own datastores use identity.
        system_datastores_auth_mode=ml.SystemDatastoresAuthMode.IDENTITY,
        public_network_access=ml.PublicNetworkAccessType.ENABLED,
        hbi_workspace=False,
        v1_legacy_mode=False,
        opts=env.child(parent, stateful=True))

    datastore = ml.Datastore(
        f"{name}-datastore",
        name=DATASTORE_NAME,
        resource_group_name=group,
        workspace_name=workspace.name,
        properties={
            "datastore_type": "AzureBlob",
            "account_name": container_id.apply(_account_name),
            "container_name": container_id.apply(_container_name),
            # No stored credential: whoever reads (the endpoint's identity) uses its own Entra token.
            "credentials": {"credentials_type": "None"},
            "description": "The cell's model container (identity-based access).",
        },
        opts=env.child(parent))

    routes: ml.InferenceContainerPropertiesArgsDict = {
        "liveness_route": {"path": model.health_path, "port": model.port},
        "readiness_route": {"path": model.health_path, "port": model.port},
        "scoring_route": {"path": SCORING_PATH, "port": model.port},
    }
    environment = ml.EnvironmentVersion(
        f"{name}-environment",
        name=f"{options.name}-server",
        version=_version(model.image, model.health_path, SCORING_PATH, str(model.port)),
        resource_group_name=group,
        workspace_name=workspace.name,
        properties={
            "image": model.image,
            "os_type": ml.OperatingSystemType.LINUX,
            "inference_config": routes,
            "description": f"Serving image of {options.name}.",
        },
        opts=env.child(parent))

    model_uri = pulumi.Output.concat(
        "azureml://subscriptions/", client.subscription_id, "/resourcegroups/", group,
        "/workspaces/", workspace.name, "/datastores/", datastore.name, "/paths/", model.artifact_path)
    registered = ml.ModelVersion(
        f"{name}-model",
        name=f"{options.name}-model",
        version=_version(model.artifact_path),
        resource_group_name=group,
        workspace_name=workspace.name,
        properties={
            "model_type": "custom_model",
            "model_uri": model_uri,
            "description": f"Artifacts of {options.name} under {model.artifact_path} in the cell's container.",
        },
        opts=env.child(parent))

    ep_name = endpoint_name(name, options.name)
    endpoint = ml.OnlineEndpoint(
        f"{name}-endpoint",
        endpoint_name=ep_name,
        resource_group_name=group,
        workspace_name=workspace.name,
        location=args.region,
        identity={"type": ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED},
        # No traffic here: the `traffic` ARM deployment sets it once the deployment exists.
        properties={"auth_mode": AUTH_MODE, "public_network_access": ml.PublicNetworkAccessType.ENABLED},
        opts=env.child(parent, ignore_changes=["properties.traffic"]))

    azure_native.monitor.DiagnosticSetting(
        f"{name}-endpoint-logs",
        name="endpoint-logs",
        resource_uri=endpoint.id,
        workspace_id=logs.id,
        logs=[{"category": category, "enabled": True} for category in ENDPOINT_LOG_CATEGORIES],
        opts=env.child(parent))

    # Known once the endpoint exists (its system-assigned identity); Azure ML's own grant
    # covers only the workspace's default datastore, not the cell's model container.
    principal = endpoint.identity.apply(lambda i: i.principal_id if i is not None else None)
    reader = _blob_reader(parent, f"{name}-model-reader", args, cast(pulumi.Output[str], principal),
                          client.subscription_id, after=[endpoint])

    deployment = ml.OnlineDeployment(
        f"{name}-deployment",
        deployment_name=DEPLOYMENT_NAME,
        endpoint_name=endpoint.name,
        resource_group_name=group,
        workspace_name=workspace.name,
        location=args.region,
        sku={"name": "Default", "capacity": options.min_replicas},
        # The typed args class, not a dict: `properties` is a union (managed | Kubernetes), and a
        # plain dict reaches the provider with untranslated snake_case keys.
        properties=ml.ManagedOnlineDeploymentArgs(
            endpoint_compute_type=ml.EndpointComputeType.MANAGED.value,
            instance_type=instance_type(args),
            environment_id=environment.id,
            model=registered.id,
            model_mount_path=MODEL_MOUNT_PATH,
            environment_variables={"MODEL_DIR": MODEL_MOUNT_PATH, "MODEL_CACHE_DIR": MODEL_MOUNT_PATH,
                                   "PORT": str(model.port)},
            liveness_probe=ml.ProbeSettingsArgs(**LIVENESS),
            readiness_probe=ml.ProbeSettingsArgs(**READINESS),
            request_settings=_request_settings(args),
            # Managed deployments only know `Default`; Azure Monitor autoscale moves sku.capacity.
            scale_settings=ml.DefaultScaleSettingsArgs(scale_type=ml.ScaleType.DEFAULT.value),
            app_insights_enabled=True,
            # Public images (docker.io, mcr.microsoft.com) are pulled without a private link.
            egress_public_network_access=ml.EgressPublicNetworkAccessType.ENABLED,
        ),
        opts=env.child(parent, depends_on=[reader], deleted_with=endpoint,
                       ignore_changes=["sku.capacity"] if options.max_replicas > options.min_replicas else None))

    traffic = azure_native.resources.Deployment(
        f"{name}-traffic",
        resource_group_name=group,
        properties={"mode": azure_native.resources.DeploymentMode.INCREMENTAL,
                    "template": traffic_template(ws_name, ep_name, args.region, endpoint.tags)},
        opts=env.child(parent, depends_on=[deployment]))

    if options.max_replicas > options.min_replicas:
        _autoscale(parent, name, args, group, endpoint, deployment, after=[traffic])

    if args.alerts is not None:
        # The endpoint's own 5xx count: `RequestsPerMinute` split by `statusCodeClass` (Azure Monitor
        # docs, "Supported metrics for Microsoft.MachineLearningServices/workspaces/onlineEndpoints").
        from ..alerts.azure import metric_alert
        metric_alert(parent, f"{name}-alert-5xx", env, group, args.alerts, scope=endpoint.id,
                     target_type=ENDPOINT_METRICS_NAMESPACE, metric="RequestsPerMinute", aggregation="Average",
                     operator="GreaterThan", threshold=MANAGED_5XX_PER_MINUTE,
                     dimensions=[{"name": "statusCodeClass", "operator": "Include", "values": ["5xx"]}],
                     description=f"{options.name} in {args.region}: the managed endpoint answered 5xx "
                                 f"(more than {MANAGED_5XX_PER_MINUTE:g} a minute on average over 5 minutes)",
                     depends_on=[deployment])

    fallback = f"https://{ep_name}.{args.region}.inference.ml.azure.com{SCORING_PATH}"
    url = endpoint.properties.apply(lambda p: (p.scoring_uri if p is not None and p.scoring_uri else fallback))
    # Managed endpoints answer only authenticated calls; the scoring URI is the one public route.
    return EndpointOutputs(url=url, health_url=url, entry_hostname=None)


def traffic_template(workspace: pulumi.Input[str], endpoint: pulumi.Input[str], location: str,
                     tags: pulumi.Input[Mapping[str, str] | None]) -> dict[str, object]:
    """An ARM template that PUTs the endpoint as the OnlineEndpoint resource declares it, plus traffic."""
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [{
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "apiVersion": ONLINE_ENDPOINT_API_VERSION,
            "name": pulumi.Output.concat(workspace, "/", endpoint),
            "location": location,
            "tags": tags,
            "identity": {"type": "SystemAssigned"},
            "properties": {"authMode": AUTH_MODE, "publicNetworkAccess": "Enabled",
                           "traffic": {DEPLOYMENT_NAME: 100}},
        }],
    }


def _request_settings(args: ModelEndpointArgs) -> ml.OnlineRequestSettingsArgs:
    """Concurrency target -> requests one instance takes at once (more wait in the endpoint's queue)."""
    scaling = args.options.scaling
    concurrent: int | None
    match managed_metric(scaling.metric):
        case "concurrency":
            concurrent = max(1, math.ceil(scaling.target))
        case "invocations":
            concurrent = None
        case _:
            unknown(scaling.metric, "Scaling.metric", MANAGED_METRICS)
    return ml.OnlineRequestSettingsArgs(request_timeout=REQUEST_TIMEOUT,
                                        max_concurrent_requests_per_instance=concurrent)


def _autoscale(parent: pulumi.Resource, name: str, args: ModelEndpointArgs, group: pulumi.Input[str],
               endpoint: ml.OnlineEndpoint, deployment: ml.OnlineDeployment,
               after: list[pulumi.Resource]) -> azure_native.monitor.AutoscaleSetting:
    """Between min and max replicas on the endpoint metric per instance: out above target, in below half."""
    options = args.options
    scaling = options.scaling
    dimensions: list[azure_native.monitor.ScaleRuleMetricDimensionArgsDict]
    match managed_metric(scaling.metric):
        case "invocations":
            metric = "RequestsPerMinute"
            dimensions = [{"dimension_name": "deployment", "operator": "Equals", "values": [DEPLOYMENT_NAME]}]
        case "concurrency":
            metric = "ConnectionsActive"
            dimensions = []
        case _:
            unknown(scaling.metric, "Scaling.metric", MANAGED_METRICS)

    def rule(operator: str, threshold: float, window: str, direction: str,
             cooldown: str) -> azure_native.monitor.ScaleRuleArgsDict:
        trigger: azure_native.monitor.MetricTriggerArgsDict = {
            "metric_name": metric,
            "metric_namespace": ENDPOINT_METRICS_NAMESPACE,
            "metric_resource_uri": endpoint.id,
            "time_grain": "PT1M",
            "statistic": azure_native.monitor.MetricStatisticType.AVERAGE,
            "time_window": window,
            "time_aggregation": azure_native.monitor.TimeAggregationType.AVERAGE,
            "operator": azure_native.monitor.ComparisonOperationType(operator),
            "threshold": threshold,
            "divide_per_instance": True,
        }
        if dimensions:
            trigger["dimensions"] = dimensions
        return {"metric_trigger": trigger,
                "scale_action": {"direction": azure_native.monitor.ScaleDirection(direction),
                                 "type": azure_native.monitor.ScaleType.CHANGE_COUNT,
                                 "value": "1", "cooldown": cooldown}}

    return azure_native.monitor.AutoscaleSetting(
        f"{name}-autoscale",
        resource_group_name=group,
        location=args.region,
        enabled=True,
        target_resource_uri=deployment.id,
        profiles=[{
            "name": "default",
            "capacity": {"minimum": str(options.min_replicas), "maximum": str(options.max_replicas),
                         "default": str(options.min_replicas)},
            # GPU replicas are slow to start and expensive to churn: scale in cautiously.
            "rules": [rule("GreaterThan", scaling.target, "PT5M", "Increase", "PT5M"),
                      rule("LessThan", scaling.target / 2, "PT10M", "Decrease", "PT10M")],
        }],
        opts=args.environment.child(parent, depends_on=after))


# ---------------------------------------------------------------------------------------------
# Shared
# ---------------------------------------------------------------------------------------------

def _group(args: ModelEndpointArgs) -> pulumi.Input[str]:
    assert args.resource_group_name is not None  # the front door requires it on Azure
    return args.resource_group_name


def _blob_reader(parent: pulumi.Resource, resource_name: str, args: ModelEndpointArgs,
                 principal_id: pulumi.Input[str], subscription_id: pulumi.Input[str],
                 after: list[pulumi.Resource] | None = None) -> azure_native.authorization.RoleAssignment:
    """Storage Blob Data Reader on the model's container (RBAC's narrowest scope: no blob prefixes)."""
    assert args.store is not None  # the front door requires it on Azure
    return azure_native.authorization.RoleAssignment(
        resource_name,
        principal_id=principal_id,
        principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=_role(subscription_id, STORAGE_BLOB_DATA_READER),
        scope=args.store.scope_id,
        opts=args.environment.child(parent, depends_on=after or []))
