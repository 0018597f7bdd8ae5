"""GCP cell foundation: a provider pinned to the cell's project and region."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from ..common import Environment
from ..spec.model import GcpCell
from .foundation import Foundation


def foundation(parent: pulumi.Resource, spec: GcpCell, environment: Environment) -> Foundation:
    provider = gcp.Provider(f"{spec.name}-gcp", project=spec.project, region=spec.region,
                            opts=pulumi.ResourceOptions(parent=parent))
    return Foundation(provider, project=spec.project)
