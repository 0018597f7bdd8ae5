"""KubernetesCluster and GpuNodePool on Azure (AKS).

Cluster children (role names): `identity` (control-plane identity), `network-role`
(Network Contributor on the node subnet), `kv` and `kms-key` (unless a key is given),
`kms-role` (Key Vault Crypto User on the vault), `logs` (Log Analytics workspace),
`aks` (the ManagedCluster), `audit-logs` (diagnostic setting), `deployer-admin`
(AKS RBAC Cluster Admin for the identity running Pulumi).
GPU pool children: `pool` (an AgentPool) and, with an alert channel, `alert-at-max` (a Prometheus rule
group on the cluster's Azure Monitor workspace: the pool at its maximum node count for 15 minutes).

Cluster-level pieces of public entries, created the first time an entry asks (children of the
cluster, see `ingress_addresses` and `install_cert_manager`): `ingress-ips` (a resource group for
the entries' static public IPs) and `ingress-ip-role` (the cluster identity's Network Contributor
on that group only); cert-manager (`cert-manager-namespace`, the pinned Helm chart
`cert-manager`, the ClusterIssuer `cluster-issuer`) with its ACME DNS-01 credentials from the
environment's zone (`DnsZone.acme_dns01`: `acme-*` resources of the zone's cloud) and, for Route 53,
`acme-token-*` (the ServiceAccount whose tokens cert-manager exchanges, and the Role and RoleBinding
that let cert-manager request them).

Only the system pool is inline in the ManagedCluster: pools declared inline and
as AgentPool resources fight each other (pulumi-azure-native #1808), so every
GPU pool is its own AgentPool.

AKS has no deletion protection of its own; the cluster, vault, key and audit
workspace are stateful, so in prod they are protected and retained by Pulumi
(a `pulumi destroy` or a rename cannot delete them).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as k8s
import yaml

from ..catalog.charts import CERT_MANAGER
from ..catalog.gpus import MachineType, system_machine
from ..common import InputError, Problem
from ..common.azure_keyvault import key_vault
from .args import POOL_LABEL, ClusterOutputs, GpuNodePoolArgs, KubernetesClusterArgs

if TYPE_CHECKING:
    from ..dns import DnsZone
    from .cluster import KubernetesCluster

cs = azure_native.containerservice

NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
AKS_AAD_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
"""The application id of the AKS AAD server: the audience kubelogin requests tokens for."""

POD_CIDR = "100.64.0.0/14"
"""Overlay pod range: 1,024 nodes x /24. Shared address space (RFC 6598), so it never overlaps
a VNet range, which NetworkOptions restricts to RFC 1918."""
SERVICE_CIDR = "100.68.0.0/16"
"""Service range, also outside RFC 1918 (AKS's default 10.0.0.0/16 collides with the default VNet)."""
DNS_SERVICE_IP = "100.68.0.10"

CONTROL_PLANE_LOGS = (
    "kube-apiserver", "kube-audit", "kube-audit-admin", "kube-controller-manager",
    "kube-scheduler", "cluster-autoscaler", "guard",
)
"""AKS resource-log categories sent to Log Analytics. `kube-audit` has every audit event
(reads too); `kube-audit-admin` the writes only, for cheaper long-term queries."""

SYSTEM_TAINT = "CriticalAddonsOnly=true:NoSchedule"
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
"""AKS puts this taint on every spot node; declaring it keeps the pool's inputs equal to what AKS reports."""

_KEY_ID = re.compile(r"^https://[a-zA-Z0-9-]{3,24}\.vault\.[a-z0-9.]+/keys/[a-zA-Z0-9-]{1,127}/[a-f0-9]{32}$")
"""A versioned Key Vault key id (any Azure cloud): what AKS KMS takes as `keyId`."""


@dataclass(frozen=True)
class AksHandle:
    """What GPU pools need from an AKS cluster."""

    cluster: azure_native.containerservice.ManagedCluster
    resource_group_name: pulumi.Input[str]
    cluster_name: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    zones: pulumi.Output[list[str]]
    version: str
    identity_principal_id: pulumi.Output[str]
    """The cluster (control-plane) identity: the one the Azure cloud provider acts as for load balancers."""
    subscription_id: pulumi.Output[str]
    name: str = ""
    """The cluster's name as the stack sets it (`_cluster_name`): known in the plan, unlike `cluster_name`,
    for what only names the cluster (the `cluster` label of its metrics)."""


def _role(subscription_id: pulumi.Output[str], role_id: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("/subscriptions/", subscription_id,
                                "/providers/Microsoft.Authorization/roleDefinitions/", role_id)


def _cluster_name(name: str) -> str:
    """`<stack>-<name>`: deterministic (visible in plans), unique per stack, AKS's 63-char limit."""
    return re.sub(r"[^a-zA-Z0-9-]+", "-", f"{pulumi.get_stack()}-{name}")[:63].strip("-")


def _dns_prefix(name: str) -> str:
    return _cluster_name(name)[:54].strip("-")


def _exec_kubeconfig(result: Any) -> str:
    """The user kubeconfig (exec format) with kubelogin switched to the Azure CLI login.

    `listClusterUserCredential` with format `exec` carries the cluster CA and a kubelogin
    exec entry that defaults to device-code login; Pulumi and CI need non-interactive
    `--login azurecli`. Empty when the invoke returned nothing (e.g. an offline plan).
    """
    configs = getattr(result, "kubeconfigs", None) or []
    value = getattr(configs[0], "value", None) if configs else None
    if not value:
        return ""
    text = base64.b64decode(value).decode("utf-8")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if not isinstance(doc, dict):
        return text
    for user in doc.get("users") or []:
        exec_ = ((user or {}).get("user") or {}).get("exec")
        if isinstance(exec_, dict) and exec_.get("command") == "kubelogin":
            exec_["args"] = ["get-token", "--login", "azurecli", "--server-id", AKS_AAD_SERVER_ID]
            exec_.setdefault("interactiveMode", "Never")
    return yaml.safe_dump(doc, sort_keys=False)


def build_cluster(parent: pulumi.Resource, name: str, args: KubernetesClusterArgs) -> ClusterOutputs:
    """An AKS cluster, private unless dev opens it: Entra ID auth only, KMS secrets, audit logs, workload identity.

    Defaults and why: Azure CNI Overlay with the Cilium dataplane and network policy (pods
    take no VNet addresses; policies enforced); egress through the subnet's NAT gateway
    (`userAssignedNATGateway`); local accounts off, Azure RBAC for Kubernetes; patch-level
    auto-upgrades within the pinned minor version and weekly node images; Standard tier
    (uptime SLA) outside dev, Free in dev; the application routing add-on (managed NGINX
    ingress) for the public entry of cluster-mode endpoints.
    """
    env = args.environment
    opts = args.options
    group = args.resource_group_name
    problems: list[Problem] = []
    if group is None:
        problems.append(Problem("KubernetesClusterArgs.resource_group_name", None, "required on Azure", missing=True))
    if opts.secrets_key_id is not None and not _KEY_ID.match(opts.secrets_key_id):
        problems.append(Problem("KubernetesClusterArgs.options.secrets_key_id", opts.secrets_key_id,
                                "allowed: a versioned Key Vault key id, "
                                "https://<vault>.vault.azure.net/keys/<name>/<version>"))
    if problems or group is None:
        raise InputError(f"invalid KubernetesCluster {name!r}", problems)
    subnet_id = args.network.private_subnet_ids[0]
    client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=parent))
    stateful: list[pulumi.Resource] = []

    identity = azure_native.managedidentity.UserAssignedIdentity(
        f"{name}-identity", resource_group_name=group, location=args.region, opts=env.child(parent))
    roles: list[pulumi.Resource] = [azure_native.authorization.RoleAssignment(
        f"{name}-network-role",
        principal_id=identity.principal_id,
        principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=_role(client.subscription_id, NETWORK_CONTRIBUTOR),
        scope=subnet_id,
        opts=env.child(parent))]

    if opts.secrets_key_id is None:
        key_id, new_roles, created = _kms_key(parent, name, args, group, client, identity)
        roles += new_roles
        stateful += created
    else:
        # The vault's resource id is not derivable from a key URL: granting the identity
        # Key Vault Crypto User on that vault is the key owner's job.
        key_id = pulumi.Output.from_input(opts.secrets_key_id)

    workspace = azure_native.operationalinsights.Workspace(
        f"{name}-logs",
        resource_group_name=group,
        location=args.region,
        sku={"name": azure_native.operationalinsights.WorkspaceSkuNameEnum.PER_GB2018},
        retention_in_days=env.log_retention_days,
        opts=env.child(parent, stateful=True))
    stateful.append(workspace)

    system = opts.system_pool
    private = not opts.public_endpoint
    api_server: cs.ManagedClusterAPIServerAccessProfileArgsDict = {"enable_private_cluster": private}
    if private:
        api_server["enable_private_cluster_public_fqdn"] = False
    else:  # set only when public: nulls do not survive a transform
        api_server["authorized_ip_ranges"] = list(opts.public_access_cidrs)
    cluster = cs.ManagedCluster(
        f"{name}-aks",
        resource_name_=_cluster_name(name),
        resource_group_name=group,
        location=args.region,
        dns_prefix=_dns_prefix(name),
        kubernetes_version=opts.version,
        identity={"type": cs.ResourceIdentityType.USER_ASSIGNED,
                  # Through an Output: ARM takes a list of ids here but reports a map back, and a
                  # plan that echoes inputs as outputs must not see the list before it is known.
                  "user_assigned_identities": identity.id.apply(lambda i: [i])},
        agent_pool_profiles=[{
            "name": "system",
            "mode": cs.AgentPoolMode.SYSTEM,
            "type": cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
            "os_type": cs.OSType.LINUX,
            "vm_size": system.machine_type or system_machine("azure").name,
            "orchestrator_version": opts.version,
            "enable_auto_scaling": True,
            "min_count": system.min_nodes,
            "max_count": system.max_nodes,
            "count": system.min_nodes,
            "availability_zones": args.network.zones,
            "vnet_subnet_id": subnet_id,
            # Managed: the default system sizes (Dsv5) have no local disk for an ephemeral OS disk.
            "os_disk_type": cs.OSDiskType.MANAGED,
            "os_disk_size_gb": 128,
            "enable_node_public_ip": False,
            "node_taints": [SYSTEM_TAINT],
            "node_labels": {POOL_LABEL: "system"},
            "scale_set_priority": cs.ScaleSetPriority.REGULAR,
            "upgrade_settings": {"max_surge": "33%"},
        }],
        api_server_access_profile=api_server,
        oidc_issuer_profile={"enabled": True},
        # Azure Monitor managed Prometheus (the ama-metrics add-on): scrapes the cluster and the model
        # servers into the cell's Azure Monitor workspace, through the data collection rule that
        # components/metrics/azure.py associates with this cluster (Azure Monitor docs, "Enable
        # Prometheus with ARM template": `azureMonitorProfile.metrics.enabled`).
        azure_monitor_profile={"metrics": {"enabled": True}},
        # The managed KEDA add-on (AKS docs, "Install the KEDA add-on with an ARM template":
        # `workloadAutoScalerProfile.keda.enabled`): scales each cluster-mode endpoint on its server's
        # metric read back from that workspace (components/metrics/azure.py).
        workload_auto_scaler_profile={"keda": {"enabled": True}},
        # The application routing add-on (managed NGINX). Each public entry gets an NGINX of its own
        # (an NginxIngressController with its static IP, serving/azure.py); the add-on's default
        # controller, a public load balancer with a dynamic IP that nothing uses, is not created
        # (`None`: AKS docs, "Advanced NGINX ingress controller and ingress configurations with the
        # application routing add-on", "Control the default NGINX ingress controller configuration").
        ingress_profile={"web_app_routing": {
            "enabled": True,
            "nginx": {"default_ingress_controller_type": cs.NginxIngressControllerType.NONE}}},
        security_profile={
            "workload_identity": {"enabled": True},
            "azure_key_vault_kms": {
                "enabled": True,
                "key_id": key_id,
                # Public vault reached over Azure's backbone; a private vault needs API server
                # VNet integration, which this component does not set up.
                "key_vault_network_access": cs.KeyVaultNetworkAccessTypes.PUBLIC,
            },
            "image_cleaner": {"enabled": True, "interval_hours": 168},
        },
        disable_local_accounts=True,
        enable_rbac=True,
        aad_profile={"managed": True, "enable_azure_rbac": True, "tenant_id": client.tenant_id},
        network_profile={
            "network_plugin": cs.NetworkPlugin.AZURE,
            "network_plugin_mode": cs.NetworkPluginMode.OVERLAY,
            "network_dataplane": cs.NetworkDataplane.CILIUM,
            "network_policy": cs.NetworkPolicy.CILIUM,
            "outbound_type": cs.OutboundType.USER_ASSIGNED_NAT_GATEWAY,
            "load_balancer_sku": cs.LoadBalancerSku.STANDARD,
            "pod_cidr": POD_CIDR,
            "service_cidr": SERVICE_CIDR,
            "dns_service_ip": DNS_SERVICE_IP,
        },
        auto_upgrade_profile={"upgrade_channel": cs.UpgradeChannel.PATCH,
                              "node_os_upgrade_channel": cs.NodeOSUpgradeChannel.NODE_IMAGE},
        sku={"name": cs.ManagedClusterSKUName.BASE,
             "tier": cs.ManagedClusterSKUTier.FREE if env.name == "dev" else cs.ManagedClusterSKUTier.STANDARD},
        opts=env.child(parent, stateful=True, depends_on=roles,
                       # The autoscaler owns the node count; Pulumi must not reset it.
                       ignore_changes=["agentPoolProfiles[0].count"]))
    stateful.append(cluster)

    azure_native.monitor.DiagnosticSetting(
        f"{name}-audit-logs",
        name="control-plane-logs",
        resource_uri=cluster.id,
        workspace_id=workspace.id,
        log_analytics_destination_type="Dedicated",
        logs=[{"category": category, "enabled": True} for category in CONTROL_PLANE_LOGS],
        opts=env.child(parent))

    # Local accounts are off, so whoever runs Pulumi needs an Azure RBAC role to install the
    # device plugin through the cluster's Kubernetes provider.
    admin = azure_native.authorization.RoleAssignment(
        f"{name}-deployer-admin",
        principal_id=client.object_id,
        role_definition_id=_role(client.subscription_id, AKS_RBAC_CLUSTER_ADMIN),
        scope=cluster.id,
        opts=env.child(parent))

    credentials = cs.list_managed_cluster_user_credentials_output(
        resource_group_name=group, resource_name=cluster.name, format="exec",
        opts=pulumi.InvokeOutputOptions(parent=parent, depends_on=[admin]))
    kubeconfig = credentials.apply(_exec_kubeconfig)

    fqdn = cluster.private_fqdn if private else cluster.fqdn
    endpoint = fqdn.apply(lambda host: f"https://{host}" if host else "")
    oidc_issuer = cluster.oidc_issuer_profile.apply(lambda p: (p.issuer_url or "") if p else "")
    handle = AksHandle(cluster=cluster, resource_group_name=group, cluster_name=cluster.name, name=_cluster_name(name),
                       subnet_id=subnet_id, zones=args.network.zones, version=opts.version,
                       identity_principal_id=identity.principal_id, subscription_id=client.subscription_id)
    return ClusterOutputs(name=cluster.name, endpoint=endpoint, oidc_issuer=oidc_issuer,
                          kubeconfig=kubeconfig, handle=handle, stateful=stateful)


def _kms_key(parent: pulumi.Resource, name: str, args: KubernetesClusterArgs, group: pulumi.Input[str],
             client: pulumi.Output[Any], identity: azure_native.managedidentity.UserAssignedIdentity,
             ) -> tuple[pulumi.Output[str], list[pulumi.Resource], list[pulumi.Resource]]:
    """A Key Vault and an RSA key for secrets encryption, and the identity's right to use it.

    The vault uses Azure RBAC and purge protection (a deleted key cannot be purged while the
    cluster's secrets depend on it; its name stays reserved for the 90-day retention, so a
    torn-down stack cannot recreate it sooner). The key rotates every 180 days; AKS keeps
    using the version it was given until the next `pulumi up` after a refresh moves it to
    the new version (old versions stay enabled, so nothing breaks in between).
    """
    env = args.environment
    vault = key_vault(parent, name, env, group, args.region, client.tenant_id)
    key = azure_native.keyvault.Key(
        f"{name}-kms-key",
        key_name="kms",
        resource_group_name=group,
        vault_name=vault.name,
        properties={
            "kty": azure_native.keyvault.JsonWebKeyType.RSA,
            "key_size": 2048,
            "key_ops": [azure_native.keyvault.JsonWebKeyOperation.ENCRYPT,
                        azure_native.keyvault.JsonWebKeyOperation.DECRYPT,
                        azure_native.keyvault.JsonWebKeyOperation.WRAP_KEY,
                        azure_native.keyvault.JsonWebKeyOperation.UNWRAP_KEY],
            "rotation_policy": {
                "attributes": {"expiry_time": "P2Y"},
                "lifetime_actions": [
                    {"action": {"type": azure_native.keyvault.KeyRotationPolicyActionType.ROTATE},
                     "trigger": {"time_after_create": "P180D"}},
                    {"action": {"type": azure_native.keyvault.KeyRotationPolicyActionType.NOTIFY},
                     "trigger": {"time_before_expiry": "P30D"}},
                ],
            },
        },
        opts=env.child(parent, stateful=True))
    role = azure_native.authorization.RoleAssignment(
        f"{name}-kms-role",
        principal_id=identity.principal_id,
        principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=_role(client.subscription_id, KEY_VAULT_CRYPTO_USER),
        scope=vault.id,
        opts=env.child(parent))
    return key.key_uri_with_version, [role], [vault, key]


def build_gpu_pool(parent: pulumi.Resource, name: str, args: GpuNodePoolArgs, machine: MachineType) -> pulumi.Output[str]:
    """A GPU AgentPool: autoscaling from `min_nodes` (0 allowed), drivers installed by AKS.

    No availability zones: GPU sizes are often offered in only some of a region's zones,
    and a pool pinned to zones without capacity fails to scale. Spot pools evict by
    deleting (nothing to pay for while evicted) at up to the on-demand price, and carry
    no surge setting (AKS rejects max surge on spot pools).
    """
    handle = args.cluster.handle
    if not isinstance(handle, AksHandle):
        raise TypeError(f"GpuNodePool {name!r} on Azure needs an AKS cluster, got handle {type(handle).__name__}")
    env = args.environment
    o = args.options
    taints = [f"{t.key}={t.value}:{t.effect}" for t in o.node_taints()]
    spot: dict[str, Any] = {}
    if o.spot:
        taints.append(SPOT_TAINT)
        spot = {"scale_set_priority": cs.ScaleSetPriority.SPOT,
                "scale_set_eviction_policy": cs.ScaleSetEvictionPolicy.DELETE,
                "spot_max_price": -1}
    else:
        spot = {"scale_set_priority": cs.ScaleSetPriority.REGULAR,
                "upgrade_settings": {"max_surge": "1"}}
    pool = cs.AgentPool(
        f"{name}-pool",
        resource_group_name=handle.resource_group_name,
        resource_name_=handle.cluster_name,
        agent_pool_name=o.name,
        mode=cs.AgentPoolMode.USER,
        type=cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
        os_type=cs.OSType.LINUX,
        vm_size=machine.name,
        orchestrator_version=handle.version,
        enable_auto_scaling=True,
        min_count=o.min_nodes,
        max_count=o.max_nodes,
        count=o.min_nodes,
        node_taints=taints,
        node_labels=o.node_labels(),
        # Explicit: AKS installs the NVIDIA driver; the device plugin comes from the front door.
        gpu_profile={"driver": cs.GPUDriver.INSTALL},
        vnet_subnet_id=handle.subnet_id,
        os_disk_type=cs.OSDiskType.MANAGED,
        os_disk_size_gb=200,
        enable_node_public_ip=False,
        **spot,
        opts=env.child(parent, ignore_changes=["count"]))
    if args.alerts is not None:
        _at_max_alert(parent, name, args, handle, o.name, o.max_nodes)
    return pool.name


AT_MAX_SECONDS = 900
"""A GPU pool at its maximum node count this long raises an alert: more demand would wait for capacity."""


def at_max_query(pool: str, max_nodes: int) -> str:
    """PromQL that holds while the pool has `max_nodes` nodes or more: kube-state-metrics' `kube_node_info`
    (kept by the ama-metrics add-on's minimal ingestion profile: Azure/prometheus-collector
    otelcollector/configmapparser/tomlparser-default-targets-metrics-keep-list.rb, kubestate regex) per node,
    its nodes named `aks-<pool>-<id>-vmss<instance>` by AKS (pool names are lowercase alphanumerics, so
    `aks-<pool>-` names this pool only). The cluster's Azure Monitor workspace holds this cluster's series
    only (components/metrics/azure.py), so no `cluster` label is matched."""
    return f'count(kube_node_info{{node=~"aks-{pool}-.*"}}) >= {max_nodes}'


def _at_max_alert(parent: pulumi.Resource, name: str, args: GpuNodePoolArgs, handle: AksHandle, pool: str,
                  max_nodes: int) -> None:
    """A Prometheus alert rule (`alert-at-max`) on the cluster's Azure Monitor workspace: the pool at its
    maximum node count for AT_MAX_SECONDS, to the channel's action group. The cluster's managed
    Prometheus (components/metrics/azure.py) has every node by name, so the rule needs no per-pool
    platform metric and lives beside the endpoints' rules."""
    assert args.alerts is not None
    from ..metrics import AlertRuleRequest
    assert args.metrics is not None  # the front door requires it with alerts (POOL_ALERT_NEEDS_METRICS)
    args.metrics.alert(AlertRuleRequest(
        parent=parent, name=f"{name}-alert-at-max",
        title=f"GPU pool {pool} of {args.cluster.logical_name}: at its maximum of {max_nodes} nodes for 15 minutes",
        expression=at_max_query(pool, max_nodes),
        for_seconds=AT_MAX_SECONDS, channel=args.alerts))


# --- Public entries: the address group and cert-manager ----------------------------------------------

SYSTEM_NODES = {"kubernetes.io/os": "linux", POOL_LABEL: "system"}
SYSTEM_TOLERATIONS = [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]
"""Cluster add-ons run on the system pool, whose nodes carry SYSTEM_TAINT; GPU nodes are tainted too,
so a pod without this toleration would never schedule."""


@dataclass(frozen=True)
class IngressAddresses:
    """Where a cluster's entries keep their static public IPs."""

    resource_group_name: pulumi.Output[str]
    role: azure_native.authorization.RoleAssignment
    """The cluster identity's Network Contributor on that group: the cloud provider may attach them."""


_INGRESS_ADDRESSES: dict[int, tuple[AksHandle, IngressAddresses]] = {}
"""One address group per cluster, keyed by the id of its AksHandle (kept alive here, so ids are not reused)."""


def ingress_addresses(cluster: "KubernetesCluster", handle: AksHandle) -> IngressAddresses:
    """A resource group for the static public IPs of the cluster's entries, made on first use, and the
    cluster identity's Network Contributor on that group and nothing else.

    A LoadBalancer Service that names a public IP in another resource group
    (`service.beta.kubernetes.io/azure-load-balancer-resource-group`) needs the cluster identity to
    hold delegated permissions there: AKS documents Network Contributor on the IP's resource group
    (AKS docs, "Use a static public IP address and DNS label with the AKS load balancer" and
    "Advanced NGINX ingress controller ... configurations", "Create an NGINX ingress controller with a
    static IP address"). The group, not the IP alone: the cloud provider lists the public IPs of that
    group to find the one named (kubernetes-sigs/cloud-provider-azure pkg/provider/azure_publicip_repo.go
    `findMatchedPIP` -> `listPIP(ctx, pipResourceGroup, ...)`), which a role on one IP does not allow. So
    the IPs get a group of their own: the role reaches nothing but entry addresses (not the cell's
    VNet, NSG or NAT gateway), without a custom role definition.
    """
    found = _INGRESS_ADDRESSES.get(id(handle))
    if found is not None:
        return found[1]
    name, env = cluster.logical_name, cluster.args.environment
    # Protected and retained in prod like every resource group (policy protect-stateful-resources).
    group = azure_native.resources.ResourceGroup(
        f"{name}-ingress-ips", location=cluster.args.region, opts=env.child(cluster, stateful=True))
    role = azure_native.authorization.RoleAssignment(
        f"{name}-ingress-ip-role",
        principal_id=handle.identity_principal_id,
        principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=_role(handle.subscription_id, NETWORK_CONTRIBUTOR),
        scope=group.id,
        opts=env.child(cluster))
    addresses = IngressAddresses(resource_group_name=group.name, role=role)
    _INGRESS_ADDRESSES[id(handle)] = (handle, addresses)
    return addresses


CERT_MANAGER_NAMESPACE = "cert-manager"
CERT_MANAGER_SERVICE_ACCOUNT = "cert-manager"
"""The controller's ServiceAccount (named explicitly in the chart values, so federation subjects and
RoleBindings can name it)."""
CLUSTER_ISSUER = "letsencrypt"
LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"
"""Let's Encrypt production, in every environment. Staging certificates chain to an untrusted root, so
clients (and anything checking the path end to end) would reject a dev entry; the production limits
(50 new certificates per registered domain and 5 for the same names per week, Let's Encrypt "Rate
Limits") are far above what a stack's few entries use, since a certificate is renewed, not re-issued,
on every `pulumi up`."""


@dataclass(frozen=True)
class CertManager:
    """cert-manager on one cluster, with the ClusterIssuer entries' Certificates name."""

    release: k8s.helm.v3.Release
    issuer: k8s.apiextensions.CustomResource
    issuer_name: str
    zone: "DnsZone"


_CERT_MANAGERS: dict[int, tuple[AksHandle, CertManager]] = {}
"""One cert-manager per cluster, keyed by the id of its AksHandle (kept alive here)."""


def cert_manager_values(pod_labels: dict[str, str],
                        service_account_annotations: dict[str, pulumi.Input[str]]) -> dict[str, Any]:
    """Chart values: CRDs with the chart (kept on uninstall), two controllers and webhooks with
    disruption budgets, every component on the system pool, the DNS-01 identity's labels and annotations.
    Keys from the chart's values.yaml at CERT_MANAGER.version (`crds.enabled`, `crds.keep`, `podLabels`,
    `serviceAccount.annotations`, per-component `nodeSelector` and `tolerations`)."""
    placement = {"nodeSelector": dict(SYSTEM_NODES), "tolerations": list(SYSTEM_TOLERATIONS)}
    return {
        "crds": {"enabled": True, "keep": True},
        "replicaCount": 2,
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "serviceAccount": {"create": True, "name": CERT_MANAGER_SERVICE_ACCOUNT,
                           "annotations": dict(service_account_annotations)},
        "podLabels": dict(pod_labels),
        **placement,
        "webhook": {"replicaCount": 2, "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}, **placement},
        "cainjector": dict(placement),
        "startupapicheck": dict(placement),
    }


def install_cert_manager(cluster: "KubernetesCluster", handle: AksHandle, zone: "DnsZone") -> CertManager:
    """cert-manager on `cluster` with a ClusterIssuer for Let's Encrypt that proves names with ACME
    DNS-01 in `zone`, installed the first time an entry asks for it.

    The zone's provider decides the credentials (`DnsZone.acme_dns01`: an IAM role trusted through an
    OIDC provider for the cluster's issuer on Route 53, a federated user-assigned identity on Azure
    DNS). DNS-01, not HTTP-01: the global names round-robin across clouds, so an HTTP-01 challenge for
    them would reach another cloud's entry half the time; and the entry serves no port 80. The
    challenges need the zone delegated to its name servers (exported as `dns.name_servers`): until
    then orders stay pending and NGINX serves its default certificate.
    """
    found = _CERT_MANAGERS.get(id(handle))
    if found is not None:
        if found[1].zone is not zone:
            raise InputError("cert-manager", [Problem("ModelEndpointArgs.dns_zone", zone.zone_name,
                                                      f"allowed: {found[1].zone.zone_name!r}, the zone the "
                                                      "cluster's ClusterIssuer already uses")])
        return found[1]
    from ..dns import AcmeClient
    name = cluster.logical_name
    k8s_opts = pulumi.ResourceOptions(parent=cluster, provider=cluster.provider)
    dns01 = zone.acme_dns01(cluster, AcmeClient(
        cluster_cloud="azure", issuer_url=cluster.oidc_issuer, namespace=CERT_MANAGER_NAMESPACE,
        service_account=CERT_MANAGER_SERVICE_ACCOUNT, region=cluster.args.region, name=name))
    labels = {"app.kubernetes.io/part-of": "aiinfra", "app.kubernetes.io/managed-by": "pulumi"}
    namespace = k8s.core.v1.Namespace(
        f"{name}-cert-manager-namespace",
        metadata={"name": CERT_MANAGER_NAMESPACE,
                  "labels": {**labels, "pod-security.kubernetes.io/enforce": "restricted",
                             "pod-security.kubernetes.io/audit": "restricted"}},
        opts=k8s_opts)
    in_namespace = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[namespace]))
    token_access: list[pulumi.Resource] = []
    if dns01.token_service_account is not None:
        token_access = _token_request_access(name, dns01.token_service_account, labels, in_namespace)
    release = k8s.helm.v3.Release(
        f"{name}-cert-manager",
        name="cert-manager",
        namespace=CERT_MANAGER_NAMESPACE,
        chart=CERT_MANAGER.name,
        version=CERT_MANAGER.version,
        repository_opts={"repo": CERT_MANAGER.repo},
        values=cert_manager_values(dns01.pod_labels, dns01.service_account_annotations),
        atomic=True,
        cleanup_on_fail=True,
        max_history=10,
        timeout=600,
        opts=pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=dns01.depends_on)))
    issuer = k8s.apiextensions.CustomResource(
        f"{name}-cluster-issuer",
        api_version="cert-manager.io/v1",
        kind="ClusterIssuer",
        metadata={"name": CLUSTER_ISSUER, "labels": labels},
        spec={"acme": {
            "server": LETS_ENCRYPT_DIRECTORY,
            "privateKeySecretRef": {"name": f"{CLUSTER_ISSUER}-account-key"},
            "solvers": [{"selector": {"dnsZones": [zone.zone_name]}, "dns01": dns01.solver}],
        }},
        # The CRDs come with the release; the credentials must exist before the first challenge.
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(
            depends_on=[release, *token_access, *dns01.depends_on])))
    manager = CertManager(release=release, issuer=issuer, issuer_name=CLUSTER_ISSUER, zone=zone)
    _CERT_MANAGERS[id(handle)] = (handle, manager)
    return manager


def _token_request_access(name: str, service_account: str, labels: dict[str, str],
                          opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
    """The ServiceAccount whose tokens cert-manager exchanges for cloud credentials, and the right to request
    them: `create` on `serviceaccounts/token` for that one name, bound to cert-manager's own account (cert-manager
    docs, "Route53", "IAM Role with dedicated Kubernetes ServiceAccount"). A ClusterIssuer requests tokens in
    cert-manager's namespace (its cluster resource namespace)."""
    account = k8s.core.v1.ServiceAccount(
        f"{name}-acme-token-account",
        metadata={"name": service_account, "namespace": CERT_MANAGER_NAMESPACE, "labels": labels},
        automount_service_account_token=False,
        opts=opts)
    role = k8s.rbac.v1.Role(
        f"{name}-acme-token-role",
        metadata={"name": f"{service_account}-tokenrequest", "namespace": CERT_MANAGER_NAMESPACE, "labels": labels},
        rules=[{"api_groups": [""], "resources": ["serviceaccounts/token"], "resource_names": [service_account],
                "verbs": ["create"]}],
        opts=opts)
    binding = k8s.rbac.v1.RoleBinding(
        f"{name}-acme-token-binding",
        metadata={"name": f"cert-manager-{service_account}-tokenrequest", "namespace": CERT_MANAGER_NAMESPACE,
                  "labels": labels},
        subjects=[{"kind": "ServiceAccount", "name": CERT_MANAGER_SERVICE_ACCOUNT,
                   "namespace": CERT_MANAGER_NAMESPACE}],
        role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{service_account}-tokenrequest"},
        opts=opts)
    return [account, role, binding]


PIP_NAME_ANNOTATION = "service.beta.kubernetes.io/azure-pip-name"
PIP_RESOURCE_GROUP_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-resource-group"
LB_IDLE_TIMEOUT_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout"
"""LoadBalancer Service annotations of the Azure cloud provider (kubernetes-sigs/cloud-provider-azure
pkg/consts/consts.go): the public IP by name, the resource group it is in, the TCP idle timeout in minutes."""
