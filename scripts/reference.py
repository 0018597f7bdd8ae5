"""Generate the README's component reference from the code: every args field with its type and
documented default, every options model, and each component's outputs.

    python scripts/reference.py            # print the reference
    python scripts/reference.py --write    # rewrite the README block between the markers

A test fails when the README block differs from this output, so the tables cannot drift.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from components.common.field_docs import field_docs  # noqa: E402 - after the path is set

START, END = "<!-- reference:start -->", "<!-- reference:end -->"


def _components() -> list[tuple[type, type, list[type[BaseModel]]]]:
    from components.backup import BackupOptions, BackupPlan, BackupPlanArgs
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
        lines += [f"#### {component.__name__} (`{component.__module__.rsplit('.', 1)[0]}`)", ""]
        summary = (inspect.getdoc(component) or "").split("\n\n", 1)[0]
        lines += [_cell(summary), ""]
        lines += _dataclass_table(args) + [""]
        for model in models:
            lines += _model_table(model) + [""]
        if outputs := _outputs(component):
            lines += [f"Outputs: {outputs}", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    text = reference()
    if "--write" in sys.argv:
        readme = REPO / "README.md"
        content = readme.read_text()
        start, end = content.index(START) + len(START), content.index(END)
        readme.write_text(content[:start] + "\n" + text + content[end:])
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
