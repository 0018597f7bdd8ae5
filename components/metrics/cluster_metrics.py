"""ClusterMetrics: the cluster's managed Prometheus, its scraper, KEDA and the GPU exporter.

Model servers export their own load (vLLM's `vllm:num_requests_running`, TGI's `tgi_queue_size`);
a managed Prometheus per cloud stores it (Amazon Managed Service for Prometheus with its managed
scraper, `aws.py`; Azure Monitor managed Prometheus on AKS, `azure.py`; Google Cloud Managed Service
for Prometheus on GKE, `gcp.py`), and KEDA's prometheus scaler reads it back with the cluster's own
workload identity to scale each endpoint (`serving/workload.py` writes the ScaledObject). NVIDIA's
DCGM exporter on GPU nodes feeds the same store.
"""

from __future__ import annotations

from typing import Callable

import pulumi

from ..catalog.regions import CLOUDS, Cloud
from ..common import raise_if_any
from ..common.dispatch import choice_problems, unknown
from .args import AlertRuleRequest, ClusterMetricsArgs, MetricsBuilt, ScrapeRequest

MetricsBuilder = Callable[[pulumi.Resource, str, ClusterMetricsArgs], MetricsBuilt]


def _builder(cloud: Cloud) -> MetricsBuilder:
    match cloud:
        case "aws":
            from . import aws
            return aws.build
        case "azure":
            from . import azure
            return azure.build
        case "gcp":
            from . import gcp
            return gcp.build
        case _:
            unknown(cloud, "ClusterMetricsArgs.cloud", CLOUDS)


class ClusterMetrics(pulumi.ComponentResource):
    """Managed Prometheus, scraper, KEDA and DCGM exporter for one cluster.

    Outputs: `query_url` (the Prometheus HTTP API KEDA reads), `pipeline`."""

    query_url: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterMetricsArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_any(f"invalid ClusterMetrics {name!r}", choice_problems("ClusterMetricsArgs.cloud", args.cloud, CLOUDS))
        build = _builder(args.cloud)
        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:metrics:ClusterMetrics", name, None, opts)
        self.built = build(self, name, args)
        self.query_url = self.built.query_url
        self.pipeline = self.built.pipeline
        self.register_outputs({"query_url": self.built.query_url, "pipeline": self.built.pipeline})

    def scrape(self, request: ScrapeRequest) -> list[pulumi.Resource]:
        """What one endpoint's pods need to be scraped on this cloud."""
        return self.built.scrape(request)

    def alert(self, request: AlertRuleRequest) -> list[pulumi.Resource]:
        """An alert rule over this cluster's metrics, to a channel of its cloud and region."""
        return self.built.alert(request)
