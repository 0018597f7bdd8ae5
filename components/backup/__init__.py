"""Backups: `BackupPlan`, its arguments, its rules and the RPO-to-schedule functions."""

from .args import BackupOptions, BackupPlanArgs, backup_problems
from .plan import BackupPlan, backup_plan_problems, copy_rpo_minutes, effective_rpo_minutes
from .schedule import (
    AwsSchedule,
    AzureSchedule,
    GkeSchedule,
    aws_schedule,
    azure_repeating_interval,
    azure_schedule,
    gke_schedule,
    schedule_for,
)

__all__ = [
    "AwsSchedule", "AzureSchedule", "BackupOptions", "BackupPlan", "BackupPlanArgs", "GkeSchedule",
    "aws_schedule", "azure_repeating_interval", "azure_schedule", "backup_plan_problems", "backup_problems",
    "copy_rpo_minutes", "effective_rpo_minutes", "gke_schedule", "schedule_for",
]
