"""Deletion protection of stateful resources in prod.

`STATEFUL_TYPES` starts from every resource the shipped prod plan protects (buckets, keys, key
rings, storage accounts and blob containers, clusters, Key Vaults and their keys, backup vaults,
instances and GKE backup plans, resource groups, Log Analytics and Azure ML workspaces, log groups,
DNS zones) plus common data stores the project may add (databases, file systems, volumes).
Deliberately not listed although prod protects them: AWS Backup vault lock configurations (a
setting of a vault, not data).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from .common import STRING_LIST, Setting, Stack, environment_setting, label_of, stack_policy

STATEFUL_TYPES = [
    # AWS
    "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:kms/key:Key", "aws:eks/cluster:Cluster",
    "aws:backup/vault:Vault", "aws:cloudwatch/logGroup:LogGroup", "aws:route53/zone:Zone",
    "aws:rds/instance:Instance", "aws:rds/cluster:Cluster", "aws:dynamodb/table:Table",
    "aws:efs/fileSystem:FileSystem", "aws:ebs/volume:Volume", "aws:secretsmanager/secret:Secret",
    # Azure
    "azure-native:resources:ResourceGroup", "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobContainer", "azure-native:keyvault:Vault", "azure-native:keyvault:Key",
    "azure-native:containerservice:ManagedCluster", "azure-native:operationalinsights:Workspace",
    "azure-native:dataprotection:BackupVault", "azure-native:dataprotection:BackupInstance",
    "azure-native:machinelearningservices:Workspace", "azure-native:dns:Zone",
    # GCP
    "gcp:storage/bucket:Bucket", "gcp:container/cluster:Cluster", "gcp:kms/cryptoKey:CryptoKey",
    "gcp:kms/keyRing:KeyRing", "gcp:gkebackup/backupPlan:BackupPlan", "gcp:dns/managedZone:ManagedZone",
    "gcp:sql/databaseInstance:DatabaseInstance", "gcp:compute/disk:Disk", "gcp:filestore/instance:Instance",
]

SETTINGS = [
    environment_setting("environments", ["prod"], "Environments whose stateful resources must be protected."),
    Setting("stateful_types", {**STRING_LIST, "description": "Resource types that must be protected."},
            STATEFUL_TYPES),
]


def check_protected(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for resource in stack.of_type(*config["stateful_types"]):
        if stack.environment_of(resource) in config["environments"] and not resource.protect:
            yield (f"Set protect=True in the resource options of stateful {label_of(resource)}.", resource.urn)


POLICIES = [
    stack_policy("protect-stateful-resources",
                 "Stateful resources (buckets, keys, storage accounts, clusters, vaults, ...) in prod must be "
                 "protected from deletion.", check_protected, settings=SETTINGS),
]
