"""`preflight`: plan and check any Pulumi Python stack offline.

Exit codes: 0 ok; 1 a policy or target failed; 2 a user, configuration, program or environment
error (a message, no traceback); 3 an internal error, a bug in preflight (a one-line report hint;
the traceback only with --debug); 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import plan as plan_io
from .analyzer import PolicyConfigError, load_policy_config_file
from .check import DEFAULT_TIMEOUT, CheckError, default_pack_dir, print_report, run_check, timeout_seconds
from .diff import DiffError, print_diff, run_diff
from .manifests import write_manifests
from .project import ProjectError, load_project, load_stack_config
from .whatif import WhatIfError, analyse
from .runtime import PlanResult, ProgramError, plan_stack
from .summary import print_summary

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A usage or input problem reported as one line, exit 2."""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stack", help="stack name: reads <stackConfigDir>/Pulumi.<stack>.yaml")
    parser.add_argument("--cwd", default=".", type=Path, help="Pulumi project directory (default: .)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of program errors")


def _plan(args: argparse.Namespace, err: Console) -> PlanResult:
    """Plan the stack, reporting config and program errors the way users need them."""
    try:
        result = plan_stack(args.cwd, args.stack)
    except ProjectError as exc:
        raise CommandError(str(exc)) from exc
    except ProgramError as exc:
        if args.debug:
            err.print(escape("".join(traceback.format_exception(exc.original))), highlight=False)
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        err.print(f"{exc.registered} resources were registered before the error"
                  + ("" if exc.registered == 0 else " (a real `pulumi up` would have created them)"),
                  highlight=False, soft_wrap=True)
        if not exc.expected and not args.debug:
            err.print("run with --debug to see the traceback", highlight=False)
        raise SystemExit(EXIT_ERROR) from exc
    for warning in result.config.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    return result


def cmd_plan(args: argparse.Namespace, out: Console, err: Console) -> int:
    result = _plan(args, err)
    if args.json:
        plan_io.write(result.plan, args.json)
    print_summary(result.plan, out, result.recording.logs)
    if args.json:
        out.print(f"plan written to {escape(str(args.json))}", highlight=False)
    return EXIT_OK


def cmd_manifests(args: argparse.Namespace, out: Console, err: Console) -> int:
    result = _plan(args, err)
    written = write_manifests(result.plan, args.out)
    out.print(f"{len(written)} Kubernetes manifests written to {escape(str(args.out))}", highlight=False)
    return EXIT_OK


def cmd_whatif(args: argparse.Namespace, out: Console, err: Console) -> int:
    from .cost import PriceFileError, load_prices

    path = args.prices if args.prices is not None else args.cwd / "prices.json"
    try:
        machines = load_prices(path) if args.prices is not None or path.exists() else None
    except PriceFileError as exc:
        raise CommandError(str(exc)) from exc
    result = _plan(args, err)
    try:
        report = analyse(result.plan, args.lose, machines)
    except WhatIfError as exc:
        raise CommandError(str(exc)) from exc
    table = Table(title=f"What if {args.stack} loses {args.lose} ({', '.join(report.lost_cells)})",
                  title_justify="left")
    for column in ("target", "required", "after the loss", "holds"):
        table.add_column(column)
    for check in report.checks:
        table.add_row(check.target, check.required, check.actual,
                      "[green]yes[/green]" if check.ok else "[bold red]NO[/bold red]")
    out.print(table)
    for check in report.checks:
        if check.note:
            out.print(f"{escape(check.target)}: {escape(check.note)}", highlight=False, soft_wrap=True)
    out.print(f"surviving cells: {', '.join(report.surviving_cells) or 'none'}", highlight=False)
    if args.json:
        args.json.write_text(json.dumps(report.as_json(), indent=2, sort_keys=True) + "\n")
    missed = [c.target for c in report.checks if not c.ok]
    if missed:
        out.print(f"[bold red]targets missed:[/bold red] {escape(', '.join(missed))}", highlight=False)
        return EXIT_FAILED
    out.print("[green]all targets hold[/green]")
    return EXIT_OK


def cmd_cost(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Monthly estimate at minimum and maximum scale; exit 1 when the minimum is over the budget."""
    from .cost import PriceFileError, estimate, load_prices, render as render_cost, write_json

    try:
        prices = load_prices(args.prices if args.prices is not None else args.cwd / "prices.json")
    except PriceFileError as exc:
        raise CommandError(str(exc)) from exc
    report = estimate(_plan(args, err).plan, prices)
    render_cost(report, out)
    if args.json:
        write_json(report, args.json)
        out.print(f"cost estimate written to {escape(str(args.json))}", highlight=False)
    return EXIT_FAILED if report.over_budget_by is not None else EXIT_OK


def cmd_graph(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Cells, their main components and the global endpoint, as Mermaid or DOT."""
    from .graph import render as render_graph

    text = render_graph(_plan(args, err).plan, args.format)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        out.print(f"{args.format} graph written to {escape(str(args.out))}", highlight=False)
    else:
        out.out(text, end="", highlight=False)
    return EXIT_OK


def cmd_check(args: argparse.Namespace, out: Console, err: Console) -> int:
    from .sarif import write_sarif

    try:
        project = load_project(args.cwd)
        stack_config = load_stack_config(project, args.stack)
        pack_dir = args.policy_pack if args.policy_pack is not None else default_pack_dir(project)
        user_config = load_policy_config_file(args.policy_config) if args.policy_config else None
        report = run_check(project, args.stack, stack_config, pack_dir, user_config, lambda: _plan(args, err),
                           timeout=args.timeout)
    except (ProjectError, CheckError, PolicyConfigError) as exc:
        raise CommandError(str(exc)) from exc
    print_report(report, out, err, debug=args.debug)
    if args.json:
        args.json.write_text(json.dumps(report.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        out.print(f"report written to {escape(str(args.json))}", highlight=False)
    if args.sarif:
        write_sarif(report, args.sarif)
        out.print(f"SARIF written to {escape(str(args.sarif))}", highlight=False)
    return report.exit_code


def cmd_diff(args: argparse.Namespace, out: Console, err: Console) -> int:
    try:
        result = run_diff(args.cwd, args.stack, args.base, lambda: _plan(args, err), debug=args.debug)
    except (ProjectError, DiffError) as exc:
        raise CommandError(str(exc)) from exc
    print_diff(result, out, err)
    if args.json:
        args.json.write_text(json.dumps(result.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        out.print(f"diff written to {escape(str(args.json))}", highlight=False)
    return EXIT_OK


def cmd_trace(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Follow a request to URL through the plan, hop by hop per backend; exit 1 when one breaks."""
    from .trace import UrlError, check_url, render as render_trace, run as run_trace, write_json as write_trace

    try:
        check_url(args.url)
    except UrlError as exc:
        raise CommandError(str(exc)) from exc
    plan = _plan(args, err).plan
    result = run_trace(plan, args.url)
    render_trace(result, plan, args.stack, out)
    if args.json:
        write_trace(result, args.json)
        out.print(f"trace written to {escape(str(args.json))}", highlight=False)
    return EXIT_OK if result.ok else EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="preflight",
        description="Plan and check Pulumi Python stacks offline: no Pulumi CLI, no cloud credentials.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="offline plan: summary tree and plan JSON")
    _common(p)
    p.add_argument("--json", type=Path, help="write the plan JSON here")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("manifests", help="write every Kubernetes object of the plan as YAML")
    _common(p)
    p.add_argument("--out", type=Path, required=True, help="directory for the manifests")
    p.set_defaults(func=cmd_manifests)
    p = sub.add_parser("whatif", help="lose a cell, region or cloud and check the targets")
    _common(p)
    p.add_argument("--lose", required=True, help="a cell name, a region or a cloud (aws, azure, gcp)")
    p.add_argument("--json", type=Path, help="write the result as JSON here")
    p.add_argument("--prices", type=Path,
                   help="price file whose machine catalog says what each pool holds (default: <project dir>/prices.json "
                        "when it exists; without one, minimum replicas are counted as written)")
    p.set_defaults(func=cmd_whatif)
    p = sub.add_parser("cost", help="monthly cost at minimum and maximum scale, against the budget")
    _common(p)
    p.add_argument("--prices", type=Path, help="price file (default: <project dir>/prices.json)")
    p.add_argument("--json", type=Path, help="write the estimate as JSON here")
    p.set_defaults(func=cmd_cost)
    p = sub.add_parser("graph", help="cells, main components and global traffic as Mermaid or DOT")
    _common(p)
    p.add_argument("--format", choices=("mermaid", "dot"), default="mermaid", help="output format (default: mermaid)")
    p.add_argument("--out", type=Path, help="write the graph here instead of standard output")
    p.set_defaults(func=cmd_graph)
    p = sub.add_parser("check", help="plan, then run the CrossGuard policy pack over the Analyzer protocol")
    _common(p)
    p.add_argument("--policy-pack", type=Path, help="policy pack directory (default: <project>/policies)")
    p.add_argument("--policy-config", type=Path,
                   help="policy config JSON, as for `pulumi preview --policy-pack-config`")
    p.add_argument("--json", type=Path, help="write the report (diagnostics, errors, timing) as JSON here")
    p.add_argument("--sarif", type=Path, help="write SARIF 2.1.0 here (GitHub code scanning)")
    p.add_argument("--timeout", type=timeout_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"limit for the whole policy phase, after the plan (default: {DEFAULT_TIMEOUT:g} seconds). "
                        "A pack answers in about a millisecond per resource, so minutes mean a stuck "
                        "policy: the run then fails (exit 2) naming the call and policies in flight, "
                        "instead of waiting for the CI job's own timeout")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("diff", help="plan at a git ref and in the work tree; show what changes")
    _common(p)
    p.add_argument("--base", required=True, help="git ref to compare with (e.g. origin/main)")
    p.add_argument("--json", type=Path, help="write the diff as JSON here")
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("trace", help="follow a request to a URL hop by hop, per backend")
    _common(p)
    p.add_argument("url", help="the URL to follow (https:// or http://)")
    p.add_argument("--json", type=Path, help="write the trace (every backend, every hop) as JSON here")
    p.set_defaults(func=cmd_trace)
    return parser


# What each path argument must be, checked before any work: "dir" and "file" are read,
# "out-file" is written, "out-dir" is filled (created with its parents when missing).
_PATH_KINDS = {"cwd": "dir", "policy_pack": "dir", "prices": "file", "policy_config": "file",
               "json": "out-file", "sarif": "out-file"}


def path_kind(command: str, dest: str) -> str | None:
    """What the path argument `dest` of `command` must be (None: not a path argument)."""
    if dest == "out":
        return "out-dir" if command == "manifests" else "out-file"
    return _PATH_KINDS.get(dest)


def _path_problem(path: Path, kind: str) -> str | None:
    if kind == "dir":
        return None if path.is_dir() else "not a directory" if path.exists() else "no such directory"
    if kind == "file":
        if not path.exists():
            return "no such file"
        if path.is_dir():
            return "a directory, not a file"
        return None if os.access(path, os.R_OK) else "not readable"
    if kind == "out-file":
        if path.is_dir():
            return "a directory; give the path of a file to write"
        parent = path.parent
        if not parent.is_dir():
            return f"its directory {parent} {'is not a directory' if parent.exists() else 'does not exist'}"
        if path.exists():
            return None if os.access(path, os.W_OK) else "not writable"
        return None if os.access(parent, os.W_OK | os.X_OK) else f"its directory {parent} is not writable"
    existing = path  # "out-dir": the nearest existing ancestor must be a writable directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return "a file, not a directory" if existing == path else f"{existing} is a file, not a directory"
    return None if os.access(existing, os.W_OK | os.X_OK) else f"{existing} is not writable"


def check_paths(args: argparse.Namespace) -> None:
    """Refuse unusable path arguments (exit 2) before anything is planned, started or written."""
    for dest, value in sorted(vars(args).items()):
        kind = path_kind(args.command, dest)
        if kind is None or value is None:
            continue
        problem = _path_problem(Path(value), kind)
        if problem is not None:
            raise CommandError(f"--{dest.replace('_', '-')} {value}: {problem}")


def _internal_error(exc: Exception, args: argparse.Namespace, err: Console) -> int:
    """A bug in preflight: one line and a report hint; the traceback only with --debug."""
    if getattr(args, "debug", False):
        err.print(escape("".join(traceback.format_exception(exc))), highlight=False)
    err.print(f"[bold red]internal error:[/bold red] {escape(f'{type(exc).__name__}: {exc}')}",
              highlight=False, soft_wrap=True)
    err.print("this is a bug in preflight, not in your stack: please report it with the command and "
              + ("the traceback above" if getattr(args, "debug", False) else "its output with --debug"),
              highlight=False, soft_wrap=True)
    return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    func: Callable[[argparse.Namespace, Console, Console], int] = args.func
    try:
        check_paths(args)
        return func(args, out, err)
    except CommandError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_ERROR
    except SystemExit as exc:
        code: Any = exc.code
        return code if isinstance(code, int) else EXIT_ERROR
    except OSError as exc:
        # The machine, not preflight: a disk that filled up, a file removed or locked meanwhile.
        if getattr(args, "debug", False):
            err.print(escape("".join(traceback.format_exception(exc))), highlight=False)
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - every other failure is preflight's own bug
        return _internal_error(exc, args, err)


def run() -> None:
    # A one-shot process: no cyclic garbage collection at all, not even the deferred one a
    # plan would otherwise pay when collection resumes (see runtime.cyclic_gc_paused).
    gc.disable()
    try:
        code = main()
    except KeyboardInterrupt:  # caught here, not in main(): a test run in-process stays interruptible
        print("interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (`preflight plan prod | head`): nothing left to tell anyone
            pass
    # The SDK leaves per-thread event loops behind; letting the interpreter collect them at
    # exit prints "Exception ignored" noise. Nothing is left to clean up, so leave at once.
    os._exit(code)
