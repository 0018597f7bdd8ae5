"""ObjectStore on each cloud, asserted from the offline plans of the shipped stacks."""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import pytest

from tests.conftest import ancestors, by_urn, of_type

STATEFUL_TYPES = {
    "aws:kms/key:Key", "aws:s3/bucket:Bucket",
    "azure-native:resources:ResourceGroup", "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobContainer", "gcp:storage/bucket:Bucket",
}


def _for_bucket(plan: dict[str, Any], type_token: str, bucket: dict[str, Any]) -> dict[str, Any]:
    """The one `type_token` resource configuring `bucket` (by bucket name)."""
    found = [r for r in of_type(plan, type_token) if r["inputs"].get("bucket") == bucket["inputs"]["bucket"]]
    assert len(found) == 1, f"{type_token} for {bucket['name']}: {len(found)}"
    return found[0]


def _store_buckets(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The object stores' S3 buckets (not, say, an ALB's access-log bucket, tested with serving)."""
    return [b for b in of_type(plan, "aws:s3/bucket:Bucket") if "$aiinfra:storage:ObjectStore$" in b["urn"]]


def test_every_s3_bucket_is_private_encrypted_versioned_and_tls_only(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    buckets = _store_buckets(plan)
    assert len(buckets) == 2  # primary and its replica
    keys = {r["urn"]: r for r in of_type(plan, "aws:kms/key:Key")}
    for bucket in buckets:
        pab = _for_bucket(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)["inputs"]
        assert all(pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                            "restrictPublicBuckets"))
        sse = _for_bucket(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket)
        rule = sse["inputs"]["rules"][0]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        assert rule["bucketKeyEnabled"] is True
        key_urns = [u for u in sse["propertyDependencies"]["rules"] if u in keys]
        assert len(key_urns) == 1, "SSE must use a key the store created"
        assert keys[key_urns[0]]["inputs"]["enableKeyRotation"] is True
        versioning = _for_bucket(plan, "aws:s3/bucketVersioning:BucketVersioning", bucket)
        assert versioning["inputs"]["versioningConfiguration"]["status"] == "Enabled"
        lifecycle = _for_bucket(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket)
        expiry = [r for r in lifecycle["inputs"]["rules"] if "noncurrentVersionExpiration" in r]
        assert expiry and expiry[0]["status"] == "Enabled"
        assert expiry[0]["noncurrentVersionExpiration"]["noncurrentDays"] == 90
        ownership = _for_bucket(plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket)
        assert ownership["inputs"]["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        policy = json.loads(_for_bucket(plan, "aws:s3/bucketPolicy:BucketPolicy", bucket)["inputs"]["policy"])
        deny_plain = [s for s in policy["Statement"]
                      if s["Effect"] == "Deny" and s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"]
        assert deny_plain and deny_plain[0]["Principal"] == "*" and deny_plain[0]["Action"] == "s3:*"
        assert f"arn:aws:s3:::{bucket['inputs']['bucket']}/*" in deny_plain[0]["Resource"]


def test_s3_replication_goes_to_the_replica_region_with_its_own_key(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    [replication] = of_type(plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    buckets = {b["inputs"]["bucket"]: b for b in _store_buckets(plan)}
    source = buckets[replication["inputs"]["bucket"]]
    assert source["inputs"]["region"] == "us-east-1"
    [replica] = [b for b in buckets.values() if b is not source]
    assert replica["inputs"]["region"] == "us-west-2"
    rule = replication["inputs"]["rules"][0]
    assert rule["status"] == "Enabled" and rule["deleteMarkerReplication"]["status"] == "Enabled"
    assert rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"]["status"] == "Enabled"
    assert replica["urn"] in replication["propertyDependencies"]["rules"]
    # S3 needs versioning on both ends before replication: explicit dependencies.
    versionings = {v["urn"] for v in of_type(plan, "aws:s3/bucketVersioning:BucketVersioning")
                   if "$aiinfra:storage:ObjectStore$" in v["urn"]}
    assert len(versionings) == 2 and versionings <= set(replication["dependencies"])


def test_dev_store_has_no_replica(plans: dict[str, Any]) -> None:
    assert len(_store_buckets(plans["dev"])) == 1
    assert not of_type(plans["dev"], "aws:s3/bucketReplicationConfig:BucketReplicationConfig")


def test_azure_storage_account_is_locked_down(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    [account] = [a for a in of_type(plan, "azure-native:storage:StorageAccount") if a["name"] == "azure-eus-store-account"]
    inputs = account["inputs"]
    assert inputs["kind"] == "StorageV2"
    assert inputs["enableHttpsTrafficOnly"] is True
    assert inputs["minimumTlsVersion"] == "TLS1_2"
    assert inputs["allowBlobPublicAccess"] is False
    assert inputs["allowSharedKeyAccess"] is False
    assert inputs["allowCrossTenantReplication"] is False
    assert inputs["encryption"]["requireInfrastructureEncryption"] is True
    assert inputs["sku"]["name"] == "Standard_RAGZRS"  # replica_region westus is eastus's pair
    assert 3 <= len(inputs["accountName"]) <= 24 and inputs["accountName"].isalnum()
    [group] = [g for g in of_type(plan, "azure-native:resources:ResourceGroup") if g["name"] == "azure-eus-rg"]
    assert account["propertyDependencies"]["resourceGroupName"] == [group["urn"]]


def test_azure_blob_versioning_soft_delete_and_private_container(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    [service] = [b for b in of_type(plan, "azure-native:storage:BlobServiceProperties")
                 if b["name"] == "azure-eus-store-blob-service"]
    inputs = service["inputs"]
    assert inputs["isVersioningEnabled"] is True
    assert inputs["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert inputs["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 30}
    [container] = [c for c in of_type(plan, "azure-native:storage:BlobContainer") if c["name"] == "azure-eus-store-container"]
    assert container["inputs"]["publicAccess"] == "None"
    [policy] = [p for p in of_type(plan, "azure-native:storage:ManagementPolicy") if p["name"] == "azure-eus-store-lifecycle"]
    rule = policy["inputs"]["policy"]["rules"][0]
    assert rule["definition"]["actions"]["version"]["delete"]["daysAfterCreationGreaterThan"] == 90


def test_gcs_bucket_is_uniform_private_versioned_with_soft_delete(plans: dict[str, Any]) -> None:
    for stack, expected_location in (("prod", "US"), ("staging", "US-EAST4")):
        [bucket] = of_type(plans[stack], "gcp:storage/bucket:Bucket")
        inputs = bucket["inputs"]
        assert inputs["uniformBucketLevelAccess"] is True
        assert inputs["publicAccessPrevention"] == "enforced"
        assert inputs["versioning"] == {"enabled": True}
        assert inputs["softDeletePolicy"]["retentionDurationSeconds"] >= 7 * 86400
        assert inputs["forceDestroy"] is False
        assert inputs["location"] == expected_location
        noncurrent = [r for r in inputs["lifecycleRules"] if "daysSinceNoncurrentTime" in r["condition"]]
        assert noncurrent and noncurrent[0]["action"]["type"] == "Delete"
    [prod_bucket] = of_type(plans["prod"], "gcp:storage/bucket:Bucket")
    assert prod_bucket["inputs"]["customPlacementConfig"]["dataLocations"] == ["US-CENTRAL1", "US-EAST1"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stateful_resources_are_protected_and_retained_only_in_prod(plans: dict[str, Any], stack: str) -> None:
    stateful = [r for r in plans[stack]["resources"] if r["type"] in STATEFUL_TYPES]
    assert stateful
    for r in stateful:
        opts = r["options"]
        if stack == "prod":
            assert opts["protect"] is True and opts["retainOnDelete"] is True, r["urn"]
        else:
            assert not opts["protect"] and not opts["retainOnDelete"], r["urn"]
    if stack == "prod":  # configuration resources stay unprotected so they can be changed freely
        assert not of_type(plans[stack], "aws:s3/bucketPolicy:BucketPolicy")[0]["options"]["protect"]


def _taggable(type_token: str) -> str | None:
    """From the SDK itself: the tag property of a resource type, if it has one."""
    package, module, cls = type_token.split(":")
    py = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp"}.get(package)
    if py is None:
        return None
    mod = importlib.import_module(py if module == "index" else f"{py}.{module.split('/')[0]}")
    params = inspect.signature(getattr(mod, cls)._internal_init).parameters
    # On GCP `tags` are Resource Manager tag bindings (immutable, ids from the organisation), not
    # key/value metadata: labels are.
    # Monitoring channels and alert policies keep their metadata in `user_labels` (their `labels` are
    # the channel type's settings).
    order = ("user_labels", "labels", "resource_labels") if package == "gcp" else ("tags",)
    return next((p for p in order if p in params), None)


_CAMEL = {"tags": "tags", "user_labels": "userLabels", "labels": "labels", "resource_labels": "resourceLabels"}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_required_tags_on_every_taggable_resource(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    checked = 0
    for r in plan["resources"]:
        if not r["custom"] or r["type"].startswith("pulumi:providers:"):
            continue
        prop = _taggable(r["type"])
        if prop is None:
            continue
        tags = r["inputs"].get(_CAMEL[prop]) or {}
        for key in ("owner", "cost-center", "environment"):
            assert tags.get(key), f"{r['urn']} lacks tag {key}"
        assert tags["environment"] == stack
        cell = next((a["name"] for a in ancestors(plan, r) if a["type"] == "aiinfra:index:Cell"), None)
        assert tags.get("cell") == cell  # resources of a cell name it; the global endpoint's belong to none
        checked += 1
    assert checked >= 2  # dev: the key and the bucket


def test_every_child_is_named_after_its_component_and_parented(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    index = by_urn(plan)
    for store in of_type(plan, "aiinfra:storage:ObjectStore"):
        children = [r for r in plan["resources"] if r["parent"] == store["urn"]]
        assert children
        for child in children:
            assert child["name"].startswith(f"{store['name']}-"), child["name"]
        # A cell's model store, or a store a backup plan keeps for its staging data.
        assert index[store["parent"]]["type"] in ("aiinfra:index:Cell", "aiinfra:backup:BackupPlan")
        assert store["outputs"]["bucket_name"] and store["outputs"]["url"]
