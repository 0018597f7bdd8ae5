"""ClusterMetrics on AWS: Amazon Managed Service for Prometheus (AMP) with its managed scraper, KEDA
reading it through EKS Pod Identity, and NVIDIA's DCGM exporter on GPU nodes.

Children (role names): `workspace`, `scraper`, `keda-role`, `keda-query-policy`, `keda-identity`,
`keda` (Helm release), `keda-authentication` (the ClusterTriggerAuthentication), and with GPU telemetry
`dcgm-exporter` (Helm release).

Facts, and their sources:
* The managed scraper (CreateScraper) puts one ENI in each subnet it is given and scrapes pods from
  there, writing to the workspace over AWS's network (AMP user guide, "Ingest metrics with AWS managed
  collectors"). Its subnets are the cluster's private subnets and its security group the cluster
  security group EKS creates (every node is in it, and it admits all traffic from its own members), so
  it reaches pod IPs on the VPC CNI. Pods are therefore reached from addresses in the private subnets:
  `scraper_peers` are those subnets' CIDR blocks. The VPC CNI gives pods addresses from the same
  subnets, so on AWS these peers also cover every pod of the cluster (on the metrics port only);
  admitting the scraper alone would need subnets of its own for its ENIs (a network change).
* With the cluster in `API` authentication mode, AMP creates the scraper's EKS access entry and its
  access policy (get/list/watch on pods, nodes, endpoints, services...) itself (AMP user guide, "Using
  an AWS managed collector" > "Configuring your Amazon EKS cluster" > "access entries"); the manual
  ClusterRole `aps-collector-role` is only for clusters on the aws-auth ConfigMap. compute/aws.py
  creates clusters with `authentication_mode: API`, so nothing is created in the cluster for it.
* The scrape configuration may use only `kubernetes_sd_configs` for discovery, and no interval under
  30 s (same page, "Scraper configuration"). Pods are kept by the label SCRAPE_LABEL=true and scraped on
  the `prometheus.io/port` and `prometheus.io/path` annotations; every series gets `cluster`,
  `namespace` and `pod` labels.
* The workspace keeps AMP's AWS-owned encryption key: a workspace with a customer-managed key accepts a
  managed scraper only with a cross-account style `roleConfiguration` (same page, "Creating scraper for
  workspaces enabled with customer managed keys").
* KEDA's prometheus scaler signs its queries with SigV4 (service `aps`) when its trigger carries
  `awsRegion` and its authentication is `podIdentity.provider: aws`; with `identityOwner` unset the
  operator's own credentials are used (kedacore/keda pkg/scalers/prometheus_scaler.go: `awsRegion`,
  `aws.NewSigV4RoundTripper`; KEDA 2.20 docs, "AWS (EKS Pod Identity)"). The operator's service account
  (`keda/keda-operator`, the chart's default name) gets a role through EKS Pod Identity with the four
  query actions on this workspace only. (kedacore/charts keda/values.yaml at v2.20.2:
  `serviceAccount.operator.name: keda-operator`; images from `ghcr.io/kedacore/...`.)
* DCGM exporter chart (NVIDIA/dcgm-exporter deployment/values.yaml at 4.5.3-4.8.2): `podLabels`,
  `podAnnotations`, `nodeSelector` and `tolerations` values; `serviceMonitor.enabled` defaults to true
  and needs the Prometheus Operator's CRDs, which no cluster here has, so it is turned off.
* The scaler requests `<serverAddress>/api/v1/query` (prometheus_scaler.go `ExecutePromQuery`), and
  the workspace's `prometheus_endpoint` ends in `/workspaces/<id>/`: `query_url` is that endpoint
  without its trailing slash.
* KEDA's images come from ghcr.io and the DCGM exporter's from nvcr.io (not an ECR pull-through
  upstream): both still pull from the Internet through the NAT gateways.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml

from ..catalog.charts import DCGM_EXPORTER, KEDA
from ..common.aws_iam import POD_IDENTITY_TRUST
from ..compute.args import GPU_NODE_LABEL, GPU_TAINT_KEY, POOL_LABEL
from ..compute.aws import EksHandle
from .args import KEDA_AUTHENTICATION, SCRAPE_LABEL, AlertRuleRequest, ClusterMetricsArgs, MetricsBuilt, ScrapeRequest

if TYPE_CHECKING:
    from ..alerts import AlertChannel

KEDA_NAMESPACE = "keda"
KEDA_SERVICE_ACCOUNT = "keda-operator"
"""The operator's service account in the KEDA chart (its default name): the one that queries."""
DCGM_NAMESPACE = "gpu-telemetry"
DCGM_PORT = 9400
"""The exporter's metrics port (chart value `service.port`, `/metrics`)."""
SCRAPE_INTERVAL = "30s"
"""The shortest interval a managed scraper accepts."""
NODE_METRIC = "kubelet_node_name"
"""The kubelet's one-per-node gauge (value 1, label `node`): kept from the node job, everything else dropped."""
QUERY_ACTIONS = ["aps:QueryMetrics", "aps:GetLabels", "aps:GetSeries", "aps:GetMetricMetadata"]
"""What querying the Prometheus HTTP API of a workspace takes (AMP user guide, "IAM permissions":
AmazonPrometheusQueryAccess holds exactly these)."""


def _label(name: str) -> str:
    """A Kubernetes label or annotation name as Prometheus service discovery spells it."""
    return "".join(c if c.isalnum() else "_" for c in name)


def scrape_configuration(cluster_name: str) -> str:
    """The scraper's Prometheus configuration: every pod labelled SCRAPE_LABEL=true, on its annotated
    port and path, with `cluster`, `namespace` and `pod` labels."""
    meta = "__meta_kubernetes_pod_"
    config: dict[str, Any] = {
        "global": {"scrape_interval": SCRAPE_INTERVAL},
        "scrape_configs": [{
            "job_name": "aiinfra-pods",
            "kubernetes_sd_configs": [{"role": "pod"}],
            "relabel_configs": [
                {"source_labels": [f"{meta}label_{_label(SCRAPE_LABEL)}"], "action": "keep", "regex": "true"},
                {"source_labels": [f"{meta}annotation_{_label('prometheus.io/path')}"], "action": "replace",
                 "target_label": "__metrics_path__", "regex": "(.+)"},
                {"source_labels": ["__address__", f"{meta}annotation_{_label('prometheus.io/port')}"],
                 "action": "replace", "regex": r"([^:]+)(?::\d+)?;(\d+)", "replacement": "$1:$2",
                 "target_label": "__address__"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": [f"{meta}name"], "target_label": "pod"},
                {"target_label": "cluster", "replacement": cluster_name},
            ],
        }, {
            # One series per node (`kubelet_node_name`), labelled with its pool: what the GPU pools'
            # "at its maximum" rules count. Read through the API server's node proxy, as AMP's own
            # sample configuration reads cAdvisor (its access policy grants `nodes/proxy`).
            "job_name": "aiinfra-nodes",
            "scheme": "https",
            "authorization": {"type": "Bearer",
                              "credentials_file": "/var/run/secrets/kubernetes.io/serviceaccount/token"},
            "kubernetes_sd_configs": [{"role": "node"}],
            "relabel_configs": [
                {"source_labels": [f"__meta_kubernetes_node_label_{_label(POOL_LABEL)}"], "target_label": "pool"},
                {"source_labels": ["__meta_kubernetes_node_name"], "target_label": "node"},
                {"target_label": "__address__", "replacement": "kubernetes.default.svc:443"},
                {"source_labels": ["__meta_kubernetes_node_name"], "regex": "(.+)", "target_label": "__metrics_path__",
                 "replacement": "/api/v1/nodes/$1/proxy/metrics"},
                {"target_label": "cluster", "replacement": cluster_name},
            ],
            "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": NODE_METRIC, "action": "keep"}],
        }],
    }
    return yaml.safe_dump(config, sort_keys=False)


def query_policy(workspace_arn: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "QueryWorkspace", "Effect": "Allow", "Action": QUERY_ACTIONS, "Resource": workspace_arn}]})


def alertmanager_definition(topic_arns: list[str], region: str) -> str:
    """The workspace's alert manager: every alert to the channel's SNS topic (AMP user guide, "Configure
    alert manager to send messages to Amazon SNS": `sns_configs` with `topic_arn` and `sigv4.region`, the
    whole configuration under `alertmanager_config`)."""
    config = {
        "route": {"receiver": "channel", "group_by": ["alertname", "namespace"]},
        "receivers": [{"name": "channel", "sns_configs": [
            {"topic_arn": arn, "sigv4": {"region": region}, "subject": "aiinfra alert"} for arn in topic_arns]}],
    }
    return yaml.safe_dump({"alertmanager_config": yaml.safe_dump(config, sort_keys=False)}, sort_keys=False)


def rule_group(name: str, title: str, expression: str, for_seconds: int) -> str:
    """One Prometheus alerting rule in its own group (AMP rule group namespaces take the Prometheus rules
    file format)."""
    return yaml.safe_dump({"groups": [{"name": name, "rules": [{
        "alert": name, "expr": expression, "for": f"{for_seconds}s",
        "labels": {"severity": "page"}, "annotations": {"summary": title}}]}]}, sort_keys=False)


def pool_at_max_query(cluster_name: str, pool: str, max_nodes: int) -> str:
    """A series while the pool has `max_nodes` (or more) nodes registered: demand it cannot meet."""
    return (f'count(max by (node) ({NODE_METRIC}{{cluster="{cluster_name}",pool="{pool}"}})) '
            f">= {max_nodes}")


def _alerts(parent: pulumi.Resource, name: str, args: ClusterMetricsArgs,
            workspace: aws.amp.Workspace) -> Callable[[AlertRuleRequest], list[pulumi.Resource]]:
    """Alert rules evaluated in the workspace; its one alert manager sends them to the first channel
    asked for (a workspace has one alert manager definition, so all of a cluster's rules share it)."""
    env, region = args.environment, args.region
    made: dict[str, tuple["AlertChannel", aws.amp.AlertManagerDefinition]] = {}

    def alert(request: AlertRuleRequest) -> list[pulumi.Resource]:
        found = made.get("definition")
        if found is None:
            targets = pulumi.Output.all(*request.channel.targets)
            definition = aws.amp.AlertManagerDefinition(
                f"{name}-alert-manager", workspace_id=workspace.id,
                definition=targets.apply(lambda arns: alertmanager_definition(list(arns), region)),
                region=region, opts=env.child(parent))
            found = made["definition"] = (request.channel, definition)
        elif found[0] is not request.channel:
            raise ValueError(f"alert rule {request.name!r}: the workspace of {name} already alerts "
                             f"{found[0].description}; one cluster has one alert channel")
        rules = aws.amp.RuleGroupNamespace(
            f"{request.name}", name=request.name, workspace_id=workspace.id,
            data=pulumi.Output.from_input(request.expression).apply(
                lambda expr: rule_group(request.name, request.title, expr, request.for_seconds)),
            region=region, opts=env.child(request.parent, depends_on=[found[1]]))
        return [rules, found[1]]
    return alert


def _no_objects(_: ScrapeRequest) -> list[pulumi.Resource]:
    """The scraper finds pods by label: an endpoint needs nothing of its own to be scraped."""
    return []


def build(parent: pulumi.Resource, name: str, args: ClusterMetricsArgs) -> MetricsBuilt:
    """Workspace, managed scraper, KEDA with its ClusterTriggerAuthentication, DCGM exporter."""
    env, region = args.environment, args.region
    cluster = args.cluster
    handle = cluster.handle
    if not isinstance(handle, EksHandle):
        raise TypeError(f"ClusterMetrics {name!r} on AWS needs an EKS cluster, got handle {type(handle).__name__}")

    workspace = aws.amp.Workspace(f"{name}-workspace", alias=f"{pulumi.get_stack()}-{name}", region=region,
                                  opts=env.child(parent))
    security_groups = handle.node_security_group_id.apply(lambda sg: [sg] if sg else [])
    scraper = aws.amp.Scraper(
        f"{name}-scraper",
        alias=f"{pulumi.get_stack()}-{name}"[:100],
        source={"eks": {"cluster_arn": handle.cluster.arn, "subnet_ids": handle.subnet_ids,
                        "security_group_ids": security_groups}},
        destination={"amp": {"workspace_arn": workspace.arn}},
        scrape_configuration=handle.cluster_name.apply(scrape_configuration),
        region=region, opts=env.child(parent))

    # KEDA: the operator's role (Pod Identity), the chart, and the ClusterTriggerAuthentication.
    role = aws.iam.Role(f"{name}-keda-role", description=f"KEDA of {name}: query its Prometheus workspace",
                        assume_role_policy=POD_IDENTITY_TRUST, opts=env.child(parent))
    grant = aws.iam.RolePolicy(f"{name}-keda-query-policy", role=role.id,
                               policy=workspace.arn.apply(query_policy), opts=env.child(parent))
    association = aws.eks.PodIdentityAssociation(
        f"{name}-keda-identity", cluster_name=handle.cluster_name, namespace=KEDA_NAMESPACE,
        service_account=KEDA_SERVICE_ACCOUNT, role_arn=role.arn, region=region,
        opts=env.child(parent, depends_on=[handle.pod_identity_addon, grant]))
    k8s_opts = pulumi.ResourceOptions(parent=parent, provider=cluster.provider)
    keda = k8s.helm.v3.Release(
        f"{name}-keda",
        name="keda", namespace=KEDA_NAMESPACE, create_namespace=True,
        chart=KEDA.name, version=KEDA.version, repository_opts={"repo": KEDA.repo},
        values={"nodeSelector": {POOL_LABEL: "system"}},
        atomic=True, cleanup_on_fail=True, max_history=10, timeout=600,
        # The association exists before the operator starts, so its first pod gets credentials.
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[association])))
    authentication = k8s.apiextensions.CustomResource(
        f"{name}-keda-authentication",
        api_version="keda.sh/v1alpha1", kind="ClusterTriggerAuthentication",
        metadata={"name": KEDA_AUTHENTICATION},
        spec={"podIdentity": {"provider": "aws"}},
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[keda])))

    if args.gpu_telemetry:
        k8s.helm.v3.Release(
            f"{name}-dcgm-exporter",
            name="dcgm-exporter", namespace=DCGM_NAMESPACE, create_namespace=True,
            chart=DCGM_EXPORTER.name, version=DCGM_EXPORTER.version, repository_opts={"repo": DCGM_EXPORTER.repo},
            values={
                "nodeSelector": {GPU_NODE_LABEL: "true"},
                "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
                # Scraped like the model servers, by label and annotations; no Prometheus Operator here.
                "serviceMonitor": {"enabled": False},
                "podLabels": {SCRAPE_LABEL: "true"},
                "podAnnotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(DCGM_PORT),
                                   "prometheus.io/path": "/metrics"},
            },
            atomic=True, cleanup_on_fail=True, max_history=10, timeout=600,
            opts=k8s_opts)

    subnets = [aws.ec2.get_subnet_output(id=subnet, region=region, opts=pulumi.InvokeOutputOptions(parent=parent))
               for subnet in handle.subnet_ids]
    peers: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = [
        {"ip_block": {"cidr": subnet.cidr_block}} for subnet in subnets]
    alert = _alerts(parent, name, args, workspace)
    query_url = workspace.prometheus_endpoint.apply(lambda url: url.rstrip("/"))
    return MetricsBuilt(
        query_url=query_url,
        trigger_metadata={"awsRegion": region},
        query_labels={"cluster": handle.cluster_name},
        scraper_peers=peers,
        pipeline=f"AMP managed scraper -> Amazon Managed Service for Prometheus ({region}) -> KEDA (SigV4, EKS Pod Identity)",
        ready=[keda, authentication, scraper],
        scrape=_no_objects,
        alert=alert,
    )
