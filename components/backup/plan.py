"""BackupPlan: an RPO, a retention, a copy region and immutability, as each cloud's backup service.

The front door validates (every problem at once, paths under `BackupPlanArgs`),
installs the environment's tags and hands over to the per-cloud builder in
`aws.py`, `azure.py` or `gcp.py`.
"""

from __future__ import annotations

from typing import Callable

import pulumi

from ..catalog.regions import CLOUDS, Cloud, region_problem
from ..common import Problem, raise_if_any
from ..common.dispatch import choice_problems, unknown
from . import aws, azure, gcp
from .args import BackupOptions, BackupOutputs, BackupPlanArgs, backup_problems
from .schedule import DAY, SCHEDULE_TYPES, AwsSchedule, AzureSchedule, GkeSchedule, schedule_for

BackupBuilder = Callable[[pulumi.Resource, str, BackupPlanArgs], BackupOutputs]


def _builder(cloud: Cloud) -> BackupBuilder:
    """The per-cloud backup builder, chosen before anything is registered."""
    match cloud:
        case "aws":
            return aws.build
        case "azure":
            return azure.build
        case "gcp":
            return gcp.build
        case _:
            unknown(cloud, "BackupPlanArgs.cloud", CLOUDS)


def backup_plan_problems(cloud: Cloud, region: str, options: BackupOptions, *,
                         has_store: bool, has_cluster: bool) -> list[Problem]:
    """Everything BackupPlan checks before registering anything that needs no resource object,
    with paths under `BackupPlanArgs`: call it first to fail before any resource exists."""
    problems: list[Problem] = []
    if bad_cloud := choice_problems("BackupPlanArgs.cloud", cloud, CLOUDS):
        return bad_cloud
    if (bad := region_problem(cloud, region)) is not None:
        problems.append(Problem("BackupPlanArgs.region", region, bad))
    problems += [p.under("BackupPlanArgs.options")
                 for p in backup_problems(cloud, region, options, has_cluster, has_store=has_store)]
    if cloud == "azure" and not has_store and not has_cluster:
        problems.append(Problem("BackupPlanArgs.store", None,
                                "required on Azure unless a cluster is given: there is nothing to back up",
                                missing=True))
    return problems


def effective_rpo_minutes(cloud: Cloud, rpo_minutes: int, *, has_store: bool, has_cluster: bool) -> int:
    """The RPO the plan keeps at the primary: never more than `rpo_minutes` for a valid plan."""
    schedule = schedule_for(cloud, rpo_minutes)
    match schedule:
        case AzureSchedule():
            return schedule.effective_rpo_minutes(has_store=has_store, has_cluster=has_cluster)
        case AwsSchedule() | GkeSchedule():
            return schedule.effective_rpo_minutes
        case _:
            unknown(schedule, "backup schedule", [t.__name__ for t in SCHEDULE_TYPES])


def copy_rpo_minutes(cloud: Cloud, options: BackupOptions, *, has_store: bool, has_cluster: bool) -> int | None:
    """The RPO of the copy in `copy_to_region` (None without one): what survives losing the primary region.

    AWS copies each scheduled recovery point (hourly at best: continuous backup stays in the
    primary vault). Azure's geo-redundant vault holds each vaulted blob backup; AKS copies the
    first backup of each day to the vault tier. GCP's second plan keeps the same target.
    """
    if options.copy_to_region is None:
        return None
    schedule = schedule_for(cloud, options.rpo_minutes)
    match schedule:
        case AwsSchedule():
            return schedule.interval_minutes
        case AzureSchedule():
            primary = schedule.effective_rpo_minutes(has_store=has_store, has_cluster=has_cluster)
            return max(primary, DAY) if has_cluster else primary
        case GkeSchedule():
            return schedule.effective_rpo_minutes
        case _:
            unknown(schedule, "backup schedule", [t.__name__ for t in SCHEDULE_TYPES])


class BackupPlan(pulumi.ComponentResource):
    """Backups of a cell on its cloud's backup service, from an RPO, a retention, a copy region
    and an immutability period.

    AWS: AWS Backup (KMS-encrypted vaults, one rule, selection by the cell's tags, vault lock in
    prod). Azure: a Backup vault with vaulted blob backup of the store and AKS backup of the
    cluster. GCP: Backup for GKE plans for the cluster.

    Attributes known at plan time: `effective_rpo_minutes` (what the schedule keeps, at most the
    requested RPO), `copy_rpo_minutes` (the copy region's RPO, or None), `immutable`.
    Registered outputs: `cloud`, `region`, `rpo_minutes` (effective), `copy_rpo_minutes`,
    `retention_days`, `copy_to_region`, `immutable`, `vault_names`, `plan_names`.
    """

    effective_rpo_minutes: int
    copy_rpo_minutes: int | None
    immutable: bool
    vault_names: list[pulumi.Output[str]]
    plan_names: list[pulumi.Output[str]]

    def __init__(self, name: str, args: BackupPlanArgs, opts: pulumi.ResourceOptions | None = None):
        has_store, has_cluster = args.store is not None, args.cluster is not None
        problems = backup_plan_problems(args.cloud, args.region, args.options,
                                        has_store=has_store, has_cluster=has_cluster)
        if not args.cell_name:
            problems.append(Problem("BackupPlanArgs.cell_name", args.cell_name, "allowed: the cell's name"))
        if args.store is not None and args.store.cloud != args.cloud:
            problems.append(Problem("BackupPlanArgs.store", f"an ObjectStore on {args.store.cloud}",
                                    f"allowed: an ObjectStore on {args.cloud}"))
        if args.cluster is not None and args.cluster.args.cloud != args.cloud:
            problems.append(Problem("BackupPlanArgs.cluster", f"a KubernetesCluster on {args.cluster.args.cloud}",
                                    f"allowed: a KubernetesCluster on {args.cloud}"))
        if args.cloud == "azure" and args.resource_group_name is None:
            problems.append(Problem("BackupPlanArgs.resource_group_name", None, "required on Azure", missing=True))
        raise_if_any(f"invalid BackupPlan {name!r}", problems)
        build = _builder(args.cloud)

        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:backup:BackupPlan", name, None, opts)

        self.cloud = args.cloud
        self.region = args.region
        self.options = args.options
        self.effective_rpo_minutes = effective_rpo_minutes(
            args.cloud, args.options.rpo_minutes, has_store=has_store, has_cluster=has_cluster)
        self.copy_rpo_minutes = copy_rpo_minutes(args.cloud, args.options, has_store=has_store,
                                                 has_cluster=has_cluster)
        out = build(self, name, args)
        self.immutable = out.immutable
        self.vault_names = out.vault_names
        self.plan_names = out.plan_names
        self.stateful = out.stateful
        self.register_outputs({
            "cloud": args.cloud,
            "region": args.region,
            "rpo_minutes": self.effective_rpo_minutes,
            "copy_rpo_minutes": self.copy_rpo_minutes,
            "retention_days": args.options.retention_days,
            "copy_to_region": args.options.copy_to_region,
            "immutable": out.immutable,
            "vault_names": out.vault_names,
            "plan_names": out.plan_names,
        })
