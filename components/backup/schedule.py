"""From an RPO to each cloud's backup schedule: pure functions, no Pulumi.

Every schedule is the *longest interval the service supports that is not longer
than the RPO*, so the effective RPO is never worse than the one asked for (the
validation in `args.backup_problems` rejects RPOs a service cannot meet at
all). Limits and their sources:

AWS Backup
    Scheduled backups run at most hourly: the shortest frequency the console and
    `CreateBackupPlan` accept is one hour (AWS Backup Developer Guide, "Backup
    frequency"). Shorter RPOs need continuous backup (point-in-time recovery),
    which AWS Backup offers for S3 (and RDS, Aurora, SAP HANA) with a retention of
    1 to 35 days ("Continuous backups and point-in-time recovery"). A continuous
    rule still needs a schedule: it drives snapshot backups of resource types
    without continuous support and the cross-region copies.
    The backup window starts at the scheduled time and lasts `start_window`
    minutes, at least 60 ("StartWindowMinutes"); the schedule here is the nominal
    interval between recovery points.

Azure Backup (Data Protection backup vaults)
    Vaulted blob backup: daily or weekly schedules only (`supportedBackupFrequency:
    Daily, Weekly` in the Azure CLI's dataprotection manifest `AzureBlob`; "Support
    matrix for Azure Blobs backup": at most five backups per storage account a day).
    AKS backup: every 4, 6, 8 or 12 hours, or daily (`Hourly, Daily` in the
    manifest `AzureKubernetesService`; "Back up AKS: backup frequency"). Schedules
    are ISO-8601 repeating intervals, `R/<start>/<duration>`.

Backup for GKE
    `rpo_config.target_rpo_minutes`: 60 to 86400 (60 days); GKE schedules the
    backups itself to keep the target (pulumi-gcp 10.2 `gkebackup.BackupPlan`,
    "BackupPlanBackupScheduleRpoConfig").
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog.regions import CLOUDS, Cloud
from ..common.dispatch import unknown

HOUR = 60
DAY = 1440
WEEK = 10080

AWS_MIN_INTERVAL_MINUTES = HOUR
"""AWS Backup schedules run at most hourly."""
AWS_CONTINUOUS_MAX_RETENTION_DAYS = 35
"""Continuous backups (point-in-time recovery) keep 1 to 35 days."""
AWS_START_WINDOW_MINUTES = 60
"""The shortest backup window AWS Backup accepts: a job starts at most this late."""
_AWS_DAILY_CRON = "cron(0 5 ? * * *)"
_AWS_WEEKLY_CRON = "cron(0 5 ? * SUN *)"
_AWS_HOURS = (1, 2, 3, 4, 6, 8, 12)
"""Hour steps that divide a day, so every gap between backups is the same."""

AZURE_SCHEDULE_START = "2026-01-01T00:00:00+00:00"
"""Anchor of every Azure repeating interval (UTC)."""
AZURE_BLOB_INTERVALS: dict[int, str] = {DAY: "P1D", WEEK: "P1W"}
"""Vaulted blob backup: daily or weekly."""
AZURE_AKS_INTERVALS: dict[int, str] = {4 * HOUR: "PT4H", 6 * HOUR: "PT6H", 8 * HOUR: "PT8H",
                                       12 * HOUR: "PT12H", DAY: "P1D"}
"""AKS backup: every 4, 6, 8 or 12 hours, or daily."""

GKE_MIN_RPO_MINUTES = 60
GKE_MAX_RPO_MINUTES = 86_400
"""Backup for GKE `target_rpo_minutes` bounds."""


@dataclass(frozen=True)
class AwsSchedule:
    """An AWS Backup rule's schedule for an RPO."""

    cron: str
    """AWS cron expression (UTC), e.g. `cron(0 * ? * * *)` for hourly."""
    continuous: bool
    """`enable_continuous_backup`: point-in-time recovery for S3 (RPO under an hour)."""
    interval_minutes: int
    """Minutes between scheduled recovery points (and cross-region copies)."""
    effective_rpo_minutes: int
    """The RPO the rule keeps: the RPO itself with continuous backup, else the interval."""


@dataclass(frozen=True)
class AzureSchedule:
    """Azure Backup repeating intervals for an RPO, per datasource."""

    blob_interval: str
    """Vaulted blob backup trigger, e.g. `R/2026-01-01T00:00:00+00:00/P1D`."""
    blob_minutes: int
    aks_interval: str
    """AKS backup trigger, e.g. `R/2026-01-01T00:00:00+00:00/PT4H`."""
    aks_minutes: int

    def effective_rpo_minutes(self, *, has_store: bool, has_cluster: bool) -> int:
        """The worst interval among the datasources the plan protects."""
        minutes = [m for m, present in ((self.blob_minutes, has_store), (self.aks_minutes, has_cluster)) if present]
        return max(minutes, default=self.blob_minutes)


@dataclass(frozen=True)
class GkeSchedule:
    """A Backup for GKE schedule for an RPO."""

    target_rpo_minutes: int
    """`rpo_config.target_rpo_minutes`, clamped to 60..86400."""

    @property
    def effective_rpo_minutes(self) -> int:
        return self.target_rpo_minutes


Schedule = AwsSchedule | AzureSchedule | GkeSchedule


def _largest_at_most(rpo_minutes: int, intervals: dict[int, str]) -> int:
    """The longest supported interval not above the RPO (the shortest one if none is)."""
    fitting = [m for m in intervals if m <= rpo_minutes]
    return max(fitting) if fitting else min(intervals)


def aws_schedule(rpo_minutes: int) -> AwsSchedule:
    """Hourly and continuous under an hour; every 1-12 hours (a divisor of 24); daily; weekly."""
    if rpo_minutes < AWS_MIN_INTERVAL_MINUTES:
        return AwsSchedule("cron(0 * ? * * *)", True, HOUR, rpo_minutes)
    if rpo_minutes < DAY:
        step = max(h for h in _AWS_HOURS if h * HOUR <= rpo_minutes)
        cron = "cron(0 * ? * * *)" if step == 1 else f"cron(0 */{step} ? * * *)"
        return AwsSchedule(cron, False, step * HOUR, step * HOUR)
    if rpo_minutes < WEEK:
        return AwsSchedule(_AWS_DAILY_CRON, False, DAY, DAY)
    return AwsSchedule(_AWS_WEEKLY_CRON, False, WEEK, WEEK)


def azure_repeating_interval(duration: str) -> str:
    """`R/<AZURE_SCHEDULE_START>/<duration>`, the form Data Protection backup policies take."""
    return f"R/{AZURE_SCHEDULE_START}/{duration}"


def azure_schedule(rpo_minutes: int) -> AzureSchedule:
    """Blob: weekly from a week, else daily. AKS: the longest of 4/6/8/12 hours or a day within the RPO."""
    blob = _largest_at_most(rpo_minutes, AZURE_BLOB_INTERVALS)
    aks = _largest_at_most(rpo_minutes, AZURE_AKS_INTERVALS)
    return AzureSchedule(azure_repeating_interval(AZURE_BLOB_INTERVALS[blob]), blob,
                         azure_repeating_interval(AZURE_AKS_INTERVALS[aks]), aks)


def gke_schedule(rpo_minutes: int) -> GkeSchedule:
    """The RPO as Backup for GKE's target, clamped to what it accepts (60..86400)."""
    return GkeSchedule(min(max(rpo_minutes, GKE_MIN_RPO_MINUTES), GKE_MAX_RPO_MINUTES))


SCHEDULE_TYPES = (AwsSchedule, AzureSchedule, GkeSchedule)


def schedule_for(cloud: Cloud, rpo_minutes: int) -> Schedule:
    """The schedule of `cloud`'s backup service for an RPO (see the per-cloud functions)."""
    match cloud:
        case "aws":
            return aws_schedule(rpo_minutes)
        case "azure":
            return azure_schedule(rpo_minutes)
        case "gcp":
            return gke_schedule(rpo_minutes)
        case _:
            unknown(cloud, "BackupPlanArgs.cloud", CLOUDS)
