"""The cold-start budget: the worst-case time from a replica being wanted to it serving.

Sum of the catalog's figures (components/catalog/coldstart.py) for the endpoint's cloud, engine,
image and model size, with a margin: a new GPU node, the image pull, the model copy, the server's
start and load. The startup probe allows the server-start part; Pulumi waits the whole budget for a
Deployment; the endpoint exports it and its pods carry it (COLD_START_ANNOTATION) so `preflight trace`
and `preflight whatif` read it from the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..catalog.coldstart import (IMAGE_PULL_MB_PER_S, IMAGE_SIZE_GB, LOAD_SECONDS_PER_GB, MARGIN,
                                 MODEL_COPY_MB_PER_S, NODE_READY_SECONDS, SERVER_START_SECONDS)
from .args import ModelEndpointArgs

COLD_START_ANNOTATION = "aiinfra.io/cold-start-seconds"
"""Pod template annotation: the endpoint's cold-start budget in seconds."""
SERVER_START_ANNOTATION = "aiinfra.io/server-start-seconds"
"""Pod template annotation: the part of the budget the server spends starting and loading the model,
which its startup probe must allow (`preflight trace`'s cold-start hop checks it)."""


@dataclass(frozen=True)
class ColdStart:
    """The budget's parts, in seconds, and their sum with the margin."""

    node_seconds: int
    image_seconds: int
    copy_seconds: int
    server_start_seconds: int
    total_seconds: int

    def explain(self) -> str:
        return (f"{self.total_seconds} s = ({self.node_seconds} node + {self.image_seconds} image + "
                f"{self.copy_seconds} model copy + {self.server_start_seconds} start and load) x {MARGIN.value:g}")


def cold_start(args: ModelEndpointArgs) -> ColdStart:
    """The worst case for one new replica of this endpoint on a new node."""
    options = args.options
    size_gb = options.model.size_gb or 0.0
    engine = options.engine
    node = NODE_READY_SECONDS[args.cloud].value
    image = IMAGE_SIZE_GB[engine].value * 1000 / IMAGE_PULL_MB_PER_S.value
    copy = size_gb * 1000 / MODEL_COPY_MB_PER_S[args.cloud].value
    start = SERVER_START_SECONDS[engine].value + size_gb * LOAD_SECONDS_PER_GB.value
    parts = [math.ceil(x) for x in (node, image, copy, start)]
    return ColdStart(node_seconds=parts[0], image_seconds=parts[1], copy_seconds=parts[2],
                     server_start_seconds=parts[3], total_seconds=math.ceil(sum(parts) * MARGIN.value))
