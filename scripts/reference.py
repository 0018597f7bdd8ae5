"""Generate the reference parts of docs/ from the code, so they cannot drift.

- docs/components.md, between `<!-- reference:start -->` and `<!-- reference:end -->`: every
  component's args fields with type and documented default, every options model, and the outputs.
- docs/policies.md, between `<!-- rules:start -->` and `<!-- rules:end -->`: every rule of the
  policy pack in policies/, with its kind, enforcement level, severity and settings.

    python scripts/reference.py            # print the components reference
    python scripts/reference.py --rules    # print the policy rules table
    python scripts/reference.py --write    # rewrite both blocks in docs/

tests/test_docs.py fails when a block differs from this output.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from components.common.field_docs import field_docs  # noqa: E402 - after the path is set

COMPONENTS_DOC = REPO / "docs" / "components.md"
POLICIES_DOC = REPO / "docs" / "policies.md"


def _components() -> list[tuple[type, type, list[type[BaseModel]]]]:
    from components.backup import BackupOptions, BackupPlan, BackupPlanArgs
    from components.dns import DnsOptions, DnsZone, DnsZoneArgs
    from components.compute import (ClusterOptions, GpuNodePool, GpuNodePoolArgs, GpuPoolOptions,
                                    KubernetesCluster, KubernetesClusterArgs, SystemPoolOptions, Taint)
    from components.network import Network, NetworkArgs, NetworkOptions
    from components.serving import Accelerator, EndpointOptions, ModelEndpoint, ModelEndpointArgs, ModelSource, Scaling
    from components.storage import ObjectStore, ObjectStoreArgs, ObjectStoreOptions
    from components.traffic import (BackendOptions, GlobalEndpoint, GlobalEndpointArgs, HealthCheckOptions,
                                    TrafficOptions)
    return [
        (ObjectStore, ObjectStoreArgs, [ObjectStoreOptions]),
        (Network, NetworkArgs, [NetworkOptions]),
        (KubernetesCluster, KubernetesClusterArgs, [ClusterOptions, SystemPoolOptions]),
        (GpuNodePool, GpuNodePoolArgs, [GpuPoolOptions, Taint]),
        (ModelEndpoint, ModelEndpointArgs, [EndpointOptions, ModelSource, Accelerator, Scaling]),
        (DnsZone, DnsZoneArgs, [DnsOptions]),
        (GlobalEndpoint, GlobalEndpointArgs, [TrafficOptions, HealthCheckOptions, BackendOptions]),
        (BackupPlan, BackupPlanArgs, [BackupOptions]),
    ]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _dataclass_table(cls: type) -> list[str]:
    import dataclasses
    docs = field_docs(cls)
    rows = [f"| `{cls.__name__}` field | type | meaning and default |", "|---|---|---|"]
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
        default = "required" if required else ("see the options model" if f.default is dataclasses.MISSING
                                               else f"default `{f.default!r}`")
        type_text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append(f"| `{f.name}` | `{_cell(str(type_text))}` | {_cell(docs.get(f.name, ''))} ({default}) |")
    return rows


def _model_table(model: type[BaseModel]) -> list[str]:
    rows = [f"| `{model.__name__}` key | type | meaning and default |", "|---|---|---|"]
    docs = field_docs(model)
    for name, field in model.model_fields.items():
        key = field.alias or name
        ann = field.annotation
        annotation = ann.__name__ if isinstance(ann, type) else str(ann).replace("typing.", "")
        default: Any = field.get_default(call_default_factory=True)
        default_text = "required" if field.is_required() else f"default `{default!r}`"
        if isinstance(default, BaseModel):
            default_text = f"default: {type(default).__name__} defaults"
        rows.append(f"| `{key}` | `{_cell(annotation)}` | {_cell(field.description or docs.get(name, ''))} ({default_text}) |")
    return rows


def _outputs(component: type) -> str:
    doc = inspect.getdoc(component) or ""
    if "Outputs:" not in doc:
        return ""
    return _cell(doc.split("Outputs:", 1)[1].split("\n\n", 1)[0])


def reference() -> str:
    lines: list[str] = []
    for component, args, models in _components():
        lines += [f"### {component.__name__} (`{component.__module__.rsplit('.', 1)[0]}`)", ""]
        summary = (inspect.getdoc(component) or "").split("\n\n", 1)[0]
        lines += [_cell(summary), ""]
        lines += _dataclass_table(args) + [""]
        for model in models:
            lines += _model_table(model) + [""]
        if outputs := _outputs(component):
            lines += [f"Outputs: {outputs}", ""]
    return "\n".join(lines).rstrip() + "\n"


def _setting_text(name: str, schema: dict[str, Any]) -> str:
    default = schema.get("default")
    if isinstance(default, list) and len(default) > 4:
        return f"`{name}` ({len(default)} entries)"
    return f"`{name}` = `{json.dumps(default)}`"


def policy_reference() -> str:
    """One row per rule of the pack in policies/, in the pack's order (grouped by area)."""
    policies_dir = str(REPO / "policies")
    if policies_dir not in sys.path:
        sys.path.insert(0, policies_dir)
    rules = importlib.import_module("rules")  # the pack's own package: policies/rules/
    lines = ["| rule | area | kind | level | severity | settings (default) | what it requires |",
             "|---|---|---|---|---|---|---|"]
    for area, policies in rules.AREAS.items():
        for policy in policies:
            kind = "stack" if type(policy).__name__ == "StackValidationPolicy" else "resource"
            level = getattr(policy.enforcement_level, "value", policy.enforcement_level)
            severity = getattr(policy.severity, "value", policy.severity)
            schema = policy.config_schema.properties if policy.config_schema is not None else {}
            settings = ", ".join(_setting_text(k, v) for k, v in (schema or {}).items()) or "none"
            lines.append(f"| `{policy.name}` | {area} | {kind} | {level} | {severity} | {_cell(settings)} "
                         f"| {_cell(policy.description)} |")
    return "\n".join(lines) + "\n"


BLOCKS: list[tuple[Path, str, Callable[[], str]]] = [
    (COMPONENTS_DOC, "reference", reference),
    (POLICIES_DOC, "rules", policy_reference),
]
"""(file, marker name, generator): each file holds `<!-- NAME:start -->` ... `<!-- NAME:end -->`."""


def block(path: Path, name: str) -> str:
    """The text between the markers `name` in `path`."""
    content = path.read_text(encoding="utf-8")
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    return content.split(start, 1)[1].split(end, 1)[0]


def write_block(path: Path, name: str, text: str) -> None:
    content = path.read_text(encoding="utf-8")
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    head, rest = content.split(start, 1)
    path.write_text(head + start + text + end + rest.split(end, 1)[1], encoding="utf-8")


def main() -> None:
    if "--write" in sys.argv:
        for path, name, generate in BLOCKS:
            write_block(path, name, generate())
            print(f"wrote {path.relative_to(REPO)} ({name})")
    elif "--rules" in sys.argv:
        sys.stdout.write(policy_reference())
    else:
        sys.stdout.write(reference())


if __name__ == "__main__":
    main()
