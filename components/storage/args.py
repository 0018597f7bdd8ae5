"""Arguments and shared shapes of ObjectStore, used by the front door and the per-cloud builders."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from ..catalog.regions import AZURE_PAIRS, CLOUDS, Cloud, gcp_dual_region_location, region_problem
from ..common import Environment, Problem
from ..common.dispatch import unknown


class ObjectStoreOptions(BaseModel):
    """Cloud-neutral knobs of an object store (the `storage` section of a cell)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    noncurrent_version_days: int = Field(default=30, ge=1, le=3650)
    """Days a replaced or deleted object version is kept before it expires. Default 30:
    long enough to notice and undo a bad model push, short enough to bound storage cost."""

    soft_delete_days: int = Field(default=7, ge=7, le=90)
    """Days deleted objects (and Azure containers) stay recoverable. Default 7, the GCS
    minimum; allowed 7-90 (the range all three clouds accept)."""

    replica_region: str | None = None
    """Second region holding a copy. Default none. AWS: cross-region replication to a
    bucket there; GCP: a configurable dual-region bucket (same continent); Azure: must be
    the region's pair, and the account becomes geo-zone-redundant (RA-GZRS)."""

    container_name: str = Field(default="models", pattern=r"^[a-z0-9]([a-z0-9]|-[a-z0-9]){1,61}[a-z0-9]?$", max_length=63)
    """Azure blob container created in the account (ignored on AWS and GCP, where the bucket
    itself is the container). Default `models`."""


def storage_problems(cloud: Cloud, region: str, options: ObjectStoreOptions) -> list[Problem]:
    """Rules that need the cloud and region; paths are relative to the options."""
    problems: list[Problem] = []
    replica = options.replica_region
    if replica is None:
        return problems
    if replica == region:
        problems.append(Problem("replica_region", replica, f"allowed: a region other than the primary {region!r}"))
        return problems
    if (bad := region_problem(cloud, replica)) is not None:
        problems.append(Problem("replica_region", replica, bad))
        return problems
    match cloud:
        case "aws":
            pass  # S3 replication reaches any other region
        case "azure":
            if AZURE_PAIRS.get(region) != replica:
                pair = AZURE_PAIRS.get(region)
                problems.append(Problem(
                    "replica_region", replica,
                    f"allowed: {pair!r}, the pair of {region!r}; Azure geo-redundant storage replicates "
                    "only to the paired region"))
        case "gcp":
            if gcp_dual_region_location(region, replica) is None:
                problems.append(Problem(
                    "replica_region", replica,
                    f"allowed: a region on the same continent as {region!r} (us-*, europe-* or asia-*); "
                    "GCS dual-regions cannot span continents"))
        case _:
            unknown(cloud, "ObjectStoreArgs.cloud", CLOUDS)
    return problems


@dataclass(frozen=True)
class ObjectStoreArgs:
    """Arguments of ObjectStore. Only `cloud`, `region` and `environment` are required."""

    cloud: Cloud
    """`aws`, `azure` or `gcp`. The resource provider passed in `opts` must match."""
    region: str
    """Region of the bucket (and of the AWS key and Azure resource group)."""
    environment: Environment
    """Name, tags and protection: stateful resources are protected and retained in prod."""
    options: ObjectStoreOptions = field(default_factory=ObjectStoreOptions)
    """Retention, soft delete, replication; see ObjectStoreOptions. Default: its defaults."""
    kms_key_arn: pulumi.Input[str] | None = None
    """AWS only: an existing KMS key to encrypt with. Default: create a key with rotation on."""
    resource_group_name: pulumi.Input[str] | None = None
    """Azure only: an existing resource group. Default: create one in `region`."""
    project: str | None = None
    """GCP only: the project of the bucket. Default: the provider's project."""


@dataclass(frozen=True)
class StoreOutputs:
    """What every per-cloud builder returns."""

    bucket_name: pulumi.Output[str]
    url: pulumi.Output[str]
    stateful: list[pulumi.Resource]
    scope_id: pulumi.Output[str]
    """What access grants target: the bucket ARN (AWS), the container resource id (Azure),
    the bucket name (GCP)."""
    key_arn: pulumi.Output[str] | None = None
    """AWS: the KMS key readers need kms:Decrypt on."""
