"""Where each known region is, so a backend in one cloud can be placed in another cloud's map.

DNS routing services only know their own cloud's regions: Route 53 latency
records take an AWS region, Traffic Manager `Performance` endpoints an Azure
region (`endpoint_location`), Cloud DNS geolocation items a Google Cloud
region. A backend in another cloud is placed at the nearest region of the
routing cloud, by great-circle distance between the regions' metro areas
(coordinates rounded to the city the cloud names for the region; close enough
to pick the neighbour, which is all latency maps resolve anyway).

Every region of `components.catalog.regions` is listed here; a region missing
from this table is reported by `traffic_problems` with what is known.
"""

from __future__ import annotations

import math

from ..catalog.regions import AWS_REGIONS, AZURE_REGIONS, CLOUDS, GCP_REGIONS, Cloud, PerCloud
from ..common.dispatch import listed

# (latitude, longitude) of the metro area each region is named after.
COORDINATES: PerCloud[dict[str, tuple[float, float]]] = {
    "aws": {
        "us-east-1": (38.9, -77.4), "us-east-2": (40.0, -83.0), "us-west-1": (37.4, -121.9),
        "us-west-2": (45.8, -119.7), "ca-central-1": (45.5, -73.6), "sa-east-1": (-23.5, -46.6),
        "eu-west-1": (53.3, -6.3), "eu-west-2": (51.5, -0.1), "eu-west-3": (48.9, 2.35),
        "eu-central-1": (50.1, 8.7), "eu-north-1": (59.3, 18.1), "eu-south-1": (45.5, 9.2),
        "ap-south-1": (19.1, 72.9), "ap-northeast-1": (35.7, 139.7), "ap-northeast-2": (37.6, 127.0),
        "ap-southeast-1": (1.35, 103.8), "ap-southeast-2": (-33.9, 151.2),
    },
    "azure": {
        "eastus": (37.4, -79.4), "eastus2": (36.7, -78.4), "centralus": (41.6, -93.6),
        "northcentralus": (41.9, -87.6), "southcentralus": (29.4, -98.5), "westcentralus": (41.1, -104.8),
        "westus": (37.8, -122.4), "westus2": (47.2, -119.9), "westus3": (33.4, -112.1),
        "canadacentral": (43.65, -79.4), "canadaeast": (46.8, -71.2),
        "northeurope": (53.3, -6.3), "westeurope": (52.4, 4.9), "uksouth": (51.5, -0.1),
        "ukwest": (51.5, -3.2), "francecentral": (48.9, 2.4), "germanywestcentral": (50.1, 8.7),
        "swedencentral": (60.7, 17.1), "japaneast": (35.7, 139.8), "japanwest": (34.7, 135.5),
        "australiaeast": (-33.9, 151.2), "australiasoutheast": (-37.8, 145.0),
        "southeastasia": (1.3, 103.8), "eastasia": (22.3, 114.2), "centralindia": (18.6, 73.9),
        "southindia": (12.9, 80.2),
    },
    "gcp": {
        "us-central1": (41.3, -95.9), "us-east1": (33.2, -80.0), "us-east4": (39.0, -77.5),
        "us-east5": (40.0, -83.0), "us-south1": (32.8, -96.8), "us-west1": (45.6, -121.2),
        "us-west2": (34.05, -118.2), "us-west3": (40.8, -111.9), "us-west4": (36.2, -115.1),
        "northamerica-northeast1": (45.5, -73.6), "northamerica-northeast2": (43.65, -79.4),
        "europe-west1": (50.4, 3.8), "europe-west2": (51.5, -0.1), "europe-west3": (50.1, 8.7),
        "europe-west4": (53.4, 6.8), "europe-north1": (60.6, 27.2), "asia-east1": (24.1, 120.5),
        "asia-northeast1": (35.7, 139.7), "asia-south1": (19.1, 72.9), "asia-southeast1": (1.35, 103.8),
        "australia-southeast1": (-33.9, 151.2),
    },
}

# Where a backend may be placed: the regions the library knows per routing cloud.
_TARGETS: PerCloud[tuple[str, ...]] = {"aws": AWS_REGIONS, "azure": AZURE_REGIONS, "gcp": GCP_REGIONS}


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def location_problem(cloud: str, region: str) -> str | None:
    """None when `region` of `cloud` has a known location, else what is allowed."""
    if cloud not in CLOUDS:
        return f"allowed: a backend in {listed(CLOUDS)}"
    known = COORDINATES[cloud]
    if region in known:
        return None
    return f"allowed: a {cloud} region with a known location ({', '.join(known)})"


def nearest_region(target: Cloud, cloud: Cloud, region: str) -> str:
    """The `target` cloud's region nearest to `region` of `cloud` (the region itself within one cloud)."""
    if cloud == target and region in _TARGETS[target]:
        return region
    here = COORDINATES[cloud][region]
    return min(_TARGETS[target], key=lambda r: _distance_km(here, COORDINATES[target][r]))
