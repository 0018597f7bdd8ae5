"""Secrets in AWS Secrets Manager (encrypted with the account's `aws/secretsmanager` key)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from ..common import Environment
from ..common.naming import global_name


def store(parent: pulumi.Resource, name: str, value: pulumi.Input[str], env: Environment, region: str,
          description: str) -> pulumi.Output[str]:
    secret = aws.secretsmanager.Secret(
        f"{name}-secret", name=global_name(name, max_length=128), description=description,
        recovery_window_in_days=30 if env.is_prod else 7, region=region,
        opts=env.child(parent, stateful=True))
    aws.secretsmanager.SecretVersion(f"{name}-secret-version", secret_id=secret.id,
                                     secret_string=pulumi.Output.secret(value), region=region,
                                     opts=env.child(parent))
    return secret.arn
