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

_YAML_TAG = "tag:yaml.org,2002:"
MAX_ALIAS_NODES = 100_000
"""Most nodes alias expansion may add to a document (a 500-byte "billion laughs" adds 10^9)."""
MAX_DEPTH = 100
"""Deepest nesting of a document, aliases expanded (stack config nests under ten levels)."""
_MAX_INT_DIGITS = 64  # enough for any 64-bit integer in any base PyYAML reads; longer is refused unparsed


class _StackFileLoader(_SAFE_LOADER):
    """The safe loader, reading timestamps as the text they are written as.

    The Pulumi CLI decodes stack files with Go's gopkg.in/yaml.v3 into `interface{}`, where a
    timestamp-looking scalar stays a string "for backward compatibility" (its decoder says so),
    so `2024-01-01` reaches the program as the text `2024-01-01`. PyYAML would build a
    `datetime.date`, which is neither what the CLI passes nor something JSON can encode.
    `=` (YAML 1.1's value key) and a `<<` outside a key position become their text as well; yaml.v3
    resolves neither to anything else as far as we know (from memory of its resolver, unverified here).
    Everything else this loader would build but the engine cannot pass (`!!binary`, `!!set`,
    `!!omap`, `!!pairs`, local tags) is refused by `_DocumentCheck` before construction.
    """


def _as_text(loader: Any, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


for _tag in ("timestamp", "value", "merge"):
    _StackFileLoader.add_constructor(_YAML_TAG + _tag, _as_text)

_SCALAR_TAGS = {_YAML_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp", "value", "merge")}
_REFUSED_TAGS = {
    _YAML_TAG + "binary": "a `!!binary` value: the Pulumi CLI passes its decoded bytes as text (possibly not "
                          "valid UTF-8) and preflight cannot; write the text itself, or keep base64 as a plain string",
    _YAML_TAG + "set": "a `!!set`: the engine has no set type (the CLI would pass a mapping of nulls, as far as we "
                       "know); write a list",
    _YAML_TAG + "omap": "an `!!omap`: the engine has no ordered-map type; write a mapping or a list",
    _YAML_TAG + "pairs": "a `!!pairs`: the engine has no pairs type; write a mapping or a list",
}
_TEXT_KEY_TAGS = {_YAML_TAG + t for t in ("str", "merge", "value")}
_YAML11_BOOLEANS = {"yes", "no", "on", "off"}
_KIND_NAMES = {"int": "integer", "float": "number", "bool": "boolean", "timestamp": "timestamp"}


class _Refused(Exception):
    def __init__(self, node: yaml.Node, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.node, self.path, self.message = node, path, message


class _DocumentCheck:
    """One pass over the composed node graph, before anything is constructed.

    Each node is checked once (aliases share nodes), so the pass is linear in the file
    even when alias expansion is not; it refuses what would crash or hang the tool later, or
    what the Pulumi CLI (gopkg.in/yaml.v3) reads differently or refuses (its messages quoted from
    memory of its decoder; no Go toolchain or CLI here to check them):

    - recursive aliases (yaml.v3: "anchor 'a' value contains itself") and alias expansion
      beyond MAX_ALIAS_NODES (yaml.v3: "document contains excessive aliasing");
    - nesting deeper than MAX_DEPTH, aliases expanded;
    - duplicate keys in a mapping (yaml.v3: "mapping key ... already defined at line N");
    - keys that are not text: numbers, null, YAML 1.1 booleans such as `on` (text to yaml.v3,
      `true` to PyYAML), timestamps, lists, mappings;
    - tags the engine has no value for (`!!binary`, `!!set`, `!!omap`, `!!pairs`, local tags),
      scalars their explicit tag cannot read (`!!int abc`), and integers outside 64 bits
      (yaml.v3 reads those as inexact floats or as text; PyYAML refuses past 4300 digits).
    """

    def __init__(self, loader: Any):
        self.loader = loader
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, expanded height)
        self.open: set[int] = set()
        self.added = 0

    def visit(self, node: yaml.Node, path: tuple[str | int, ...], depth: int) -> tuple[int, int]:
        key = id(node)
        if key in self.open:
            raise _Refused(node, path, f"a recursive alias: the node anchored at line {node.start_mark.line + 1} "
                                       "contains an alias of itself, which expands forever")
        if key in self.sizes:  # reached again: an alias, expanded in full by every reader
            size, height = self.sizes[key]
            self.added += size
            if self.added > MAX_ALIAS_NODES:
                raise _Refused(node, path, f"alias expansion exceeds {MAX_ALIAS_NODES} nodes (a \"billion "
                                           "laughs\" document); the Pulumi CLI refuses excessive aliasing too")
            if depth + height > MAX_DEPTH:
                raise _Refused(node, path, f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")
            return size, height
        if depth > MAX_DEPTH:
            raise _Refused(node, path, f"nested deeper than {MAX_DEPTH} levels")
        self.open.add(key)
        if isinstance(node, yaml.ScalarNode):
            self._scalar(node, path)
            size, height = 1, 0
        elif isinstance(node, yaml.SequenceNode):
            self._tag(node, path, _YAML_TAG + "seq")
            size, height = 1, 0
            for i, child in enumerate(node.value):
                s, h = self.visit(child, (*path, i), depth + 1)
                size, height = size + s, max(height, h + 1)
        else:
            self._tag(node, path, _YAML_TAG + "map")
            size, height = 1, 0
            seen: dict[str, yaml.Node] = {}
            for key_node, value_node in node.value:
                name = self._key(key_node, path)
                if name in seen:
                    raise _Refused(key_node, (*path, name),
                                   f"duplicate key (first at line {seen[name].start_mark.line + 1}): the Pulumi "
                                   "CLI's YAML parser refuses a repeated key (yaml.v3) or keeps only one of "
                                   "them; keep one")
                seen[name] = key_node
                s, h = self.visit(value_node, (*path, name), depth + 1)
                size, height = size + 1 + s, max(height, h + 1)
        self.open.discard(key)
        self.sizes[key] = (size, height)
        return size, height

    def _tag(self, node: yaml.Node, path: tuple[str | int, ...], expected: str) -> None:
        if node.tag == expected:
            return
        raise _Refused(node, path, _REFUSED_TAGS.get(node.tag) or
                       f"unsupported tag {node.tag.replace(_YAML_TAG, '!!')} here: stack config holds text, "
                       "numbers, booleans, lists and mappings only")

    def _key(self, node: yaml.Node, path: tuple[str | int, ...]) -> str:
        if isinstance(node, yaml.ScalarNode) and node.tag in _TEXT_KEY_TAGS:
            return str(node.value)
        if not isinstance(node, yaml.ScalarNode):
            raise _Refused(node, path, "a key that is a list or a mapping: keys must be text")
        if node.tag not in _SCALAR_TAGS:
            self._tag(node, path, _YAML_TAG + "str")  # raises: `!!binary`, local tags
        text = str(node.value)
        kind = node.tag.removeprefix(_YAML_TAG)
        if kind == "bool" and text.lower() in _YAML11_BOOLEANS:
            why = (f"PyYAML (YAML 1.1) reads `{text}` as the boolean "
                   f"{'true' if text.lower() in ('yes', 'on') else 'false'}, the Pulumi CLI (YAML 1.2) as text")
        else:
            what = {"null": "null", "bool": "a boolean", "timestamp": "a timestamp"}.get(kind, "a number")
            why = f"YAML reads {f'`{text}`' if text else 'an empty key'} as {what}"
        raise _Refused(node, (*path, text or "''"),
                       f"a key that is not text ({why}); keys must be text: quote it ('{text}') or remove it")

    def _scalar(self, node: yaml.ScalarNode, path: tuple[str | int, ...]) -> None:
        if node.tag not in _SCALAR_TAGS:
            self._tag(node, path, _YAML_TAG + "str")
        text = str(node.value)
        kind = node.tag.removeprefix(_YAML_TAG)
        if kind == "int":
            digits = text.lstrip("+-").replace("_", "")
            if len(digits) > _MAX_INT_DIGITS:
                raise _Refused(node, path, self._big_int(text, len(digits)))
        if kind in ("int", "float", "bool", "timestamp"):
            try:
                value = self.loader.yaml_constructors[node.tag](self.loader, node)
            except Exception:  # noqa: BLE001 - what the tag cannot read: `!!int abc`, `!!bool maybe`
                raise _Refused(node, path, f"`!!{kind} {text}`: not a valid {_KIND_NAMES[kind]}") from None
            if kind == "timestamp" and not self.loader.timestamp_regexp.match(text):
                raise _Refused(node, path, f"`!!timestamp {text}`: not a valid timestamp")
            if kind == "int" and not -(2**63) <= value < 2**64:
                raise _Refused(node, path, self._big_int(text, len(text.lstrip("+-"))))

    @staticmethod
    def _big_int(text: str, digits: int) -> str:
        shown = text if len(text) <= 24 else f"{text[:20]}..."
        return (f"the integer {shown} ({digits} digits) does not fit in 64 bits: the Pulumi CLI would read it "
                "as an inexact float or as text; quote it if it is text")


_SHOWN_PARTS = 12


def _describe(path: tuple[str | int, ...], namespace: str | None) -> str:
    """('config', 'aiinfra:cells', 0, 'region') -> 'aiinfra:cells[0].region'; outside `config`, the
    document path (`environment.x`)."""
    if namespace is not None and len(path) >= 2 and path[0] == "config":
        key = str(path[1])
        text, rest = (key if ":" in key else f"{namespace}:{key}"), path[2:]
    else:
        text, rest = "", path
    for part in rest[:_SHOWN_PARTS]:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text + ("..." if len(rest) > _SHOWN_PARTS else "")


def _read_yaml(path: Path, namespace: str | None = None) -> Any:
    """Read a project or stack file that can never crash or hang the tool: every problem is a
    ProjectError naming the file, the line and (under `config`, with `namespace`) the config key path."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(f"{path}: file not found") from None
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ProjectError(f"{path}:{line}:{column}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
                           "the Pulumi CLI reads stack and project files as UTF-8") from None
    loader = _StackFileLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            _DocumentCheck(loader).visit(node, (), 0)
        except _Refused as refused:
            where = _describe(refused.path, namespace)
            raise ProjectError(f"{path}:{refused.node.start_mark.line + 1}: "
                               + (f"{where}: " if where else "") + refused.message) from None
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        context = f" ({exc.context}, line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        raise ProjectError(f"{at}: not valid YAML: {exc.problem or exc.context}"
                           + (context if exc.problem else "")) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        code = ord(exc.character) if isinstance(exc.character, str) else int(exc.character)
        raise ProjectError(f"{path}:{line}: not valid YAML: {exc.reason} (character U+{code:04X})") from None
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()


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
    if not isinstance(doc.get("config") or {}, dict):
        raise ProjectError(f"{path}: `config` must be a mapping")
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
    doc = _read_yaml(path, project.name) or {}
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
