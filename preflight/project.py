"""Read a Pulumi project and one stack's configuration the way the Pulumi CLI does.

Only files are read: `Pulumi.yaml` (name, main, stackConfigDir, project-level
config defaults) and `<stackConfigDir>/Pulumi.<stack>.yaml`. Nothing here is
specific to this repository, so `preflight` serves any Pulumi Python project.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "<secret>"
"""What a program reads for a `secure:` value offline: the plaintext is unknowable here."""


class ProjectError(Exception):
    """A project or stack file is missing or malformed (exit 2, no traceback)."""


@dataclass(frozen=True)
class Project:
    """The parts of `Pulumi.yaml` an offline run needs."""

    name: str
    directory: Path
    main: Path
    stack_config_dir: Path
    runtime: str
    config_defaults: dict[str, Any] = field(default_factory=dict)

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        """Stack names that have a stack file."""
        prefix, suffix = "Pulumi.", ".yaml"
        return sorted(
            p.name[len(prefix) : -len(suffix)]
            for p in self.stack_config_dir.glob("Pulumi.*.yaml")
        )


@dataclass(frozen=True)
class StackConfig:
    """Config as the engine hands it to a program: `ns:key` -> string, plus secret keys."""

    values: dict[str, str]
    secret_keys: list[str]
    warnings: list[str] = field(default_factory=list)


# libyaml's loader where PyYAML was built with it (same results as SafeLoader, about 10x faster).
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except FileNotFoundError:
        raise ProjectError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path}: not valid YAML: {exc}") from None


def load_project(directory: Path | str) -> Project:
    """Load `Pulumi.yaml` (or `Pulumi.yml`) from `directory`."""
    directory = Path(directory).resolve()
    path = directory / "Pulumi.yaml"
    if not path.exists() and (directory / "Pulumi.yml").exists():
        path = directory / "Pulumi.yml"
    if not path.exists():
        raise ProjectError(f"{directory}: no Pulumi.yaml here; pass the project directory with --cwd")
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise ProjectError(f"{path}: a Pulumi project file needs a string `name`")
    runtime = doc.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProjectError(f"{path}: runtime is {runtime_name!r}; preflight runs Python programs only")
    main = directory / str(doc.get("main") or ".")
    if main.is_dir():
        main = main / "__main__.py"
    if not main.exists():
        raise ProjectError(f"{path}: program {main} not found")
    config_dir = directory / str(doc.get("stackConfigDir") or ".")
    defaults: dict[str, Any] = {}
    for key, spec in (doc.get("config") or {}).items():
        full = key if ":" in key else f"{doc['name']}:{key}"
        if isinstance(spec, dict) and ("default" in spec or "value" in spec):
            defaults[full] = spec.get("value", spec.get("default"))
        elif not isinstance(spec, dict):
            defaults[full] = spec
    return Project(doc["name"], directory, main, config_dir, "python", defaults)


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _redact(value: Any) -> tuple[Any, bool]:
    """Replace every nested `secure:` value with the placeholder; report whether any was found."""
    if _is_secure(value):
        return SECRET_PLACEHOLDER, True
    if isinstance(value, dict):
        found = False
        out: dict[str, Any] = {}
        for k, v in value.items():
            out[k], hit = _redact(v)
            found = found or hit
        return out, found
    if isinstance(value, list):
        items = [_redact(v) for v in value]
        return [v for v, _ in items], any(hit for _, hit in items)
    return value, False


def _engine_string(value: Any) -> str:
    """Format a config value the way the engine passes it to a language host."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def load_stack_config(project: Project, stack: str) -> StackConfig:
    """Merge project defaults with the stack file; `secure:` values become secret keys."""
    path = project.stack_file(stack)
    if not path.exists():
        known = ", ".join(project.stacks()) or "none"
        raise ProjectError(f"stack {stack!r} has no file {path}; stacks with a file: {known}")
    doc = _read_yaml(path) or {}
    if not isinstance(doc, dict):
        raise ProjectError(f"{path}: expected a mapping at the top level")
    warnings: list[str] = []
    if doc.get("environment"):
        warnings.append(
            f"{path}: `environment` (Pulumi ESC) cannot be resolved offline; its values are not set"
        )
    raw = dict(project.config_defaults)
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ProjectError(f"{path}: `config` must be a mapping")
    for key, value in config.items():
        full = str(key) if ":" in str(key) else f"{project.name}:{key}"
        raw[full] = value
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        redacted, is_secret = _redact(value)
        values[key] = _engine_string(redacted)
        if is_secret:
            secret_keys.append(key)
    return StackConfig(values, sorted(secret_keys), warnings)
