"""Which images a cell's serving pods pull, so its image cache has a rule for each upstream."""

from __future__ import annotations

from typing import Sequence

from ..catalog.images import model_loader
from ..catalog.regions import Cloud
from ..images import parse_image
from .args import EndpointOptions


def pulled_images(cloud: Cloud, endpoints: Sequence[EndpointOptions]) -> list[str]:
    """The upstream images of the cell's cluster-mode pods: each server and the cloud's model loader."""
    cluster = [e for e in endpoints if e.mode == "cluster"]
    if not cluster:
        return []
    return [*(e.model.image for e in cluster if e.model.image), model_loader(cloud).image]


def upstreams(cloud: Cloud, endpoints: Sequence[EndpointOptions]) -> tuple[str, ...]:
    """The registry hosts those images come from, sorted."""
    return tuple(sorted({parse_image(i).registry for i in pulled_images(cloud, endpoints)}))
