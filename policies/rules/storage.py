"""Object storage: S3 buckets, Azure storage accounts, GCS buckets.

S3 settings live in companion resources (`aws.s3.BucketVersioning` and friends), so the S3 rules
are stack rules that match each companion to its bucket by the companion's `bucket` input: by the
input's property dependency on the bucket (works while the bucket's name is still unknown), else
by equal bucket names.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from .common import (
    Resource,
    Stack,
    UNKNOWN,
    as_list,
    get,
    json_value,
    label_of,
    need,
    resource_policy,
    stack_policy,
)

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_SSE = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
          "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
S3_ACCOUNT_PUBLIC_ACCESS_BLOCK = ("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",)
S3_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
AZURE_ACCOUNT = "azure-native:storage:StorageAccount"
AZURE_BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
GCS_BUCKET = "gcp:storage/bucket:Bucket"

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
"""Elastic Load Balancing's log delivery service principal. An Application Load Balancer delivers access
logs only to buckets encrypted with SSE-S3 ("The only server-side encryption option that's supported is
Amazon S3-managed keys (SSE-S3)": ELB user guide, "Enable access logs for your Application Load
Balancer"), so a bucket whose policy admits this principal is held to SSE-S3 instead of SSE-KMS."""
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def companions(stack: Stack, bucket: Resource, types: tuple[str, ...]) -> list[Resource]:
    """The resources of `types` whose `bucket` input is this bucket."""
    name = bucket.get("bucket")
    found = []
    for c in stack.of_type(*types):
        if c.depends_on(bucket.urn, "bucket"):
            found.append(c)
        elif isinstance(name, str) and c.get("bucket") == name:
            found.append(c)
    return found


def _sse_is_kms(rules: Any) -> bool:
    rules = as_list(rules)
    if UNKNOWN in rules:
        return True
    if not rules:
        return False
    for rule in rules:
        algorithm = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        if algorithm is not UNKNOWN and algorithm not in KMS_ALGORITHMS:
            return False
    return True


def receives_elb_access_logs(stack: Stack, bucket: Resource) -> bool:
    """Whether a policy of the bucket lets Elastic Load Balancing's log delivery write to it."""
    for policy in companions(stack, bucket, S3_POLICY):
        document = json_value(policy.get("policy"))
        for statement in as_list(get(document, "Statement")):
            if get(statement, "Effect") == "Allow" and ELB_LOG_DELIVERY in as_list(
                    get(statement, "Principal", "Service")):
                return True
    return False


def _check_elb_log_bucket(stack: Stack, bucket: Resource) -> Iterator[tuple[str, str | None]]:
    configs = companions(stack, bucket, S3_SSE)
    algorithms = [get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
                  for c in configs for rule in as_list(c.get("rules"))]
    if not algorithms or any(a not in ("AES256", UNKNOWN) for a in algorithms):
        yield (f"Encrypt {label_of(bucket)} with SSE-S3 (sseAlgorithm AES256) in an "
               f"aws.s3.BucketServerSideEncryptionConfiguration: it receives load balancer access logs, which "
               f"ELB delivers to SSE-S3 buckets only.", bucket.urn)


def check_s3_sse_kms(stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(*S3_BUCKETS):
        if receives_elb_access_logs(stack, bucket):
            yield from _check_elb_log_bucket(stack, bucket)
            continue
        inline = bucket.get("serverSideEncryptionConfiguration")
        if inline is not None and _sse_is_kms(get(inline, "rule")):
            continue
        configs = companions(stack, bucket, S3_SSE)
        if not configs:
            yield (f"Add an aws.s3.BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms for "
                   f"{label_of(bucket)}.", bucket.urn)
        elif not all(_sse_is_kms(c.get("rules")) for c in configs):
            names = ", ".join(f"'{c.name}'" for c in configs)
            yield (f"Set sseAlgorithm to aws:kms in every rule of encryption configuration {names} of "
                   f"{label_of(bucket)}.", bucket.urn)


def check_s3_versioning(stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(*S3_BUCKETS):
        if get(bucket.props, "versioning", "enabled") is True:
            continue
        statuses = [c.get("versioningConfiguration", "status") for c in companions(stack, bucket, S3_VERSIONING)]
        if not any(s == "Enabled" or s is UNKNOWN for s in statuses):
            yield (f"Enable versioning on {label_of(bucket)} with an aws.s3.BucketVersioning whose "
                   f"versioningConfiguration.status is Enabled.", bucket.urn)


def _blocks_all(resource: Resource) -> bool:
    return all(resource.get(flag) is True or resource.get(flag) is UNKNOWN for flag in PUBLIC_ACCESS_FLAGS)


def check_s3_public_access(stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    if any(_blocks_all(a) for a in stack.of_type(*S3_ACCOUNT_PUBLIC_ACCESS_BLOCK)):
        return
    for bucket in stack.of_type(*S3_BUCKETS):
        blocks = companions(stack, bucket, S3_PUBLIC_ACCESS_BLOCK)
        if not any(_blocks_all(b) for b in blocks):
            yield (f"Block public access to {label_of(bucket)} with an aws.s3.BucketPublicAccessBlock that sets "
                   f"{', '.join(PUBLIC_ACCESS_FLAGS)} to true.", bucket.urn)


def denies_insecure_transport(policy: Any) -> bool:
    """True when an IAM policy document denies S3 actions whenever aws:SecureTransport is false."""
    document = json_value(policy)
    if document is UNKNOWN:
        return True
    for statement in as_list(get(document, "Statement")):
        if get(statement, "Effect") != "Deny":
            continue
        actions = [a for a in as_list(get(statement, "Action")) if isinstance(a, str)]
        if not any(a in ("*", "s3:*") for a in actions):
            continue
        condition = get(statement, "Condition", default={})
        for operator in ("Bool", "BoolIfExists"):
            values = as_list(get(condition, operator, "aws:SecureTransport"))
            if any(v is False or (isinstance(v, str) and v.lower() == "false") for v in values):
                return True
    return False


def check_s3_tls_only(stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(*S3_BUCKETS):
        policies = [bucket.get("policy")] if bucket.get("policy") is not None else []
        policies += [c.get("policy") for c in companions(stack, bucket, S3_POLICY)]
        if not any(denies_insecure_transport(p) for p in policies):
            yield (f"Attach an aws.s3.BucketPolicy to {label_of(bucket)} that denies s3:* when "
                   f"aws:SecureTransport is false.", bucket.urn)


# --- Azure storage accounts ------------------------------------------------------------------

def check_azure_https(account: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    if need(account.get("enableHttpsTrafficOnly"), "enableHttpsTrafficOnly") is not True:
        yield f"Set enableHttpsTrafficOnly to true on {label_of(account)}."


def check_azure_tls(account: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    if need(account.get("minimumTlsVersion"), "minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
        yield f"Set minimumTlsVersion to TLS1_2 on {label_of(account)}."


def check_azure_public_blob(account: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    if need(account.get("allowBlobPublicAccess"), "allowBlobPublicAccess") is not False:
        yield f"Set allowBlobPublicAccess to false on {label_of(account)}."


def check_azure_versioning(stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    services = stack.of_type(AZURE_BLOB_SERVICE)
    for account in stack.of_type(AZURE_ACCOUNT):
        if account.get("kind") in ("FileStorage",):
            continue  # no blob service to version
        name = account.get("accountName")
        mine = [s for s in services
                if s.depends_on(account.urn, "accountName") or (isinstance(name, str) and s.get("accountName") == name)]
        if not any(s.get("isVersioningEnabled") in (True, UNKNOWN) for s in mine):
            yield (f"Enable blob versioning on {label_of(account)} with an azure-native.storage.BlobServiceProperties "
                   f"whose isVersioningEnabled is true.", account.urn)


# --- GCS buckets -----------------------------------------------------------------------------

def check_gcs_uniform(bucket: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    if need(bucket.get("uniformBucketLevelAccess"), "uniformBucketLevelAccess") is not True:
        yield f"Set uniformBucketLevelAccess to true on {label_of(bucket)}."


def check_gcs_public_access(bucket: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    if need(bucket.get("publicAccessPrevention"), "publicAccessPrevention") != "enforced":
        yield f"Set publicAccessPrevention to enforced on {label_of(bucket)}."


def check_gcs_versioning(bucket: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    if need(bucket.get("versioning", "enabled"), "versioning.enabled") is not True:
        yield f"Enable versioning on {label_of(bucket)} by setting versioning.enabled to true."


POLICIES = [
    stack_policy("s3-bucket-sse-kms", "S3 buckets must use SSE-KMS default encryption (load balancer access-log "
                 "buckets: SSE-S3, the only encryption log delivery supports).", check_s3_sse_kms),
    stack_policy("s3-bucket-versioning", "S3 buckets must have versioning enabled.", check_s3_versioning),
    stack_policy("s3-bucket-public-access-block", "S3 buckets must block all public access.",
                 check_s3_public_access),
    stack_policy("s3-bucket-tls-only", "S3 buckets must deny requests that do not use TLS.", check_s3_tls_only),
    resource_policy("azure-storage-https-only", "Azure storage accounts must accept HTTPS traffic only.",
                    [AZURE_ACCOUNT], check_azure_https),
    resource_policy("azure-storage-tls-1-2", "Azure storage accounts must require TLS 1.2 or later.",
                    [AZURE_ACCOUNT], check_azure_tls),
    resource_policy("azure-storage-no-public-blob-access", "Azure storage accounts must disallow public blob access.",
                    [AZURE_ACCOUNT], check_azure_public_blob),
    stack_policy("azure-storage-blob-versioning", "Azure storage accounts must have blob versioning enabled.",
                 check_azure_versioning),
    resource_policy("gcs-bucket-uniform-access", "GCS buckets must use uniform bucket-level access.",
                    [GCS_BUCKET], check_gcs_uniform),
    resource_policy("gcs-bucket-public-access-prevention", "GCS buckets must enforce public access prevention.",
                    [GCS_BUCKET], check_gcs_public_access),
    resource_policy("gcs-bucket-versioning", "GCS buckets must have versioning enabled.",
                    [GCS_BUCKET], check_gcs_versioning),
]
