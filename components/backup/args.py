"""Arguments of BackupPlan, the rules that need the cloud, and the shapes the per-cloud builders share.

Limits encoded in `backup_problems`, and where they come from:

- Any cloud: `immutable_days <= retention_days` (a backup cannot stay locked
  longer than it is kept); `copy_to_region` a known region of the same cloud
  (components/catalog/regions.py) other than the primary.
- AWS Backup: schedules run at most hourly; an RPO under 60 minutes needs
  continuous backup, which keeps 1-35 days and covers S3 but not EKS
  (AWS Backup Developer Guide, "Continuous backups and point-in-time recovery";
  "Feature availability by resource"). So RPO < 60 is rejected with
  `retention_days > 35` or in a cell with a cluster.
- Azure Backup: the vault copy of a backup lives in the vault's geo-redundant
  pair (Backup vault storage redundancy "GeoRedundant" replicates to the Azure
  paired region; cross-region restore restores there), so `copy_to_region`
  must be that pair. Vaulted blob backup runs daily or weekly (CLI manifest
  `AzureBlob`: `supportedBackupFrequency: Daily, Weekly`): RPO < 1440 is
  rejected when a store is protected. AKS backup runs every 4, 6, 8, 12 or 24
  hours (manifest `AzureKubernetesService`: `Hourly, Daily`; AKS backup docs)
  and keeps operational-tier snapshots at most 360 days ("AKS backup support
  matrix"): RPO < 240 or `retention_days > 360` is rejected with a cluster.
- Backup for GKE (pulumi-gcp 10.2 `gkebackup.BackupPlan`):
  `target_rpo_minutes` 60..86400, `backup_retain_days` <= 365 and
  <= 360 x target RPO / 1440 (a plan keeps at most 360 backups),
  `backup_delete_lock_days` 0..90. GCP has nothing to protect without a cluster
  (Backup for GKE is the only backup service wired here; a GCS bucket's
  protection is the ObjectStore's versioning, soft delete and dual-region).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from ..catalog.regions import AZURE_PAIRS, CLOUDS, Cloud, region_problem
from ..common import Environment, Problem
from ..common.dispatch import unknown
from .schedule import (
    AWS_CONTINUOUS_MAX_RETENTION_DAYS,
    AWS_MIN_INTERVAL_MINUTES,
    AZURE_AKS_INTERVALS,
    AZURE_BLOB_INTERVALS,
    GKE_MAX_RPO_MINUTES,
    GKE_MIN_RPO_MINUTES,
    AwsSchedule,
    AzureSchedule,
    GkeSchedule,
    Schedule,
    aws_schedule,
    azure_repeating_interval,
    azure_schedule,
    gke_schedule,
    schedule_for,
)

if TYPE_CHECKING:
    from ..alerts import AlertChannel
    from ..compute import KubernetesCluster
    from ..storage import ObjectStore

__all__ = [
    "AZURE_AKS_MAX_RETENTION_DAYS", "AwsSchedule", "AzureSchedule", "BackupOptions", "BackupOutputs",
    "BackupPlanArgs", "GKE_MAX_DELETE_LOCK_DAYS", "GKE_MAX_RETAIN_DAYS", "GkeSchedule", "Schedule",
    "aws_schedule", "azure_repeating_interval", "azure_schedule", "backup_problems", "gke_schedule",
    "schedule_for",
]

AZURE_AKS_MAX_RETENTION_DAYS = 360
"""AKS backup operational tier (disk snapshots) keeps at most 360 days."""
GKE_MAX_RETAIN_DAYS = 365
"""Backup for GKE `backup_retain_days` upper bound."""
GKE_MAX_BACKUPS = 360
"""Backup for GKE: `backup_retain_days <= 360 x target_rpo_minutes / 1440`."""
GKE_MAX_DELETE_LOCK_DAYS = 90
"""Backup for GKE `backup_delete_lock_days` upper bound."""


class BackupOptions(BaseModel):
    """What a cell may lose, how long it keeps backups, where a copy goes (the `backup` section of a cell)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rpo_minutes: int = Field(default=1440, ge=1)
    """Most data, in minutes, a restore may lose (recovery point objective). Default 1440 (daily
    backups). Each cloud gets the longest schedule its service supports within it; values a
    service cannot meet are rejected (AWS: continuous backup under 60; Azure: at least 1440 with
    a store, 240 with a cluster; GCP: at least 60)."""

    retention_days: int = Field(default=35, ge=1, le=3650)
    """Days each backup is kept before it expires. Default 35: a month of restore points plus
    the days it takes to notice. Allowed 1-3650; AWS continuous backup (RPO under 60) keeps at
    most 35, AKS at most 360, Backup for GKE at most 365 (and 360 backups)."""

    copy_to_region: str | None = None
    """A second region of the same cloud holding a copy of every backup. Default none. AWS: a
    vault there receives a copy of each recovery point; Azure: must be the region's pair (the
    vault becomes geo-redundant with cross-region restore); GCP: a second Backup for GKE plan
    stores backups there."""

    immutable_days: int | None = Field(default=None, ge=1)
    """Days a backup cannot be deleted by anyone, the account root included (vault lock,
    immutable vault, GKE delete lock). Default none. Applied in prod only, where it is
    irreversible: AWS compliance-mode vault lock after a 3-day grace period, Azure locked
    immutability (recovery points kept until they expire), GKE locked retention policy. Must be
    at most `retention_days`; GCP allows at most 90."""


def _copy_problems(cloud: Cloud, region: str, copy: str) -> list[Problem]:
    if copy == region:
        return [Problem("copy_to_region", copy, f"allowed: a region other than the primary {region!r}")]
    if (bad := region_problem(cloud, copy)) is not None:
        return [Problem("copy_to_region", copy, bad)]
    if cloud == "azure" and AZURE_PAIRS.get(region) != copy:
        pair = AZURE_PAIRS.get(region)
        return [Problem("copy_to_region", copy,
                        f"allowed: {pair!r}, the pair of {region!r}; a geo-redundant Backup vault "
                        "replicates only to the paired region")]
    return []


def backup_problems(cloud: Cloud, region: str, options: BackupOptions, has_cluster: bool, *,
                    has_store: bool = True) -> list[Problem]:
    """Rules that need the cloud, the region and what the plan protects; paths are relative to the options.

    `has_store`: the plan protects an object store (a cell always has one). See the module
    docstring for each limit and its source.
    """
    problems: list[Problem] = []
    rpo, retention, immutable = options.rpo_minutes, options.retention_days, options.immutable_days
    if immutable is not None and immutable > retention:
        problems.append(Problem("immutable_days", immutable,
                                f"allowed: at most retention_days ({retention}); a backup cannot stay "
                                "locked longer than it is kept"))
    if options.copy_to_region is not None and cloud in ("aws", "azure", "gcp"):
        problems += _copy_problems(cloud, region, options.copy_to_region)

    match cloud:
        case "aws":
            if rpo < AWS_MIN_INTERVAL_MINUTES:
                if retention > AWS_CONTINUOUS_MAX_RETENTION_DAYS:
                    problems.append(Problem(
                        "retention_days", retention,
                        f"allowed: at most {AWS_CONTINUOUS_MAX_RETENTION_DAYS} with rpo_minutes {rpo}: an RPO under "
                        f"{AWS_MIN_INTERVAL_MINUTES} minutes needs AWS Backup continuous backup, which keeps at most "
                        f"{AWS_CONTINUOUS_MAX_RETENTION_DAYS} days (or set rpo_minutes >= {AWS_MIN_INTERVAL_MINUTES} "
                        "for hourly snapshots)"))
                if has_cluster:
                    problems.append(Problem(
                        "rpo_minutes", rpo,
                        f"allowed: >= {AWS_MIN_INTERVAL_MINUTES} in a cell with a cluster: continuous backup covers S3, "
                        "not EKS, whose backups run at most hourly"))
        case "azure":
            blob_min, aks_min = min(AZURE_BLOB_INTERVALS), min(AZURE_AKS_INTERVALS)
            if has_store and rpo < blob_min:
                problems.append(Problem(
                    "rpo_minutes", rpo,
                    f"allowed: >= {blob_min} on Azure with an object store: vaulted blob backup runs daily or "
                    "weekly (the store's versioning and soft delete cover changes in between)"))
            elif has_cluster and rpo < aks_min:
                problems.append(Problem(
                    "rpo_minutes", rpo,
                    f"allowed: >= {aks_min} on Azure with a cluster: AKS backup runs every 4, 6, 8 or 12 hours "
                    "or daily"))
            if has_cluster and retention > AZURE_AKS_MAX_RETENTION_DAYS:
                problems.append(Problem(
                    "retention_days", retention,
                    f"allowed: at most {AZURE_AKS_MAX_RETENTION_DAYS} with a cluster: AKS backup keeps "
                    f"operational-tier snapshots at most {AZURE_AKS_MAX_RETENTION_DAYS} days"))
        case "gcp":
            if not has_cluster:
                problems.append(Problem(
                    "", "a GCP cell without a cluster",
                    "allowed: a cell with a cluster; Backup for GKE is the GCP backup service wired here, and "
                    "a bucket's protection is the ObjectStore's versioning, soft delete and dual-region replica"))
            else:
                if rpo < GKE_MIN_RPO_MINUTES:
                    problems.append(Problem(
                        "rpo_minutes", rpo,
                        f"allowed: {GKE_MIN_RPO_MINUTES}..{GKE_MAX_RPO_MINUTES} on GCP: Backup for GKE's target "
                        f"RPO is at least {GKE_MIN_RPO_MINUTES} minutes"))
                if retention > GKE_MAX_RETAIN_DAYS:
                    problems.append(Problem(
                        "retention_days", retention,
                        f"allowed: at most {GKE_MAX_RETAIN_DAYS} on GCP (Backup for GKE backup_retain_days)"))
                elif rpo >= GKE_MIN_RPO_MINUTES:
                    target = gke_schedule(rpo).target_rpo_minutes
                    longest = GKE_MAX_BACKUPS * target // 1440
                    if retention > longest:
                        problems.append(Problem(
                            "retention_days", retention,
                            f"allowed: at most {longest} with rpo_minutes {rpo}: a Backup for GKE plan keeps at "
                            f"most {GKE_MAX_BACKUPS} backups (or set rpo_minutes >= "
                            f"{-(-retention * 1440 // GKE_MAX_BACKUPS)})"))
                if immutable is not None and immutable > GKE_MAX_DELETE_LOCK_DAYS:
                    problems.append(Problem(
                        "immutable_days", immutable,
                        f"allowed: at most {GKE_MAX_DELETE_LOCK_DAYS} on GCP (Backup for GKE backup_delete_lock_days)"))
        case _:
            unknown(cloud, "BackupPlanArgs.cloud", CLOUDS)
    return problems


@dataclass(frozen=True)
class BackupPlanArgs:
    """Arguments of BackupPlan."""

    cloud: Cloud
    """`aws`, `azure` or `gcp`; the provider passed in `opts` must match."""
    region: str
    """Primary region: where the vault (or GKE backup plan) lives."""
    environment: Environment
    """Name, tags and protection: vaults, keys and backup instances are protected and retained in
    prod, and immutability is applied in prod only."""
    options: BackupOptions
    """RPO, retention, copy region, immutability; see BackupOptions."""
    cell_name: str
    """The cell whose resources are backed up. AWS selects resources tagged `cell=<cell_name>` and
    `environment=<environment.name>` (a Cell tags everything it holds that way)."""
    store: "ObjectStore | None" = None
    """The cell's object store. Azure: its container gets a vaulted blob backup (the storage
    account id is derived from the store's container id). AWS: covered by the tag selection.
    GCP: not backed up here (see backup_problems)."""
    cluster: "KubernetesCluster | None" = None
    """The cell's cluster. Azure: AKS backup (extension, trusted access, policy, instance);
    GCP: Backup for GKE plans; AWS: covered by the tag selection (EKS, where opted in)."""
    resource_group_name: pulumi.Input[str] | None = None
    """Azure only (required): the resource group of the vault."""
    project: str | None = None
    """GCP only: the project of the Backup for GKE plans. Default: the cluster's project."""
    alerts: "AlertChannel | None" = None
    """Where a failed backup or copy job is reported, a channel of the plan's cloud and region.
    Default: none."""


@dataclass(frozen=True)
class BackupOutputs:
    """What every per-cloud builder returns."""

    vault_names: list[pulumi.Output[str]]
    """AWS vaults (primary, copy), the Azure Backup vault; none on GCP."""
    plan_names: list[pulumi.Output[str]]
    """AWS backup plan, Azure backup policies, GKE backup plans."""
    immutable: bool
    """True when backups are locked against deletion (prod with `immutable_days`)."""
    stateful: list[pulumi.Resource] = field(default_factory=list)
