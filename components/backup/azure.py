"""BackupPlan on Azure: a Data Protection Backup vault, vaulted blob backup of the store, AKS backup.

Children (role names): `vault`; with a store `blob-role` (Storage Account
Backup Contributor for the vault on the store's account), `blob-policy`,
`blob`; with a cluster `aks-staging` (an ObjectStore the backup extension
writes to), `aks-snapshots` (resource group for disk snapshots),
`aks-extension`, `aks-extension-role`, `aks-vault-reader`,
`aks-vault-snapshot-reader`, `aks-cluster-snapshot-contributor`,
`aks-trusted-access`, `aks-policy`, `aks`; with an alert channel `job-failure-alerts` (an alert
processing rule sending the vault's built-in job-failure alerts to the channel's action group).

Choices, and why:
* The vault: system-assigned identity; soft delete on (14 days, Azure's
  minimum); geo-redundant in prod or with `copy_to_region` (which must be the
  region's pair: GRS replicates there, and cross-region restore is enabled to
  restore there), locally redundant otherwise. Vault redundancy cannot change
  once items are protected. In prod with `immutable_days` the vault's
  immutability is `Locked`: recovery points cannot be deleted before they expire
  (the whole retention, which covers `immutable_days`), and the lock cannot be
  undone. Azure takes no day count for it.
* Blobs: vaulted backup (a copy outside the storage account) of the store's
  container, daily or weekly from the RPO, kept `retention_days` in the vault
  store. The storage account id comes from the store's container id.
  Operational (point-in-time) backup is not added: it manages the account's
  blob soft delete and point-in-time restore, which the ObjectStore sets itself.
* AKS: the backup extension (`microsoft.dataprotection.kubernetes`) writes
  to a dedicated staging account with Entra ID auth (`useAAD`), not to the
  model store; disk snapshots go to a resource group of their own, so the
  cluster identity's Contributor role covers only that group. The vault reaches
  the cluster through a trusted-access role binding (`backup-operator`), reads
  the cluster and the snapshot group. Snapshots (operational tier) every 4-24
  hours from the RPO, kept `retention_days`; with `copy_to_region` the first
  backup of each day is also copied to the vault tier (geo-redundant), so the
  copy's RPO is a day.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from ..common import InputError, Problem
from ..common.naming import global_name
from ..storage import ObjectStore, ObjectStoreArgs, ObjectStoreOptions
from .args import BackupOutputs, BackupPlanArgs
from .schedule import DAY, azure_schedule

dp = azure_native.dataprotection
cs = azure_native.containerservice

STORAGE_ACCOUNT_BACKUP_CONTRIBUTOR = "e5e2a7ff-d759-4cd2-bb51-3152d37e2eb1"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"

BLOB_DATASOURCE = "Microsoft.Storage/storageAccounts/blobServices"
AKS_DATASOURCE = "Microsoft.ContainerService/managedClusters"
AKS_EXTENSION_TYPE = "microsoft.dataprotection.kubernetes"
AKS_BACKUP_OPERATOR = "Microsoft.DataProtection/backupVaults/backup-operator"
SOFT_DELETE_DAYS = 14
"""Backup vault soft delete retention: Azure's minimum (14-180)."""
AKS_STAGING_CONTAINER = "aks-backup"


def storage_account_id(container_id: str) -> str:
    """`<account id>/blobServices/default/containers/<c>` -> `<account id>`."""
    return container_id.split("/blobServices/", 1)[0]


def _role(subscription_id: pulumi.Output[str], role_id: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("/subscriptions/", subscription_id,
                                "/providers/Microsoft.Authorization/roleDefinitions/", role_id)


def _store(data_store_type: str) -> dp.DataStoreInfoBaseArgsDict:
    return {"data_store_type": data_store_type, "object_type": "DataStoreInfoBase"}


def _keep(days: int, data_store_type: str,
          copy_to: str | None = None) -> dp.SourceLifeCycleArgsDict:
    copies: list[dp.TargetCopySettingArgsDict] = []
    if copy_to is not None:
        # The Args class, not a dict: `copy_after` is a union of dict types, and the SDK sends a dict
        # there with its snake_case keys untranslated (`object_type`), which ARM would not read.
        copy_after: Any = dp.ImmediateCopyOptionArgs(object_type="ImmediateCopyOption")
        copies.append({"copy_after": copy_after, "data_store": _store(copy_to)})
    return {"delete_after": {"duration": f"P{days}D", "object_type": "AbsoluteDeleteOption"},
            "source_data_store": _store(data_store_type),
            "target_data_store_copy_settings": copies}


def _default_tag() -> dp.TaggingCriteriaArgsDict:
    return {"is_default": True, "tag_info": {"tag_name": "Default"}, "tagging_priority": 99}


def _backup_rule(name: str, data_store_type: str, backup_type: str, interval: str,
                 tags: list[dp.TaggingCriteriaArgsDict]) -> dp.AzureBackupRuleArgsDict:
    return {
        "name": name,
        "object_type": "AzureBackupRule",
        "data_store": _store(data_store_type),
        "backup_parameters": {"backup_type": backup_type, "object_type": "AzureBackupParams"},
        "trigger": {"object_type": "ScheduleBasedTriggerContext",
                    "schedule": {"repeating_time_intervals": [interval]},
                    "tagging_criteria": tags},
    }


def _retention_rule(name: str, lifecycles: list[dp.SourceLifeCycleArgsDict],
                    is_default: bool) -> dp.AzureRetentionRuleArgsDict:
    return {"name": name, "object_type": "AzureRetentionRule", "is_default": is_default, "lifecycles": lifecycles}


def blob_policy_rules(rpo_minutes: int, retention_days: int) -> list[Any]:
    """Vaulted blob backup: a discrete backup to the vault store, kept `retention_days`."""
    schedule = azure_schedule(rpo_minutes)
    name = "BackupWeekly" if schedule.blob_minutes > DAY else "BackupDaily"
    return [
        _retention_rule("Default", [_keep(retention_days, "VaultStore")], is_default=True),
        _backup_rule(name, "VaultStore", "Discrete", schedule.blob_interval, [_default_tag()]),
    ]


def aks_policy_rules(rpo_minutes: int, retention_days: int, vault_copy: bool) -> list[Any]:
    """AKS: incremental snapshots to the operational store; with `vault_copy` the first backup
    of each day is also copied to the (geo-redundant) vault store."""
    schedule = azure_schedule(rpo_minutes)
    name = "BackupDaily" if schedule.aks_minutes >= DAY else "BackupHourly"
    tags = [_default_tag()]
    rules: list[Any] = []
    if vault_copy:
        tags.insert(0, {"is_default": False, "tag_info": {"tag_name": "Daily"}, "tagging_priority": 25,
                        "criteria": [{"object_type": "ScheduleBasedBackupCriteria",
                                      "absolute_criteria": ["FirstOfDay"]}]})
        rules.append(_retention_rule("Daily", [_keep(retention_days, "OperationalStore", copy_to="VaultStore"),
                                               _keep(retention_days, "VaultStore")], is_default=False))
    rules.insert(0, _backup_rule(name, "OperationalStore", "Incremental", schedule.aks_interval, tags))
    rules.insert(1, _retention_rule("Default", [_keep(retention_days, "OperationalStore")], is_default=True))
    return rules


def build(parent: pulumi.Resource, name: str, args: BackupPlanArgs) -> BackupOutputs:
    env = args.environment
    opts = args.options
    group = args.resource_group_name
    if group is None:
        raise InputError(f"invalid BackupPlan {name!r}", [
            Problem("BackupPlanArgs.resource_group_name", None, "required on Azure", missing=True)])
    client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=parent))
    geo = env.is_prod or opts.copy_to_region is not None
    immutable = env.is_prod and opts.immutable_days is not None

    vault = dp.BackupVault(
        f"{name}-vault",
        vault_name=global_name(f"{name}-vault", max_length=50),
        resource_group_name=group,
        location=args.region,
        identity={"type": "SystemAssigned"},
        properties={
            "storage_settings": [{"datastore_type": dp.StorageSettingStoreTypes.VAULT_STORE,
                                  "type": dp.StorageSettingTypes.GEO_REDUNDANT if geo
                                  else dp.StorageSettingTypes.LOCALLY_REDUNDANT}],
            "security_settings": {
                "soft_delete_settings": {"state": dp.SoftDeleteState.ON,
                                         "retention_duration_in_days": SOFT_DELETE_DAYS},
                "immutability_settings": {"state": dp.ImmutabilityState.LOCKED if immutable
                                          else dp.ImmutabilityState.DISABLED},
            },
            "feature_settings": {"cross_region_restore_settings": {
                "state": dp.CrossRegionRestoreState.ENABLED if opts.copy_to_region
                else dp.CrossRegionRestoreState.DISABLED}},
            # Azure Monitor's built-in backup alerts fire for every failed job (not only the first of a
            # kind); `job-failure-alerts` routes them to the channel.
            "monitoring_settings": {"azure_monitor_alert_settings": {
                "alerts_for_all_job_failures": dp.AlertsState.ENABLED}},
        },
        opts=env.child(parent, stateful=True))
    vault_principal = vault.identity.apply(lambda i: (i.principal_id or "") if i is not None else "")
    stateful: list[pulumi.Resource] = [vault]
    plan_names: list[pulumi.Output[str]] = []

    if args.store is not None:
        account_id = args.store.scope_id.apply(storage_account_id)
        blob_role = azure_native.authorization.RoleAssignment(
            f"{name}-blob-role",
            principal_id=vault_principal,
            principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=_role(client.subscription_id, STORAGE_ACCOUNT_BACKUP_CONTRIBUTOR),
            scope=account_id,
            opts=env.child(parent))
        policy = dp.BackupPolicy(
            f"{name}-blob-policy",
            backup_policy_name="blob-vaulted",
            resource_group_name=group,
            vault_name=vault.name,
            properties={"object_type": "BackupPolicy", "datasource_types": [BLOB_DATASOURCE],
                        "policy_rules": blob_policy_rules(opts.rpo_minutes, opts.retention_days)},
            opts=env.child(parent))
        plan_names.append(policy.name)
        datasource: dp.DatasourceArgsDict = {
            "object_type": "Datasource",
            "datasource_type": BLOB_DATASOURCE,
            "resource_id": account_id,
            "resource_location": args.region,
            "resource_name": account_id.apply(lambda i: i.rsplit("/", 1)[-1]),
            "resource_type": "Microsoft.Storage/storageAccounts",
            "resource_uri": account_id,
        }
        stateful.append(dp.BackupInstance(
            f"{name}-blob",
            backup_instance_name=f"{name}-blob",
            resource_group_name=group,
            vault_name=vault.name,
            properties={
                "object_type": "BackupInstance",
                "friendly_name": f"{name}-blob",
                "data_source_info": datasource,
                "policy_info": {"policy_id": policy.id, "policy_parameters": {
                    "backup_datasource_parameters_list": [{
                        "object_type": "BlobBackupDatasourceParameters",
                        "containers_list": [args.store.bucket_name]}]}},
            },
            # Azure validates the vault's access to the account when the instance is created.
            opts=env.child(parent, stateful=True, depends_on=[blob_role])))

    if args.cluster is not None:
        plan_names.append(_aks(parent, name, args, group, client, vault, vault_principal, stateful))

    if args.alerts is not None:
        job_failure_alerts(parent, name, args, group, vault)
    return BackupOutputs(vault_names=[vault.name], plan_names=plan_names, immutable=immutable, stateful=stateful)


def job_failure_alerts(parent: pulumi.Resource, name: str, args: BackupPlanArgs, group: pulumi.Input[str],
                       vault: dp.BackupVault) -> azure_native.alertsmanagement.AlertProcessingRuleByName:
    """An alert processing rule that adds the channel's action group to every alert fired on the vault.

    Failed backup and restore jobs raise Azure Monitor's built-in backup alerts on the vault (no alert
    rule to write; `monitoringSettings.azureMonitorAlertSettings.alertsForAllJobFailures` on the vault
    raises one per failed job), and built-in alerts reach people only through an alert processing rule
    (Azure Backup docs, "Azure Monitor based alerts for Azure Backup", "Configure notifications for
    alerts": an alert processing rule scoped to the vault with the action group)."""
    assert args.alerts is not None
    from ..alerts.azure import channel_targets
    return azure_native.alertsmanagement.AlertProcessingRuleByName(
        f"{name}-job-failure-alerts",
        resource_group_name=group,
        location="Global",
        properties=azure_native.alertsmanagement.AlertProcessingRulePropertiesArgs(
            scopes=[vault.id],
            description=f"Backup alerts of {args.cell_name} (failed backup and restore jobs) to the alert channel",
            enabled=True,
            # Typed classes: `actions` items are a union (add | remove all action groups), and a dict
            # would reach the provider with untranslated snake_case keys.
            actions=[azure_native.alertsmanagement.AddActionGroupsArgs(
                action_type="AddActionGroups",
                action_group_ids=channel_targets(args.alerts, "BackupPlanArgs.alerts"))]),
        opts=args.environment.child(parent))


def _aks(parent: pulumi.Resource, name: str, args: BackupPlanArgs, group: pulumi.Input[str], client: Any,
         vault: dp.BackupVault, vault_principal: pulumi.Output[str],
         stateful: list[pulumi.Resource]) -> pulumi.Output[str]:
    """AKS backup: extension, trusted access, role assignments, policy and backup instance."""
    from ..compute.azure import AksHandle

    assert args.cluster is not None
    handle = args.cluster.handle
    if not isinstance(handle, AksHandle):
        raise TypeError(f"BackupPlan {name!r}: the cluster is not an AKS cluster built by components.compute.azure")
    env = args.environment
    opts = args.options
    cluster = handle.cluster

    staging = ObjectStore(
        f"{name}-aks-staging",
        ObjectStoreArgs(cloud="azure", region=args.region, environment=env,
                        options=ObjectStoreOptions(container_name=AKS_STAGING_CONTAINER),
                        resource_group_name=group),
        opts=pulumi.ResourceOptions(parent=parent))
    staging_account_id = staging.scope_id.apply(storage_account_id)
    staging_account = staging.url.apply(lambda url: url.split("//", 1)[-1].split(".", 1)[0])

    snapshots = azure_native.resources.ResourceGroup(
        f"{name}-aks-snapshots", location=args.region, opts=env.child(parent, stateful=True))
    stateful.append(snapshots)

    extension = azure_native.kubernetesconfiguration.Extension(
        f"{name}-aks-extension",
        cluster_rp="Microsoft.ContainerService",
        cluster_resource_name="managedClusters",
        cluster_name=handle.cluster_name,
        resource_group_name=handle.resource_group_name,
        extension_name="azure-aks-backup",
        extension_type=AKS_EXTENSION_TYPE,
        release_train="stable",
        auto_upgrade_minor_version=True,
        scope={"cluster": {"release_namespace": "dataprotection-microsoft"}},
        configuration_settings={
            "configuration.backupStorageLocation.bucket": AKS_STAGING_CONTAINER,
            "configuration.backupStorageLocation.config.storageAccount": staging_account,
            "configuration.backupStorageLocation.config.resourceGroup": group,
            "configuration.backupStorageLocation.config.subscriptionId": client.subscription_id,
            "configuration.backupStorageLocation.config.useAAD": "true",
            "configuration.backupStorageLocation.config.storageAccountURI":
                staging_account.apply(lambda a: f"https://{a}.blob.core.windows.net/"),
            "credentials.tenantId": client.tenant_id,
        },
        opts=env.child(parent, depends_on=[staging]))

    def grant(role: str, role_id: str, principal: pulumi.Input[str], scope: pulumi.Input[str],
              depends_on: list[pulumi.Resource] | None = None) -> pulumi.Resource:
        return azure_native.authorization.RoleAssignment(
            f"{name}-{role}",
            principal_id=principal,
            principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=_role(client.subscription_id, role_id),
            scope=scope,
            opts=env.child(parent, depends_on=depends_on or []))

    extension_principal = extension.aks_assigned_identity.apply(
        lambda i: (i.principal_id or "") if i is not None else "")
    cluster_principal = cluster.identity.apply(
        lambda i: next(iter((i.user_assigned_identities or {}).values())).principal_id
        if i is not None and i.user_assigned_identities else ((i.principal_id or "") if i is not None else ""))
    roles = [
        grant("aks-extension-role", STORAGE_BLOB_DATA_CONTRIBUTOR, extension_principal, staging_account_id),
        grant("aks-vault-reader", READER, vault_principal, cluster.id),
        grant("aks-vault-snapshot-reader", READER, vault_principal, snapshots.id),
        grant("aks-cluster-snapshot-contributor", CONTRIBUTOR, cluster_principal, snapshots.id),
    ]
    trusted = cs.TrustedAccessRoleBinding(
        f"{name}-aks-trusted-access",
        resource_group_name=handle.resource_group_name,
        resource_name_=handle.cluster_name,
        trusted_access_role_binding_name="backup-vault",
        source_resource_id=vault.id,
        roles=[AKS_BACKUP_OPERATOR],
        opts=env.child(parent))

    policy = dp.BackupPolicy(
        f"{name}-aks-policy",
        backup_policy_name="aks",
        resource_group_name=group,
        vault_name=vault.name,
        properties={"object_type": "BackupPolicy", "datasource_types": [AKS_DATASOURCE],
                    "policy_rules": aks_policy_rules(opts.rpo_minutes, opts.retention_days,
                                                     vault_copy=opts.copy_to_region is not None)},
        opts=env.child(parent))
    source: dp.DatasourceArgsDict = {
        "object_type": "Datasource",
        "datasource_type": AKS_DATASOURCE,
        "resource_id": cluster.id,
        "resource_location": args.region,
        "resource_name": handle.cluster_name,
        "resource_type": "Microsoft.ContainerService/managedclusters",
        "resource_uri": cluster.id,
    }
    source_set: dp.DatasourceSetArgsDict = {**source, "object_type": "DatasourceSet"}
    stateful.append(dp.BackupInstance(
        f"{name}-aks",
        backup_instance_name=f"{name}-aks",
        resource_group_name=group,
        vault_name=vault.name,
        properties={
            "object_type": "BackupInstance",
            "friendly_name": f"{name}-aks",
            "data_source_info": source,
            "data_source_set_info": source_set,
            "policy_info": {"policy_id": policy.id, "policy_parameters": {
                "backup_datasource_parameters_list": [{
                    "object_type": "KubernetesClusterBackupDatasourceParameters",
                    "include_cluster_scope_resources": True,
                    "snapshot_volumes": True}],
                "data_store_parameters_list": [{
                    "object_type": "AzureOperationalStoreParameters",
                    "data_store_type": "OperationalStore",
                    "resource_group_id": snapshots.id}]}},
        },
        opts=env.child(parent, stateful=True, depends_on=[extension, trusted, *roles])))
    return policy.name
