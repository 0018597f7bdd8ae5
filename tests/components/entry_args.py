"""Arguments of a cluster-mode endpoint for the per-cloud entry checks (`entry_problems`), without a plan."""

from __future__ import annotations

from typing import Any

from components.catalog.regions import Cloud
from components.common import Environment
from components.serving.args import EndpointOptions, ModelEndpointArgs

ZONE = "models.example.com"

_PER_CLOUD: dict[Cloud, dict[str, Any]] = {
    "aws": {"region": "us-east-1", "bucket_url": "s3://b"},
    "gcp": {"region": "us-central1", "bucket_url": "gs://b", "project": "acme-aiinfra-dev"},
    "azure": {"region": "eastus", "bucket_url": "https://a.blob.core.windows.net/b"},
}


class FakeZone:
    """Stands in for a DnsZone: entry_problems only asks for its name, provider and what it covers."""

    zone_name = ZONE
    dns_provider = "route53"

    def covers(self, name: str) -> bool:
        return name == self.zone_name or name.endswith(f".{self.zone_name}")


def cluster_args(cloud: Cloud, hostname: str, **changes: Any) -> ModelEndpointArgs:
    """A cluster-mode `chat` endpoint on `cloud` named `hostname`, with `changes` to its arguments."""
    options = EndpointOptions.model_validate({
        "name": "chat", "mode": "cluster", "hostname": hostname,
        "model": {"artifact_path": "models/chat/", "image": "repo/server:1.2.3"}, "accelerator": {"gpu": "l4"}})
    return ModelEndpointArgs(**{"cloud": cloud, "environment": Environment(name="dev"), "options": options,
                                "bucket_name": "b", **_PER_CLOUD[cloud], **changes})
