"""Regenerate an engine's flag list (`components/catalog/engine_flags/<engine>-<version>.txt`) from its source.

Usage, from the repository root, with a checkout (or unpacked release) of the engine at the release:

    .venv/bin/python scripts/engine_flags.py tgi  ~/src/text-generation-inference --version 3.3.7 \\
        --source "huggingface/text-generation-inference <commit> (tag v3.3.7)"
    .venv/bin/python scripts/engine_flags.py vllm ~/src/vllm --version v0.11.0 \\
        --source "vllm-project/vllm <commit> (tag v0.11.0)"

It prints the file; `--write` writes it into components/catalog/engine_flags/ instead. Without
`--source` the header names `git -C <path> rev-parse HEAD` (or "unknown commit" outside git).

Nothing is imported from the engine: both extractions read the source text.

* TGI: the clap `struct Args` of launcher/src/main.rs. A field whose attribute says `long` is
  `--<field name in kebab-case>` (or `long = "name"`); `short` adds `-<first letter>`. clap adds
  `--help`, and `--version` when the struct's `#[clap(...)]` names `version`.
* vLLM: the argparse calls behind `vllm serve` and `python -m vllm.entrypoints.openai.api_server`
  (both build their parser with `make_arg_parser`, vllm/entrypoints/openai/cli_args.py):
  every `add_argument("--x", "-y", ...)` in `make_arg_parser`, `FrontendArgs.add_cli_args`,
  `EngineArgs.add_cli_args` and `AsyncEngineArgs.add_cli_args` (vllm/engine/arg_utils.py), with the
  field loop of `FrontendArgs.add_cli_args` expanded over FrontendArgs's fields. A `--no-x` form
  is added where argparse.BooleanOptionalAction applies: written out in the call, or given by
  `get_kwargs(Config)` because the config field's annotation mentions `bool` (and no dataclass),
  as `_compute_kwargs` does. argparse adds `--help`.

What the lists leave out, by design: argparse prefix abbreviations (`allow_abbrev`), vLLM's
underscore spellings (`--max_model_len` is rewritten to `--max-model-len`) and its dotted JSON keys
(`--compilation-config.level 3`, `-O3`), and flags a vLLM platform plugin may add at run time.
The static reading of vLLM was checked once against the real parser of vllm 0.11.0 (the list
`make_arg_parser` builds, read from `parser._actions`): see the header of the vLLM list.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "components" / "catalog" / "engine_flags"

TGI_FILES = ("launcher/src/main.rs",)
VLLM_FILES = ("vllm/engine/arg_utils.py", "vllm/entrypoints/openai/cli_args.py", "vllm/config/*.py")


@dataclass
class Flags:
    """Long options, each with its short aliases."""

    aliases: dict[str, list[str]] = field(default_factory=dict)

    def add(self, long: str, *short: str) -> None:
        if not long.startswith("--"):
            raise ValueError(f"not a long option: {long!r}")
        known = self.aliases.setdefault(long, [])
        known.extend(s for s in short if s not in known)

    def lines(self) -> list[str]:
        return [" ".join([long, *self.aliases[long]]) for long in sorted(self.aliases)]


# --- TGI: clap derive ---------------------------------------------------------------------
def _kebab(name: str) -> str:
    return name.replace("_", "-")


def tgi_flags(checkout: Path) -> Flags:
    """The launcher's long options, from `struct Args` in launcher/src/main.rs."""
    text = (checkout / "launcher" / "src" / "main.rs").read_text()
    match = re.search(r"((?:#\[[^\n]*\]\s*)*)struct Args \{(.*?)\n\}", text, re.S)
    if match is None:
        raise SystemExit("no `struct Args { ... }` in launcher/src/main.rs")
    struct_attrs, body = match.group(1), match.group(2)
    flags = Flags()
    pending: list[str] = []
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("#["):
            pending.append(line)
            continue
        field_match = re.match(r"(?:pub\s+)?([a-z_][a-z0-9_]*)\s*:", line)
        if field_match is None:
            continue
        attrs = " ".join(pending)
        pending = []
        if not re.search(r"\blong\b", attrs):
            continue
        name = field_match.group(1)
        explicit = re.search(r'\blong\s*=\s*"([^"]+)"', attrs)
        long = f"--{explicit.group(1) if explicit else _kebab(name)}"
        shorts: list[str] = []
        short_explicit = re.search(r"\bshort\s*=\s*'(.)'", attrs)
        if short_explicit:
            shorts.append(f"-{short_explicit.group(1)}")
        elif re.search(r"\bshort\b", attrs):
            shorts.append(f"-{name[0]}")
        flags.add(long, *shorts)
        for alias in re.findall(r'\b(?:visible_)?alias\s*=\s*"([^"]+)"', attrs):
            flags.add(f"--{alias}")
    flags.add("--help", "-h")
    if re.search(r"#\[(?:clap|command)\([^\]]*\bversion\b", struct_attrs):
        flags.add("--version", "-V")
    return flags


# --- vLLM: argparse calls and config dataclasses ------------------------------------------
def _classes(paths: list[Path]) -> dict[str, ast.ClassDef]:
    found: dict[str, ast.ClassDef] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, node)
    return found


def _is_dataclass_class(node: ast.ClassDef) -> bool:
    names = {ast.unparse(d).split("(")[0].split(".")[-1] for d in node.decorator_list}
    return bool(names & {"dataclass", "config"})


def _fields(node: ast.ClassDef) -> dict[str, ast.expr]:
    """Annotated class attributes (dataclass fields), ClassVar and InitVar left out."""
    found: dict[str, ast.expr] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            text = ast.unparse(stmt.annotation)
            if "ClassVar" in text or "InitVar" in text:
                continue
            found[stmt.target.id] = stmt.annotation
    return found


def _top_level(annotation: ast.expr) -> list[ast.expr]:
    """The members of an Optional/Union/`|`, through Annotated (vLLM's `get_type_hints`)."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _top_level(ast.parse(annotation.value, mode="eval").body)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return [*_top_level(annotation.left), *_top_level(annotation.right)]
    if isinstance(annotation, ast.Subscript):
        base = ast.unparse(annotation.value).split(".")[-1]
        members = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        if base in ("Optional", "Union"):
            return [m for member in members for m in _top_level(member)]
        if base in ("Annotated", "SkipValidation"):           # pydantic's SkipValidation[T] is Annotated
            return _top_level(members[0])
    return [annotation]


def _is_bool_field(annotation: ast.expr, classes: dict[str, ast.ClassDef]) -> bool:
    """`_compute_kwargs`: a dataclass among the hints wins; else `bool` among them -> BooleanOptionalAction."""
    names = [ast.unparse(t).split(".")[-1] for t in _top_level(annotation)]
    if any(n in classes and _is_dataclass_class(classes[n]) for n in names):
        return False
    return "bool" in names


def _function(tree: ast.AST, cls: str | None, name: str) -> ast.FunctionDef:
    for node in ast.walk(tree):
        if cls is None and isinstance(node, ast.FunctionDef) and node.name == name:
            return node
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return item
    raise SystemExit(f"no {cls + '.' if cls else ''}{name} in the vLLM source")


class _ParserReader:
    """Collects the options one `add_cli_args`-style function registers."""

    def __init__(self, classes: dict[str, ast.ClassDef], flags: Flags) -> None:
        self.classes = classes
        self.flags = flags

    def read(self, func: ast.FunctionDef) -> None:
        kwargs_class: dict[str, str] = {}      # frontend_kwargs -> FrontendArgs
        action_override: dict[tuple[str, str], bool] = {}   # (var, field) -> is BooleanOptionalAction
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                callee = ast.unparse(node.value.func)
                if callee.endswith("get_kwargs") and node.value.args:
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            kwargs_class[target.id] = ast.unparse(node.value.args[0])
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    text = ast.unparse(target)
                    m = re.fullmatch(r"(\w+)\['(\w+)'\]\['action'\]", text)
                    if m:
                        action_override[(m.group(1), m.group(2))] = \
                            ast.unparse(node.value).endswith("BooleanOptionalAction")
        for node in ast.walk(func):
            if isinstance(node, ast.For):
                self._for_loop(node, kwargs_class, action_override)
            elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith(".add_argument"):
                self._call(node, kwargs_class, action_override, {})

    def _boolean(self, call: ast.Call, kwargs_class: dict[str, str],
                 action_override: dict[tuple[str, str], bool], loop_field: tuple[str, str] | None) -> bool:
        for kw in call.keywords:
            if kw.arg == "action":
                return ast.unparse(kw.value).endswith("BooleanOptionalAction")
        sources: list[tuple[str, str]] = []
        if loop_field is not None:
            sources.append(loop_field)
        for kw in call.keywords:
            if kw.arg is None and isinstance(kw.value, ast.Subscript):
                var = ast.unparse(kw.value.value)
                key = kw.value.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    sources.append((var, key.value))
        for var, name in sources:
            if (var, name) in action_override:
                return action_override[(var, name)]
            cls = self.classes.get(kwargs_class.get(var, ""))
            if cls is None:
                raise SystemExit(f"cannot find the config class of {var}[{name!r}]")
            annotation = _fields(cls).get(name)
            if annotation is None:
                raise SystemExit(f"{cls.name} has no field {name!r}")
            return _is_bool_field(annotation, self.classes)
        return False

    def _call(self, call: ast.Call, kwargs_class: dict[str, str],
              action_override: dict[tuple[str, str], bool], bound: dict[str, str],
              loop_field: tuple[str, str] | None = None) -> None:
        names: list[str] = []
        for arg in call.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.append(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in bound:
                names.append(bound[arg.id])
            elif isinstance(arg, ast.JoinedStr) and "__field__" in bound:
                names.append(f"--{bound['__field__'].replace('_', '-')}")
        options = [n for n in names if n.startswith("-")]
        if not options:
            return                                   # a positional (model_tag)
        longs = [o for o in options if o.startswith("--")]
        shorts = [o for o in options if not o.startswith("--")]
        if not longs:
            raise SystemExit(f"option without a long name: {options}")
        self.flags.add(longs[0], *shorts)
        for extra in longs[1:]:
            self.flags.add(extra)
        if self._boolean(call, kwargs_class, action_override, loop_field):
            for long in longs:
                self.flags.add(f"--no-{long[2:]}")

    def _for_loop(self, loop: ast.For, kwargs_class: dict[str, str],
                  action_override: dict[tuple[str, str], bool]) -> None:
        calls = [n for n in ast.walk(loop) if isinstance(n, ast.Call)
                 and ast.unparse(n.func).endswith(".add_argument")]
        if not calls:
            return
        iter_text = ast.unparse(loop.iter)
        m = re.fullmatch(r"(\w+)\.items\(\)", iter_text)
        if m and m.group(1) in kwargs_class:                    # for key, value in X_kwargs.items()
            var = m.group(1)
            cls = self.classes[kwargs_class[var]]
            for name in _fields(cls):
                for call in calls:
                    self._call(call, kwargs_class, action_override, {"__field__": name}, (var, name))
            return
        if isinstance(loop.iter, (ast.List, ast.Tuple)) and isinstance(loop.target, ast.Tuple):
            first = loop.target.elts[0]                          # for arg, type in [("--x", str), ...]
            if isinstance(first, ast.Name):
                for item in loop.iter.elts:
                    if isinstance(item, ast.Tuple) and isinstance(item.elts[0], ast.Constant):
                        for call in calls:
                            self._call(call, kwargs_class, action_override,
                                       {first.id: str(item.elts[0].value)})
                return
        raise SystemExit(f"unread add_argument loop: for ... in {iter_text}")


def vllm_flags(checkout: Path) -> Flags:
    """`vllm serve` / api_server long options, from make_arg_parser and the add_cli_args it calls."""
    arg_utils = checkout / "vllm" / "engine" / "arg_utils.py"
    cli_args = checkout / "vllm" / "entrypoints" / "openai" / "cli_args.py"
    config_files = sorted((checkout / "vllm" / "config").glob("*.py"))
    if not config_files:
        config_files = [checkout / "vllm" / "config.py"]
    classes = _classes([arg_utils, cli_args, *config_files])
    flags = Flags()
    reader = _ParserReader(classes, flags)
    cli_tree = ast.parse(cli_args.read_text())
    engine_tree = ast.parse(arg_utils.read_text())
    reader.read(_function(cli_tree, None, "make_arg_parser"))
    reader.read(_function(cli_tree, "FrontendArgs", "add_cli_args"))
    reader.read(_function(engine_tree, "EngineArgs", "add_cli_args"))
    reader.read(_function(engine_tree, "AsyncEngineArgs", "add_cli_args"))
    flags.add("--help", "-h")
    return flags


# --- Output -------------------------------------------------------------------------------
def _commit(checkout: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"


def render(engine: str, flags: Flags, source: str, files: tuple[str, ...], notes: list[str]) -> str:
    today = datetime.date.today().isoformat()
    header = [
        f"# {engine} long options, one per line: the option, then its short aliases.",
        f"# Source: {source}; files {', '.join(files)}; read {today}.",
        "# Generated by scripts/engine_flags.py (see its docstring); do not edit by hand.",
        *(f"# {n}" for n in notes),
    ]
    return "\n".join([*header, *flags.lines()]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate an engine flag list from its source.")
    parser.add_argument("engine", choices=["vllm", "tgi"])
    parser.add_argument("checkout", type=Path, help="the engine's source tree at the release")
    parser.add_argument("--version", required=True, help="the image tag, e.g. v0.11.0 or 3.3.7")
    parser.add_argument("--source", help="provenance for the header: repo, commit, tag")
    parser.add_argument("--note", action="append", default=[], help="an extra header line")
    parser.add_argument("--write", action="store_true", help="write the file instead of printing it")
    args = parser.parse_args(argv)
    checkout: Path = args.checkout.expanduser()
    if args.engine == "tgi":
        flags, files = tgi_flags(checkout), TGI_FILES
    else:
        flags, files = vllm_flags(checkout), VLLM_FILES
    source = args.source or f"{checkout.name} {_commit(checkout)}"
    text = render(args.engine, flags, source, files, args.note)
    if args.write:
        out = OUT_DIR / f"{args.engine}-{args.version}.txt"
        out.write_text(text)
        print(f"wrote {out.relative_to(ROOT)} ({len(flags.aliases)} options)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
