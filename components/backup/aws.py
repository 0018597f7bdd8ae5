"""BackupPlan on AWS: AWS Backup vaults with their own KMS keys, one rule, a selection by cell tag.

Children (role names): `key`, `vault` (and `vault-lock` in prod with
`immutable_days`); with a copy region the same three as `copy-key`,
`copy-vault`, `copy-vault-lock` in that region (pulumi-aws 7 per-resource
`region`); `role` and one `role-<policy>` attachment per managed policy;
`plan`; `selection`; with an alert channel `alert-failed-job` (an EventBridge
rule) and `alert-failed-job-<n>` (its SNS target).

Choices, and why:
* The rule's schedule comes from the RPO (`schedule.aws_schedule`); under an hour
  continuous backup (point-in-time recovery) is on, which covers S3, and the
  hourly schedule drives snapshots of other resource types and the copies.
  The backup window opens for `AWS_START_WINDOW_MINUTES` (60, AWS's minimum), so
  a job starts at most an hour after its scheduled time.
* Recovery points expire after `retention_days`, in the primary vault and in
  the copy; copies go to a vault in `copy_to_region` encrypted with its own key.
* Selection: every resource tagged `cell=<cell_name>` AND
  `environment=<environment>` (`Conditions` with `Resources: ["*"]`, which AWS
  recommends over `ListOfTags`; the environment condition keeps a staging cell
  of the same name in the same account out of a prod plan). The resource types
  must be opted in (AWS Backup region settings: account-wide, not managed here).
* The role trusts backup.amazonaws.com and holds only the four AWS-managed
  policies for backup and restore, S3 included (`BACKUP_ROLE_POLICIES`).
* Vault lock in prod with `immutable_days`: compliance mode (`changeable_for_days`
  = 3, AWS's minimum): after three days nobody, the root user included, can
  delete a recovery point before `immutable_days`, shorten it, or remove the
  lock. `max_retention_days` is the option's ceiling (3650), not
  `retention_days`, so retention can still grow after the lock is final.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from ..common.naming import global_name
from ..common.aws_arn import managed_policy_arn, partition
from .args import BackupOutputs, BackupPlanArgs
from .schedule import AWS_START_WINDOW_MINUTES, aws_schedule
from ..common.aws_iam import trust_policy
from ..common.aws_kms import customer_key

BACKUP_ROLE_POLICIES: dict[str, str] = {
    "backup": "service-role/AWSBackupServiceRolePolicyForBackup",
    "restores": "service-role/AWSBackupServiceRolePolicyForRestores",
    "s3-backup": "AWSBackupServiceRolePolicyForS3Backup",
    "s3-restore": "AWSBackupServiceRolePolicyForS3Restore",
}
"""The AWS-managed policies the backup role holds, and only these: attachment role name -> path
under `arn:<partition>:iam::aws:policy/`."""

VAULT_LOCK_GRACE_DAYS = 3
"""`changeable_for_days`: compliance mode, the shortest grace period AWS accepts."""
VAULT_LOCK_MAX_RETENTION_DAYS = 3650
"""`max_retention_days` of a vault lock: BackupOptions.retention_days' ceiling."""


def _vault(parent: pulumi.Resource, prefix: str, args: BackupPlanArgs, region: str,
           lock: bool) -> tuple[aws.backup.Vault, list[pulumi.Resource]]:
    env = args.environment
    key = customer_key(f"{prefix}-key", f"Encrypts the backups in {prefix}-vault", region,
                       env.child(parent, stateful=True))
    vault = aws.backup.Vault(
        f"{prefix}-vault",
        name=global_name(f"{prefix}-vault", max_length=50),
        kms_key_arn=key.arn,
        force_destroy=False,
        region=region,
        opts=env.child(parent, stateful=True))
    stateful: list[pulumi.Resource] = [key, vault]
    if lock and args.options.immutable_days is not None:
        stateful.append(aws.backup.VaultLockConfiguration(
            f"{prefix}-vault-lock",
            backup_vault_name=vault.name,
            min_retention_days=args.options.immutable_days,
            max_retention_days=max(VAULT_LOCK_MAX_RETENTION_DAYS, args.options.retention_days),
            changeable_for_days=VAULT_LOCK_GRACE_DAYS,
            region=region,
            opts=env.child(parent, stateful=True)))
    return vault, stateful


def _role(parent: pulumi.Resource, name: str, args: BackupPlanArgs) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
    env = args.environment
    role = aws.iam.Role(
        f"{name}-role",
        description=f"AWS Backup for cell {args.cell_name}",
        assume_role_policy=trust_policy("backup.amazonaws.com"),
        opts=env.child(parent))
    attachments: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(f"{name}-role-{short}", role=role.name,
                                     policy_arn=managed_policy_arn(args.region, path),
                                     opts=env.child(parent))
        for short, path in BACKUP_ROLE_POLICIES.items()]
    return role, attachments


def build(parent: pulumi.Resource, name: str, args: BackupPlanArgs) -> BackupOutputs:
    env = args.environment
    opts = args.options
    schedule = aws_schedule(opts.rpo_minutes)
    lock = env.is_prod and opts.immutable_days is not None

    vault, stateful = _vault(parent, name, args, args.region, lock)
    vault_names = [vault.name]
    lifecycle: aws.backup.PlanRuleLifecycleArgsDict = {"delete_after": opts.retention_days}
    copy_actions: list[aws.backup.PlanRuleCopyActionArgsDict] = []
    if opts.copy_to_region:
        copy_vault, copy_stateful = _vault(parent, f"{name}-copy", args, opts.copy_to_region, lock)
        stateful += copy_stateful
        vault_names.append(copy_vault.name)
        # Built from the known name (not copy_vault.arn) so the destination is visible in an offline plan.
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id
        copy_actions.append({
            "destination_vault_arn": pulumi.Output.concat(
                f"arn:{partition(opts.copy_to_region)}:backup:{opts.copy_to_region}:", account,
                ":backup-vault:", copy_vault.name),
            "lifecycle": {"delete_after": opts.retention_days}})

    role, attachments = _role(parent, name, args)
    rule: aws.backup.PlanRuleArgsDict = {
        "rule_name": f"rpo-{opts.rpo_minutes}m-keep-{opts.retention_days}d",
        "target_vault_name": vault.name,
        "schedule": schedule.cron,
        "schedule_expression_timezone": "Etc/UTC",
        "start_window": AWS_START_WINDOW_MINUTES,
        "enable_continuous_backup": schedule.continuous,
        "lifecycle": lifecycle,
    }
    if copy_actions:  # unset, not null, without copies: nulls do not survive a transform
        rule["copy_actions"] = copy_actions
    plan = aws.backup.Plan(
        f"{name}-plan",
        name=global_name(f"{name}-plan", max_length=50),
        rules=[rule],
        region=args.region,
        opts=env.child(parent))
    aws.backup.Selection(
        f"{name}-selection",
        name=global_name(f"{name}-selection", max_length=50),
        plan_id=plan.id,
        iam_role_arn=role.arn,
        resources=["*"],
        conditions=[{"string_equals": [
            {"key": "aws:ResourceTag/cell", "value": args.cell_name},
            {"key": "aws:ResourceTag/environment", "value": env.name},
        ]}],
        region=args.region,
        # The role must hold its policies before AWS Backup assumes it for the first job.
        opts=env.child(parent, depends_on=attachments))
    _failed_job_alert(parent, name, args)
    return BackupOutputs(vault_names=vault_names, plan_names=[plan.name], immutable=lock, stateful=stateful)


FAILED_JOB_STATES = ["FAILED", "ABORTED", "EXPIRED"]
"""Job states that mean a recovery point was not made (AWS Backup API `BackupJobState`/`CopyJobState`)."""


def failed_job_pattern() -> str:
    """Backup and copy jobs of this region that did not finish (AWS Backup developer guide, "Monitoring AWS
    Backup events using Amazon EventBridge": source `aws.backup`, detail types `Backup Job State Change`
    and `Copy Job State Change`, `detail.state`)."""
    return json.dumps({"source": ["aws.backup"],
                       "detail-type": ["Backup Job State Change", "Copy Job State Change"],
                       "detail": {"state": FAILED_JOB_STATES}})


def _failed_job_alert(parent: pulumi.Resource, name: str, args: BackupPlanArgs) -> None:
    """An EventBridge rule sending every failed, aborted or expired backup or copy job of the region to
    the channel's SNS topic (the topic's key and policy let `events.amazonaws.com` publish). Copy jobs
    report in the source region, so the plan's region covers its copies too. AWS Backup emits these
    events best-effort, at most every 5 minutes."""
    if args.alerts is None:
        return
    env = args.environment
    rule = aws.cloudwatch.EventRule(
        f"{name}-alert-failed-job",
        description=f"AWS Backup jobs of cell {args.cell_name} that failed, aborted or expired",
        event_pattern=failed_job_pattern(), region=args.region, opts=env.child(parent))
    for index, target in enumerate(args.alerts.targets):
        aws.cloudwatch.EventTarget(
            f"{name}-alert-failed-job-{index}", rule=rule.name, arn=target, region=args.region,
            opts=env.child(parent))
