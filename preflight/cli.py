"""`preflight`: plan and check any Pulumi Python stack offline.

Exit codes: 0 ok; 1 a check failed (later commands); 2 configuration or program error.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape

from . import plan as plan_io
from .project import ProjectError
from .runtime import PlanResult, ProgramError, plan_stack
from .summary import print_summary

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="preflight",
        description="Plan and check Pulumi Python stacks offline: no Pulumi CLI, no cloud credentials.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="offline plan: summary tree and plan JSON")
    _common(p)
    p.add_argument("--json", type=Path, help="write the plan JSON here")
    p.set_defaults(func=cmd_plan)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    func: Callable[[argparse.Namespace, Console, Console], int] = args.func
    try:
        return func(args, out, err)
    except CommandError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_ERROR
    except SystemExit as exc:
        code: Any = exc.code
        return code if isinstance(code, int) else EXIT_ERROR


def run() -> None:
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK leaves per-thread event loops behind; letting the interpreter collect them at
    # exit prints "Exception ignored" noise. Nothing is left to clean up, so leave at once.
    os._exit(code)
