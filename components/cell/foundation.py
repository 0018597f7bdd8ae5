"""What each cloud gives a cell before any component: its provider and shared scopes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class Foundation:
    """The cell's explicit provider, plus the Azure resource group or GCP project its components share."""

    provider: pulumi.ProviderResource
    resource_group_name: pulumi.Input[str] | None = None
    project: str | None = None
