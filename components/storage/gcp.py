"""ObjectStore on GCP: a bucket with uniform access, public access prevention and soft delete.

Children (role names): `bucket`. GCS encrypts every object at rest with
Google-managed keys; uniform bucket-level access turns off object ACLs so IAM
is the only way in.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from ..catalog.regions import gcp_dual_region_location
from ..common.naming import global_name
from .args import ObjectStoreArgs, StoreOutputs

_DAY = 86_400


def build(parent: pulumi.Resource, name: str, args: ObjectStoreArgs) -> StoreOutputs:
    env = args.environment
    opts = args.options
    location = args.region.upper()
    placement: gcp.storage.BucketCustomPlacementConfigArgsDict | None = None
    if opts.replica_region:
        # A configurable dual-region: objects stored in both regions, one bucket name.
        location = gcp_dual_region_location(args.region, opts.replica_region) or location
        placement = {"data_locations": [args.region.upper(), opts.replica_region.upper()]}
    bucket = gcp.storage.Bucket(
        f"{name}-bucket",
        name=global_name(name),
        project=args.project,
        location=location,
        custom_placement_config=placement,
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": True},
        soft_delete_policy={"retention_duration_seconds": opts.soft_delete_days * _DAY},
        force_destroy=False,
        lifecycle_rules=[
            {"action": {"type": "Delete"},
             "condition": {"days_since_noncurrent_time": opts.noncurrent_version_days, "with_state": "ARCHIVED"}},
            {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
        ],
        opts=env.child(parent, stateful=True))
    return StoreOutputs(bucket_name=bucket.name, url=bucket.name.apply(lambda b: f"gs://{b}"), stateful=[bucket],
                        scope_id=bucket.name)
