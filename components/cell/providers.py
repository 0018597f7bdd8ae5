"""One explicit provider per cell, pinned to the cell's cloud and region.

Explicit providers make a cell independent of the shell and of stack-wide
`aws:region`-style defaults, and let one stack hold several regions of a cloud.
Credentials still come from the usual places (environment, profile, CLI login).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from ..spec.model import AwsCell, AzureCell, GcpCell


def cell_provider(parent: pulumi.Resource, cell: AwsCell | AzureCell | GcpCell) -> pulumi.ProviderResource:
    opts = pulumi.ResourceOptions(parent=parent)
    if isinstance(cell, AwsCell):
        return aws.Provider(f"{cell.name}-aws", region=cell.region, opts=opts)
    if isinstance(cell, AzureCell):
        return azure_native.Provider(f"{cell.name}-azure", location=cell.region, opts=opts)
    return gcp.Provider(f"{cell.name}-gcp", project=cell.project, region=cell.region, opts=opts)
