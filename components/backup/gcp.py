"""BackupPlan on GCP: Backup for GKE plans for the cell's cluster, in its region and in the copy region.

Children (role names): `gke` (a `gkebackup.BackupPlan` in the cluster's
region) and, with `copy_to_region`, `gke-copy` (a second plan for the same
cluster located there).

Choices, and why:
* Backup for GKE stores a plan's backups in the plan's location, which may
  differ from the cluster's region (cross-region backups are billed as network
  egress, "Backup for GKE pricing"). It has no copy of one plan's backups to
  another region; `BackupChannel` (pulumi-gcp 10.2) is for backups into another
  *project*. So `copy_to_region` is a second plan in that region with the same
  schedule and retention: independent backups, each meeting the RPO, one of
  which survives the loss of the cluster's region.
* Schedule: `rpo_config.target_rpo_minutes` = the RPO clamped to 60..86400;
  GKE times the backups to keep that target.
* Everything in the cluster: all namespaces, volume data, secrets (encrypted at
  rest with Google-managed keys; no CMEK is set).
* Retention: `backup_retain_days` = `retention_days`. In prod with
  `immutable_days`: `backup_delete_lock_days` = `immutable_days` and the
  retention policy `locked` (irreversible: the plan's retention can never be
  changed again).
* With an alert channel (`alerts`): `<role>-alert-failed` per plan, a Cloud Monitoring alert policy on
  `gkebackup.googleapis.com/backup_completion_times` with state FAILED for that plan.
* Prerequisites outside this component: the Backup for GKE API
  (`gkebackup.googleapis.com`) enabled in the project and the Backup for GKE
  agent add-on enabled on the cluster (`addons_config.gke_backup_agent_config`).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from ..common.naming import global_name
from .args import BackupOutputs, BackupPlanArgs
from .schedule import gke_schedule


def build(parent: pulumi.Resource, name: str, args: BackupPlanArgs) -> BackupOutputs:
    from ..compute.gcp import GkeHandle

    if args.cluster is None:
        raise ValueError(f"BackupPlan {name!r}: GCP backups need a GKE cluster")
    handle = args.cluster.handle
    if not isinstance(handle, GkeHandle):
        raise TypeError(f"BackupPlan {name!r}: the cluster is not a GKE cluster built by components.compute.gcp")
    env = args.environment
    opts = args.options
    locked = env.is_prod and opts.immutable_days is not None
    retention: gcp.gkebackup.BackupPlanRetentionPolicyArgsDict = {"backup_retain_days": opts.retention_days}
    if locked:
        retention.update({"backup_delete_lock_days": opts.immutable_days, "locked": True})
    target = gke_schedule(opts.rpo_minutes).target_rpo_minutes

    plans: list[gcp.gkebackup.BackupPlan] = []
    locations = [(args.region, "gke")]
    if opts.copy_to_region:
        locations.append((opts.copy_to_region, "gke-copy"))
    for location, role in locations:
        plans.append(gcp.gkebackup.BackupPlan(
            f"{name}-{role}",
            name=global_name(f"{name}-{role}", max_length=63),
            project=args.project or handle.project,
            location=location,
            cluster=handle.cluster_id,
            description=f"Backups of cell {args.cell_name}'s cluster in {location}",
            backup_config={"all_namespaces": True, "include_volume_data": True, "include_secrets": True},
            backup_schedule={"rpo_config": {"target_rpo_minutes": target}},
            retention_policy=retention,
            opts=env.child(parent, stateful=True)))
    if args.alerts is not None:
        for location, role in locations:
            _failed_backup_alert(parent, f"{name}-{role}", args, args.project or handle.project,
                                 global_name(f"{name}-{role}", max_length=63), location)
    return BackupOutputs(vault_names=[], plan_names=[p.name for p in plans], immutable=locked,
                         stateful=list(plans))


BACKUP_COMPLETIONS = "gkebackup.googleapis.com/backup_completion_times"
"""Backup for GKE's distribution of backup completion times, one point per finished backup, label `state`
SUCCEEDED or FAILED, on resource `gkebackup.googleapis.com/BackupPlan` (labels `resource_container`,
`location`, `backup_plan_id`). Source: GKE docs, "Backup for GKE monitoring metrics"; Cloud Monitoring
"Monitored resource types"."""


def failed_backup_filter(plan_id: str, location: str) -> str:
    """Cloud Monitoring filter of one plan's failed backups."""
    return (f'metric.type="{BACKUP_COMPLETIONS}" AND metric.labels.state="FAILED" AND '
            f'resource.type="gkebackup.googleapis.com/BackupPlan" AND '
            f'resource.labels.backup_plan_id="{plan_id}" AND resource.labels.location="{location}"')


def _failed_backup_alert(parent: pulumi.Resource, name: str, args: BackupPlanArgs, project: str,
                         plan_id: str, location: str) -> None:
    """An alert policy: any backup of `plan` finished FAILED (a count of failed completions above 0)."""
    from ..alerts.gcp import alert_policy
    assert args.alerts is not None
    title = f"Backup for GKE plan of cell {args.cell_name} in {location}: a backup failed"
    alert_policy(
        parent, f"{name}-alert-failed", args.alerts, project, title,
        {"display_name": title,
         "condition_threshold": {
             "filter": failed_backup_filter(plan_id, location),
             # A DELTA distribution: ALIGN_DELTA keeps each period's completions, REDUCE_COUNT counts the
             # series with a failed completion in it (valid for distributions; the output is INT64).
             "aggregations": [{"alignment_period": "300s", "per_series_aligner": "ALIGN_DELTA",
                               "cross_series_reducer": "REDUCE_COUNT"}],
             "comparison": "COMPARISON_GT",
             "threshold_value": 0,
             "duration": "0s",
             "trigger": {"count": 1},
         }},
        environment=args.environment,
        documentation=f"{title}. See the plan's backups in Backup for GKE; the RPO is at risk until one succeeds.")
