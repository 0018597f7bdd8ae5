"""Synthetic environments of N full cells, for benchmarks and scale tests.

Each cell copies one of the shipped prod stack's cells in turn (AWS, GCP, Azure): its
network, cluster, GPU pool and cluster-mode endpoint, in a region chosen round-robin
from five per cloud, with its own name, CIDR and hostname (in the prod stack's DNS zone, which every cell
writes its entry's records to), with prod's alert channel and image-cache credentials. Backups,
managed endpoints and global traffic are left
out: they add resources per environment, not per cell.

    python benchmarks/synthetic_spec.py 50 > Pulumi.c50.yaml
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
REGIONS = {"aws": ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"],
           "gcp": ["us-central1", "us-east1", "us-east4", "europe-west1", "europe-west4"],
           "azure": ["eastus", "eastus2", "westus2", "northeurope", "westeurope"]}


def synthetic_config(cells: int) -> dict[str, Any]:
    """The `config` of a prod stack with `cells` full cells."""
    prod = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    made = []
    for i in range(cells):
        cell = copy.deepcopy(prod["aiinfra:cells"][i % len(prod["aiinfra:cells"])])
        cloud = cell["cloud"]
        cell["name"] = f"{cloud}-c{i}"
        cell["region"] = REGIONS[cloud][(i // 3) % len(REGIONS[cloud])]
        cell.pop("backup", None)
        cell["storage"] = {"noncurrent_version_days": 90}
        cell["network"] = {"cidr": f"10.{i % 250}.0.0/16"}
        cell["endpoints"] = [e for e in cell.get("endpoints", []) if e["mode"] == "cluster"]
        for endpoint in cell["endpoints"]:
            endpoint["hostname"] = f"{cell['name']}.models.example.com"
        made.append(cell)
    shared = ("aiinfra:environment", "aiinfra:tags", "aiinfra:dns", "aiinfra:alerts", "aiinfra:images", "aiinfra:secrets")
    return {**{key: prod[key] for key in shared}, "aiinfra:cells": made}


def write_project(directory: Path, sizes: list[int]) -> Path:
    """A copy of the program in `directory` with one stack `c<N>` per size."""
    (directory / "stacks").mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        (directory / name).write_text((REPO / name).read_text())
    for n in sizes:
        (directory / "stacks" / f"Pulumi.c{n}.yaml").write_text(yaml.safe_dump({"config": synthetic_config(n)}))
    return directory


if __name__ == "__main__":
    yaml.safe_dump({"config": synthetic_config(int(sys.argv[1]))}, sys.stdout)
