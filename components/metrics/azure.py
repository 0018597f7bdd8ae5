"""ClusterMetrics on Azure: Azure Monitor managed Prometheus on AKS, the AKS KEDA add-on, DCGM exporter.

Pipeline: the ama-metrics add-on (`azureMonitorProfile.metrics.enabled`, set on the ManagedCluster in
compute/azure.py) scrapes each endpoint's pods through an `azmonitoring.coreos.com/v1` PodMonitor and
sends the samples through a data collection endpoint and rule to the cell's Azure Monitor workspace;
the AKS KEDA add-on (`workloadAutoScalerProfile.keda.enabled`, compute/azure.py) reads them back from
the workspace's Prometheus query endpoint with a user-assigned identity federated to its operator.

Children (role names): `workspace` (Azure Monitor workspace), `dce` (data collection endpoint), `dcr`
(data collection rule, stream Microsoft-PrometheusMetrics to the workspace), `dcra` (its association
with the cluster), `keda-identity`, `keda-federated-credential` (trusts the cluster's OIDC issuer for
kube-system/keda-operator), `keda-reader` (Monitoring Data Reader on the workspace),
`keda-authentication` (the ClusterTriggerAuthentication); per alert rule a Prometheus rule group
(`alert()`, e.g. an endpoint's 5xx ratio) with the channel's action group; with GPU telemetry `dcgm-namespace`, `dcgm`
(the DCGM exporter Helm release) and `dcgm-monitor` (its PodMonitor); per endpoint `<endpoint>-pod-monitor`.

Choices, and why:
* The workspace, DCE, DCR and association are the resources of Azure's own template (Azure Monitor
  docs, "Enable Prometheus with ARM template": a `Microsoft-PrometheusMetrics` prometheusForwarder data
  source, a monitoringAccounts destination, a data flow between them, the DCR associated with the
  managed cluster). The add-on writes with the cluster's own monitoring identity: no role here.
* PodMonitors, not annotation-based scraping: the add-on scrapes `prometheus.io/*` annotated pods only
  in namespaces named by the `pod-annotation-based-scraping` regex of `ama-metrics-settings-configmap`,
  one cluster-wide ConfigMap in kube-system that the cluster's operators may also edit (Azure Monitor
  docs, "Customize scraping of Prometheus metrics": none of the ConfigMaps exist by default). A
  PodMonitor per endpoint namespace (the add-on's `azmonitoring.coreos.com` group, Azure Monitor docs
  "Create custom Prometheus scrape jobs ... using custom resource definitions") is owned by the endpoint
  and goes with it. The replica set `ama-metrics` (pod label `rsName: ama-metrics`, kube-system) runs
  these custom scrape jobs; the per-node DaemonSet only scrapes node targets.
* Every series carries `cluster` = the AKS cluster's name (the add-on's default; its `cluster_alias`
  setting changes it), so one workspace could serve several clusters.
* KEDA: the add-on's operator runs as `kube-system/keda-operator` (AKS docs, "Securely scale your
  applications using the KEDA add-on and workload identity": the federated credential's subject is
  `system:serviceaccount:kube-system:keda-operator`); the ClusterTriggerAuthentication names the
  identity (`podIdentity.provider: azure-workload`, `identityId`: KEDA docs, "Azure AD Workload
  Identity"), whose only role is Monitoring Data Reader on the workspace (what querying an Azure
  Monitor workspace needs: Azure Monitor docs, "Query Prometheus metrics using the API and PromQL").
  The prometheus scaler then needs no extra metadata: `serverAddress` is the workspace's query
  endpoint (KEDA docs, prometheus scaler, "Azure Monitor Managed Prometheus"). The operator reads the
  token the workload identity webhook projects into its pod at creation; AKS's guide restarts the
  operator once after federating (`kubectl rollout restart deploy/keda-operator -n kube-system`), which
  a first `pulumi up` may need too if a ScaledObject reports an authentication error.
* DCGM exporter: the NVIDIA chart (components/catalog/charts.py DCGM_EXPORTER) on GPU nodes only,
  tolerating the GPU taint and AKS's spot taint; its own ServiceMonitor (monitoring.coreos.com, which
  the add-on does not read) is off, a PodMonitor scrapes it instead. Its image comes from nvcr.io,
  which ACR's artifact cache does not proxy (images/azure.py UPSTREAMS): the nodes pull it from NVIDIA
  directly, like the GPU driver AKS installs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as k8s

from ..catalog.charts import DCGM_EXPORTER
from ..common import InputError, Problem
from ..common.azure_identity import federated_identity
from ..compute.args import GPU_NODE_LABEL, GPU_TAINT_KEY
from .args import KEDA_AUTHENTICATION, SCRAPE_LABEL, AlertRuleRequest, ClusterMetricsArgs, MetricsBuilt, ScrapeRequest

if TYPE_CHECKING:
    from ..compute.azure import AksHandle

MONITORING_DATA_READER = "b0d8363b-8ddd-447d-831f-62ca05bff136"
"""Built-in role Monitoring Data Reader: query an Azure Monitor workspace."""
PROMETHEUS_STREAM = "Microsoft-PrometheusMetrics"
KEDA_NAMESPACE = "kube-system"
KEDA_SERVICE_ACCOUNT = "keda-operator"
"""The AKS KEDA add-on's operator ServiceAccount."""
KEDA_API_VERSION = "keda.sh/v1alpha1"
MONITOR_API_VERSION = "azmonitoring.coreos.com/v1"
"""The add-on's copy of the Prometheus operator CRDs (PodMonitor, ServiceMonitor)."""
SCRAPER_NAMESPACE = "kube-system"
SCRAPER_LABELS = {"rsName": "ama-metrics"}
"""The ama-metrics replica set's pods: they run PodMonitor/ServiceMonitor scrape jobs."""
DCGM_NAMESPACE = "gpu-telemetry"
DCGM_PORT_NAME = "metrics"
"""The chart's container port name (9400); its pods carry the selector labels `app.kubernetes.io/name`
(the chart name) and `app.kubernetes.io/instance` (the release name) (NVIDIA/dcgm-exporter
deployment/templates/daemonset.yaml and _helpers.tpl `dcgm-exporter.selectorLabels`)."""
SPOT_TAINT_KEY = "kubernetes.azure.com/scalesetpriority"


def _role(subscription_id: pulumi.Input[str], role_id: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("/subscriptions/", subscription_id,
                                "/providers/Microsoft.Authorization/roleDefinitions/", role_id)


def _handle(args: ClusterMetricsArgs) -> "AksHandle":
    from ..compute.azure import AksHandle
    handle = args.cluster.handle
    if not isinstance(handle, AksHandle):
        raise TypeError(f"ClusterMetrics on Azure needs an AKS cluster, got handle {type(handle).__name__}")
    return handle


def pod_monitor(name: str, namespace: str, selector: dict[str, str], port: str, path: str,
                opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """A PodMonitor of the add-on's group: the ama-metrics replica set scrapes the selected pods."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version=MONITOR_API_VERSION,
        kind="PodMonitor",
        metadata={"name": "aiinfra-metrics", "namespace": namespace,
                  "labels": {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "aiinfra"}},
        spec={"selector": {"matchLabels": dict(selector)},
              "namespaceSelector": {"matchNames": [namespace]},
              "podMetricsEndpoints": [{"port": port, "path": path, "interval": "15s", "scheme": "http"}]},
        opts=opts)


def dcgm_values(pod_annotations: dict[str, str]) -> dict[str, Any]:
    """Chart values (keys of NVIDIA/dcgm-exporter deployment/values.yaml): GPU nodes only, tolerating
    the GPU and spot taints, scrape annotations, no monitoring.coreos.com ServiceMonitor."""
    return {
        "serviceMonitor": {"enabled": False},
        "nodeSelector": {GPU_NODE_LABEL: "true"},
        "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
                        {"key": SPOT_TAINT_KEY, "operator": "Equal", "value": "spot", "effect": "NoSchedule"}],
        "podAnnotations": dict(pod_annotations),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    }


def build(parent: pulumi.Resource, name: str, args: ClusterMetricsArgs) -> MetricsBuilt:
    """Managed Prometheus for the cluster, the KEDA add-on's access to it, and the DCGM exporter."""
    group = args.resource_group_name
    if group is None:
        raise InputError(f"invalid ClusterMetrics {name!r}", [
            Problem("ClusterMetricsArgs.resource_group_name", None, "required on Azure", missing=True)])
    env = args.environment
    handle = _handle(args)
    client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    monitor = azure_native.monitor

    workspace = monitor.AzureMonitorWorkspace(
        f"{name}-workspace", resource_group_name=group, location=args.region,
        public_network_access=monitor.PublicNetworkAccess.ENABLED, opts=env.child(parent))
    endpoint = monitor.DataCollectionEndpoint(
        f"{name}-dce", resource_group_name=group, location=args.region, kind="Linux",
        network_acls={"public_network_access": monitor.KnownPublicNetworkAccessOptions.ENABLED},
        opts=env.child(parent))
    rule = monitor.DataCollectionRule(
        f"{name}-dcr",
        resource_group_name=group,
        location=args.region,
        kind="Linux",
        description="Prometheus metrics of the cell's AKS cluster to its Azure Monitor workspace.",
        data_collection_endpoint_id=endpoint.id,
        data_sources={"prometheus_forwarder": [{"name": "PrometheusDataSource", "streams": [PROMETHEUS_STREAM],
                                                "label_include_filter": {}}]},
        destinations={"monitoring_accounts": [{"name": "MonitoringAccount1", "account_resource_id": workspace.id}]},
        data_flows=[{"streams": [PROMETHEUS_STREAM], "destinations": ["MonitoringAccount1"]}],
        opts=env.child(parent))
    association = monitor.DataCollectionRuleAssociation(
        f"{name}-dcra",
        association_name="aiinfra-prometheus",
        resource_uri=handle.cluster.id,
        data_collection_rule_id=rule.id,
        description="Sends the cluster's Prometheus metrics to the cell's Azure Monitor workspace; "
                    "deleting it stops collection.",
        opts=env.child(parent))

    keda = federated_identity(f"{name}-keda-identity", f"{name}-keda-federated-credential",
                              resource_group_name=group, location=args.region, issuer=args.cluster.oidc_issuer,
                              namespace=KEDA_NAMESPACE, service_account=KEDA_SERVICE_ACCOUNT, opts=env.child(parent))
    identity, federated = keda.identity, keda.credential
    reader = azure_native.authorization.RoleAssignment(
        f"{name}-keda-reader",
        principal_id=identity.principal_id,
        principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=_role(client.subscription_id, MONITORING_DATA_READER),
        scope=workspace.id,
        opts=env.child(parent))
    k8s_opts = pulumi.ResourceOptions(parent=parent, provider=args.cluster.provider)
    authentication = k8s.apiextensions.CustomResource(
        f"{name}-keda-authentication",
        api_version=KEDA_API_VERSION,
        kind="ClusterTriggerAuthentication",
        metadata={"name": KEDA_AUTHENTICATION,
                  "labels": {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "aiinfra"}},
        spec={"podIdentity": {"provider": "azure-workload", "identityId": identity.client_id}},
        # The CRD comes with the KEDA add-on, on the ManagedCluster.
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(
            depends_on=[handle.cluster, federated, reader])))

    if args.gpu_telemetry:
        namespace = k8s.core.v1.Namespace(
            f"{name}-dcgm-namespace",
            # The exporter runs as root with SYS_ADMIN (the chart's securityContext): `privileged` here.
            metadata={"name": DCGM_NAMESPACE, "labels": {"app.kubernetes.io/part-of": "aiinfra",
                                                         "app.kubernetes.io/managed-by": "pulumi",
                                                         "pod-security.kubernetes.io/enforce": "privileged"}},
            opts=k8s_opts)
        in_namespace = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[namespace]))
        values = dcgm_values({"prometheus.io/scrape": "true", "prometheus.io/port": "9400",
                              "prometheus.io/path": "/metrics"})
        k8s.helm.v3.Release(
            f"{name}-dcgm",
            name="dcgm-exporter",
            namespace=DCGM_NAMESPACE,
            chart=DCGM_EXPORTER.name,
            version=DCGM_EXPORTER.version,
            repository_opts={"repo": DCGM_EXPORTER.repo},
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            timeout=600,
            opts=in_namespace)
        pod_monitor(f"{name}-dcgm-monitor", DCGM_NAMESPACE,
                    {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": "dcgm-exporter"},
                    DCGM_PORT_NAME, "/metrics", in_namespace)

    def scrape(request: ScrapeRequest) -> list[pulumi.Resource]:
        return [pod_monitor(f"{request.name}-pod-monitor", request.namespace,
                            {**request.selector, SCRAPE_LABEL: "true"}, request.port_name, request.path,
                            pulumi.ResourceOptions.merge(request.opts, pulumi.ResourceOptions(
                                depends_on=[association])))]

    def alert(request: AlertRuleRequest) -> list[pulumi.Resource]:
        """A Prometheus rule group on the workspace, scoped to this cluster, with one alert rule naming the
        channel's action group (Azure Monitor docs, "Azure Monitor managed service for Prometheus rule
        groups": `scopes` the workspace and the cluster, `clusterName`, `actions[].actionGroupId`)."""
        if request.channel.cloud != "azure":
            raise ValueError(f"{request.name}: an alert on Azure needs an Azure channel, got {request.channel.cloud}")
        minutes = max(1, -(-request.for_seconds // 60))
        return [azure_native.alertsmanagement.PrometheusRuleGroup(
            request.name,
            resource_group_name=group,
            location=args.region,
            scopes=[workspace.id, handle.cluster.id],
            cluster_name=handle.cluster_name,
            description=request.title,
            enabled=True,
            interval="PT1M",
            rules=[{"alert": request.name, "expression": request.expression, "for_": f"PT{minutes}M",
                    "severity": 1, "enabled": True,
                    "annotations": {"summary": request.title},
                    "resolve_configuration": {"auto_resolved": True, "time_to_resolve": "PT10M"},
                    "actions": [{"action_group_id": target} for target in request.channel.targets]}],
            opts=env.child(request.parent, depends_on=[association]))]

    # KEDA appends `/api/v1/query` to `serverAddress` (kedacore/keda pkg/scalers/prometheus_scaler.go).
    query_url = workspace.metrics.apply(lambda m: m.prometheus_query_endpoint.rstrip("/") if m is not None else "")
    return MetricsBuilt(
        query_url=query_url,
        trigger_metadata={},
        # One Azure Monitor workspace per cluster (above): the namespace alone selects an endpoint's pods, so no
        # query depends on the value the add-on gives the `cluster` label.
        query_labels={},
        scraper_peers=[{"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": SCRAPER_NAMESPACE}},
                        "pod_selector": {"match_labels": dict(SCRAPER_LABELS)}}],
        pipeline="ama-metrics add-on (PodMonitor) -> Azure Monitor workspace (managed Prometheus) -> AKS KEDA add-on",
        ready=[authentication],
        scrape=scrape,
        alert=alert,
    )
