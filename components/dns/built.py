"""What each provider's `create_zone` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import pulumi


@dataclass(frozen=True)
class ZoneBuilt:
    ref: pulumi.Input[str]
    """How records name the zone: Route 53 zone id, Cloud DNS managed zone name, Azure DNS zone name."""
    name_servers: pulumi.Output[Sequence[str]] | None = None
    """A created zone's name servers (delegate the domain to them)."""
    stateful: list[pulumi.Resource] = field(default_factory=list)
    project: str | None = None
    resource_group_name: pulumi.Input[str] | None = None
