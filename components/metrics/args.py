"""Arguments and shared shapes of ClusterMetrics: the cluster's metrics pipeline and autoscaler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

import pulumi
import pulumi_kubernetes as k8s

from ..catalog.regions import Cloud
from ..common import Environment

if TYPE_CHECKING:
    from ..alerts import AlertChannel
    from ..compute import KubernetesCluster
    from ..images import ImageCache

SCRAPE_LABEL = "aiinfra.io/metrics"
"""Pod label (value `true`) marking pods whose metrics the cluster's scraper collects; with it each pod
carries `prometheus.io/port` and `prometheus.io/path` annotations (the conventional names the
scrape configurations relabel on), so a scraper without per-namespace objects finds them too."""

KEDA_AUTHENTICATION = "aiinfra-prometheus"
"""Name of the ClusterTriggerAuthentication every cloud creates: how KEDA authenticates to the
cluster's managed Prometheus with its own workload identity."""


@dataclass(frozen=True)
class ClusterMetricsArgs:
    """Arguments of ClusterMetrics."""

    cloud: Cloud
    region: str
    environment: Environment
    cluster: "KubernetesCluster"
    """The cluster whose pods are scraped and whose workloads KEDA scales."""
    gpu_telemetry: bool = True
    """Install (or turn on) the NVIDIA DCGM exporter on GPU nodes and scrape it. Default on."""
    image_cache: "ImageCache | None" = None
    """The cell's image cache: installed add-ons pull through it where their charts allow."""
    resource_group_name: pulumi.Input[str] | None = None
    """Azure: the cell's resource group."""
    project: str | None = None
    """GCP: the cell's project."""


@dataclass(frozen=True)
class ScrapeRequest:
    """One endpoint's pods to scrape: what a cloud may need a namespaced object for."""

    parent: pulumi.Resource
    name: str
    namespace: str
    selector: dict[str, str]
    port_name: str
    """The container port's name (`http`)."""
    path: str
    """The metrics path (`/metrics`)."""
    opts: pulumi.ResourceOptions
    """Options for Kubernetes objects in the endpoint's namespace (provider, depends_on)."""


@dataclass(frozen=True)
class AlertRuleRequest:
    """One alert rule over the cluster's managed Prometheus, notifying a channel."""

    parent: pulumi.Resource
    name: str
    """Resource name of the rule (unique in the stack)."""
    title: str
    """What fired, for the person paged: `chat: more than 5% of requests failed (5xx) for 5 minutes`."""
    expression: pulumi.Input[str]
    """PromQL that returns a series while the condition holds (the comparison included)."""
    for_seconds: int
    """How long the expression must hold before the alert fires."""
    channel: "AlertChannel"
    """Where it goes: a channel of the cluster's cloud and region."""


@dataclass(frozen=True)
class MetricsBuilt:
    """What a cloud's builder returns: how workloads are scraped and how KEDA reads their metrics."""

    query_url: pulumi.Output[str]
    """Base URL of the Prometheus HTTP API KEDA queries (the prometheus scaler's `serverAddress`)."""
    trigger_metadata: Mapping[str, pulumi.Input[str]]
    """More `metadata` of a KEDA prometheus trigger on this cloud (e.g. `awsRegion` for Amazon Managed
    Service for Prometheus)."""
    query_labels: Mapping[str, pulumi.Input[str]]
    """Label matchers every series of this cluster carries in the store (e.g. `cluster`), added to each
    query so one store shared by clusters answers for this one."""
    scraper_peers: list[k8s.networking.v1.NetworkPolicyPeerArgsDict]
    """NetworkPolicy `from` peers through which the scraper reaches pods."""
    pipeline: str
    """One line for people and `preflight trace`: scraper -> store -> autoscaler."""
    ready: list[pulumi.Resource]
    """What a ScaledObject must wait for: KEDA itself (its CRDs) and the ClusterTriggerAuthentication."""
    scrape: Callable[[ScrapeRequest], list[pulumi.Resource]]
    """Creates what one endpoint's pods need to be scraped (a PodMonitoring, a PodMonitor, or nothing
    when the cluster's scraper finds pods by SCRAPE_LABEL)."""
    alert: Callable[[AlertRuleRequest], list[pulumi.Resource]]
    """Creates an alert rule evaluated by the managed Prometheus (AWS: an Amazon Managed Service for
    Prometheus rule group and alert manager route to SNS; Azure: a Prometheus rule group with the action
    group; GCP: a Cloud Monitoring alert policy with a PromQL condition)."""
