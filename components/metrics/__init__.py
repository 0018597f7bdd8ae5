"""The cluster's metrics pipeline: managed Prometheus, scraper, KEDA, DCGM exporter, alert rules."""

from .args import (KEDA_AUTHENTICATION, SCRAPE_LABEL, AlertRuleRequest, ClusterMetricsArgs, MetricsBuilt,
                   ScrapeRequest)
from .cluster_metrics import ClusterMetrics

__all__ = ["AlertRuleRequest", "ClusterMetrics", "ClusterMetricsArgs", "KEDA_AUTHENTICATION", "MetricsBuilt",
           "SCRAPE_LABEL", "ScrapeRequest"]
