"""Shared helpers of the aiinfra policy pack.

The policy SDK hands rules its own proxies: reading a value that is unknown during preview raises
`UnknownValueError`. Rules here first turn the inputs into plain Python data in which unknown
values are the `UNKNOWN` marker, then decide explicitly what an unknown means:

* resource rules call `need(...)` on a value they cannot judge without, which raises the SDK's
  `UnknownValueError`; the SDK then reports the usual advisory "can't be known during preview",
  exactly as the real engine does;
* stack rules never raise (one unknown value would turn the whole stack rule into a single
  advisory): an unknown value they depend on counts as satisfied, and the resource rules or the
  real `pulumi up` catch the rest.

This module imports only the policy SDK and the standard library: the pack runs alone, in its own
process and virtualenv, and must print nothing at import.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

MANDATORY = EnforcementLevel.MANDATORY

_SENTINELS = frozenset({UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE, UNKNOWN_BOOLEAN_VALUE,
                        UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE})


class _Unknown:
    """A value that is computed by the cloud and not known during preview."""

    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()
"""The marker for unknown values in `plain(...)` data."""


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Plain dicts/lists/scalars from SDK proxies (or plain data); unknown values become `UNKNOWN`."""
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in list(value):
            try:
                item = value[key]
            except UnknownValueError:
                out[str(key)] = UNKNOWN
                continue
            out[str(key)] = plain(item)
        return out
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                item = value[index]
            except UnknownValueError:
                items.append(UNKNOWN)
                continue
            items.append(plain(item))
        return items
    return value


def get(data: Any, *path: str | int, default: Any = None) -> Any:
    """`data[path[0]][path[1]]...` on plain data; `default` when a step is missing, None or not a container.

    An unknown step returns `UNKNOWN` (not the default): the caller decides what it means.
    """
    current = data
    for step in path:
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return default
            current = current[step]
        else:
            if not isinstance(current, dict) or step not in current:
                return default
            current = current[step]
        if current is None:
            return default
    return current


def need(value: Any, path: str) -> Any:
    """`value`, or the SDK's UnknownValueError when it is unknown (resource rules only)."""
    if value is UNKNOWN:
        raise UnknownValueError(UNKNOWN_STRING_VALUE, path.split("."))
    return value


def as_list(value: Any) -> list[Any]:
    """A list from a list, a single value or None (UNKNOWN stays a one-element list)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def number(value: Any) -> float | None:
    """A float from an int/float (the Struct encoding turns every number into a float) or numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def json_value(value: Any) -> Any:
    """A JSON document given as a string (provider inputs, IAM policies) or already decoded."""
    if isinstance(value, str) and value is not UNKNOWN:
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


# --- the resources a rule sees ---------------------------------------------------------------

TAG_KEYS = ("tags", "labels", "resourceLabels")


def tags_of(type_token: str, props: Mapping[str, Any]) -> Any:
    """The cloud tags/labels of a resource's inputs: AWS and Azure `tags`, GCP `userLabels` (Monitoring
    notification channels and alert policies, whose `labels` are the channel type's settings), `labels` or
    `resourceLabels`.

    Returns the dict (values may be UNKNOWN), UNKNOWN when the whole map is unknown, or None.
    """
    package = type_token.split(":", 1)[0]
    if package == "gcp":
        keys: tuple[str, ...] = ("userLabels", "labels", "resourceLabels")
    elif package in ("aws", "azure-native"):
        keys = ("tags",)
    else:
        return None
    for key in keys:
        if key in props and props[key] is not None:
            return props[key]
    return None


def stack_name() -> str | None:
    """The stack's name from the engine's environment (`PULUMI_STACK`; an `org/project/` prefix is dropped)."""
    stack = os.environ.get("PULUMI_STACK", "").strip()
    return stack.rsplit("/", 1)[-1] or None


@dataclass
class Resource:
    """One resource as rules see it: plain inputs and the few options and edges rules use."""

    urn: str
    type: str
    name: str
    props: dict[str, Any]
    protect: bool = False
    parent_urn: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider_props: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: ResourceValidationArgs) -> "Resource":
        provider = plain(args.provider.props) if args.provider is not None else {}
        return cls(urn=args.urn, type=args.resource_type, name=args.name, props=plain(args.props),
                   protect=bool(args.opts.protect), parent_urn=args.opts.parent,
                   provider_props=provider if isinstance(provider, dict) else {})

    @classmethod
    def from_policy_resource(cls, r: PolicyResource) -> "Resource":
        provider = plain(r.provider.props) if r.provider is not None else {}
        parent = r.parent.urn if r.parent is not None else (r.opts.parent or None)
        return cls(urn=r.urn, type=r.resource_type, name=r.name, props=plain(r.props),
                   protect=bool(r.opts.protect), parent_urn=parent,
                   dependencies=[d.urn for d in r.dependencies],
                   property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
                   provider_props=provider if isinstance(provider, dict) else {})

    def get(self, *path: str | int, default: Any = None) -> Any:
        return get(self.props, *path, default=default)

    @property
    def tags(self) -> Any:
        return tags_of(self.type, self.props)

    @property
    def environment(self) -> str | None:
        """The resource's own `environment` tag or label, when it has a known one."""
        tags = self.tags
        value = tags.get("environment") if isinstance(tags, dict) else None
        return value if isinstance(value, str) and value else None

    @property
    def cell_tag(self) -> str | None:
        tags = self.tags
        value = tags.get("cell") if isinstance(tags, dict) else None
        return value if isinstance(value, str) and value else None

    def refs(self, key: str) -> list[str]:
        """URNs the input `key` depends on (the engine's propertyDependencies)."""
        return self.property_dependencies.get(key, [])

    def depends_on(self, urn: str, key: str | None = None) -> bool:
        if key is not None:
            return urn in self.refs(key)
        return urn in self.dependencies or any(urn in v for v in self.property_dependencies.values())


def resource_environment(resource: Resource) -> str | None:
    """A resource's environment: its `environment` tag, else the stack's name."""
    return resource.environment or stack_name()


class Stack:
    """Every resource of the stack with its parent chain, for stack rules."""

    CELL_TYPE = "aiinfra:index:Cell"

    def __init__(self, resources: Iterable[Resource]):
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}
        self._by_type: dict[str, list[Resource]] = {}
        for r in self.resources:
            self._by_type.setdefault(r.type, []).append(r)

    @classmethod
    def from_args(cls, args: StackValidationArgs) -> "Stack":
        return cls(Resource.from_policy_resource(r) for r in args.resources)

    def of_type(self, *types: str) -> list[Resource]:
        out: list[Resource] = []
        for t in types:
            out.extend(self._by_type.get(t, []))
        return out

    def ancestors(self, resource: Resource) -> Iterator[Resource]:
        seen: set[str] = set()
        urn = resource.parent_urn
        while urn and urn in self.by_urn and urn not in seen:
            seen.add(urn)
            parent = self.by_urn[urn]
            yield parent
            urn = parent.parent_urn

    def cell(self, resource: Resource) -> str | None:
        """The cell a resource belongs to: its nearest `aiinfra:index:Cell` ancestor, else its `cell` tag."""
        if resource.type == self.CELL_TYPE:
            return resource.name
        for a in self.ancestors(resource):
            if a.type == self.CELL_TYPE:
                return a.name
        return resource.cell_tag

    def has_ancestor_type(self, resource: Resource, type_token: str) -> bool:
        return any(a.type == type_token for a in self.ancestors(resource))

    def referenced(self, resource: Resource, key: str) -> list[Resource]:
        return [self.by_urn[u] for u in resource.refs(key) if u in self.by_urn]

    @cached_property
    def environment(self) -> str | None:
        """The stack's environment: the most common `environment` tag, else the stack's name."""
        counts = Counter(r.environment for r in self.resources if r.environment)
        if counts:
            return counts.most_common(1)[0][0]
        return stack_name()

    def environment_of(self, resource: Resource) -> str | None:
        return resource.environment or self.environment


# --- labels for messages ---------------------------------------------------------------------

KINDS: dict[str, str] = {
    "aws:s3/bucket:Bucket": "S3 bucket",
    "aws:s3/bucketV2:BucketV2": "S3 bucket",
    "azure-native:storage:StorageAccount": "storage account",
    "gcp:storage/bucket:Bucket": "GCS bucket",
    "aws:eks/cluster:Cluster": "EKS cluster",
    "azure-native:containerservice:ManagedCluster": "AKS cluster",
    "gcp:container/cluster:Cluster": "GKE cluster",
    "aws:eks/nodeGroup:NodeGroup": "EKS node group",
    "aws:ec2/launchTemplate:LaunchTemplate": "launch template",
    "azure-native:containerservice:AgentPool": "AKS agent pool",
    "gcp:container/nodePool:NodePool": "GKE node pool",
    "kubernetes:apps/v1:Deployment": "Deployment",
    "kubernetes:apps/v1:DaemonSet": "DaemonSet",
    "kubernetes:apps/v1:StatefulSet": "StatefulSet",
    "kubernetes:serving.kserve.io/v1beta1:InferenceService": "InferenceService",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": "SageMaker endpoint configuration",
    "aws:sagemaker/endpoint:Endpoint": "SageMaker endpoint",
    "azure-native:machinelearningservices:OnlineDeployment": "Azure ML online deployment",
    "aws:route53/record:Record": "Route53 record",
    "azure-native:trafficmanager:Profile": "Traffic Manager profile",
    "azure-native:network:Profile": "Traffic Manager profile",
    "gcp:dns/recordSet:RecordSet": "Cloud DNS record set",
    "aws:backup/plan:Plan": "AWS Backup plan",
    "aws:backup/vault:Vault": "AWS Backup vault",
    "azure-native:dataprotection:BackupVault": "Azure backup vault",
    "azure-native:dataprotection:BackupPolicy": "Azure backup policy",
    "gcp:gkebackup/backupPlan:BackupPlan": "GKE backup plan",
    "aiinfra:backup:BackupPlan": "backup plan",
    "aws:kms/key:Key": "KMS key",
    "aws:iam/role:Role": "IAM role",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch log group",
    "aws:route53/zone:Zone": "Route53 zone",
    "azure-native:storage:BlobContainer": "blob container",
    "azure-native:keyvault:Vault": "Key Vault",
    "azure-native:keyvault:Key": "Key Vault key",
    "azure-native:resources:ResourceGroup": "resource group",
    "azure-native:operationalinsights:Workspace": "Log Analytics workspace",
    "azure-native:machinelearningservices:Workspace": "Azure ML workspace",
    "azure-native:dataprotection:BackupInstance": "Azure backup instance",
    "gcp:kms/cryptoKey:CryptoKey": "Cloud KMS key",
    "gcp:kms/keyRing:KeyRing": "Cloud KMS key ring",
    "aiinfra:index:Cell": "cell",
}


def label(type_token: str, name: str) -> str:
    """`S3 bucket 'name'`: how messages name a resource."""
    kind = KINDS.get(type_token)
    if kind is None:
        kind = type_token.rsplit(":", 1)[-1] if ":" in type_token else type_token
    return f"{kind} '{name}'"


def label_of(resource: Resource) -> str:
    return label(resource.type, resource.name)


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One user-facing policy setting: JSON schema and default (the single source of both)."""

    name: str
    schema: Mapping[str, Any]
    default: Any

    def property_schema(self) -> dict[str, Any]:
        return {**self.schema, "default": self.default}


STRING_LIST: Mapping[str, Any] = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}


def config_schema(settings: Sequence[Setting]) -> PolicyConfigSchema | None:
    if not settings:
        return None
    return PolicyConfigSchema(properties={s.name: s.property_schema() for s in settings})


def read_config(config: Mapping[str, Any] | None, settings: Sequence[Setting]) -> dict[str, Any]:
    """The policy's settings: what the engine configured, else the schema default."""
    given = dict(config or {})
    return {s.name: given.get(s.name, s.default) for s in settings}


# --- policy builders -------------------------------------------------------------------------

ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[str]]
"""Yields one message per violation: a complete imperative sentence naming the resource."""

StackCheck = Callable[[Stack, Mapping[str, Any]], Iterable[tuple[str, str | None]]]
"""Yields (message, urn of the offending resource or None for the whole stack)."""


def resource_policy(name: str, description: str, types: Iterable[str] | None, check: ResourceCheck, *,
                    settings: Sequence[Setting] = (), level: EnforcementLevel = MANDATORY,
                    severity: Severity = Severity.HIGH) -> ResourceValidationPolicy:
    """A per-resource rule that runs `check` on the resources of `types` (every type when None)."""
    wanted = frozenset(types) if types is not None else None

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if wanted is not None and args.resource_type not in wanted:
            return
        config = read_config(args.get_config(), settings)
        for message in check(Resource.from_args(args), config):
            report_violation(message, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=level, config_schema=config_schema(settings),
                                    severity=severity)


def stack_policy(name: str, description: str, check: StackCheck, *, settings: Sequence[Setting] = (),
                 level: EnforcementLevel = MANDATORY, severity: Severity = Severity.HIGH) -> StackValidationPolicy:
    """A whole-stack rule; `check` reports against the offending resource's URN."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = read_config(args.get_config(), settings)
        for message, urn in check(Stack.from_args(args), config):
            report_violation(message, urn)

    return StackValidationPolicy(name=name, description=description, validate=validate, enforcement_level=level,
                                 config_schema=config_schema(settings), severity=severity)


def environment_setting(name: str, default: list[str], what: str) -> Setting:
    return Setting(name, {**STRING_LIST, "description": what}, default)
