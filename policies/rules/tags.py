"""Cost and ownership tags on every taggable cloud resource.

A resource is taggable when it is an AWS, Azure or GCP custom resource and either sets its tag
property (AWS/Azure `tags`, GCP `userLabels`, `labels` or `resourceLabels`) or is one of `ALWAYS_TAGGABLE`, the
types this project creates that support tags, so dropping the property entirely does not escape the
rule. Component resources (aiinfra:*), Kubernetes objects (their labels are scheduling metadata,
not cost tags) and resources without a tag property are out of scope. AWS provider `defaultTags`
and GCP provider `defaultLabels` count.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from pulumi_policy import Severity

from .common import (
    STRING_LIST,
    Resource,
    Setting,
    UNKNOWN,
    json_value,
    label_of,
    need,
    resource_policy,
    tags_of,
)

CLOUDS = ("aws", "azure-native", "gcp")

ALWAYS_TAGGABLE = frozenset({
    "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup",
    "aws:kms/key:Key", "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:iam/role:Role", "aws:cloudwatch/logGroup:LogGroup", "aws:route53/zone:Zone",
    "aws:sagemaker/endpoint:Endpoint", "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/model:Model", "aws:backup/vault:Vault", "aws:backup/plan:Plan",
    "azure-native:resources:ResourceGroup", "azure-native:storage:StorageAccount",
    "azure-native:containerservice:ManagedCluster", "azure-native:containerservice:AgentPool",
    "azure-native:keyvault:Vault", "azure-native:network:VirtualNetwork",
    "azure-native:operationalinsights:Workspace", "azure-native:dataprotection:BackupVault",
    "azure-native:machinelearningservices:Workspace", "azure-native:machinelearningservices:OnlineEndpoint",
    "azure-native:machinelearningservices:OnlineDeployment", "azure-native:trafficmanager:Profile",
    "gcp:storage/bucket:Bucket", "gcp:container/cluster:Cluster", "gcp:kms/cryptoKey:CryptoKey",
    "gcp:gkebackup/backupPlan:BackupPlan",
})

SETTINGS = [
    Setting("required_tags", {**STRING_LIST, "description": "Tag (label) keys every taggable resource must carry."},
            ["owner", "cost-center", "environment"]),
    Setting("exempt_types", {**STRING_LIST, "description": "Resource type tokens this rule skips."}, []),
]


def _provider_defaults(resource: Resource) -> dict[str, Any]:
    package = resource.type.split(":", 1)[0]
    if package == "aws":
        defaults = json_value(resource.provider_props.get("defaultTags"))
        tags = defaults.get("tags") if isinstance(defaults, dict) else None
    elif package == "gcp":
        tags = json_value(resource.provider_props.get("defaultLabels"))
    else:
        tags = None
    return tags if isinstance(tags, dict) else {}


def _present(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value.strip() != "")


def check_tags(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type.split(":", 1)[0] not in CLOUDS or resource.type in config["exempt_types"]:
        return
    tags = tags_of(resource.type, resource.props)
    if tags is None and resource.type not in ALWAYS_TAGGABLE:
        return
    tags = need(tags, "tags")
    merged = {**_provider_defaults(resource), **(tags if isinstance(tags, dict) else {})}
    missing = [k for k in config["required_tags"] if not _present(merged.get(k))]
    if missing:
        kind = "label" if resource.type.startswith("gcp:") else "tag"
        plural = "s" if len(missing) > 1 else ""
        yield f"Add the {kind}{plural} {', '.join(missing)} to {label_of(resource)}."


POLICIES = [
    resource_policy("required-tags",
                    "Taggable cloud resources (AWS and Azure tags, GCP labels) must carry the owner, cost-center and "
                    "environment tags.", None, check_tags, settings=SETTINGS, severity=Severity.MEDIUM),
]
