"""`preflight check`: plan a stack offline and run its CrossGuard policy pack over the plan.

The pack runs unmodified, in its own process, over the engine's Analyzer gRPC
protocol (see `analyzer.py`), so a pack that passes here behaves the same under
`pulumi preview --policy-pack`. The pack is launched before the plan so its
start-up overlaps planning, and it never outlives the command.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .analyzer import (
    Analysis,
    AnalyzerError,
    AnalyzerSession,
    PackProcess,
    PolicyConfig,
    PolicyPackProject,
    StackContext,
    analyze_plan,
    load_policy_pack,
    pack_environment,
    reconcile_config,
    unknown_policy_names,
)
from .project import Project, StackConfig
from .runtime import PlanResult

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
ORGANIZATION = "organization"  # what a DIY backend reports; the plan uses the same
# The policy phase's overall limit. A pack answers in about a millisecond per resource and
# starts in under half a second, so even a large stack on a slow runner needs seconds;
# minutes mean a stuck policy, and CI should fail naming it rather than wait for its job
# timeout (without a limit, 8 calls in flight at 300 s each held a run for about an hour).
DEFAULT_TIMEOUT = 300.0


class CheckError(Exception):
    """The check could not run (no pack, pack failed to start, invalid config, timeout): exit 2."""


def timeout_seconds(text: str) -> float:
    """argparse type for --timeout: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def default_pack_dir(project: Project) -> Path:
    """`<project>/policies`, the conventional place; the caller passes --policy-pack otherwise."""
    candidate = project.directory / "policies"
    if not candidate.is_dir():
        raise CheckError(f"no policy pack: {candidate} does not exist; pass --policy-pack DIR")
    return candidate


def stack_tags(project: Project) -> dict[str, str]:
    """The tags the CLI gives a stack of a local project (`pulumi:project`, `pulumi:runtime`, ...)."""
    tags = {"pulumi:project": project.name, "pulumi:runtime": project.runtime}
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        path = project.directory / name
        if path.exists():
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError:
                doc = {}
            if isinstance(doc, dict) and isinstance(doc.get("description"), str):
                tags["pulumi:description"] = doc["description"]
            break
    return tags


@dataclass
class CheckReport:
    project: Project
    stack: str
    pack: PolicyPackProject
    analysis: Analysis
    plan_seconds: float
    policy_seconds: float
    pack_start_seconds: float | None
    pack_output: str
    warnings: list[str] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Any]:
        return [d for d in self.analysis.diagnostics if d.enforcement_level == "mandatory"]

    @property
    def advisory(self) -> list[Any]:
        return [d for d in self.analysis.diagnostics if d.enforcement_level != "mandatory"]

    @property
    def exit_code(self) -> int:
        if self.analysis.errors:
            return EXIT_ERROR
        return EXIT_FAILED if self.mandatory else EXIT_OK

    @property
    def stack_file(self) -> Path:
        return self.project.stack_file(self.stack)

    def sorted_diagnostics(self) -> list[Any]:
        order = {"mandatory": 0, "advisory": 1}
        return sorted(self.analysis.diagnostics,
                      key=lambda d: (order.get(d.enforcement_level, 2), d.policy_name, d.urn, d.message))

    def timing(self) -> dict[str, Any]:
        resources = self.analysis.resources
        return {
            "plan_seconds": round(self.plan_seconds, 4),
            "policy_seconds": round(self.policy_seconds, 4),
            "resources": resources,
            "pack_start_seconds": round(self.pack_start_seconds, 4) if self.pack_start_seconds else None,
            "analyze_seconds": round(self.analysis.analyze_seconds, 4),
            "analyze_ms_per_resource": round(1000 * self.analysis.analyze_seconds / resources, 3)
            if resources else None,
        }

    def as_json(self) -> dict[str, Any]:
        info = self.analysis.info
        config = self.analysis.config
        return {
            "project": self.project.name,
            "stack": self.stack,
            "stackFile": str(self.stack_file),
            "policyPack": {"name": info.name, "version": info.version, "description": info.description,
                           "directory": str(self.pack.directory), "sdkVersion": info.plugin_version},
            "policies": [
                {"name": p.name, "description": p.description, "type": p.policy_type,
                 "severity": p.severity,
                 "enforcementLevel": (config[p.name].enforcement_level if p.name in config
                                      else p.enforcement_level),
                 "config": (config[p.name].properties or {}) if p.name in config else {}}
                for p in info.policies],
            "diagnostics": [d.as_json() for d in self.sorted_diagnostics()],
            "errors": [e.as_json() for e in self.analysis.errors],
            "remediations": [r.as_json() for r in self.analysis.remediations],
            "summary": {"resources": self.analysis.resources, "mandatory": len(self.mandatory),
                        "advisory": len(self.advisory), "errors": len(self.analysis.errors),
                        "notApplicable": self.analysis.not_applicable},
            "warnings": self.warnings,
            "exitCode": self.exit_code,
            "timing": self.timing(),
        }


class PackPool:
    """Policy-pack processes kept across checks in one process, for callers that run many checks
    (the test suite): a check takes an idle pack launched with the same environment, and gives it
    back when it ends normally. The protocol allows it: a pack reads the project, stack and config
    from its environment once, at start, and serves `ConfigureStack`, `Configure` and the analyses
    again for the next run. `warm()` launches packs ahead, so their start-up (about half a second
    each) overlaps other work. The CLI checks one stack and uses none (see `pooled_packs`)."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, ...], list[PackProcess]] = {}

    @staticmethod
    def _key(pack: PolicyPackProject, env: Mapping[str, str]) -> tuple[str, ...]:
        return (str(pack.directory), pack.python, *sorted(f"{k}={v}" for k, v in env.items()))

    def warm(self, project: Project, stack: str, stack_config: StackConfig, pack_dir: Path) -> None:
        """Launch a pack for a later check of `stack` (errors surface in that check)."""
        try:
            pack = load_policy_pack(pack_dir)
            env = pack_environment(project.name, stack, ORGANIZATION, stack_config.values)
            self._idle.setdefault(self._key(pack, env), []).append(PackProcess(pack, env))
        except AnalyzerError:
            pass

    def take(self, pack: PolicyPackProject, env: Mapping[str, str]) -> PackProcess:
        idle = self._idle.get(self._key(pack, env), [])
        while idle:
            process = idle.pop()
            if process.proc.poll() is None:
                return process
            process.stop()
            process.close()
        return PackProcess(pack, env)

    def give_back(self, pack: PolicyPackProject, env: Mapping[str, str], process: PackProcess) -> None:
        self._idle.setdefault(self._key(pack, env), []).append(process)

    def close(self) -> None:
        for processes in self._idle.values():
            for process in processes:
                process.stop()
                process.close()
        self._idle.clear()


_POOL: PackPool | None = None


@contextlib.contextmanager
def pooled_packs(pool: PackPool) -> Iterator[PackPool]:
    """Every `run_check` in the block takes its pack from `pool` and gives it back."""
    global _POOL
    previous, _POOL = _POOL, pool
    try:
        yield pool
    finally:
        _POOL = previous


def run_check(project: Project, stack: str, stack_config: StackConfig, pack_dir: Path,
              user_config: Mapping[str, PolicyConfig] | None, plan: Callable[[], PlanResult],
              timeout: float = DEFAULT_TIMEOUT) -> CheckReport:
    """Start the pack, plan (overlapping its start-up), then speak the protocol; the pack is
    always stopped before this returns or raises.

    `timeout` bounds the policy phase as a whole (from the end of the plan: waiting for the
    pack's port, every call, attributing errors); when it passes, CheckError names the call
    in flight and the policies it runs. Stopping the pack afterwards takes a few seconds at most.
    """
    try:
        pack = load_policy_pack(pack_dir)
    except AnalyzerError as exc:
        raise CheckError(str(exc)) from exc
    warnings = list(pack.warnings)
    context = StackContext(project.name, stack, ORGANIZATION, dict(stack_config.values),
                           list(stack_config.secret_keys), stack_tags(project))
    pool = _POOL
    env = pack_environment(project.name, stack, ORGANIZATION, stack_config.values)
    try:
        process = pool.take(pack, env) if pool is not None else PackProcess(pack, env)
    except AnalyzerError as exc:
        raise CheckError(str(exc)) from exc
    stderr_from = process.stderr_size()
    finished = False
    try:
        started = time.perf_counter()
        result = plan()
        plan_seconds = time.perf_counter() - started
        started = time.perf_counter()
        try:
            session = AnalyzerSession(process, timeout=timeout)
            try:
                info = session.start(context)
                for name in unknown_policy_names(info, user_config):
                    warnings.append(f"policy config names {name!r}, which pack {info.name!r} does not have")
                config = reconcile_config(info, user_config)
                session.configure(config)
                analysis = analyze_plan(session, info, config, result.plan, context)
            finally:
                session.close()
        except AnalyzerError as exc:
            raise CheckError(str(exc)) from exc
        policy_seconds = time.perf_counter() - started
        finished = True
    finally:
        if pool is not None and finished:
            output = process.stderr_text()[stderr_from:]
            pool.give_back(pack, env, process)
        else:
            process.stop()
            output = process.stderr_text()[stderr_from:]
            process.close()
    if process.stdout_extra:
        output = "\n".join(process.stdout_extra) + ("\n" + output if output else "")
    return CheckReport(project, stack, pack, analysis, plan_seconds, policy_seconds,
                       process.port_seconds, output, warnings)


# ---------------------------------------------------------------------------------------------
# Rendering


def _short(urn: str) -> str:
    """`type::name` of a URN (the qualified type chain is long and rarely helps in a table)."""
    parts = urn.split("::")
    if len(parts) < 4:
        return urn
    return f"{parts[2].rsplit('$', 1)[-1]}::{parts[3]}"


def _violation_text(message: str, description: str) -> str:
    """The SDK prefixes each message with the policy's description; show what is specific."""
    if description and message.startswith(description):
        rest = message[len(description):].strip()
        return rest or message
    return message


def _traceback_tail(output: str, lines: int = 15) -> str:
    text = output.strip().splitlines()
    starts = [i for i, line in enumerate(text) if line.startswith("Traceback")]
    if starts:
        return "\n".join(text[starts[-1]:][-lines:])
    return "\n".join(text[-lines:])


def print_report(report: CheckReport, out: Console, err: Console, debug: bool = False) -> None:
    info = report.analysis.info
    title = (f"Policy check of {report.stack}: {info.name}@{info.version or '?'} "
             f"({len(info.policies)} policies, {report.analysis.resources} resources)")
    diagnostics = report.sorted_diagnostics()
    if diagnostics:
        table = Table(title=title, title_justify="left")
        table.add_column("level", no_wrap=True)
        table.add_column("policy", no_wrap=True)
        table.add_column("resource", overflow="fold")
        table.add_column("violation", overflow="fold")
        for d in diagnostics:
            level = ("[bold red]mandatory[/bold red]" if d.enforcement_level == "mandatory"
                     else f"[yellow]{d.enforcement_level}[/yellow]")
            name = d.urn.rsplit("::", 1)[-1]
            table.add_row(level, escape(d.policy_name), f"{escape(name)}\n[dim]{escape(d.resource_type)}[/dim]",
                          escape(_violation_text(d.message, d.description)))
        out.print(table)
    else:
        out.print(title, highlight=False)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    errors = report.analysis.errors
    if errors:
        grouped: Counter[tuple[str, str, str, str]] = Counter(
            (e.call, e.code, ", ".join(e.policies) or "?", e.message) for e in errors)
        first: dict[tuple[str, str, str, str], str] = {}
        for e in errors:
            first.setdefault((e.call, e.code, ", ".join(e.policies) or "?", e.message), e.urn)
        table = Table(title="Policy pack errors (a real `pulumi preview` fails on these)", title_justify="left")
        for column in ("call", "policy", "resources", "error"):
            table.add_column(column, overflow="fold")
        for key, count in grouped.items():
            where = escape(_short(first[key])) + (f" and {count - 1} more" if count > 1 else "")
            table.add_row(f"{key[0]} ({key[1]})", escape(key[2]), where, escape(key[3]))
        err.print(table)
        if report.pack_output.strip():
            err.print("policy pack output (last traceback):", highlight=False)
            err.print(escape(report.pack_output if debug else _traceback_tail(report.pack_output)),
                      highlight=False, soft_wrap=True)
    elif debug and report.pack_output.strip():
        err.print("policy pack output:", highlight=False)
        err.print(escape(report.pack_output), highlight=False, soft_wrap=True)
    timing = report.timing()
    per = timing["analyze_ms_per_resource"]
    out.print(f"plan {timing['plan_seconds']:.2f}s, policies {timing['policy_seconds']:.2f}s"
              + (f" ({per:.2f} ms per resource)" if per is not None else ""), highlight=False)
    mandatory, advisory = len(report.mandatory), len(report.advisory)
    if errors:
        out.print(f"[bold red]error:[/bold red] {len(errors)} policy pack call(s) failed (a policy raised); "
                  f"besides, {mandatory} mandatory and {advisory} advisory violation(s)", highlight=False)
    elif mandatory:
        out.print(f"[bold red]{mandatory} mandatory violation(s)[/bold red], {advisory} advisory", highlight=False)
    else:
        out.print(f"[green]no mandatory violations[/green], {advisory} advisory", highlight=False)
