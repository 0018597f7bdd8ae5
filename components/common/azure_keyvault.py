"""The one way this library creates an Azure Key Vault: RBAC, purge protection, 90-day soft delete."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from .environment import Environment
from .naming import compact_name


def key_vault(parent: pulumi.Resource, name: str, env: Environment, resource_group_name: pulumi.Input[str],
              location: str, tenant_id: pulumi.Input[str]) -> azure_native.keyvault.Vault:
    """A Key Vault named `<name>-kv` (stateful): access by Azure RBAC only, purge protection on so a
    deleted key cannot be destroyed for 90 days, and no access for VM deployment or templates."""
    return azure_native.keyvault.Vault(
        f"{name}-kv",
        vault_name=compact_name(name, prefix="kv"),
        resource_group_name=resource_group_name,
        location=location,
        properties={
            "tenant_id": tenant_id,
            "sku": {"family": azure_native.keyvault.SkuFamily.A, "name": azure_native.keyvault.SkuName.STANDARD},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": 90,
            "enable_purge_protection": True,
            "enabled_for_deployment": False,
            "enabled_for_disk_encryption": False,
            "enabled_for_template_deployment": False,
        },
        opts=env.child(parent, stateful=True))
