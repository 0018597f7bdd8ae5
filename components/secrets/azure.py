"""Secrets in an Azure Key Vault of their own (RBAC, purge protection), in the cell's resource group."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from ..common import Environment
from ..common.azure_keyvault import key_vault


def store(parent: pulumi.Resource, name: str, value: pulumi.Input[str], env: Environment, region: str,
          resource_group_name: pulumi.Input[str]) -> pulumi.Output[str]:
    client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    vault = key_vault(parent, f"{name}-secrets", env, resource_group_name, region, client.tenant_id)
    secret = azure_native.keyvault.Secret(
        f"{name}-secret", secret_name=name.replace("_", "-")[:127], vault_name=vault.name,
        resource_group_name=resource_group_name,
        properties={"value": pulumi.Output.secret(value), "content_type": "text/plain"},
        opts=env.child(parent))
    return secret.properties.secret_uri
