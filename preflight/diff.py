"""`preflight diff`: the plan at a git ref against the plan of the work tree.

The base is checked out into a temporary `git worktree` (removed afterwards) and
planned by a separate `python -m preflight plan` process, so the base program's
modules never mix with the work tree's; the work tree is planned in this
process at the same time. Resources are matched by URN (and by a URN alias, as
the engine does), inputs are compared property by property, and changes that
force a replacement are flagged where that is known offline: create-only
properties of common types, `replaceOnChanges`, and a changed provider.

Offline limits: no provider `Diff` runs, so other create-only properties are not
known, and secrets (`<secret>`) and unknowns (`<unknown>`) compare as equal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .analyzer import die_with_parent_preexec
from .project import ProjectError, load_project
from .runtime import PlanResult

STACK_TYPE = "pulumi:pulumi:Stack"
_MISSING: Any = object()

# Inputs whose change makes the provider replace the resource (Terraform `ForceNew`, an ARM or
# Kubernetes identity): a pattern per type (`pkg:*` for a whole package) -> property paths.
CREATE_ONLY: dict[str, tuple[str, ...]] = {
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:s3/bucketV2:BucketV2": ("bucket", "bucketPrefix"),
    "aws:eks/cluster:Cluster": ("name",),
    "aws:eks/nodeGroup:NodeGroup": ("clusterName", "nodeGroupName", "nodeGroupNamePrefix"),
    "gcp:storage/bucket:Bucket": ("name", "location", "project"),
    "gcp:container/cluster:Cluster": ("name", "location", "project"),
    "gcp:container/nodePool:NodePool": ("name", "cluster", "location", "project"),
    "azure-native:containerservice:ManagedCluster": ("resourceName", "resourceGroupName", "location"),
    "azure-native:storage:StorageAccount": ("accountName", "resourceGroupName", "location"),
    "azure-native:resources:ResourceGroup": ("resourceGroupName", "location"),
    # SageMaker endpoint configurations cannot be updated (the API has no UpdateEndpointConfig); an
    # Application Auto Scaling target is identified by its resource, dimension and namespace
    # (terraform-provider-aws: ForceNew on each).
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ("productionVariants", "kmsKeyArn"),
    "aws:appautoscaling/target:Target": ("resourceId", "scalableDimension", "serviceNamespace"),
    "azure-native:*": ("resourceGroupName",),
    "kubernetes:*": ("metadata.name", "metadata.namespace"),
}
# A top-level `name` is the cloud resource's identity for most providers (not Kubernetes, whose
# name lives in `metadata`).
GENERIC_CREATE_ONLY = ("name",)
_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DiffError(Exception):
    """The ref, the worktree or the base plan failed (exit 2)."""


# ---------------------------------------------------------------------------------------------
# Comparing two plans


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _SIMPLE_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def property_changes(old: Any, new: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, old, new) for every leaf that differs; a missing side is `_MISSING`."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            yield from property_changes(old.get(key, _MISSING), new.get(key, _MISSING), _join(path, key))
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            yield from property_changes(old[i] if i < len(old) else _MISSING,
                                        new[i] if i < len(new) else _MISSING, _join(path, i))
    elif old is _MISSING and new is _MISSING:
        return
    elif old is _MISSING or new is _MISSING or old != new or type(old) is not type(new):
        yield path, old, new


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def create_only_paths(type_token: str) -> tuple[tuple[str, str], ...]:
    """(path, reason) pairs known to force a replacement for this type."""
    package = type_token.split(":", 1)[0]
    found: list[tuple[str, str]] = []
    for pattern in (type_token, f"{package}:*"):
        for path in CREATE_ONLY.get(pattern, ()):
            found.append((path, f"`{path}` is create-only for {pattern}"))
    if package != "kubernetes":
        for path in GENERIC_CREATE_ONLY:
            if not any(p == path for p, _ in found):
                found.append((path, f"`{path}` is the resource's identity for most providers"))
    return tuple(found)


@dataclass
class PropertyChange:
    path: str
    old: Any
    new: Any
    replaces: bool = False
    reason: str = ""
    ignored: bool = False  # listed in `ignoreChanges`: the engine keeps the old value

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"path": self.path, "replaces": self.replaces}
        if self.old is not _MISSING:
            doc["old"] = self.old
        if self.new is not _MISSING:
            doc["new"] = self.new
        doc["kind"] = ("added" if self.old is _MISSING else "removed" if self.new is _MISSING else "changed")
        if self.reason:
            doc["reason"] = self.reason
        if self.ignored:
            doc["ignored"] = True
        return doc


@dataclass
class ResourceChange:
    urn: str
    type: str
    name: str
    op: str  # "update", "replace", "rename" (matched through an alias), "ignore" (only ignoreChanges differ)
    changes: list[PropertyChange] = field(default_factory=list)
    old_urn: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"urn": self.urn, "type": self.type, "name": self.name, "op": self.op,
                               "replace": self.op == "replace" or any(c.replaces for c in self.changes),
                               "changes": [c.as_json() for c in self.changes], "notes": self.notes}
        if self.old_urn:
            doc["oldUrn"] = self.old_urn
        return doc


def _brief(r: dict[str, Any], notes: list[str] | None = None) -> dict[str, Any]:
    return {"urn": r["urn"], "type": r["type"], "name": r["name"], "custom": r.get("custom", True),
            "notes": notes or []}


def compare_resources(old: dict[str, Any], new: dict[str, Any]) -> ResourceChange | None:
    """The changes between two versions of one resource, or None when nothing the engine acts on differs."""
    new_opts, old_opts = new.get("options") or {}, old.get("options") or {}
    ignore = list(new_opts.get("ignoreChanges") or [])
    replace_on = list(new_opts.get("replaceOnChanges") or [])
    known = create_only_paths(new["type"]) if new.get("custom") else ()
    changes: list[PropertyChange] = []
    for path, before, after in property_changes(old.get("inputs") or {}, new.get("inputs") or {}):
        change = PropertyChange(path, before, after)
        if any(_under(path, p) for p in ignore):
            change.ignored = True
        elif new.get("custom"):
            for prefix, reason in known:
                if _under(path, prefix):
                    change.replaces, change.reason = True, reason
                    break
            if not change.replaces:
                for prefix in replace_on:
                    if prefix == "*" or _under(path, prefix):
                        change.replaces, change.reason = True, f"listed in replaceOnChanges ({prefix})"
                        break
        changes.append(change)
    for option in ("protect", "retainOnDelete", "deleteBeforeReplace", "ignoreChanges", "replaceOnChanges"):
        if old_opts.get(option) != new_opts.get(option):
            changes.append(PropertyChange(f"options.{option}", old_opts.get(option), new_opts.get(option)))
    if (old.get("provider") or None) != (new.get("provider") or None):
        changes.append(PropertyChange("provider", old.get("provider"), new.get("provider"),
                                      replaces=bool(new.get("custom")),
                                      reason="a resource whose provider changes is replaced by the engine"))
    if not changes:
        return None
    replaces = any(c.replaces for c in changes)
    op = "replace" if replaces else "ignore" if all(c.ignored for c in changes) else "update"
    change = ResourceChange(new["urn"], new["type"], new["name"], op, changes)
    if replaces and old_opts.get("protect"):
        change.notes.append("protected: `pulumi up` refuses to replace it until protect is removed")
    return change


@dataclass
class PlanDiff:
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)
    unchanged: int = 0
    outputs: list[PropertyChange] = field(default_factory=list)


def _propagate_replacements(old: dict[str, Any], new: dict[str, Any], result: PlanDiff) -> None:
    """A replaced resource gets new computed outputs (its id, ARN, ...), so an input built from
    them changes at apply time even though it reads `<unknown>` in both plans."""
    changed = {c.urn: c for c in result.changed}
    replaced = {c.urn for c in result.changed if c.op == "replace"}
    # A resource replaced delete-before-replace is gone before its dependents are diffed: the engine
    # replaces every dependent whose create-only input it feeds, known value or not
    # (pulumi/pulumi pkg/resource/deploy/step_generator.go calculateDependentReplacements).
    delete_first = {urn for urn in replaced if ((new.get(urn) or {}).get("options") or {}).get("deleteBeforeReplace")}
    frontier = set(replaced)
    while frontier:
        found: set[str] = set()
        for urn, r in new.items():
            if urn not in old:
                continue
            for prop, deps in sorted((r.get("propertyDependencies") or {}).items()):
                sources = [d for d in deps if d in frontier]
                value = (r.get("inputs") or {}).get(prop, _MISSING)
                creates = bool(r.get("custom")) and any(_under(prop, p) for p, _ in create_only_paths(r["type"]))
                if not sources or not (_contains_unknown(value) or (creates and set(sources) & delete_first)):
                    continue
                change = changed.get(urn)
                if change is None:
                    change = changed[urn] = ResourceChange(urn, r["type"], r["name"], "update")
                    result.changed.append(change)
                    result.unchanged -= 1
                if any(p.path == prop for p in change.changes):
                    continue
                names = ", ".join(s.rsplit("::", 1)[-1] for s in sources)
                replaces = creates
                why = (f"fed by {names}, replaced delete-before-replace: replaced with it"
                       if not _contains_unknown(value) else f"computed from replaced {names}: the new value is known "
                       "only at apply")
                change.changes.append(PropertyChange(
                    prop, (old[urn].get("inputs") or {}).get(prop, _MISSING), value, replaces=replaces, reason=why))
                if replaces and change.op != "replace":
                    change.op = "replace"
                    found.add(urn)
        frontier = found - replaced
        replaced |= found
    result.changed.sort(key=lambda c: c.urn)


def _contains_unknown(value: Any) -> bool:
    if value == "<unknown>":
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


def _alias_urns(r: dict[str, Any]) -> list[str]:
    """A resource's aliases as URNs: URN aliases as given, alias specs (`name=...,type=...`) resolved
    against the resource's own URN the way the engine does."""
    urns: list[str] = []
    head, project, chain, name = r["urn"].split("::", 3)
    stack = head.removeprefix("urn:pulumi:")
    for alias in (r.get("options") or {}).get("aliases") or []:
        if alias.startswith("urn:"):
            urns.append(alias)
            continue
        spec = dict(part.split("=", 1) for part in alias.split(",") if "=" in part)
        own_type = chain.rsplit("$", 1)[-1]
        alias_type = spec.get("type", own_type)
        if spec.get("noParent") == "true":
            parent_chain = ""
        elif spec.get("parentUrn"):
            parent_type = spec["parentUrn"].split("::")[2]
            parent_chain = "" if parent_type.endswith("pulumi:pulumi:Stack") else parent_type
        else:
            parent_chain = chain.rsplit("$", 1)[0] if "$" in chain else ""
        qualified = f"{parent_chain}${alias_type}" if parent_chain else alias_type
        urns.append(f"urn:pulumi:{spec.get('stack', stack)}::{spec.get('project', project)}::"
                    f"{qualified}::{spec.get('name', name)}")
    return urns


def diff_plans(old_plan: dict[str, Any] | None, new_plan: dict[str, Any]) -> PlanDiff:
    old = {r["urn"]: r for r in (old_plan or {}).get("resources", [])}
    new = {r["urn"]: r for r in new_plan.get("resources", [])}
    result = PlanDiff()
    added = [urn for urn in new if urn not in old]
    removed = {urn for urn in old if urn not in new}
    renamed: dict[str, str] = {}
    for urn in added:
        for alias in _alias_urns(new[urn]):
            if alias in removed and alias not in renamed.values():
                renamed[urn] = alias
                removed.discard(alias)
                break
    for urn in sorted(new):
        if urn in renamed:
            change = compare_resources(old[renamed[urn]], new[urn]) or ResourceChange(
                urn, new[urn]["type"], new[urn]["name"], "rename")
            if change.op == "update":
                change.op = "rename"
            change.old_urn = renamed[urn]
            result.changed.append(change)
        elif urn not in old:
            result.added.append(_brief(new[urn]))
        else:
            change = compare_resources(old[urn], new[urn])
            if change is None:
                result.unchanged += 1
            else:
                result.changed.append(change)
    _propagate_replacements(old, new, result)
    for urn in sorted(removed):
        r = old[urn]
        opts = r.get("options") or {}
        notes = []
        if opts.get("protect"):
            notes.append("protected: `pulumi up` refuses to delete it until protect is removed")
        if opts.get("retainOnDelete"):
            notes.append("retainOnDelete: the cloud resource stays, Pulumi only forgets it")
        result.removed.append(_brief(r, notes))
    result.outputs = [PropertyChange(p, a, b) for p, a, b in
                      property_changes((old_plan or {}).get("outputs") or {}, new_plan.get("outputs") or {})]
    return result


# ---------------------------------------------------------------------------------------------
# Planning the base ref


@dataclass
class DiffResult:
    stack: str
    base_ref: str
    base_commit: str
    diff: PlanDiff
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        d = self.diff
        replaced = [c for c in d.changed if c.op == "replace"]
        ignored = [c for c in d.changed if c.op == "ignore"]
        return {
            "stack": self.stack,
            "base": {"ref": self.base_ref, "commit": self.base_commit},
            "added": d.added,
            "removed": d.removed,
            "changed": [c.as_json() for c in d.changed],
            "outputs": [c.as_json() for c in d.outputs],
            "summary": {"added": len(d.added), "removed": len(d.removed),
                        "updated": len(d.changed) - len(replaced) - len(ignored), "replaced": len(replaced),
                        "ignored": len(ignored), "unchanged": d.unchanged},
            "warnings": self.warnings,
        }


def _git(args: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise DiffError("git is not installed") from None
    if proc.returncode != 0:
        raise DiffError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait()


def run_diff(cwd: Path | str, stack: str, base: str, plan_head: Callable[[], PlanResult],
             debug: bool = False) -> DiffResult:
    """Plan `stack` at `base` (a temporary worktree, a separate process) and in the work tree."""
    project = load_project(cwd)
    top = Path(_git(["rev-parse", "--show-toplevel"], project.directory)).resolve()
    relative = project.directory.relative_to(top)
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], top)
    except DiffError:
        raise DiffError(f"unknown git ref {base!r} in {top}") from None
    warnings: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="preflight-diff-"))
    tree = scratch / "tree"
    proc: subprocess.Popen[bytes] | None = None
    added_worktree = False
    try:
        _git(["worktree", "add", "--detach", "--quiet", str(tree), commit], top)
        added_worktree = True
        base_project = tree / relative
        base_json = scratch / "base.json"
        log = scratch / "base.log"
        base_plan: dict[str, Any] | None = None
        runnable = True
        try:
            base_stack_file = load_project(base_project).stack_file(stack)
            if not base_stack_file.exists():
                warnings.append(f"stack {stack!r} has no stack file at {base}: everything is added")
                runnable = False
        except ProjectError as exc:
            warnings.append(f"no Pulumi project at {base} ({exc}): everything is added")
            runnable = False
        if runnable:
            package_root = str(Path(__file__).resolve().parent.parent)
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
            args = [sys.executable, "-m", "preflight", "plan", stack, "--cwd", str(base_project),
                    "--json", str(base_json)] + (["--debug"] if debug else [])
            with open(log, "wb") as sink:
                proc = subprocess.Popen(args, cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=sink, process_group=0,
                                        preexec_fn=die_with_parent_preexec())
        head = plan_head()  # meanwhile, in this process
        if proc is not None:
            code = proc.wait()
            if code != 0:
                text = log.read_text(errors="replace").strip()
                raise DiffError(f"planning {stack!r} at {base} ({commit[:12]}) failed (exit {code}):\n{text}")
            base_plan = json.loads(base_json.read_text(encoding="utf-8"))
    finally:
        if proc is not None:
            _stop(proc)
        if added_worktree:
            try:
                _git(["worktree", "remove", "--force", str(tree)], top)
            except DiffError:
                shutil.rmtree(tree, ignore_errors=True)
                subprocess.run(["git", "worktree", "prune"], cwd=top, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return DiffResult(stack, base, commit, diff_plans(base_plan, head.plan), warnings)


# ---------------------------------------------------------------------------------------------
# Rendering


def _value(value: Any, width: int = 60) -> str:
    if value is _MISSING:
        return "(absent)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


_OPS = {"add": "[green]+ add[/green]", "remove": "[red]- delete[/red]", "update": "[yellow]~ update[/yellow]",
        "replace": "[bold red]+- replace[/bold red]", "rename": "[cyan]> rename[/cyan]",
        "ignore": "[dim]= ignored[/dim]"}


def print_diff(result: DiffResult, out: Console, err: Console) -> None:
    d = result.diff
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    title = f"{result.stack}: {result.base_ref} ({result.base_commit[:12]}) -> work tree"
    if not (d.added or d.removed or d.changed):
        out.print(f"{title}: no changes ({d.unchanged} resources)", highlight=False)
    else:
        table = Table(title=title, title_justify="left")
        for column in ("op", "type", "name", "notes"):
            table.add_column(column, overflow="fold")
        for r in d.added:
            table.add_row(_OPS["add"], escape(r["type"]), escape(r["name"]), "")
        for r in d.removed:
            table.add_row(_OPS["remove"], escape(r["type"]), escape(r["name"]), escape("; ".join(r["notes"])))
        for c in d.changed:
            notes = list(c.notes) + ([f"was {c.old_urn.rsplit('::', 1)[-1]}"] if c.old_urn else [])
            table.add_row(_OPS[c.op], escape(c.type), escape(c.name), escape("; ".join(notes)))
        out.print(table)
        rows = [(c, p) for c in d.changed for p in c.changes]
        if rows:
            props = Table(title="Property changes", title_justify="left")
            for column in ("resource", "property", "old", "new", "effect"):
                props.add_column(column, overflow="fold")
            for c, p in rows:
                effect = ("[bold red]replace[/bold red]: " + escape(p.reason) if p.replaces
                          else "ignored (ignoreChanges)" if p.ignored
                          else "update" + (": " + escape(p.reason) if p.reason else ""))
                props.add_row(escape(c.name), escape(p.path), escape(_value(p.old)), escape(_value(p.new)), effect)
            out.print(props)
    if d.outputs:
        out.print("stack outputs changed: " + ", ".join(escape(p.path) for p in d.outputs), highlight=False)
    s = result.as_json()["summary"]
    out.print(f"{s['added']} to add, {s['removed']} to delete, {s['updated']} to update, "
              f"{s['replaced']} to replace, {s['unchanged'] + s['ignored']} unchanged"
              + (f" ({s['ignored']} differ only in ignoreChanges)" if s["ignored"] else ""), highlight=False)
