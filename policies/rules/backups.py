"""Backups: coverage in staging and prod, cross-region copies and immutability in prod, retention.

Coverage is decided per cell (one cloud + region): a stateful resource is covered when its cell -
its nearest `aiinfra:index:Cell` ancestor, else its `cell` tag - holds an `aiinfra:backup:BackupPlan`
component or a raw backup resource (AWS Backup plan or selection, Azure BackupInstance, GKE backup
plan), or when a backup resource references it directly (the way Azure BackupInstances and GKE
backup plans name their datasource).

Component resources carry no inputs in a stack policy (their registered outputs are not part of
the Analyzer protocol), so "copies to another region" and "immutable" are read from the raw
resources the components create:
* AWS: every backup plan rule has a copy action into a vault in another region; every vault has
  an AWS Backup Vault Lock in compliance mode (changeableForDays set).
* Azure: every backup vault stores GeoRedundant and has immutability Locked.
* GCP: every GKE cluster under backup has a backup plan in a location other than the cluster's;
  every GKE backup plan has a locked retention policy with a delete lock.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from .common import (
    STRING_LIST,
    Resource,
    Setting,
    Stack,
    UNKNOWN,
    as_list,
    environment_setting,
    get,
    label_of,
    need,
    number,
    resource_policy,
    stack_policy,
)

BACKUP_COMPONENT = "aiinfra:backup:BackupPlan"
AWS_PLAN = "aws:backup/plan:Plan"
AWS_SELECTION = "aws:backup/selection:Selection"
AWS_VAULT = "aws:backup/vault:Vault"
AWS_AIR_GAPPED_VAULT = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
AWS_VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
AZURE_VAULT = "azure-native:dataprotection:BackupVault"
AZURE_POLICY = "azure-native:dataprotection:BackupPolicy"
AZURE_INSTANCE = "azure-native:dataprotection:BackupInstance"
GKE_PLAN = "gcp:gkebackup/backupPlan:BackupPlan"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
RAW_BACKUPS = (AWS_PLAN, AWS_SELECTION, AZURE_INSTANCE, GKE_PLAN)

BACKED_UP_TYPES = [
    "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:eks/cluster:Cluster", "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster", "aws:dynamodb/table:Table", "aws:efs/fileSystem:FileSystem", "aws:ebs/volume:Volume",
    "azure-native:storage:StorageAccount", "azure-native:containerservice:ManagedCluster",
    "gcp:storage/bucket:Bucket", "gcp:container/cluster:Cluster", "gcp:sql/databaseInstance:DatabaseInstance",
    "gcp:compute/disk:Disk", "gcp:filestore/instance:Instance",
]

COVERAGE_SETTINGS = [
    environment_setting("environments", ["staging", "prod"], "Environments whose stateful resources need backups."),
    Setting("stateful_types", {**STRING_LIST, "description": "Resource types that hold data and need a backup."},
            BACKED_UP_TYPES),
]
PROD_ONLY = [environment_setting("environments", ["prod"], "Environments this rule applies to.")]
RETENTION = Setting("min_retention_days", {"type": "integer", "minimum": 1,
                                           "description": "Shortest allowed backup retention, in days."}, 7)


def _backed_up_cells(stack: Stack) -> set[str]:
    cells = {stack.cell(r) for r in stack.of_type(BACKUP_COMPONENT, *RAW_BACKUPS)}
    return {c for c in cells if c}


def check_coverage(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    covered_cells = _backed_up_cells(stack)
    backups = stack.of_type(*RAW_BACKUPS)
    for resource in stack.of_type(*config["stateful_types"]):
        if stack.environment_of(resource) not in config["environments"]:
            continue
        cell = stack.cell(resource)
        if cell is not None and cell in covered_cells:
            continue
        if any(b.depends_on(resource.urn) for b in backups):
            continue
        where = f"cell '{cell}'" if cell else "its cell"
        yield (f"Add a backup plan (aiinfra BackupPlan) to {where} so that {label_of(resource)} is backed up.",
               resource.urn)


def _arn_region(arn: Any) -> str | None:
    if isinstance(arn, str) and arn.startswith("arn:"):
        parts = arn.split(":")
        return parts[3] if len(parts) > 3 and parts[3] else None
    return None


def _region(resource: Resource) -> Any:
    region = resource.get("region")
    if region is None:
        region = resource.provider_props.get("region")
    return region


def _aws_plan_copies_elsewhere(stack: Stack, plan: Resource) -> bool:
    """Every rule of the plan copies into a vault outside the plan's region."""
    region = _region(plan)
    rules = plan.get("rules")
    if rules is UNKNOWN:
        return True
    vault_regions = {_region(v) for v in stack.referenced(plan, "rules") if v.type == AWS_VAULT}

    def elsewhere(copy: Any) -> bool:
        arn = get(copy, "destinationVaultArn")
        if arn is UNKNOWN:  # the ARN of a vault created in this stack: judge by the vaults the rules use
            return not vault_regions or any(r is UNKNOWN or r != region for r in vault_regions)
        target = _arn_region(arn)
        return target is not None and (not isinstance(region, str) or target != region)

    for rule in as_list(rules):
        copies = get(rule, "copyActions")
        if copies is not UNKNOWN and not any(elsewhere(c) for c in as_list(copies)):
            return False
    return bool(as_list(rules))


def check_cross_region(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    environments = config["environments"]
    for plan in stack.of_type(AWS_PLAN):
        if stack.environment_of(plan) in environments and not _aws_plan_copies_elsewhere(stack, plan):
            yield (f"Add a copy action into a backup vault in another region to every rule of {label_of(plan)}.",
                   plan.urn)
    for vault in stack.of_type(AZURE_VAULT):
        if stack.environment_of(vault) not in environments:
            continue
        types = [get(s, "type") for s in as_list(vault.get("properties", "storageSettings"))]
        if not any(t in ("GeoRedundant", UNKNOWN) for t in types):
            yield (f"Set properties.storageSettings type to GeoRedundant on {label_of(vault)} so backups are "
                   f"copied to the paired region.", vault.urn)
    by_cluster: dict[str, list[Resource]] = {}
    for plan in stack.of_type(GKE_PLAN):
        if stack.environment_of(plan) not in environments:
            continue
        refs = [u for u in plan.refs("cluster") if u in stack.by_urn]
        key = refs[0] if refs else str(plan.get("cluster"))
        by_cluster.setdefault(key, []).append(plan)
    for key, plans in sorted(by_cluster.items()):
        locations = {p.get("location") for p in plans}
        if UNKNOWN in locations:
            continue
        cluster = stack.by_urn.get(key)
        home = cluster.get("location") if cluster is not None else None
        elsewhere = (len(locations) >= 2) if not isinstance(home, str) else any(l != home for l in locations)
        if not elsewhere:
            what = label_of(cluster) if cluster is not None else f"cluster {key}"
            where = f"a location other than {home}" if isinstance(home, str) else "a second location"
            yield (f"Add a GKE backup plan in {where} for {what}, next to {label_of(plans[0])}.", plans[0].urn)


def check_immutable(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    environments = config["environments"]
    locks = stack.of_type(AWS_VAULT_LOCK)
    for vault in stack.of_type(AWS_VAULT):
        if stack.environment_of(vault) not in environments:
            continue
        name = vault.get("name")
        mine = [l for l in locks
                if l.depends_on(vault.urn, "backupVaultName") or (isinstance(name, str) and l.get("backupVaultName") == name)]
        if not any(l.get("changeableForDays") is not None for l in mine):
            yield (f"Add an aws.backup.VaultLockConfiguration in compliance mode (changeableForDays set) to "
                   f"{label_of(vault)}.", vault.urn)
    for vault in stack.of_type(AZURE_VAULT):
        if stack.environment_of(vault) not in environments:
            continue
        state = vault.get("properties", "securitySettings", "immutabilitySettings", "state")
        if state not in ("Locked", UNKNOWN):
            yield (f"Set properties.securitySettings.immutabilitySettings.state to Locked on {label_of(vault)}.",
                   vault.urn)
    for plan in stack.of_type(GKE_PLAN):
        if stack.environment_of(plan) not in environments:
            continue
        locked = plan.get("retentionPolicy", "locked")
        lock_days = plan.get("retentionPolicy", "backupDeleteLockDays")
        if locked not in (True, UNKNOWN) or (lock_days is not UNKNOWN and (number(lock_days) or 0) < 1):
            yield (f"Set retentionPolicy.locked to true and backupDeleteLockDays to at least 1 on {label_of(plan)}.",
                   plan.urn)


_ISO_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T.*)?$")


def iso_days(duration: Any) -> float | None:
    """Days in an ISO 8601 duration such as P35D, P4W, P1M (30 days) or P1Y (365 days)."""
    if not isinstance(duration, str):
        return None
    match = _ISO_DURATION.match(duration)
    if not match:
        return None
    years, months, weeks, days = (int(g) if g else 0 for g in match.groups())
    return years * 365 + months * 30 + weeks * 7 + days


def check_retention(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    minimum = float(config["min_retention_days"])
    short: list[str] = []
    if resource.type == AWS_PLAN:
        for rule in as_list(need(resource.get("rules"), "rules")):
            rule_name = get(rule, "ruleName", default="?")
            days = number(need(get(rule, "lifecycle", "deleteAfter"), "rules.lifecycle.deleteAfter"))
            if days is not None and days < minimum:
                short.append(f"rule '{rule_name}' keeps {days:g} days")
            for copy in as_list(get(rule, "copyActions")):
                days = number(need(get(copy, "lifecycle", "deleteAfter"), "rules.copyActions.lifecycle.deleteAfter"))
                if days is not None and days < minimum:
                    short.append(f"copies of rule '{rule_name}' are kept {days:g} days")
    elif resource.type == AZURE_POLICY:
        for rule in as_list(need(resource.get("properties", "policyRules"), "properties.policyRules")):
            if get(rule, "objectType") != "AzureRetentionRule":
                continue
            for lifecycle in as_list(get(rule, "lifecycles")):
                duration = need(get(lifecycle, "deleteAfter", "duration"), "lifecycles.deleteAfter.duration")
                days = iso_days(duration)
                if days is not None and days < minimum:
                    short.append(f"retention rule '{get(rule, 'name', default='?')}' keeps {duration}")
    elif resource.type == GKE_PLAN:
        days = number(need(resource.get("retentionPolicy", "backupRetainDays"), "retentionPolicy.backupRetainDays"))
        if days is not None and 0 < days < minimum:
            short.append(f"backupRetainDays is {days:g}")
    if short:
        yield f"Keep backups of {label_of(resource)} for at least {minimum:g} days ({'; '.join(short)})."


POLICIES = [
    stack_policy("backup-coverage",
                 "Stateful resources (buckets, storage accounts, clusters) in staging and prod must be covered by a "
                 "backup plan.", check_coverage, settings=COVERAGE_SETTINGS),
    stack_policy("backup-cross-region-copy",
                 "Backups (AWS Backup plans, Azure backup vaults, GKE backup plans) in prod must be copied to "
                 "another region.", check_cross_region, settings=PROD_ONLY),
    stack_policy("backup-immutable",
                 "Backup vaults and plans (AWS Backup vaults, Azure backup vaults, GKE backup plans) in prod must be "
                 "immutable.", check_immutable, settings=PROD_ONLY),
    resource_policy("backup-min-retention",
                    "Backup plans and policies (AWS Backup, Azure Backup, Backup for GKE) must retain backups for at "
                    "least the configured number of days.", [AWS_PLAN, AZURE_POLICY, GKE_PLAN], check_retention,
                    settings=[RETENTION]),
]
