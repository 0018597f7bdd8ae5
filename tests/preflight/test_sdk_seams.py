"""No private name of any Pulumi package is used by preflight, the components, the policies or the program.

Private means `_`-prefixed (dunders aside) anywhere in the dotted path: a module
(`pulumi._types`), an imported name (`from pulumi.runtime.sync_await import _sync_await`) or
an attribute reached through a Pulumi module (`rpc._special_sig_key`). The reliance that remains
on SDK behaviour is listed, with reasons, in `preflight/sdk_seams.py`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

CHECKED = ["preflight", "components", "policies", "scripts", "benchmarks", "__main__.py"]


# Modules of `pulumi.runtime` whose public parts it re-exports (`pulumi.runtime.__all__`); reaching
# into them directly (`pulumi.runtime.config.CONFIG`) bypasses that surface. `rpc` and the generated
# `proto` messages are public.
_INTERNAL_MODULES = {"pulumi.runtime.config", "pulumi.runtime.settings", "pulumi.runtime.stack",
                     "pulumi.runtime.sync_await", "pulumi.runtime.mocks", "pulumi.runtime.resource",
                     "pulumi.runtime.rpc_manager", "pulumi.runtime.invoke", "pulumi.runtime.known_types"}


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _internal(dotted: str) -> bool:
    return any(dotted == m or dotted.startswith(m + ".") for m in _INTERNAL_MODULES)


def _pulumi(module: str) -> bool:
    return module.split(".")[0].startswith("pulumi")


def private_uses(source: str, filename: str) -> list[str]:
    """Every use of a private Pulumi name in `source`, as `file:line: what`."""
    tree = ast.parse(source, filename)
    aliases: dict[str, str] = {}  # local name -> Pulumi module it stands for
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _pulumi(alias.name):
                    if any(_private(p) for p in alias.name.split(".")) or _internal(alias.name):
                        found.append(f"{filename}:{node.lineno}: import {alias.name}")
                    # `import a.b.c` binds `a`; `import a.b.c as x` binds `x` to a.b.c.
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and _pulumi(node.module) and node.level == 0:
            for alias in node.names:
                path = f"{node.module}.{alias.name}"
                if any(_private(p) for p in path.split(".")) or _internal(path):
                    found.append(f"{filename}:{node.lineno}: from {node.module} import {alias.name}")
                aliases[alias.asname or alias.name] = path
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        base = node.value
        while isinstance(base, ast.Attribute):
            base = base.value
        if not (isinstance(base, ast.Name) and base.id in aliases):
            continue
        dotted = aliases[base.id] + ast.unparse(node)[len(base.id):]
        if _private(node.attr) or (_internal(dotted) and not _internal(dotted.rsplit(".", 1)[0])):
            found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def _files() -> list[Path]:
    files: list[Path] = []
    for entry in CHECKED:
        path = REPO / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def test_no_private_pulumi_name_is_used_anywhere() -> None:
    found = [use for f in _files() for use in private_uses(f.read_text(), str(f.relative_to(REPO)))]
    assert found == []


def test_the_check_finds_each_kind_of_private_use() -> None:
    """The checker itself: each form of private use that once existed here is found."""
    source = "\n".join([
        "from pulumi import _types",
        "from pulumi.runtime.sync_await import _sync_await",
        "from pulumi.runtime import rpc",
        "import pulumi.runtime.settings as pulumi_settings",
        "x = rpc._special_sig_key",
        "y = pulumi_settings._get_rpc_manager()",
        "z = rpc.UNKNOWN",
        "w = self._name",
        "import pulumi.runtime",
        "v = pulumi.runtime.config.CONFIG.get()",
        "u = pulumi.runtime.get_config_env()",
    ])
    found = private_uses(source, "f.py")
    assert [f.split(": ", 1)[1] for f in found] == [
        "from pulumi import _types", "from pulumi.runtime.sync_await import _sync_await",
        "import pulumi.runtime.settings", "rpc._special_sig_key", "pulumi_settings._get_rpc_manager",
        "pulumi.runtime.config"]


def test_the_engine_objects_reach_the_sdk_only_through_the_seams_module() -> None:
    """Seam 1 (a monitor object in place of an address) is used in one place."""
    users = [f.relative_to(REPO) for f in _files() if re.search(r"(?<![A-Za-z_])Settings\(", f.read_text())]
    assert [str(u) for u in users] == ["preflight/sdk_seams.py"]
