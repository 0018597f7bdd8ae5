"""Build a whole environment from its spec: the cells, then what spans them."""

from __future__ import annotations

import pulumi

from .cell import Cell
from .common import Environment
from .spec import EnvironmentSpec


def deploy(spec: EnvironmentSpec) -> dict[str, Cell]:
    """Register every cell of `spec` and export provider-neutral outputs."""
    environment = Environment(name=spec.environment, tags=spec.tags.as_dict())
    cells = {cell.name: Cell(cell, environment) for cell in spec.cells}
    pulumi.export("environment", spec.environment)
    pulumi.export("cells", {
        name: {"cloud": c.spec.cloud, "region": c.spec.region,
               "bucket_name": c.store.bucket_name, "bucket_url": c.store.url}
        for name, c in cells.items()})
    pulumi.export("targets", spec.targets.model_dump(exclude_none=True))
    return cells
