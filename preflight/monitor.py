"""The engine's side of the resource-monitor protocol, in preview mode, recording every request.

It stands in for the Pulumi engine behind the Python SDK, answering the
`ResourceMonitor` and `Engine` services of pulumi/pulumi `proto/pulumi/resource.proto`
and `engine.proto` in-process: the SDK calls a client stub's methods, and these
objects have the same methods (`sdk_seams.py`). What it answers, and why:

- Registrations get the engine's URNs and echo their inputs as outputs: ids and
  computed outputs are unknown, exactly as in a preview of creates.
- Transforms run as the engine runs them (pulumi/pulumi
  `pkg/resource/deploy/source_eval.go`, `RegisterResource`): the resource's own
  transforms, then those of each ancestor from the nearest up, then the stack's,
  each called through the program's callback server, each seeing the result of the
  previous one; the resulting properties and options are what gets recorded.
- Invokes and reads get offline answers: a few common read-only data sources are
  answered with plausible values, StackReference reads with the outputs given for
  that stack. The answer is serialized here, synchronously: no nested event loop.
- Everything is recorded raw (protobuf) for the plan.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine

import grpc
import grpc.aio
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import callback_pb2, callback_pb2_grpc, engine_pb2, resource_pb2

from .protocol import OUTPUT_SIG, SIG_KEY

STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
GET_RESOURCE = "pulumi:pulumi:getResource"

# What the engine of a current CLI supports, as the SDK asks for it (`SupportsFeature` ids and
# `DeploymentInfo.supportedFeatures`). Output values stay off, as in the SDK's own mock monitor:
# with them the SDK would send Outputs nested in inputs, which a preview of creates never needs.
_FEATURE_IDS = ("secrets", "resourceReferences", "aliasSpecs", "deletedWith", "replaceWith",
                "replacementTrigger", "transforms", "invokeTransforms", "parameterization",
                "resourceHooks", "errorHooks")
_FEATURES = [getattr(resource_pb2, name) for name in (
    "RESOURCE_MONITOR_FEATURE_SECRETS", "RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES",
    "RESOURCE_MONITOR_FEATURE_ALIAS_SPECS", "RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER",
    "RESOURCE_MONITOR_FEATURE_DELETED_WITH", "RESOURCE_MONITOR_FEATURE_REPLACE_WITH",
    "RESOURCE_MONITOR_FEATURE_TRANSFORMS", "RESOURCE_MONITOR_FEATURE_INVOKE_TRANSFORMS",
    "RESOURCE_MONITOR_FEATURE_PARAMETERIZATION", "RESOURCE_MONITOR_FEATURE_RESOURCE_HOOKS",
    "RESOURCE_MONITOR_FEATURE_ERROR_HOOKS") if hasattr(resource_pb2, name)]


class MustLeaveLoop(Exception):
    """Raised, before any work, by a call that has to wait for the program's own callback server
    while running on the program's loop, where the SDK cannot take a pending answer: the loop
    (`runtime.OfflineEventLoop`) then runs the call again on a worker thread."""


class TransformError(Exception):
    """A transform failed or its callback server could not be reached."""


@dataclass
class Registration:
    """One RegisterResource request, as received (after transforms)."""

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
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    outputs: struct_pb2.Struct | None = None


@dataclass
class Recording:
    """Everything the program asked of the engine."""

    registrations: dict[str, Registration] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)
    invokes: list[str] = field(default_factory=list)
    logs: list[tuple[str, str, str]] = field(default_factory=list)


def known_invoke_answer(token: str, args: dict[str, Any], region: str | None) -> dict[str, Any] | None:
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


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    """A plain JSON-shaped dict as a protobuf Struct (numbers become doubles, as on the wire)."""
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _plain(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain JSON values (special values stay as their signature maps)."""
    return json_format.MessageToDict(struct)


def _invoke_response(result: struct_pb2.Struct) -> Any:
    response = resource_pb2.ResourceInvokeResponse()
    getattr(response, "return").CopyFrom(result)  # the field is named `return`, a Python keyword
    return response


def _with_output_dependencies(props: struct_pb2.Struct,
                              property_dependencies: dict[str, list[str]]) -> struct_pb2.Struct:
    """The engine's `upgradeOutputValues`: before a resource's own transforms run, every property
    that has dependencies becomes an output value carrying them, so the transform sees them."""
    upgraded = struct_pb2.Struct()
    upgraded.CopyFrom(props)
    for key, deps in property_dependencies.items():
        if not deps or key not in upgraded.fields:
            continue
        value = upgraded.fields[key]
        if value.HasField("struct_value") and value.struct_value.fields.get(SIG_KEY, struct_pb2.Value()).string_value == OUTPUT_SIG:
            output = value.struct_value
            have = {v.string_value for v in output.fields["dependencies"].list_value.values} \
                if "dependencies" in output.fields else set()
            if have >= set(deps):
                continue
            merged = sorted(have | set(deps))
            output.fields["dependencies"].list_value.Clear()
            output.fields["dependencies"].list_value.extend(merged)
            continue
        wrapper = struct_pb2.Struct()
        wrapper.fields[SIG_KEY].string_value = OUTPUT_SIG
        wrapper.fields["value"].CopyFrom(value)
        wrapper.fields["dependencies"].list_value.extend(sorted(set(deps)))
        upgraded.fields[key].struct_value.CopyFrom(wrapper)
    return upgraded


class RecordingMonitor:
    """The `ResourceMonitor` service, in preview mode, in-process, recording as it goes: the SDK
    calls its methods as it would a client stub's (`sdk_seams`, seam 1)."""

    def __init__(self, project: str, stack: str, stack_outputs: dict[str, dict[str, Any]] | None = None,
                 default_regions: dict[str, str] | None = None):
        self.recording = Recording()
        self._project = project
        self._stack = stack
        self._stack_outputs = stack_outputs or {}
        self._default_regions = default_regions or {}
        self._lock = threading.Lock()
        self._parents: dict[str, str] = {}
        self._transforms: dict[str, list[Any]] = {}
        self._stack_transforms: list[Any] = []
        self._stack_invoke_transforms: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls = 0  # engine calls so far (see `settled`)
        self._transforming = 0  # calls back into the program in flight
        self._channels: dict[str, Any] = {}

    def bind_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """The program's event loop: it serves the program's callbacks (transforms), so the calls
        to them run there too (None: the program is not running)."""
        self._loop = loop

    async def settled(self, quiet_rounds: int = 64) -> None:
        """Return once the program has stopped calling the engine: no call for `quiet_rounds`
        turns of the event loop, and no call back into the program (a transform) in flight.

        The program's body only starts its registrations; they complete afterwards, as the SDK's
        tasks run. The SDK's own wait for them (`wait_for_rpcs`, after the body returns) wakes on
        every output that completes and waits on all pending outputs again each time: work that
        grows with outputs x completions (about 60% of a 30-cell plan, with transforms). Letting
        the work settle first leaves it little to wait for; it still waits for everything, so
        this changes how long a plan takes, never what it records."""
        quiet, seen = 0, -1
        while quiet < quiet_rounds:
            await asyncio.sleep(0)
            if self._calls != seen or self._transforming:
                quiet, seen = 0, self._calls
            else:
                quiet += 1

    async def aclose(self) -> None:
        """Close the channels to the program's callback servers (on the program's loop)."""
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()

    # -- helpers ---------------------------------------------------------------------------------

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's rule: the parent's whole type chain joined with `$`, root stack excluded."""
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{self._stack}::{self._project}::{type_}::{name}"

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

    async def _call_back(self, callback: Any, request: Any, response_type: Any, what: str) -> Any:
        """Call the program's callback `callback` (a transform), on the program's loop, which serves it."""
        channel = self._channels.get(callback.target)
        if channel is None:
            channel = self._channels[callback.target] = grpc.aio.insecure_channel(callback.target)
        self._transforming += 1
        try:
            reply = await callback_pb2_grpc.CallbacksStub(channel).Invoke(
                callback_pb2.CallbackInvokeRequest(token=callback.token, request=request.SerializeToString()))
        except grpc.RpcError as exc:
            details = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
            raise TransformError(f"{what} failed: {details}") from None
        finally:
            self._transforming -= 1
            self._calls += 1
        return response_type.FromString(reply.response)

    def _answer(self, work: Callable[[], Coroutine[Any, Any, Any]], pending_ok: bool) -> Any:
        """The answer of `work()`, a coroutine that calls the program back.

        Called by the SDK on the program's loop (`runtime.OfflineEventLoop` runs engine calls
        inline), it must not block the loop that serves those callbacks: where the SDK passes
        the answer straight through (`pending_ok`: registrations), the answer is a task on that
        loop, which the loop hands the SDK as the call's pending result; elsewhere (invokes,
        whose answer the SDK wraps) the call asks to be run again off the loop. Called from any
        other thread, it waits for the coroutine to run on the program's loop."""
        loop = self._loop
        if loop is None:
            raise TransformError("a transform was asked for while no program is running")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            if pending_ok and getattr(loop, "accepts_pending_answers", False):
                return loop.create_task(work())
            raise MustLeaveLoop()
        return asyncio.run_coroutine_threadsafe(work(), loop).result()

    def _transform_chain(self, urn: str, parent: str, own: list[Any]) -> list[Any]:
        """Own transforms, then each ancestor's (nearest first), then the stack's."""
        chain = list(own)
        with self._lock:
            current = parent
            while current:
                chain.extend(self._transforms.get(current, ()))
                current = self._parents.get(current, "")
            chain.extend(self._stack_transforms)
        return chain

    # -- the protocol ----------------------------------------------------------------------------

    def SupportsFeature(self, request: Any) -> Any:
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in _FEATURE_IDS)

    def GetDeploymentInfo(self, request: Any) -> Any:
        return resource_pb2.DeploymentInfo(supportedFeatures=_FEATURES)

    def RegisterResource(self, request: Any) -> Any:
        self._calls += 1
        urn = self.make_urn(request.parent, request.type, request.name)
        chain = self._transform_chain(urn, request.parent, list(request.transforms))
        props = request.object if request.HasField("object") else None
        property_dependencies = {k: sorted(set(v.urns)) for k, v in request.propertyDependencies.items()}
        reg = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=bool(request.custom),
            remote=bool(request.remote),
            provider=request.provider.rsplit("::", 1)[0] if request.provider else "",
            dependencies=sorted(set(request.dependencies)),
            property_dependencies=property_dependencies,
            inputs=props,
            protect=request.protect if request.HasField("protect") else None,
            retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else None,
            delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            ignore_changes=sorted(request.ignoreChanges),
            replace_on_changes=sorted(request.replaceOnChanges),
            aliases=sorted([_alias_text(a) for a in request.aliases] + list(request.aliasURNs)),
            import_id=request.importId,
            additional_secret_outputs=sorted(request.additionalSecretOutputs),
            custom_timeouts=self._timeouts(request.customTimeouts) if request.HasField("customTimeouts") else {},
        )
        with self._lock:
            self._parents[urn] = request.parent
            if request.transforms:
                self._transforms[urn] = list(request.transforms)
        if chain:
            return self._answer(lambda: self._transformed(reg, request, chain), pending_ok=True)
        return self._registered(reg, request)

    async def _transformed(self, reg: Registration, request: Any, chain: list[Any]) -> Any:
        await self._apply_transforms(reg, request, chain)
        return self._registered(reg, request)

    def _registered(self, reg: Registration, request: Any) -> Any:
        with self._lock:
            if reg.urn in self.recording.registrations:
                self.recording.duplicates.append(reg.urn)
            self.recording.registrations[reg.urn] = reg
        if request.type == STACK_TYPE or not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=reg.urn)
        # A preview of a create: no id, and the known inputs come back as outputs.
        return resource_pb2.RegisterResourceResponse(urn=reg.urn, id="", object=reg.inputs)

    @staticmethod
    def _timeouts(timeouts: Any) -> dict[str, str]:
        return {k: getattr(timeouts, k) for k in ("create", "update", "delete") if getattr(timeouts, k)}

    async def _apply_transforms(self, reg: Registration, request: Any, chain: list[Any]) -> None:
        props = reg.inputs if reg.inputs is not None else struct_pb2.Struct()
        if request.transforms:
            props = _with_output_dependencies(props, reg.property_dependencies)
        opts = resource_pb2.TransformResourceOptions(
            depends_on=request.dependencies, ignore_changes=request.ignoreChanges,
            replace_on_changes=request.replaceOnChanges, version=request.version,
            aliases=request.aliases, provider=request.provider, plugin_download_url=request.pluginDownloadURL,
            additional_secret_outputs=request.additionalSecretOutputs, providers=dict(request.providers),
            plugin_checksums=dict(request.pluginChecksums), deleted_with=request.deletedWith,
            hide_diff=request.hideDiffs, **{"import": request.importId})
        if request.HasField("customTimeouts"):
            opts.custom_timeouts.CopyFrom(request.customTimeouts)
        if request.HasField("protect"):
            opts.protect = request.protect
        if request.HasField("retainOnDelete"):
            opts.retain_on_delete = request.retainOnDelete
        if request.deleteBeforeReplaceDefined:
            opts.delete_before_replace = request.deleteBeforeReplace
        for callback in chain:
            response = await self._call_back(callback, resource_pb2.TransformRequest(
                type=request.type, name=request.name, custom=request.custom, parent=request.parent,
                properties=props, options=opts), resource_pb2.TransformResponse,
                f"a transform of {reg.urn}")
            if response.HasField("properties"):
                props = response.properties
            if response.HasField("options"):
                opts = response.options
        reg.inputs = props
        reg.provider = opts.provider.rsplit("::", 1)[0] if opts.provider else ""
        reg.dependencies = sorted(set(opts.depends_on))
        reg.protect = opts.protect if opts.HasField("protect") else None
        reg.retain_on_delete = opts.retain_on_delete if opts.HasField("retain_on_delete") else None
        reg.delete_before_replace = opts.delete_before_replace if opts.HasField("delete_before_replace") else None
        reg.ignore_changes = sorted(opts.ignore_changes)
        reg.replace_on_changes = sorted(opts.replace_on_changes)
        reg.aliases = sorted(_alias_text(a) for a in opts.aliases)
        reg.import_id = getattr(opts, "import")
        reg.additional_secret_outputs = sorted(opts.additional_secret_outputs)
        reg.custom_timeouts = self._timeouts(opts.custom_timeouts) if opts.HasField("custom_timeouts") else {}

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self._calls += 1
        with self._lock:
            reg = self.recording.registrations.get(request.urn)
            if reg is not None:
                reg.outputs = request.outputs
        return empty_pb2.Empty()

    def Invoke(self, request: Any) -> Any:
        self._calls += 1
        if self._stack_invoke_transforms:
            return self._answer(lambda: self._transformed_invoke(request), pending_ok=False)
        return self._invoked(request, request.args)

    async def _transformed_invoke(self, request: Any) -> Any:
        return self._invoked(request, await self._transform_invoke(request))

    def _invoked(self, request: Any, args: struct_pb2.Struct) -> Any:
        if request.tok == GET_RESOURCE:
            return self._get_resource(_plain(args).get("urn", ""))
        self.recording.invokes.append(request.tok)
        plain = _plain(args)
        region = self._provider_region(request.provider) or self._default_regions.get(request.tok.split(":", 1)[0])
        answer = known_invoke_answer(request.tok, plain, region)
        return _invoke_response(to_struct(answer or {}))

    async def _transform_invoke(self, request: Any) -> struct_pb2.Struct:
        args = request.args
        opts = resource_pb2.TransformInvokeOptions(provider=request.provider, version=request.version,
                                                   plugin_download_url=request.pluginDownloadURL)
        for callback in list(self._stack_invoke_transforms):
            response = await self._call_back(callback, resource_pb2.TransformInvokeRequest(
                token=request.tok, args=args, options=opts), resource_pb2.TransformInvokeResponse,
                f"an invoke transform of {request.tok}")
            if response.HasField("args"):
                args = response.args
            if response.HasField("options"):
                opts = response.options
        return args

    def _get_resource(self, urn: str) -> Any:
        """`pulumi:pulumi:getResource`: the SDK rehydrating a resource reference it received."""
        reg = self.recording.registrations.get(urn)
        if reg is None:
            raise LookupError(f"the program referred to resource {urn}, which it never registered")
        state = struct_pb2.Struct()
        if reg.inputs is not None:
            state.CopyFrom(reg.inputs)
        result = struct_pb2.Struct()
        result.fields["urn"].string_value = urn
        result.fields["id"].string_value = ""
        result.fields["state"].struct_value.CopyFrom(state)
        return _invoke_response(result)

    def Call(self, request: Any) -> Any:
        raise NotImplementedError(
            f"method {request.tok} of a multi-language component cannot run offline: its provider "
            "is a plugin that only the Pulumi CLI can start")

    def ReadResource(self, request: Any) -> Any:
        self._calls += 1
        self.recording.reads.append({"type": request.type, "name": request.name, "id": request.id})
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_REFERENCE_TYPE:
            name = str(_plain(request.properties).get("name") or request.name)
            outputs = self._stack_outputs.get(name, {})
            properties = to_struct({"name": name, "outputs": outputs, "secretOutputNames": []})
        else:
            properties = request.properties  # `Resource.get`: the state asked for is the state read
        return resource_pb2.ReadResourceResponse(urn=urn, properties=properties)

    def RegisterStackTransform(self, request: Any) -> Any:
        with self._lock:
            self._stack_transforms.append(request)
        return empty_pb2.Empty()

    def RegisterStackInvokeTransform(self, request: Any) -> Any:
        with self._lock:
            self._stack_invoke_transforms.append(request)
        return empty_pb2.Empty()

    def RegisterResourceHook(self, request: Any) -> Any:
        return empty_pb2.Empty()  # hooks run when steps execute; a preview executes none

    def RegisterErrorHook(self, request: Any) -> Any:
        return empty_pb2.Empty()

    def RegisterPackage(self, request: Any) -> Any:
        return resource_pb2.RegisterPackageResponse(ref=f"{request.name}@{request.version}")

    def SignalAndWaitForShutdown(self, request: Any) -> Any:
        return empty_pb2.Empty()


class RecordingEngine:
    """The `Engine` service: keeps the program's log messages (warnings and errors matter to the user)."""

    _SEVERITY = {engine_pb2.DEBUG: "debug", engine_pb2.INFO: "info",
                 engine_pb2.WARNING: "warning", engine_pb2.ERROR: "error"}

    def __init__(self, recording: Recording):
        self._recording = recording

    def Log(self, request: Any) -> Any:
        severity = self._SEVERITY.get(request.severity, "info")
        if severity != "debug":
            self._recording.logs.append((severity, request.message, request.urn))
        return empty_pb2.Empty()

    def RequirePulumiVersion(self, request: Any) -> Any:
        # `pulumi.runtime.require_pulumi_version`: a range for the CLI, and no CLI runs here.
        return empty_pb2.Empty()

