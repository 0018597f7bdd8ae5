"""Regions the library knows per cloud, with the facts components need about them.

A region outside this table is rejected with the list below: add it here (one
line) after checking the cloud offers what the cell needs there. Sources: each
cloud's public region list; Azure pairs from "Azure cross-region replication
pairings" (learn.microsoft.com, 2026).
"""

from __future__ import annotations

from typing import Generic, Literal, TypedDict, TypeVar, get_args

Cloud = Literal["aws", "azure", "gcp"]
CLOUDS: tuple[Cloud, ...] = get_args(Cloud)

V = TypeVar("V")


class PerCloud(TypedDict, Generic[V]):
    """A fact per cloud (see components.common.dispatch): pyright reports a table without a cloud."""

    aws: V
    azure: V
    gcp: V


AWS_REGIONS: tuple[str, ...] = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
)

AZURE_PAIRS: dict[str, str] = {
    "eastus": "westus", "westus": "eastus", "eastus2": "centralus", "centralus": "eastus2",
    "westus2": "westcentralus", "westcentralus": "westus2", "westus3": "eastus",
    "southcentralus": "northcentralus", "northcentralus": "southcentralus",
    "canadacentral": "canadaeast", "canadaeast": "canadacentral",
    "northeurope": "westeurope", "westeurope": "northeurope",
    "uksouth": "ukwest", "ukwest": "uksouth", "francecentral": "francesouth",
    "germanywestcentral": "germanynorth", "swedencentral": "swedensouth",
    "japaneast": "japanwest", "japanwest": "japaneast",
    "australiaeast": "australiasoutheast", "australiasoutheast": "australiaeast",
    "southeastasia": "eastasia", "eastasia": "southeastasia", "centralindia": "southindia",
}
AZURE_REGIONS: tuple[str, ...] = tuple(sorted(AZURE_PAIRS))

GCP_REGIONS: tuple[str, ...] = (
    "us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west2",
    "us-west3", "us-west4", "northamerica-northeast1", "northamerica-northeast2",
    "europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-north1",
    "asia-east1", "asia-northeast1", "asia-south1", "asia-southeast1", "australia-southeast1",
)

REGIONS: PerCloud[tuple[str, ...]] = {"aws": AWS_REGIONS, "azure": AZURE_REGIONS, "gcp": GCP_REGIONS}

CLOUD_TITLES: PerCloud[str] = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}


def region_problem(cloud: Cloud, region: str) -> str | None:
    """None when `region` is known for `cloud`, else what is allowed."""
    if region in REGIONS[cloud]:
        return None
    return f"allowed: one of the {CLOUD_TITLES[cloud]} regions {', '.join(REGIONS[cloud])}"


def gcp_dual_region_location(primary: str, secondary: str) -> str | None:
    """The multi-region code for a configurable GCS dual-region, or None if the pair cannot form one.

    Both regions must sit in one continent: US (`us-*`), EU (`europe-*`) or
    ASIA (`asia-*`), per "Bucket locations: configurable dual-regions".
    """

    def continent(region: str) -> str | None:
        if region.startswith("us-"):
            return "US"
        if region.startswith("europe-"):
            return "EU"
        if region.startswith("asia-"):
            return "ASIA"
        return None

    a, b = continent(primary), continent(secondary)
    return a if a is not None and a == b and primary != secondary else None

AZURE_REGIONS_WITHOUT_ZONES: frozenset[str] = frozenset({
    "westus", "westcentralus", "northcentralus", "canadaeast", "ukwest", "japanwest",
    "australiasoutheast", "southindia",
})
"""Azure regions without availability zones: zone-redundant SKUs and zonal pools are unavailable."""
