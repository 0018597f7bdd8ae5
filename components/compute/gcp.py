"""KubernetesCluster and GpuNodePool on GCP: a private, regional GKE Standard cluster and its node pools.

Cluster children (role names): `nodes` (node service account) and one
`nodes-<role>` project IAM member per role it holds, `keyring` and
`secrets-key` (unless `secrets_key_id` is given), `secrets-key-gke` (the GKE
service agent's use of the key), `gke` (the cluster), `system` (the system
node pool). A GPU pool is one node pool, `pool`, under its GpuNodePool, and with an alert channel
`alert-at-max`: a Cloud Monitoring alert policy when the pool's instance groups hold `max_nodes`
VMs for 15 minutes (`compute.googleapis.com/instance_group/size` summed over its zones).

Choices, and why:
* Nodes run as their own service account holding only what nodes need (logs,
  metrics, resource metadata, image pulls), never the Compute Engine default
  account (Editor on the project). Workload Identity and the GKE metadata
  server keep pods off the node's identity.
* Kubernetes secrets are envelope-encrypted in etcd with a Cloud KMS key in the
  cluster's region, rotated every 90 days. Cloud KMS keys and key rings cannot
  be deleted (only a key's versions destroyed), so they are auto-named (a
  re-created stack gets new ones instead of a name clash) and, like the
  cluster, protected and retained in prod.
* Private nodes and, unless `public_endpoint`, a private control-plane
  endpoint. No `master_ipv4_cidr_block`: without it current GKE connects the
  control plane over Private Service Connect, with no /28 to pick that could
  collide with the network's range. A public endpoint (dev only) admits only
  `public_access_cidrs`, never Google Cloud's public ranges.
* The version is the control plane's minimum (`min_master_version`) on the
  REGULAR release channel: node pools follow the cluster, GKE applies patches
  in place; it moves to a newer minor only when REGULAR's auto-upgrade target
  does, so bump `version` deliberately before then.
* Dataplane V2 (`ADVANCED_DATAPATH`) enforces NetworkPolicy; shielded nodes
  with secure boot and integrity monitoring; no client certificate; control
  plane and workload logs (`APISERVER` is the API server's log; Admin Activity
  audit logs are always on in Cloud Audit Logs); managed Prometheus with
  control-plane metrics, plus DCGM GPU metrics from 1.30.
* The Gateway API on its standard channel (`gateway_api_config.channel: CHANNEL_STANDARD`): GKE
  installs the Gateway API CRDs and its managed GatewayClasses, `gke-l7-global-external-managed`
  among them, which the cluster-mode endpoints' entries use (components/serving/gcp.py). The
  Gateway controller also needs the HTTP load balancing add-on, on by default and stated here.
  The channel is updated in place (terraform-provider-google resource_container_cluster:
  `gateway_api_config.channel` is not ForceNew; values CHANNEL_DISABLED, CHANNEL_EXPERIMENTAL,
  CHANNEL_STANDARD). Source: GKE docs, "Deploying Gateways" (enable the Gateway API) and
  "Configure Gateway resources using Policies" (requirements: VPC-native, HttpLoadBalancing).
* Deletion protection in prod only (pulumi-gcp defaults it on everywhere, which
  would block tearing down dev and staging).
* 64 pods per node (a /25 each), so the network's /17 pod range holds 256 nodes.
* GPU pools: GKE installs the NVIDIA driver (`LATEST` for the node version; an
  unset driver version installs none) and runs its own device plugin. They
  autoscale over the region's zones with location policy `ANY`, which takes
  scarce GPUs wherever they are free.
* `initial_node_count` is per zone; GKE spreads a regional pool over three
  zones by default, so it is the minimum divided by three, rounded up, and
  ignored after creation so that applying never fights the autoscaler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_gcp as gcp
import yaml

from ..catalog.gpus import MachineType, system_machine
from ..common.naming import global_name
from .args import POOL_LABEL, ClusterOutputs, GpuNodePoolArgs, KubernetesClusterArgs, Taint

NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
"""Everything a GKE node's service account needs: write logs and metrics, pull images."""

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
"""Node OAuth scope: IAM, not scopes, decides what the node account may do."""

KEY_ROTATION = "7776000s"
"""Secrets key rotation period: 90 days."""

MAX_PODS_PER_NODE = 64
"""A /25 of the pod range per node: the network's /17 pod range holds 256 nodes."""

DEFAULT_ZONES = 3
"""Zones GKE spreads a regional node pool over unless told otherwise."""

GATEWAY_API_CHANNEL = "CHANNEL_STANDARD"
"""The Gateway API release channel GKE installs (standard: the v1 Gateway, HTTPRoute and GKE's classes)."""

_TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE",
                  "NoExecute": "NO_EXECUTE"}


@dataclass(frozen=True)
class GkeHandle:
    """What GPU node pools need from a GKE cluster."""

    cluster: gcp.container.Cluster
    cluster_name: pulumi.Output[str]
    cluster_id: pulumi.Output[str]
    node_service_account: pulumi.Output[str]
    """Email of the nodes' service account."""
    node_roles: tuple[pulumi.Resource, ...]
    """The account's IAM grants: pools wait for them, so nodes can log and pull images at boot."""
    project: str
    region: str


def _per_zone(total: int) -> int:
    return math.ceil(total / DEFAULT_ZONES)


def _shielded() -> gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgsDict:
    return {"enable_secure_boot": True, "enable_integrity_monitoring": True}


def _taints(taints: Sequence[Taint]) -> list[gcp.container.NodePoolNodeConfigTaintArgsDict]:
    return [{"key": t.key, "value": t.value, "effect": _TAINT_EFFECTS[t.effect]} for t in taints]


def _kubeconfig(context: str, endpoint: str, ca: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": f"https://{endpoint}",
                                                   "certificate-authority-data": ca}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [{"name": context, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
            "installHint": "Install gke-gcloud-auth-plugin: "
                           "gcloud components install gke-gcloud-auth-plugin",
        }}}],
    }, sort_keys=False)


def _secrets_key(parent: pulumi.Resource, name: str, args: KubernetesClusterArgs,
                 project: str) -> tuple[pulumi.Input[str], list[pulumi.Resource]]:
    """The Cloud KMS key for secrets (created unless given) and the created key resources."""
    env = args.environment
    if args.options.secrets_key_id is not None:
        return args.options.secrets_key_id, []
    ring = gcp.kms.KeyRing(
        f"{name}-keyring",
        project=project,
        location=args.region,
        opts=env.child(parent, stateful=True))
    key = gcp.kms.CryptoKey(
        f"{name}-secrets-key",
        key_ring=ring.id,
        purpose="ENCRYPT_DECRYPT",
        rotation_period=KEY_ROTATION,
        opts=env.child(parent, stateful=True))
    return key.id, [ring, key]


def build_cluster(parent: pulumi.Resource, name: str, args: KubernetesClusterArgs) -> ClusterOutputs:
    env = args.environment
    opts = args.options
    project = args.project
    assert project  # the front door requires it, a GCP network and a key in the region
    region = args.region
    pods_range, services_range = args.network.pods_range_name, args.network.services_range_name

    # Node identity: least privilege instead of the Compute Engine default account.
    node_sa = gcp.serviceaccount.Account(
        f"{name}-nodes",
        account_id=global_name(f"{name}-nodes", max_length=30),
        display_name=f"GKE nodes of {name}",
        project=project,
        opts=env.child(parent))
    node_roles = tuple(
        gcp.projects.IAMMember(
            f"{name}-nodes-{role.split('/')[-1].replace('.', '-').lower()}",
            project=project,
            role=role,
            member=node_sa.email.apply(lambda email: f"serviceAccount:{email}"),
            opts=env.child(parent))
        for role in NODE_ROLES)

    # Secrets envelope encryption; the GKE service agent must be able to use the key.
    key_name, key_resources = _secrets_key(parent, name, args, project)
    project_number = gcp.organizations.get_project_output(
        project_id=project, opts=pulumi.InvokeOutputOptions(parent=parent)).number
    key_user = gcp.kms.CryptoKeyIAMMember(
        f"{name}-secrets-key-gke",
        crypto_key_id=key_name,
        role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
        member=project_number.apply(
            lambda number: f"serviceAccount:service-{number}@container-engine-robot.iam.gserviceaccount.com"),
        opts=env.child(parent))

    minor = int(opts.version.split(".")[1])
    authorized: gcp.container.ClusterMasterAuthorizedNetworksConfigArgsDict = {
        "cidr_blocks": [{"cidr_block": cidr, "display_name": f"public-access-{i}"}
                        for i, cidr in enumerate(opts.public_access_cidrs)] if opts.public_endpoint else [],
        "gcp_public_cidrs_access_enabled": False,
    }
    cluster = gcp.container.Cluster(
        f"{name}-gke",
        name=global_name(name, max_length=40),
        project=project,
        location=region,
        network=args.network.network_id,
        subnetwork=args.network.private_subnet_ids[0],
        networking_mode="VPC_NATIVE",
        ip_allocation_policy={"cluster_secondary_range_name": pods_range,
                              "services_secondary_range_name": services_range},
        default_max_pods_per_node=MAX_PODS_PER_NODE,
        remove_default_node_pool=True,
        initial_node_count=1,
        # The default pool lives only until it is removed; even then it must not run as the
        # Compute Engine default account (often disabled by organization policy).
        node_config={
            "service_account": node_sa.email,
            "oauth_scopes": [CLOUD_PLATFORM],
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "workload_metadata_config": {"mode": "GKE_METADATA"},
        },
        private_cluster_config={"enable_private_nodes": True,
                                "enable_private_endpoint": not opts.public_endpoint},
        master_authorized_networks_config=authorized,
        master_auth={"client_certificate_config": {"issue_client_certificate": False}},
        min_master_version=opts.version,
        release_channel={"channel": "REGULAR"},
        workload_identity_config={"workload_pool": f"{project}.svc.id.goog"},
        database_encryption={"state": "ENCRYPTED", "key_name": key_name},
        logging_config={"enable_components": ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER",
                                              "SCHEDULER", "WORKLOADS"]},
        monitoring_config={
            "enable_components": ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER",
                                  *(["DCGM"] if minor >= 30 else [])],
            "managed_prometheus": {"enabled": True},
        },
        enable_shielded_nodes=True,
        datapath_provider="ADVANCED_DATAPATH",
        gateway_api_config={"channel": GATEWAY_API_CHANNEL},
        addons_config={"http_load_balancing": {"disabled": False}},
        deletion_protection=env.is_prod,
        opts=env.child(parent, stateful=True, depends_on=[key_user],
                       ignore_changes=["nodeConfig", "initialNodeCount"]))

    system = opts.system_pool
    gcp.container.NodePool(
        f"{name}-system",
        project=project,
        location=region,
        cluster=cluster.name,
        initial_node_count=_per_zone(system.min_nodes),
        autoscaling={"total_min_node_count": system.min_nodes, "total_max_node_count": system.max_nodes,
                     "location_policy": "BALANCED"},
        management={"auto_repair": True, "auto_upgrade": True},
        node_config={
            "machine_type": system_machine("gcp", system.machine_type).name,
            "image_type": "COS_CONTAINERD",
            "disk_type": "pd-balanced",
            "disk_size_gb": 100,
            "service_account": node_sa.email,
            "oauth_scopes": [CLOUD_PLATFORM],
            "labels": {POOL_LABEL: "system"},
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": _shielded(),
        },
        opts=env.child(parent, depends_on=list(node_roles), ignore_changes=["initialNodeCount"]))

    context = f"gke_{project}_{region}_{name}"
    kubeconfig = pulumi.Output.all(cluster.endpoint, cluster.master_auth.cluster_ca_certificate).apply(
        lambda parts: _kubeconfig(context, str(parts[0]), str(parts[1])))
    oidc_issuer = cluster.name.apply(
        lambda cluster_name: f"https://container.googleapis.com/v1/projects/{project}/locations/{region}"
                             f"/clusters/{cluster_name}")
    handle = GkeHandle(cluster=cluster, cluster_name=cluster.name, cluster_id=cluster.id,
                       node_service_account=node_sa.email, node_roles=node_roles,
                       project=project, region=region)
    return ClusterOutputs(name=cluster.name, endpoint=cluster.endpoint, oidc_issuer=oidc_issuer,
                          kubeconfig=kubeconfig, handle=handle, stateful=[*key_resources, cluster])


def build_gpu_pool(parent: pulumi.Resource, name: str, args: GpuNodePoolArgs, machine: MachineType) -> pulumi.Output[str]:
    handle = args.cluster.handle
    if not isinstance(handle, GkeHandle):
        raise TypeError(f"GpuNodePool {name!r}: the cluster is not a GKE cluster built by components.compute.gcp")
    if machine.accelerator is None:
        raise ValueError(f"GpuNodePool {name!r}: {machine.name} has no GKE accelerator type in the catalog")
    env = args.environment
    opts = args.options
    pool = gcp.container.NodePool(
        f"{name}-pool",
        project=handle.project,
        location=handle.region,
        cluster=handle.cluster_name,
        initial_node_count=_per_zone(opts.min_nodes),
        autoscaling={"total_min_node_count": opts.min_nodes, "total_max_node_count": opts.max_nodes,
                     "location_policy": "ANY"},
        management={"auto_repair": True, "auto_upgrade": True},
        node_config={
            "machine_type": machine.name,
            "spot": opts.spot,
            "guest_accelerators": [{
                "type": machine.accelerator,
                "count": machine.gpu_count,
                "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"},
            }],
            "image_type": "COS_CONTAINERD",
            "disk_type": "pd-balanced",
            "disk_size_gb": 200,  # room for CUDA images and model weights
            "gvnic": {"enabled": True},
            "service_account": handle.node_service_account,
            "oauth_scopes": [CLOUD_PLATFORM],
            "labels": opts.node_labels(),
            "taints": _taints(opts.node_taints()),
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": _shielded(),
        },
        opts=env.child(parent, depends_on=list(handle.node_roles), ignore_changes=["initialNodeCount"]))
    if args.alerts is not None:
        _pool_at_max_alert(parent, name, args, handle, pool)
    return pool.name


POOL_AT_MAX_SECONDS = 900
"""How long a GPU pool must sit at its maximum node count before it alerts: demand it cannot meet."""
INSTANCE_GROUP_SIZE = "compute.googleapis.com/instance_group/size"
"""VMs in a Compute Engine instance group (resource type `instance_group`, label `instance_group_name`):
GKE runs each zone of a node pool as a managed instance group, listed by the pool's
`managed_instance_group_urls`. Chosen over Kubernetes metrics because GKE's managed kube-state-metrics
package has no node metrics (`monitoring_config.enable_components` offers POD, DEPLOYMENT, STATEFULSET,
DAEMONSET, HPA, STORAGE, JOBSET: pulumi-gcp 10.2 container ClusterMonitoringConfig), and `k8s_node`
series carry no node pool label."""


def instance_group_names(urls: Sequence[str]) -> list[str]:
    """The instance group names at the end of a node pool's instance group URLs."""
    return sorted(url.rstrip("/").rsplit("/", 1)[-1] for url in urls)


def pool_size_filter(names: Sequence[str]) -> str:
    """Cloud Monitoring filter of the size of exactly these instance groups."""
    quoted = ", ".join(f'"{n}"' for n in names)
    return (f'metric.type="{INSTANCE_GROUP_SIZE}" AND resource.type="instance_group" AND '
            f'resource.labels.instance_group_name = one_of({quoted})')


def _pool_at_max_alert(parent: pulumi.Resource, name: str, args: GpuNodePoolArgs, handle: GkeHandle,
                       pool: gcp.container.NodePool) -> None:
    """An alert policy: the pool's instance groups (every zone) together at `max_nodes` for 15 minutes."""
    from ..alerts.gcp import alert_policy
    assert args.alerts is not None
    opts = args.options
    title = (f"GPU pool {opts.name} of {handle.region}: at its maximum of {opts.max_nodes} nodes for "
             f"{POOL_AT_MAX_SECONDS // 60} minutes")
    alert_policy(
        parent, f"{name}-alert-at-max", args.alerts, handle.project, title,
        {"display_name": title,
         "condition_threshold": {
             "filter": pool.managed_instance_group_urls.apply(lambda urls: pool_size_filter(instance_group_names(urls or []))),
             # Per zone's group: its size each minute; across groups: the pool's total.
             "aggregations": [{"alignment_period": "60s", "per_series_aligner": "ALIGN_MEAN",
                               "cross_series_reducer": "REDUCE_SUM"}],
             "comparison": "COMPARISON_GT",
             "threshold_value": opts.max_nodes - 0.5,
             "duration": f"{POOL_AT_MAX_SECONDS}s",
             "trigger": {"count": 1},
         }},
        environment=args.environment,
        documentation=(f"{title}. Pending pods needing its GPUs wait: raise `max_nodes` (and GPU quota) or lower "
                       f"the endpoints' `max_replicas`."))
