"""A resource monitor that answers like the engine during a preview and records every request.

It stands in for the Pulumi engine behind the Python SDK: registrations get
engine-correct URNs and echo their inputs (so ids and computed outputs are
unknown, exactly like a preview of creates), invokes and StackReference reads
get plausible offline answers, and everything is recorded raw for the plan.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockEngine, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import engine_pb2, resource_pb2
from pulumi.runtime.settings import get_project, get_stack
from pulumi.runtime.sync_await import _sync_await

STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


@dataclass
class Registration:
    """One RegisterResource request, as received."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    remote: bool
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: struct_pb2.Struct | None
    protect: bool | None
    retain_on_delete: bool | None
    delete_before_replace: bool | None
    ignore_changes: list[str]
    replace_on_changes: list[str]
    aliases: list[str]
    import_id: str
    additional_secret_outputs: list[str]
    outputs: struct_pb2.Struct | None = None


@dataclass
class Recording:
    """Everything the program asked of the engine."""

    registrations: dict[str, Registration] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)
    invokes: list[str] = field(default_factory=list)
    logs: list[tuple[str, str, str]] = field(default_factory=list)


def _known_invoke_answers(token: str, args: dict[str, Any], region: str | None) -> dict[str, Any] | None:
    """Plausible results for the data sources programs use most; None when not known."""
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/preflight",
                "id": "123456789012", "userId": "AIDAPREFLIGHT"}
    if token == "aws:index/getRegion:getRegion":
        name = args.get("region") or args.get("name") or region or "us-east-1"
        return {"id": name, "name": name, "region": name, "endpoint": f"ec2.{name}.amazonaws.com",
                "description": name}
    if token == "aws:index/getPartition:getPartition":
        return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws"}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        name = args.get("region") or region or "us-east-1"
        zones = [f"{name}{s}" for s in "abc"]
        return {"id": name, "names": zones, "zoneIds": [f"id-{z}" for z in zones], "groupNames": [name]}
    if token == "azure-native:authorization:getClientConfig":
        zero = "00000000-0000-0000-0000-000000000000"
        return {"clientId": zero, "objectId": zero, "subscriptionId": zero, "tenantId": zero}
    if token == "gcp:organizations/getClientConfig:getClientConfig":
        return {"id": "preflight", "project": args.get("project") or "preflight-project",
                "region": region or "us-central1", "accessToken": "", "zone": ""}
    if token == "gcp:organizations/getProject:getProject":
        project = args.get("projectId") or "preflight-project"
        return {"id": f"projects/{project}", "projectId": project, "number": "123456789012",
                "name": project, "labels": {}}
    return None


def _alias_text(alias: Any) -> str:
    """An alias as a URN, or its spec's set fields (`name=...,type=...`)."""
    if alias.urn:
        return alias.urn
    spec = alias.spec
    parts = [f"{f}={getattr(spec, f)}" for f in ("name", "type", "stack", "project", "parentUrn")
             if getattr(spec, f)]
    if spec.noParent:
        parts.append("noParent=true")
    return ",".join(parts)


class OfflineMocks(Mocks):
    """Answers invokes and reads; registrations never reach here (the monitor echoes them)."""

    def __init__(self, recording: Recording, provider_region: Callable[[str], str | None],
                 default_region: Callable[[str], str | None], stack_outputs: dict[str, dict[str, Any]]):
        self._recording = recording
        self._provider_region = provider_region
        self._default_region = default_region
        self._stack_outputs = stack_outputs

    def call(self, args: MockCallArgs) -> Any:
        self._recording.invokes.append(args.token)
        region = self._provider_region(args.provider) or self._default_region(args.token.split(":", 1)[0])
        answer = _known_invoke_answers(args.token, args.args, region)
        return answer if answer is not None else {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == STACK_REFERENCE_TYPE:
            name = str(args.inputs.get("name") or args.name)
            outputs = self._stack_outputs.get(name, {})
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}
        return args.resource_id or "", dict(args.inputs)


class RecordingMonitor(MockMonitor):
    """The engine's side of the resource-monitor protocol, in preview mode, recording as it goes."""

    def __init__(self, stack_outputs: dict[str, dict[str, Any]] | None = None,
                 default_regions: dict[str, str] | None = None):
        self.recording = Recording()
        self._default_regions = default_regions or {}
        self._lock = threading.Lock()
        super().__init__(OfflineMocks(self.recording, self._provider_region,
                                      self._default_regions.get, stack_outputs or {}))

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's rule: the parent's whole type chain joined with `$`, root stack excluded."""
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{get_stack()}::{get_project()}::{type_}::{name}"

    def _provider_region(self, provider_ref: str) -> str | None:
        urn = provider_ref.rsplit("::", 1)[0] if provider_ref else ""
        reg = self.recording.registrations.get(urn)
        if reg is None or reg.inputs is None:
            return None
        fields = reg.inputs.fields
        for key in ("region", "location"):
            if key in fields and fields[key].HasField("string_value"):
                return fields[key].string_value
        return None

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        provider = request.provider.rsplit("::", 1)[0] if request.provider else ""
        reg = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=bool(request.custom),
            remote=bool(request.remote),
            provider=provider,
            dependencies=sorted(set(request.dependencies)),
            property_dependencies={k: sorted(set(v.urns)) for k, v in request.propertyDependencies.items()},
            inputs=request.object if request.HasField("object") else None,
            protect=request.protect if request.HasField("protect") else None,
            retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else None,
            delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            ignore_changes=sorted(request.ignoreChanges),
            replace_on_changes=sorted(request.replaceOnChanges),
            aliases=sorted([_alias_text(a) for a in request.aliases] + list(request.aliasURNs)),
            import_id=request.importId,
            additional_secret_outputs=sorted(request.additionalSecretOutputs),
        )
        with self._lock:
            if urn in self.recording.registrations:
                self.recording.duplicates.append(urn)
            self.recording.registrations[urn] = reg
        if request.type == STACK_TYPE or not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        # A preview of a create: no id, and the known inputs come back as outputs.
        return resource_pb2.RegisterResourceResponse(urn=urn, id="", object=request.object)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        with self._lock:
            reg = self.recording.registrations.get(request.urn)
            if reg is not None:
                reg.outputs = request.outputs
        return empty_pb2.Empty()

    def ReadResource(self, request: Any) -> Any:
        self.recording.reads.append({"type": request.type, "name": request.name, "id": request.id})
        state = rpc.deserialize_properties(request.properties)
        _id, outputs = self.mocks.new_resource(
            MockResourceArgs(typ=request.type, name=request.name, inputs=state,
                             provider=request.provider, resource_id=request.id))
        urn = self.make_urn(request.parent, request.type, request.name)
        props = _sync_await(rpc.serialize_properties(outputs, {}))
        return resource_pb2.ReadResourceResponse(urn=urn, properties=props)


class RecordingEngine(MockEngine):
    """Keeps the program's log messages (warnings and errors matter to the user)."""

    _SEVERITY = {engine_pb2.DEBUG: "debug", engine_pb2.INFO: "info",
                 engine_pb2.WARNING: "warning", engine_pb2.ERROR: "error"}

    def __init__(self, recording: Recording):
        super().__init__(None)
        self._recording = recording

    def Log(self, request: Any) -> None:
        severity = self._SEVERITY.get(request.severity, "info")
        if severity != "debug":
            self._recording.logs.append((severity, request.message, request.urn))
