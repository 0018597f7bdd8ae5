"""ClusterMetrics on GCP: Google Cloud Managed Service for Prometheus on GKE, KEDA reading it back, managed DCGM.

The store and its collectors are GKE's own: the cluster (compute/gcp.py) runs managed collection
(`monitoring_config.managed_prometheus.enabled`) and GKE's managed DCGM metrics
(`monitoring_config.enable_components` with `DCGM`, GKE 1.30 and later; GKE installs the NVIDIA driver
on GPU pools, which the DCGM package needs). So no Prometheus, scraper or DCGM exporter is installed
here, and no Helm chart for DCGM: GKE scrapes its own DCGM exporter into the same store.

Children (role names):
* `keda-reader`: a Google service account holding `roles/monitoring.viewer` on the project
  (`keda-reader-viewer`), which KEDA's prometheus scaler needs to query Managed Service for Prometheus,
  and `roles/iam.workloadIdentityUser` for exactly `<project>.svc.id.goog[keda/keda-operator]`
  (`keda-reader-workload-identity`), KEDA's operator service account: the same Workload Identity
  Federation pattern as the endpoints' readers (serving/gcp.py). Source: keda-docs content/docs/2.21/
  scalers/prometheus.md "Google Managed Service for Prometheus" and authentication-providers/
  gcp-workload-identity.md.
* `keda`: the KEDA Helm release (components/catalog/charts.py KEDA) in namespace `keda`, on the system
  pool, its operator service account annotated through the chart's `podIdentity.gcp` values
  (kedacore/charts keda/values.yaml at v2.20.2: `podIdentity.gcp.enabled`, `gcpIAMServiceAccount`),
  its metrics API server and webhooks on port 10250, which the private cluster's control plane reaches.
  Its images (`ghcr.io/kedacore/...`) come through the cell's cache when the cache has a ghcr.io
  upstream (`global.image.registry`), else from ghcr.io.
* `keda-authentication`: the ClusterTriggerAuthentication `KEDA_AUTHENTICATION` with
  `podIdentity.provider: gcp`: the scaler authenticates as the operator's Google service account.
* Per endpoint namespace (`scrape`): a PodMonitoring (`monitoring.googleapis.com/v1`) selecting the
  endpoint's pods on their named port and metrics path, every 15 s (KEDA polls every 15 s).

What KEDA queries: `https://monitoring.googleapis.com/v1/projects/<project>/location/global/prometheus`
(the Prometheus HTTP API of Managed Service for Prometheus). Every series managed collection writes
carries `project_id`, `location` and `cluster` (GMP docs, "Managed collection": target labels), so
queries match `cluster="<cluster name>"`.

NetworkPolicy: managed collection scrapes from its `collector` DaemonSet pods in `gmp-system`
(GoogleCloudPlatform/prometheus-engine manifests/operator.yaml at 2ffde4e: DaemonSet `collector`,
namespace `gmp-system`, pod label `app.kubernetes.io/name: collector`, no `hostNetwork`), so they are
ordinary pod-network peers that Dataplane V2's NetworkPolicy enforcement matches by namespace and
pod labels.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from ..catalog.charts import KEDA
from ..common.naming import global_name
from ..compute.args import POOL_LABEL
from .args import KEDA_AUTHENTICATION, AlertRuleRequest, ClusterMetricsArgs, MetricsBuilt, ScrapeRequest

GMP_API = "monitoring.googleapis.com/v1"
"""PodMonitoring's API group and version (GMP docs, "Managed collection")."""
GMP_NAMESPACE = "gmp-system"
COLLECTOR_LABELS = {"app.kubernetes.io/name": "collector"}
"""The managed collectors' pod labels in `gmp-system` (prometheus-engine manifests/operator.yaml)."""
SCRAPE_INTERVAL = "15s"
POD_MONITORING = "model-server"
"""The PodMonitoring's name in an endpoint's namespace (one endpoint per namespace)."""

KEDA_NAMESPACE = "keda"
KEDA_OPERATOR_ACCOUNT = "keda-operator"
"""The chart's operator service account (kedacore/charts keda/values.yaml `serviceAccount.operator.name`)."""
KEDA_API = "keda.sh/v1alpha1"
MONITORING_VIEWER = "roles/monitoring.viewer"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
CONTROL_PLANE_PORT = 10250
"""The port KEDA's metrics API server and webhooks listen on: one the GKE control plane may reach."""
KEDA_IMAGE = f"ghcr.io/kedacore/keda:{KEDA.app_version}"
"""KEDA's operator image as the chart names it (registry ghcr.io): only used to find the cache's path."""


def query_url(project: str) -> str:
    """The Prometheus HTTP API base of Managed Service for Prometheus for `project`."""
    return f"https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus"


def scraper_peers() -> list[k8s.networking.v1.NetworkPolicyPeerArgsDict]:
    """The managed collectors, by namespace and pod labels (they run on the pod network)."""
    return [{"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": GMP_NAMESPACE}},
             "pod_selector": {"match_labels": dict(COLLECTOR_LABELS)}}]


def _keda_values(args: ClusterMetricsArgs, email: pulumi.Output[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "podIdentity": {"gcp": {"enabled": True, "gcpIAMServiceAccount": email}},
        "nodeSelector": {POOL_LABEL: "system"},
        # The API server calls KEDA's metrics API server and admission webhooks on their pods. A private
        # GKE cluster's firewall admits the control plane to nodes and pods on tcp:443 and tcp:10250 only
        # (KEDA docs, operate/cluster.md "Firewall": GKE needs control plane -> pod port 6443), so both
        # listen on 10250 instead of 6443 and 9443, the port cert-manager's webhook uses for the same
        # reason (its troubleshooting: "GKE Private: set webhook.securePort=10250 or 443"). Pods have
        # their own IPs: no clash with the kubelet's port on the node.
        "service": {"portHttpsTarget": CONTROL_PLANE_PORT},
        "webhooks": {"port": str(CONTROL_PLANE_PORT)},
    }
    cache = args.image_cache
    if cache is not None and cache.covers(KEDA_IMAGE):
        # `global.image.registry` replaces `ghcr.io` in front of each `kedacore/...` repository.
        suffix = f"/kedacore/keda:{KEDA.app_version}"
        values["global"] = {"image": {"registry": cache.ref(KEDA_IMAGE).apply(lambda ref: ref[: -len(suffix)])}}
    return values


def build(parent: pulumi.Resource, name: str, args: ClusterMetricsArgs) -> MetricsBuilt:
    """KEDA with its Google identity and trigger authentication; see the module docstring."""
    from ..compute.gcp import GkeHandle

    handle = args.cluster.handle
    if not isinstance(handle, GkeHandle):
        raise TypeError(f"ClusterMetrics {name!r}: the cluster is not a GKE cluster built by components.compute.gcp")
    env = args.environment
    project = args.project or handle.project
    account = gcp.serviceaccount.Account(
        f"{name}-keda-reader",
        account_id=global_name(f"{name}-keda", max_length=30),
        display_name=f"KEDA on {handle.region}",
        description="Reads Managed Service for Prometheus for KEDA's prometheus scaler",
        project=project,
        opts=env.child(parent))
    viewer = gcp.projects.IAMMember(
        f"{name}-keda-reader-viewer",
        project=project,
        role=MONITORING_VIEWER,
        member=account.email.apply(lambda email: f"serviceAccount:{email}"),
        opts=env.child(parent))
    binding = gcp.serviceaccount.IAMMember(
        f"{name}-keda-reader-workload-identity",
        service_account_id=account.name,
        role=WORKLOAD_IDENTITY_USER,
        member=f"serviceAccount:{project}.svc.id.goog[{KEDA_NAMESPACE}/{KEDA_OPERATOR_ACCOUNT}]",
        opts=env.child(parent))
    k8s_opts = pulumi.ResourceOptions(parent=parent, provider=args.cluster.provider)
    release = k8s.helm.v3.Release(
        f"{name}-keda",
        name="keda",
        namespace=KEDA_NAMESPACE,
        create_namespace=True,
        chart=KEDA.name,
        version=KEDA.version,
        repository_opts={"repo": KEDA.repo},
        values=_keda_values(args, account.email),
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(
            depends_on=[viewer, binding, *(args.image_cache.ready if args.image_cache is not None else [])])))
    authentication = k8s.apiextensions.CustomResource(
        f"{name}-keda-authentication",
        api_version=KEDA_API,
        kind="ClusterTriggerAuthentication",
        metadata={"name": KEDA_AUTHENTICATION},
        spec={"podIdentity": {"provider": "gcp"}},
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[release])))

    def scrape(request: ScrapeRequest) -> list[pulumi.Resource]:
        return [k8s.apiextensions.CustomResource(
            f"{request.name}-pod-monitoring",
            api_version=GMP_API,
            kind="PodMonitoring",
            metadata={"name": POD_MONITORING, "namespace": request.namespace},
            spec={"selector": {"matchLabels": dict(request.selector)},
                  "endpoints": [{"port": request.port_name, "path": request.path, "interval": SCRAPE_INTERVAL}]},
            opts=pulumi.ResourceOptions.merge(request.opts, pulumi.ResourceOptions(parent=request.parent)))]

    def alert(request: AlertRuleRequest) -> list[pulumi.Resource]:
        # Cloud Monitoring evaluates the PromQL over Managed Service for Prometheus itself (an alert policy
        # with `condition_prometheus_query_language`); no rule evaluator runs in the cluster.
        from ..alerts.gcp import alert_policy
        return [alert_policy(
            request.parent, request.name, request.channel, project, request.title,
            {"display_name": request.title,
             "condition_prometheus_query_language": {"query": request.expression,
                                                     "duration": f"{request.for_seconds}s",
                                                     "evaluation_interval": "60s"}},
            environment=env, documentation=f"{request.title}.\n\nPromQL over Managed Service for Prometheus "
                                           f"(cluster {handle.region}): the alert holds while the query returns a series.")]

    dcgm = "GKE managed DCGM metrics" if args.gpu_telemetry else "no GPU metrics"
    return MetricsBuilt(
        query_url=pulumi.Output.from_input(query_url(project)),
        trigger_metadata={},
        query_labels={"cluster": handle.cluster_name},
        scraper_peers=scraper_peers(),
        pipeline=(f"GMP managed collection (PodMonitoring; {dcgm}) -> Managed Service for Prometheus "
                  f"({project}) -> KEDA prometheus scaler (Workload Identity, roles/monitoring.viewer)"),
        ready=[release, authentication],
        scrape=scrape,
        alert=alert)
