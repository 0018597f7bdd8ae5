"""BackupPlan: the RPO-to-schedule functions, the rules, and offline plans of cell-like programs per cloud.

Each plan comes from a tiny Pulumi program written into a temporary project: an
explicit provider, a component tagged like a Cell (`cell=<name>` on everything
below it), an ObjectStore, optionally a Network and a KubernetesCluster, and
the BackupPlan from a JSON case file, planned by `preflight` as users run it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components.backup import (
    BackupOptions,
    aws_schedule,
    azure_repeating_interval,
    azure_schedule,
    backup_problems,
    copy_rpo_minutes,
    effective_rpo_minutes,
    gke_schedule,
    schedule_for,
)
from components.backup.aws import BACKUP_ROLE_POLICIES
from components.common import InputError
from components.common.field_docs import field_docs
from tests.conftest import by_urn, of_type, plan_json, run_preflight

PROGRAM = '''
"""A cell-like program: provider, tagged cell component, ObjectStore, optional network and cluster, BackupPlan."""
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from components.backup import BackupOptions, BackupPlan, BackupPlanArgs, backup_plan_problems
from components.common import Environment, raise_if_any, tagging
from components.compute import ClusterOptions, KubernetesCluster, KubernetesClusterArgs
from components.network import Network, NetworkArgs
from components.storage import ObjectStore, ObjectStoreArgs

case = json.loads(Path("case.json").read_text())
cloud, region, cell = case["cloud"], case["region"], case["cell"]
env = Environment(name=case["environment"], tags={"owner": "ml-platform", "cost-center": "cc-1234"})
options = BackupOptions.model_validate(case.get("options", {}))
with_store, with_cluster = case.get("store", True), case.get("cluster", False)
if case.get("check_first", True):
    # What a cell does: validate everything before registering anything.
    raise_if_any(f"invalid BackupPlan {cell + '-backup'!r}",
                 backup_plan_problems(cloud, region, options, has_store=with_store, has_cluster=with_cluster))


class FixtureCell(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(transformations=[tagging(env.resource_tags(cell=name))]))
        super().__init__("fx:index:Cell", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = None
        project = "fx-project" if cloud == "gcp" else None
        if cloud == "azure":
            group = azure_native.resources.ResourceGroup(f"{name}-rg", location=region, opts=child).name
        store = ObjectStore(f"{name}-store", ObjectStoreArgs(
            cloud=cloud, region=region, environment=env, resource_group_name=group, project=project),
            opts=child) if with_store else None
        cluster = None
        if with_cluster:
            network = Network(f"{name}-network", NetworkArgs(
                cloud=cloud, region=region, environment=env, resource_group_name=group, project=project),
                opts=child)
            cluster = KubernetesCluster(f"{name}-cluster", KubernetesClusterArgs(
                cloud=cloud, region=region, environment=env, network=network.outputs,
                options=ClusterOptions(version="1.31"), resource_group_name=group, project=project), opts=child)
        self.backup = BackupPlan(f"{name}-backup", BackupPlanArgs(
            cloud=cloud, region=region, environment=env, options=options, cell_name=name, store=store,
            cluster=cluster, resource_group_name=group, project=project), opts=child)
        self.register_outputs({})


if cloud == "aws":
    provider = aws.Provider("aws", region=region)
elif cloud == "azure":
    provider = azure_native.Provider("azure", location=region)
else:
    provider = gcp.Provider("gcp", project="fx-project", region=region)
fixture = FixtureCell(cell, pulumi.ResourceOptions(providers=[provider]))
pulumi.export("effective_rpo_minutes", fixture.backup.effective_rpo_minutes)
pulumi.export("immutable", fixture.backup.immutable)
'''

BACKUP = "aiinfra:backup:BackupPlan"
KEY = "aws:kms/key:Key"
VAULT = "aws:backup/vault:Vault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
AWS_PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
AZ_VAULT = "azure-native:dataprotection:BackupVault"
AZ_POLICY = "azure-native:dataprotection:BackupPolicy"
AZ_INSTANCE = "azure-native:dataprotection:BackupInstance"
AZ_ROLE = "azure-native:authorization:RoleAssignment"
AZ_EXTENSION = "azure-native:kubernetesconfiguration:Extension"
AZ_TRUSTED = "azure-native:containerservice:TrustedAccessRoleBinding"
GKE_PLAN = "gcp:gkebackup/backupPlan:BackupPlan"

CASES: dict[str, dict[str, Any]] = {
    "aws-prod": {"stack": "prod", "cell": "aws-use1", "cloud": "aws", "region": "us-east-1",
                 "options": {"rpo_minutes": 60, "retention_days": 35, "copy_to_region": "us-west-2",
                             "immutable_days": 7}},
    "aws-staging": {"stack": "staging", "cell": "aws-use1", "cloud": "aws", "region": "us-east-1",
                    "options": {"rpo_minutes": 30, "retention_days": 14, "immutable_days": 7}},
    "azure-prod": {"stack": "prod", "cell": "azure-eus", "cloud": "azure", "region": "eastus", "cluster": True,
                   "options": {"rpo_minutes": 1440, "retention_days": 30, "copy_to_region": "westus",
                               "immutable_days": 30}},
    "azure-staging": {"stack": "staging", "cell": "azure-eus", "cloud": "azure", "region": "eastus",
                      "cluster": True, "store": False,
                      "options": {"rpo_minutes": 240, "retention_days": 7, "immutable_days": 7}},
    "gcp-prod": {"stack": "prod", "cell": "gcp-usc1", "cloud": "gcp", "region": "us-central1", "cluster": True,
                 "options": {"rpo_minutes": 120, "retention_days": 30, "copy_to_region": "us-east1",
                             "immutable_days": 14}},
    "gcp-staging": {"stack": "staging", "cell": "gcp-usc1", "cloud": "gcp", "region": "us-central1",
                    "cluster": True, "options": {"rpo_minutes": 1440, "retention_days": 35, "immutable_days": 14}},
}


def _project(root: Path, case: dict[str, Any]) -> str:
    """Write the program, the case and the stack file into `root`; the stack name is the environment's."""
    stack = case["stack"]
    (root / "stacks").mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "fx-backup", "runtime": "python",
                                                      "stackConfigDir": "stacks"}))
    (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": {}}))
    (root / "__main__.py").write_text(PROGRAM)
    (root / "case.json").write_text(json.dumps({**case, "environment": stack}))
    return stack


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, case in CASES.items():
        root = tmp_path_factory.mktemp(key)
        out[key] = plan_json(_project(root, case), project=root, tmp=root)
    return out


def _one(plan: dict[str, Any], type_token: str) -> dict[str, Any]:
    found = of_type(plan, type_token)
    assert len(found) == 1, f"{type_token}: {len(found)}"
    return found[0]


def _named(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in plan["resources"] if r["name"] == name]
    return found


def _backup_outputs(plan: dict[str, Any]) -> dict[str, Any]:
    return _one(plan, BACKUP)["outputs"]


def _under_backup(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource below the BackupPlan component."""
    backup = _one(plan, BACKUP)["urn"]
    index = by_urn(plan)
    found = []
    for r in plan["resources"]:
        parent = r["parent"]
        while parent:
            if parent == backup:
                found.append(r)
                break
            parent = index[parent]["parent"]
    return found


def _deps(resource: dict[str, Any], prop: str) -> list[str]:
    return resource["propertyDependencies"].get(prop, [])


# --- Schedules from the RPO (pure) ---------------------------------------------------------

@pytest.mark.parametrize("rpo,cron,continuous,interval,effective", [
    (1, "cron(0 * ? * * *)", True, 60, 1),
    (30, "cron(0 * ? * * *)", True, 60, 30),
    (59, "cron(0 * ? * * *)", True, 60, 59),
    (60, "cron(0 * ? * * *)", False, 60, 60),
    (119, "cron(0 * ? * * *)", False, 60, 60),
    (120, "cron(0 */2 ? * * *)", False, 120, 120),
    (300, "cron(0 */4 ? * * *)", False, 240, 240),
    (1439, "cron(0 */12 ? * * *)", False, 720, 720),
    (1440, "cron(0 5 ? * * *)", False, 1440, 1440),
    (10079, "cron(0 5 ? * * *)", False, 1440, 1440),
    (10080, "cron(0 5 ? * SUN *)", False, 10080, 10080),
    (100_000, "cron(0 5 ? * SUN *)", False, 10080, 10080),
])
def test_aws_schedule_is_the_longest_supported_interval_within_the_rpo(
        rpo: int, cron: str, continuous: bool, interval: int, effective: int) -> None:
    schedule = aws_schedule(rpo)
    assert (schedule.cron, schedule.continuous, schedule.interval_minutes, schedule.effective_rpo_minutes) == (
        cron, continuous, interval, effective)
    assert schedule.effective_rpo_minutes <= rpo


@pytest.mark.parametrize("rpo,blob,blob_minutes,aks,aks_minutes", [
    (240, "P1D", 1440, "PT4H", 240),
    (300, "P1D", 1440, "PT4H", 240),
    (360, "P1D", 1440, "PT6H", 360),
    (600, "P1D", 1440, "PT8H", 480),
    (720, "P1D", 1440, "PT12H", 720),
    (1440, "P1D", 1440, "P1D", 1440),
    (10080, "P1W", 10080, "P1D", 1440),
])
def test_azure_schedule_per_datasource(rpo: int, blob: str, blob_minutes: int, aks: str, aks_minutes: int) -> None:
    schedule = azure_schedule(rpo)
    assert schedule.blob_interval == f"R/2026-01-01T00:00:00+00:00/{blob}"
    assert schedule.aks_interval == f"R/2026-01-01T00:00:00+00:00/{aks}"
    assert (schedule.blob_minutes, schedule.aks_minutes) == (blob_minutes, aks_minutes)
    assert schedule.effective_rpo_minutes(has_store=False, has_cluster=True) == aks_minutes
    assert schedule.effective_rpo_minutes(has_store=True, has_cluster=True) == max(blob_minutes, aks_minutes)


def test_azure_repeating_interval_is_iso_8601() -> None:
    assert azure_repeating_interval("PT4H") == "R/2026-01-01T00:00:00+00:00/PT4H"
    assert re.fullmatch(r"R/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d/P(T\d+H|\d+[DW])",
                        azure_schedule(480).aks_interval)


@pytest.mark.parametrize("rpo,target", [(1, 60), (30, 60), (60, 60), (120, 120), (1440, 1440), (86_400, 86_400),
                                        (100_000, 86_400)])
def test_gke_target_rpo_is_clamped_to_what_backup_for_gke_accepts(rpo: int, target: int) -> None:
    assert gke_schedule(rpo).target_rpo_minutes == target


def test_schedule_for_dispatches_per_cloud() -> None:
    assert schedule_for("aws", 60) == aws_schedule(60)
    assert schedule_for("azure", 240) == azure_schedule(240)
    assert schedule_for("gcp", 90) == gke_schedule(90)
    with pytest.raises(InputError, match="allowed: aws, azure or gcp"):
        schedule_for("oci", 60)  # type: ignore[arg-type]


def test_effective_and_copy_rpo() -> None:
    assert effective_rpo_minutes("aws", 30, has_store=True, has_cluster=False) == 30
    assert effective_rpo_minutes("aws", 300, has_store=True, has_cluster=False) == 240
    assert effective_rpo_minutes("azure", 240, has_store=False, has_cluster=True) == 240
    assert effective_rpo_minutes("gcp", 120, has_store=True, has_cluster=True) == 120
    # The copy in another region: AWS copies scheduled points (hourly at best); AKS copies daily.
    assert copy_rpo_minutes("aws", BackupOptions(rpo_minutes=30, retention_days=7, copy_to_region="us-west-2"),
                            has_store=True, has_cluster=False) == 60
    assert copy_rpo_minutes("azure", BackupOptions(rpo_minutes=240, copy_to_region="westus"),
                            has_store=False, has_cluster=True) == 1440
    assert copy_rpo_minutes("gcp", BackupOptions(rpo_minutes=120), has_store=True, has_cluster=True) is None


# --- Options and rules (pure) --------------------------------------------------------------

def test_options_defaults_and_strictness() -> None:
    options = BackupOptions()
    assert (options.rpo_minutes, options.retention_days, options.copy_to_region, options.immutable_days) == (
        1440, 35, None, None)
    docs = field_docs(BackupOptions)
    for name in BackupOptions.model_fields:
        assert "Default" in docs.get(name, ""), name
    for bad in ({"rpo_minutes": 0}, {"retention_days": 0}, {"retention_days": 3651}, {"immutable_days": 0},
                {"rpo": 60}):
        with pytest.raises(ValidationError):
            BackupOptions.model_validate(bad)


@pytest.mark.parametrize("cloud,region,options,has_cluster,has_store,expected", [
    # Valid plans.
    ("aws", "us-east-1", {}, False, True, None),
    ("aws", "us-east-1", {"rpo_minutes": 30, "retention_days": 35}, False, True, None),
    ("azure", "eastus", {"copy_to_region": "westus"}, True, True, None),
    ("azure", "eastus", {"rpo_minutes": 240}, True, False, None),
    ("gcp", "us-central1", {}, True, True, None),
    ("gcp", "us-central1", {"rpo_minutes": 60, "retention_days": 15}, True, True, None),
    # Any cloud.
    ("aws", "us-east-1", {"retention_days": 10, "immutable_days": 11}, False, True,
     ("immutable_days", "at most retention_days (10)")),
    ("aws", "us-east-1", {"copy_to_region": "us-east-1"}, False, True,
     ("copy_to_region", "a region other than the primary 'us-east-1'")),
    ("gcp", "us-central1", {"copy_to_region": "mars-1"}, True, True,
     ("copy_to_region", "allowed: one of the GCP regions")),
    # AWS: under an hour is continuous backup: at most 35 days, and not for EKS.
    ("aws", "us-east-1", {"rpo_minutes": 30, "retention_days": 36}, False, True, ("retention_days", "at most 35")),
    ("aws", "us-east-1", {"rpo_minutes": 30, "retention_days": 7}, True, True, ("rpo_minutes", ">= 60")),
    # Azure: the copy goes to the pair; blobs daily at best; AKS every 4 hours at best, 360 days at most.
    ("azure", "eastus", {"copy_to_region": "westeurope"}, False, True,
     ("copy_to_region", "'westus', the pair of 'eastus'")),
    ("azure", "eastus", {"rpo_minutes": 720}, False, True, ("rpo_minutes", ">= 1440")),
    ("azure", "eastus", {"rpo_minutes": 120}, True, False, ("rpo_minutes", ">= 240")),
    ("azure", "eastus", {"retention_days": 400}, True, True, ("retention_days", "at most 360")),
    # GCP: Backup for GKE bounds; nothing to protect without a cluster.
    ("gcp", "us-central1", {"rpo_minutes": 30}, True, True, ("rpo_minutes", "60..86400")),
    ("gcp", "us-central1", {"rpo_minutes": 60, "retention_days": 16}, True, True,
     ("retention_days", "at most 15 with rpo_minutes 60")),
    ("gcp", "us-central1", {"retention_days": 400}, True, True, ("retention_days", "at most 365")),
    ("gcp", "us-central1", {"retention_days": 200, "immutable_days": 91}, True, True, ("immutable_days", "at most 90")),
    ("gcp", "us-central1", {}, False, True, ("", "a cell with a cluster")),
])
def test_backup_problems(cloud: Any, region: str, options: dict[str, Any], has_cluster: bool, has_store: bool,
                         expected: tuple[str, str] | None) -> None:
    problems = backup_problems(cloud, region, BackupOptions.model_validate(options), has_cluster, has_store=has_store)
    if expected is None:
        assert problems == []
        return
    path, fragment = expected
    assert [p.path for p in problems] == [path], [p.render() for p in problems]
    assert fragment in problems[0].allowed, problems[0].allowed


# --- AWS -----------------------------------------------------------------------------------

def test_aws_rule_schedule_retention_and_copy_to_the_other_region(plans: dict[str, Any]) -> None:
    plan = plans["aws-prod"]
    [rule] = _one(plan, AWS_PLAN)["inputs"]["rules"]
    assert rule["schedule"] == "cron(0 * ? * * *)" and rule["enableContinuousBackup"] is False
    assert rule["scheduleExpressionTimezone"] == "Etc/UTC" and rule["startWindow"] == 60
    assert rule["lifecycle"] == {"deleteAfter": 35}
    vaults = {v["inputs"]["region"]: v for v in of_type(plan, VAULT)}
    assert set(vaults) == {"us-east-1", "us-west-2"}
    assert rule["targetVaultName"] == vaults["us-east-1"]["inputs"]["name"]
    [copy] = rule["copyActions"]
    assert copy["lifecycle"] == {"deleteAfter": 35}
    copy_vault = vaults["us-west-2"]
    assert copy["destinationVaultArn"] == \
        f"arn:aws:backup:us-west-2:123456789012:backup-vault:{copy_vault['inputs']['name']}"
    assert copy_vault["urn"] in _deps(_one(plan, AWS_PLAN), "rules")
    # Each vault has its own key, in its own region, rotated.
    keys = {k["urn"]: k for k in of_type(plan, KEY)}
    vault_keys = [keys[_deps(v, "kmsKeyArn")[0]] for v in vaults.values()]
    assert {k["inputs"]["region"] for k in vault_keys} == {"us-east-1", "us-west-2"}
    assert all(k["inputs"]["enableKeyRotation"] is True for k in vault_keys)
    assert all(v["inputs"]["forceDestroy"] is False for v in vaults.values())
    assert _backup_outputs(plan)["copy_to_region"] == "us-west-2"
    assert _backup_outputs(plan)["copy_rpo_minutes"] == 60


def test_aws_selection_is_the_cells_tags_and_covers_the_store(plans: dict[str, Any]) -> None:
    plan = plans["aws-prod"]
    selection = _one(plan, SELECTION)["inputs"]
    assert selection["resources"] == ["*"]
    assert selection["conditions"] == [{"stringEquals": [
        {"key": "aws:ResourceTag/cell", "value": "aws-use1"},
        {"key": "aws:ResourceTag/environment", "value": "prod"}]}]
    # The store's bucket carries exactly those tags, so the selection protects it.
    bucket = _one(plan, "aws:s3/bucket:Bucket")["inputs"]
    assert bucket["tags"]["cell"] == "aws-use1" and bucket["tags"]["environment"] == "prod"
    assert _deps(_one(plan, SELECTION), "planId") == [_one(plan, AWS_PLAN)["urn"]]


def test_aws_backup_role_holds_only_the_four_managed_policies(plans: dict[str, Any]) -> None:
    plan = plans["aws-prod"]
    role = _one(plan, ROLE)
    trust = json.loads(role["inputs"]["assumeRolePolicy"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "backup.amazonaws.com"}]
    attachments = of_type(plan, ATTACHMENT)
    assert all(_deps(a, "role") == [role["urn"]] for a in attachments)
    assert sorted(a["inputs"]["policyArn"] for a in attachments) == sorted([
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
    ])
    assert len(BACKUP_ROLE_POLICIES) == 4
    assert not [r for r in _under_backup(plan) if r["type"].startswith("aws:iam/") and r["type"] not in (ROLE, ATTACHMENT)]
    selection = _one(plan, SELECTION)
    assert _deps(selection, "iamRoleArn") == [role["urn"]]
    assert {a["urn"] for a in attachments} <= set(selection["dependencies"])


def test_aws_vault_lock_in_prod_on_both_vaults(plans: dict[str, Any]) -> None:
    plan = plans["aws-prod"]
    vault_names = {v["inputs"]["name"] for v in of_type(plan, VAULT)}
    locks = of_type(plan, LOCK)
    assert {lock["inputs"]["backupVaultName"] for lock in locks} == vault_names and len(locks) == 2
    for lock in locks:
        inputs = lock["inputs"]
        assert inputs["minRetentionDays"] == 7
        assert inputs["maxRetentionDays"] >= 35
        assert inputs["changeableForDays"] >= 3
        assert lock["options"]["protect"] is True
    for r in [*of_type(plan, VAULT), *of_type(plan, KEY)]:
        assert r["options"]["protect"] is True and r["options"]["retainOnDelete"] is True, r["name"]
    outputs = _backup_outputs(plan)
    assert outputs["immutable"] is True and outputs["rpo_minutes"] == 60 and outputs["retention_days"] == 35


def test_aws_staging_continuous_backup_under_an_hour_and_no_lock(plans: dict[str, Any]) -> None:
    plan = plans["aws-staging"]
    [rule] = _one(plan, AWS_PLAN)["inputs"]["rules"]
    assert rule["enableContinuousBackup"] is True and rule["schedule"] == "cron(0 * ? * * *)"
    assert rule["lifecycle"] == {"deleteAfter": 14}
    assert "copyActions" not in rule or not rule["copyActions"]
    assert not of_type(plan, LOCK)
    assert len(of_type(plan, VAULT)) == 1
    assert all(not r["options"]["protect"] for r in _under_backup(plan))
    outputs = _backup_outputs(plan)
    assert outputs["immutable"] is False and outputs["rpo_minutes"] == 30
    assert "copy_to_region" not in outputs or outputs["copy_to_region"] is None
    assert plan["outputs"] == {"effective_rpo_minutes": 30, "immutable": False}


# --- Azure ---------------------------------------------------------------------------------

def _snake_keys(value: Any, path: str = "") -> list[str]:
    """Keys still in snake_case: the SDK did not translate them, ARM would ignore them."""
    if isinstance(value, dict):
        found = [f"{path}.{k}" for k in value if "_" in k and "." not in k]
        for k, v in value.items():
            found += _snake_keys(v, f"{path}.{k}")
        return found
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _snake_keys(v, f"{path}[{i}]")]
    return []


def test_azure_vault_geo_redundant_soft_delete_and_locked_in_prod(plans: dict[str, Any]) -> None:
    plan = plans["azure-prod"]
    vault = _one(plan, AZ_VAULT)
    props = vault["inputs"]["properties"]
    assert vault["inputs"]["identity"] == {"type": "SystemAssigned"}
    assert props["storageSettings"] == [{"datastoreType": "VaultStore", "type": "GeoRedundant"}]
    assert props["securitySettings"]["softDeleteSettings"] == {"state": "On", "retentionDurationInDays": 14}
    assert props["securitySettings"]["immutabilitySettings"] == {"state": "Locked"}
    assert props["featureSettings"]["crossRegionRestoreSettings"] == {"state": "Enabled"}
    assert vault["options"]["protect"] is True and vault["options"]["retainOnDelete"] is True
    assert vault["inputs"]["tags"]["cell"] == "azure-eus"
    outputs = _backup_outputs(plan)
    assert outputs["immutable"] is True and outputs["copy_to_region"] == "westus"
    assert outputs["rpo_minutes"] == 1440 and outputs["copy_rpo_minutes"] == 1440


def test_azure_vaulted_blob_backup_of_the_store(plans: dict[str, Any]) -> None:
    plan = plans["azure-prod"]
    policy = _named(plan, "azure-eus-backup-blob-policy")
    props = policy["inputs"]["properties"]
    assert props["datasourceTypes"] == ["Microsoft.Storage/storageAccounts/blobServices"]
    [backup_rule] = [r for r in props["policyRules"] if r["objectType"] == "AzureBackupRule"]
    assert backup_rule["dataStore"]["dataStoreType"] == "VaultStore"
    assert backup_rule["trigger"]["schedule"]["repeatingTimeIntervals"] == ["R/2026-01-01T00:00:00+00:00/P1D"]
    [retention] = [r for r in props["policyRules"] if r["objectType"] == "AzureRetentionRule"]
    assert retention["isDefault"] is True
    assert retention["lifecycles"][0]["deleteAfter"]["duration"] == "P30D"
    assert retention["lifecycles"][0]["sourceDataStore"]["dataStoreType"] == "VaultStore"

    store_container = _named(plan, "azure-eus-store-container")["urn"]
    instance = _named(plan, "azure-eus-backup-blob")
    source = instance["inputs"]["properties"]["dataSourceInfo"]
    assert source["datasourceType"] == "Microsoft.Storage/storageAccounts/blobServices"
    assert source["resourceType"] == "Microsoft.Storage/storageAccounts"
    params = instance["inputs"]["properties"]["policyInfo"]["policyParameters"]["backupDatasourceParametersList"]
    assert params[0]["objectType"] == "BlobBackupDatasourceParameters" and len(params[0]["containersList"]) == 1
    assert {store_container, policy["urn"]} <= set(_deps(instance, "properties"))
    assert instance["options"]["protect"] is True

    # The vault's identity may back up the store's account, before the instance is created.
    role = _named(plan, "azure-eus-backup-blob-role")
    assert role["inputs"]["roleDefinitionId"].endswith("/roleDefinitions/e5e2a7ff-d759-4cd2-bb51-3152d37e2eb1")
    assert _deps(role, "principalId") == [_one(plan, AZ_VAULT)["urn"]]
    assert _deps(role, "scope") == [store_container]
    assert role["urn"] in instance["dependencies"]


def test_azure_aks_backup_extension_trusted_access_policy_and_instance(plans: dict[str, Any]) -> None:
    plan = plans["azure-prod"]
    vault = _one(plan, AZ_VAULT)["urn"]
    cluster = _one(plan, "azure-native:containerservice:ManagedCluster")["urn"]
    extension = _one(plan, AZ_EXTENSION)
    assert extension["inputs"]["extensionType"] == "microsoft.dataprotection.kubernetes"
    settings = extension["inputs"]["configurationSettings"]
    assert settings["configuration.backupStorageLocation.bucket"] == "aks-backup"
    assert settings["configuration.backupStorageLocation.config.useAAD"] == "true"
    assert _deps(extension, "clusterName") == [cluster]
    trusted = _one(plan, AZ_TRUSTED)
    assert trusted["inputs"]["roles"] == ["Microsoft.DataProtection/backupVaults/backup-operator"]
    assert _deps(trusted, "sourceResourceId") == [vault] and _deps(trusted, "resourceName") == [cluster]

    policy = _named(plan, "azure-eus-backup-aks-policy")["inputs"]["properties"]
    assert policy["datasourceTypes"] == ["Microsoft.ContainerService/managedClusters"]
    rules = {r["name"]: r for r in policy["policyRules"]}
    assert rules["BackupDaily"]["trigger"]["schedule"]["repeatingTimeIntervals"] == [
        "R/2026-01-01T00:00:00+00:00/P1D"]
    assert rules["BackupDaily"]["dataStore"]["dataStoreType"] == "OperationalStore"
    assert rules["Default"]["lifecycles"][0]["deleteAfter"]["duration"] == "P30D"
    # copy_to_region: the first backup of each day goes to the geo-redundant vault tier.
    daily = rules["Daily"]["lifecycles"]
    assert daily[0]["targetDataStoreCopySettings"] == [{
        "copyAfter": {"objectType": "ImmediateCopyOption"},
        "dataStore": {"dataStoreType": "VaultStore", "objectType": "DataStoreInfoBase"}}]
    assert daily[1]["sourceDataStore"]["dataStoreType"] == "VaultStore"

    instance = _named(plan, "azure-eus-backup-aks")
    source = instance["inputs"]["properties"]["dataSourceInfo"]
    assert source["datasourceType"] == "Microsoft.ContainerService/managedClusters"
    assert cluster in _deps(instance, "properties")
    assert {extension["urn"], trusted["urn"]} <= set(instance["dependencies"])
    contributor = _named(plan, "azure-eus-backup-aks-cluster-snapshot-contributor")
    snapshots = _named(plan, "azure-eus-backup-aks-snapshots")["urn"]
    assert _deps(contributor, "scope") == [snapshots]  # never Contributor on the cell's group

    for r in _under_backup(plan):
        if r["custom"]:
            assert not _snake_keys(r["inputs"]), (r["name"], _snake_keys(r["inputs"]))


def test_azure_staging_aks_every_four_hours_locally_redundant_not_immutable(plans: dict[str, Any]) -> None:
    plan = plans["azure-staging"]
    props = _one(plan, AZ_VAULT)["inputs"]["properties"]
    assert props["storageSettings"] == [{"datastoreType": "VaultStore", "type": "LocallyRedundant"}]
    assert props["securitySettings"]["immutabilitySettings"] == {"state": "Disabled"}
    assert props["featureSettings"]["crossRegionRestoreSettings"] == {"state": "Disabled"}
    [policy] = of_type(plan, AZ_POLICY)
    [rule] = [r for r in policy["inputs"]["properties"]["policyRules"] if r["objectType"] == "AzureBackupRule"]
    assert rule["trigger"]["schedule"]["repeatingTimeIntervals"] == ["R/2026-01-01T00:00:00+00:00/PT4H"]
    assert not [r for r in policy["inputs"]["properties"]["policyRules"] if r["name"] == "Daily"]
    assert [i["name"] for i in of_type(plan, AZ_INSTANCE)] == ["azure-eus-backup-aks"]
    assert all(not r["options"]["protect"] for r in _under_backup(plan))
    outputs = _backup_outputs(plan)
    assert outputs["rpo_minutes"] == 240 and outputs["immutable"] is False


# --- GCP -----------------------------------------------------------------------------------

def test_gke_backup_plans_in_the_region_and_the_copy_region(plans: dict[str, Any]) -> None:
    plan = plans["gcp-prod"]
    cluster = _one(plan, "gcp:container/cluster:Cluster")["urn"]
    gke = {p["inputs"]["location"]: p for p in of_type(plan, GKE_PLAN)}
    assert set(gke) == {"us-central1", "us-east1"}
    for p in gke.values():
        inputs = p["inputs"]
        assert _deps(p, "cluster") == [cluster]
        assert inputs["backupSchedule"] == {"rpoConfig": {"targetRpoMinutes": 120}}
        assert inputs["backupConfig"] == {"allNamespaces": True, "includeVolumeData": True, "includeSecrets": True}
        assert inputs["retentionPolicy"] == {"backupRetainDays": 30, "backupDeleteLockDays": 14, "locked": True}
        assert inputs["project"] == "fx-project" and inputs["labels"]["cell"] == "gcp-usc1"
        assert p["options"]["protect"] is True and p["options"]["retainOnDelete"] is True
    outputs = _backup_outputs(plan)
    assert outputs["rpo_minutes"] == 120 and outputs["copy_to_region"] == "us-east1" and outputs["immutable"] is True
    assert len(outputs["plan_names"]) == 2


def test_gke_staging_has_no_delete_lock(plans: dict[str, Any]) -> None:
    plan = plans["gcp-staging"]
    [gke] = of_type(plan, GKE_PLAN)
    assert gke["inputs"]["retentionPolicy"] == {"backupRetainDays": 35}
    assert gke["inputs"]["backupSchedule"] == {"rpoConfig": {"targetRpoMinutes": 1440}}
    assert not gke["options"]["protect"]
    assert _backup_outputs(plan)["immutable"] is False


# --- Rejected before anything is registered ------------------------------------------------

@pytest.mark.parametrize("case,fragments", [
    ({"cell": "gcp-usc1", "cloud": "gcp", "region": "us-central1", "cluster": True,
      "options": {"rpo_minutes": 30}},
     ["BackupPlanArgs.options.rpo_minutes: got 30", "60..86400"]),
    ({"cell": "aws-use1", "cloud": "aws", "region": "us-east-1",
      "options": {"retention_days": 35, "immutable_days": 40}},
     ["BackupPlanArgs.options.immutable_days: got 40", "at most retention_days (35)"]),
    ({"cell": "aws-use1", "cloud": "aws", "region": "us-east-1", "options": {"copy_to_region": "us-east-1"}},
     ["BackupPlanArgs.options.copy_to_region: got 'us-east-1'", "other than the primary"]),
    ({"cell": "aws-use1", "cloud": "aws", "region": "us-east-1", "options": {"copy_to_region": "mars-1"}},
     ["BackupPlanArgs.options.copy_to_region: got 'mars-1'", "allowed: one of the AWS regions"]),
    ({"cell": "azure-eus", "cloud": "azure", "region": "eastus", "options": {"copy_to_region": "westeurope"}},
     ["BackupPlanArgs.options.copy_to_region: got 'westeurope'", "'westus', the pair of 'eastus'"]),
    ({"cell": "aws-moon", "cloud": "aws", "region": "moon-1", "options": {}},
     ["BackupPlanArgs.region: got 'moon-1'", "allowed: one of the AWS regions"]),
])
def test_rejected_before_anything_is_registered(tmp_path: Path, case: dict[str, Any], fragments: list[str]) -> None:
    stack = _project(tmp_path, {"stack": "prod", **case})
    proc = run_preflight("plan", stack, "--cwd", tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)
    assert "invalid BackupPlan" in proc.stderr
    assert "0 resources were registered before the error" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and "--debug" not in proc.stderr


@pytest.mark.parametrize("case,fragments", [
    ({"cell": "aws-use1", "cloud": "aws", "region": "us-east-1",
      "options": {"rpo_minutes": 30, "retention_days": 90}},
     ["BackupPlanArgs.options.retention_days: got 90", "at most 35 with rpo_minutes 30"]),
    ({"cell": "gcp-usc1", "cloud": "gcp", "region": "us-central1", "options": {}},
     ["BackupPlanArgs.options: got 'a GCP cell without a cluster'", "Backup for GKE"]),
])
def test_the_component_itself_rejects_with_the_path(tmp_path: Path, case: dict[str, Any],
                                                    fragments: list[str]) -> None:
    """Without the up-front check, BackupPlan's own validation stops the program with the same message."""
    stack = _project(tmp_path, {"stack": "prod", "check_first": False, **case})
    out = tmp_path / "plan.json"
    proc = run_preflight("plan", stack, "--cwd", tmp_path, "--json", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout and "--debug" not in proc.stderr
    assert not out.exists()
