"""ObjectStore on Azure: a locked-down StorageV2 account with one private blob container.

Children (role names): `rg` (unless a resource group is given), `account`,
`blob-service`, `container`, `lifecycle`.
Encryption at rest is always on in Azure Storage; infrastructure (double)
encryption is required here as well. Shared-key access is off: clients use
Microsoft Entra ID (workload identity), never account keys.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from ..catalog.regions import AZURE_REGIONS_WITHOUT_ZONES
from ..common.naming import compact_name
from .args import ObjectStoreArgs, StoreOutputs


def _sku(args: ObjectStoreArgs) -> str:
    """RA-GZRS with a replica region, ZRS where the region has zones, else LRS."""
    if args.options.replica_region:
        return "Standard_RAGZRS"
    return "Standard_LRS" if args.region in AZURE_REGIONS_WITHOUT_ZONES else "Standard_ZRS"


def build(parent: pulumi.Resource, name: str, args: ObjectStoreArgs) -> StoreOutputs:
    env = args.environment
    opts = args.options
    stateful: list[pulumi.Resource] = []
    if args.resource_group_name is None:
        group = azure_native.resources.ResourceGroup(
            f"{name}-rg", location=args.region, opts=env.child(parent, stateful=True))
        stateful.append(group)
        group_name: pulumi.Input[str] = group.name
    else:
        group_name = args.resource_group_name

    account_name = compact_name(name, prefix="st")
    account = azure_native.storage.StorageAccount(
        f"{name}-account",
        account_name=account_name,
        resource_group_name=group_name,
        location=args.region,
        kind="StorageV2",
        sku={"name": _sku(args)},
        access_tier=azure_native.storage.AccessTier.HOT,
        enable_https_traffic_only=True,
        minimum_tls_version="TLS1_2",
        allow_blob_public_access=False,
        allow_shared_key_access=False,
        default_to_o_auth_authentication=True,
        allow_cross_tenant_replication=False,
        is_local_user_enabled=False,
        is_sftp_enabled=False,
        encryption={
            "key_source": "Microsoft.Storage",
            "require_infrastructure_encryption": True,
            "services": {"blob": {"enabled": True, "key_type": "Account"},
                         "file": {"enabled": True, "key_type": "Account"}},
        },
        opts=env.child(parent, stateful=True))
    stateful.append(account)

    blob_service = azure_native.storage.BlobServiceProperties(
        f"{name}-blob-service",
        account_name=account.name,
        resource_group_name=group_name,
        blob_services_name="default",
        is_versioning_enabled=True,
        # Change feed + versioning + soft delete are what Azure Backup's blob backups need.
        change_feed={"enabled": True, "retention_in_days": max(opts.noncurrent_version_days, 7)},
        delete_retention_policy={"enabled": True, "days": opts.soft_delete_days},
        container_delete_retention_policy={"enabled": True, "days": opts.soft_delete_days},
        opts=env.child(parent))

    container = azure_native.storage.BlobContainer(
        f"{name}-container",
        account_name=account.name,
        resource_group_name=group_name,
        container_name=opts.container_name,
        public_access=azure_native.storage.PublicAccess.NONE,
        opts=env.child(parent, stateful=True, depends_on=[blob_service]))
    stateful.append(container)

    azure_native.storage.ManagementPolicy(
        f"{name}-lifecycle",
        account_name=account.name,
        resource_group_name=group_name,
        management_policy_name="default",
        policy={"rules": [{
            "name": "expire-noncurrent-versions",
            "enabled": True,
            "type": "Lifecycle",
            "definition": {
                "filters": {"blob_types": ["blockBlob"]},
                "actions": {"version": {"delete": {
                    "days_after_creation_greater_than": opts.noncurrent_version_days}}},
            },
        }]},
        opts=env.child(parent, depends_on=[blob_service]))

    # From the names the stack sets (the account's blob endpoint is https://<account>.blob.core.windows.net,
    # Azure Storage docs, "Storage account endpoints"), so the URL is known in the plan: the model
    # loader's source and `preflight trace`'s model hop. Whoever reads the container also depends on
    # it through its grant (a role assignment scoped to the container).
    url = pulumi.Output.from_input(f"https://{account_name}.blob.core.windows.net/{opts.container_name}")
    return StoreOutputs(bucket_name=container.name, url=url, stateful=stateful, scope_id=container.id)
