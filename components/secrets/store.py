"""The one way a value is kept in a cloud's secret store: AWS Secrets Manager, Azure Key Vault or
GCP Secret Manager, so operators and clients of that cloud fetch it with that cloud's own access
control and audit log, never from Pulumi state or a Kubernetes object."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from ..catalog.regions import CLOUDS, Cloud
from ..common import Environment
from ..common.dispatch import unknown


@dataclass(frozen=True)
class SecretPlace:
    """Where a secret is kept: the cloud's own reference to it."""

    cloud: Cloud
    reference: pulumi.Output[str]
    """AWS: the secret's ARN; Azure: the Key Vault secret's URI; GCP: `projects/<p>/secrets/<id>`."""


def store_secret(cloud: Cloud, parent: pulumi.Resource, name: str, value: pulumi.Input[str], env: Environment,
                 region: str, *, description: str, resource_group_name: pulumi.Input[str] | None = None,
                 project: str | None = None) -> SecretPlace:
    """Keep `value` (a Pulumi secret) in the cloud's secret store as `name`, a child of `parent`."""
    match cloud:
        case "aws":
            from . import aws
            return SecretPlace(cloud, aws.store(parent, name, value, env, region, description))
        case "azure":
            from . import azure
            assert resource_group_name is not None, "Azure secrets need the cell's resource group"
            return SecretPlace(cloud, azure.store(parent, name, value, env, region, resource_group_name))
        case "gcp":
            from . import gcp
            return SecretPlace(cloud, gcp.store(parent, name, value, env, region, project))
        case _:
            unknown(cloud, "store_secret cloud", CLOUDS)
