"""ObjectStore on AWS: S3 with SSE-KMS, versioning, every public-access block, TLS-only policy.

Children (role names): `key`, `bucket`, `ownership`, `public-access`, `encryption`,
`versioning`, `lifecycle`, `policy`; with a replica region also `replica-*` and
`replication-role`, `replication-policy`, `replication`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..common.aws_arn import partition
from ..common.naming import global_name
from .args import ObjectStoreArgs, StoreOutputs
from ..common.aws_iam import trust_policy
from ..common.aws_kms import customer_key


@dataclass(frozen=True)
class _SecureBucket:
    bucket: aws.s3.Bucket
    key_arn: pulumi.Output[str]
    versioning: aws.s3.BucketVersioning
    stateful: list[pulumi.Resource]


def _tls_only_policy(bucket_arn: str) -> str:
    """Deny any request that is not TLS 1.2+ (s3:TlsVersion) or not over TLS at all."""
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": resources, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "DenyOutdatedTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": resources, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
        ],
    })


def _secure_bucket(parent: pulumi.Resource, name: str, args: ObjectStoreArgs, *,
                   region: str, key_arn: pulumi.Input[str] | None) -> _SecureBucket:
    """A bucket with every control this store promises, in `region` (set on each resource)."""
    env = args.environment
    stateful: list[pulumi.Resource] = []
    if key_arn is None:
        key = customer_key(f"{name}-key", f"Encrypts objects of {name}", region, env.child(parent, stateful=True))
        stateful.append(key)
        key_arn = key.arn
    bucket_name = global_name(name)
    bucket = aws.s3.Bucket(f"{name}-bucket", bucket=bucket_name, force_destroy=False, region=region,
                           opts=env.child(parent, stateful=True))
    stateful.append(bucket)
    # ACLs off: the bucket owner owns every object, access is by policy only.
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-ownership", bucket=bucket.bucket, region=region,
        rule={"object_ownership": "BucketOwnerEnforced"}, opts=env.child(parent))
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access", bucket=bucket.bucket, region=region,
        block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=env.child(parent))
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption", bucket=bucket.bucket, region=region,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                            "kms_master_key_id": key_arn},
                "bucket_key_enabled": True}],
        opts=env.child(parent))
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning", bucket=bucket.bucket, region=region,
        versioning_configuration={"status": "Enabled"}, opts=env.child(parent))
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle", bucket=bucket.bucket, region=region,
        rules=[
            {"id": "expire-noncurrent-versions", "status": "Enabled", "filter": {},
             "noncurrent_version_expiration": {"noncurrent_days": args.options.noncurrent_version_days}},
            {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
        ],
        opts=env.child(parent, depends_on=[versioning]))
    aws.s3.BucketPolicy(
        f"{name}-policy", bucket=bucket.bucket, region=region,
        # Built from the known name (not bucket.arn) so the policy is visible in an offline plan.
        policy=_tls_only_policy(f"arn:{partition(region)}:s3:::{bucket_name}"),
        # The public-access block must exist first, or S3 may reject the policy update race.
        opts=env.child(parent, depends_on=[public_access, ownership]))
    return _SecureBucket(bucket, pulumi.Output.from_input(key_arn), versioning, stateful)


def _replication(parent: pulumi.Resource, name: str, args: ObjectStoreArgs,
                 source: _SecureBucket, replica: _SecureBucket) -> None:
    """Replicate every object, delete markers included, to the replica, re-encrypted with its key."""
    env = args.environment
    role = aws.iam.Role(
        f"{name}-replication-role",
        description=f"S3 replication of {name}",
        assume_role_policy=trust_policy("s3.amazonaws.com"),
        opts=env.child(parent))
    policy = pulumi.Output.all(source.bucket.arn, replica.bucket.arn, source.key_arn, replica.key_arn).apply(
        lambda a: json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                 "Resource": [a[0]]},
                {"Effect": "Allow",
                 "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                            "s3:GetObjectVersionTagging"],
                 "Resource": [f"{a[0]}/*"]},
                {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                 "Resource": [f"{a[1]}/*"]},
                {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [a[2]]},
                {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": [a[3]]},
            ]}))
    role_policy = aws.iam.RolePolicy(f"{name}-replication-policy", role=role.id, policy=policy,
                                     opts=env.child(parent))
    aws.s3.BucketReplicationConfig(
        f"{name}-replication",
        bucket=source.bucket.bucket,
        role=role.arn,
        rules=[{
            "id": "replicate-all",
            "status": "Enabled",
            "filter": {},
            "delete_marker_replication": {"status": "Enabled"},
            "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
            "destination": {
                "bucket": replica.bucket.arn,
                "storage_class": "STANDARD",
                "encryption_configuration": {"replica_kms_key_id": replica.key_arn},
            },
        }],
        # S3 refuses replication until versioning is on at both ends.
        opts=env.child(parent, depends_on=[source.versioning, replica.versioning, role_policy]))


def build(parent: pulumi.Resource, name: str, args: ObjectStoreArgs) -> StoreOutputs:
    primary = _secure_bucket(parent, name, args, region=args.region, key_arn=args.kms_key_arn)
    stateful = list(primary.stateful)
    if args.options.replica_region:
        replica = _secure_bucket(parent, f"{name}-replica", args, region=args.options.replica_region, key_arn=None)
        _replication(parent, name, args, primary, replica)
        stateful += replica.stateful
    return StoreOutputs(
        bucket_name=primary.bucket.bucket,
        url=primary.bucket.bucket.apply(lambda b: f"s3://{b}"),
        stateful=stateful,
        scope_id=pulumi.Output.from_input(f"arn:{partition(args.region)}:s3:::{global_name(name)}"),
        key_arn=primary.key_arn)
