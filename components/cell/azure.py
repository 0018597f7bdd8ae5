"""Azure cell foundation: a provider pinned to the region and one resource group for the cell.

The group is created (protected in prod) unless the cell names an existing one.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from ..common import Environment
from ..spec.model import AzureCell
from .foundation import Foundation


def foundation(parent: pulumi.Resource, spec: AzureCell, environment: Environment) -> Foundation:
    provider = azure_native.Provider(f"{spec.name}-azure", location=spec.region,
                                     opts=pulumi.ResourceOptions(parent=parent))
    if spec.resource_group is not None:
        return Foundation(provider, resource_group_name=spec.resource_group)
    group = azure_native.resources.ResourceGroup(
        f"{spec.name}-rg", location=spec.region,
        opts=environment.child(parent, stateful=True, provider=provider))
    return Foundation(provider, resource_group_name=group.name)
