"""The plan: a deterministic JSON snapshot of the desired state a program declares.

Built from the raw protobuf requests, not from deserialized Python values, so
that unknowns, secrets and resource references are rendered exactly once and
the same way every run: unknown -> "<unknown>", secret -> "<secret>" (never the
plaintext), resource reference -> its URN, whole floats -> ints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.protobuf import struct_pb2

from .monitor import STACK_TYPE, Recording, Registration
from .protocol import ARCHIVE_SIG, ASSET_SIG, OUTPUT_SIG, RESOURCE_SIG, SECRET_SIG, SIG_KEY
from .protocol import UNKNOWN as UNKNOWN_SENTINEL

UNKNOWN = "<unknown>"
SECRET = "<secret>"



def value_to_json(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "null_value" or kind is None:
        return None
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        n = value.number_value
        return int(n) if n.is_integer() else n
    if kind == "string_value":
        return UNKNOWN if value.string_value == UNKNOWN_SENTINEL else value.string_value
    if kind == "list_value":
        return [value_to_json(v) for v in value.list_value.values]
    return struct_to_json(value.struct_value)


def struct_to_json(struct: struct_pb2.Struct) -> Any:
    fields = struct.fields
    if SIG_KEY in fields:
        sig = fields[SIG_KEY].string_value
        if sig == SECRET_SIG:
            return SECRET
        if sig == RESOURCE_SIG:
            return value_to_json(fields["urn"])
        if sig == OUTPUT_SIG:
            if fields["secret"].bool_value if "secret" in fields else False:
                return SECRET
            return value_to_json(fields["value"]) if "value" in fields else UNKNOWN
        if sig in (ASSET_SIG, ARCHIVE_SIG):
            kind = "asset" if sig == ASSET_SIG else "archive"
            return {kind: {k: value_to_json(v) for k, v in sorted(fields.items()) if k != SIG_KEY}}
    return {k: value_to_json(v) for k, v in sorted(fields.items()) if not k.startswith("__")}


def _resource_json(reg: Registration) -> dict[str, Any]:
    record: dict[str, Any] = {
        "urn": reg.urn,
        "type": reg.type,
        "name": reg.name,
        "parent": reg.parent or None,
        "custom": reg.custom,
        "provider": reg.provider or None,
        "dependencies": reg.dependencies,
        "propertyDependencies": dict(sorted(reg.property_dependencies.items())),
        "options": {
            "protect": reg.protect,
            "retainOnDelete": reg.retain_on_delete,
            "deleteBeforeReplace": reg.delete_before_replace,
            "ignoreChanges": reg.ignore_changes,
            "replaceOnChanges": reg.replace_on_changes,
            "aliases": reg.aliases,
            "importId": reg.import_id or None,
            "additionalSecretOutputs": reg.additional_secret_outputs,
            "customTimeouts": reg.custom_timeouts,
        },
        "inputs": struct_to_json(reg.inputs) if reg.inputs is not None else {},
    }
    if reg.remote:
        record["remote"] = True
    if not reg.custom and reg.outputs is not None:
        record["outputs"] = struct_to_json(reg.outputs)
    return record


def build_plan(project: str, stack: str, recording: Recording) -> dict[str, Any]:
    """The plan JSON document: resources sorted by URN, stack outputs, and what was answered offline."""
    regs = sorted(recording.registrations.values(), key=lambda r: r.urn)
    outputs: dict[str, Any] = {}
    for reg in regs:
        if reg.type == STACK_TYPE and reg.outputs is not None:
            outputs = struct_to_json(reg.outputs)
    return {
        "project": project,
        "stack": stack,
        "resources": [_resource_json(r) for r in regs],
        "outputs": outputs,
        "offline": {
            "invokes": sorted(set(recording.invokes)),
            "reads": sorted(recording.reads, key=lambda r: (r["type"], r["name"])),
        },
    }


def dumps(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(plan: dict[str, Any], path: Path | str) -> None:
    Path(path).write_text(dumps(plan), encoding="utf-8")
