"""Secrets in GCP Secret Manager, replicated in the cell's region only (user-managed replication)."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from ..common import Environment
from ..common.naming import global_name


def store(parent: pulumi.Resource, name: str, value: pulumi.Input[str], env: Environment, region: str,
          project: str | None) -> pulumi.Output[str]:
    secret = gcp.secretmanager.Secret(
        f"{name}-secret", secret_id=global_name(name, max_length=255), project=project,
        replication={"user_managed": {"replicas": [{"location": region}]}},
        opts=env.child(parent, stateful=True))
    gcp.secretmanager.SecretVersion(f"{name}-secret-version", secret=secret.id,
                                    secret_data=pulumi.Output.secret(value), opts=env.child(parent))
    return secret.id
