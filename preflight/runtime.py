"""Run an unmodified Pulumi Python program offline, in preview mode, against the recording monitor.

This drives the SDK the way the real language host does (config, settings,
`run_in_stack` around the program's `__main__`) instead of `set_mocks`, which
finishes the root stack early and loses the exports.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pulumi
import pulumi.runtime
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_in_stack

from . import fastpath
from .monitor import STACK_TYPE, Recording, RecordingEngine, RecordingMonitor
from .plan import build_plan
from .project import Project, StackConfig, load_project, load_stack_config

# Environment variables the SDKs and providers read as fallbacks for config.
# An offline plan must depend on the stack files only, never on the shell it runs in.
SHIELDED_PREFIXES = (
    "PULUMI_CONFIG", "PULUMI_K8S_", "KUBECONFIG", "KUBERNETES_",
    "AWS_", "AZURE_", "ARM_", "MSI_", "GOOGLE_", "GCLOUD_", "CLOUDSDK_", "GCP_",
)


class OfflineEventLoop(asyncio.SelectorEventLoop):
    """An event loop whose default executor runs each call at once, on the loop's thread.

    The SDK hands every engine call (registrations, invokes, outputs) to
    `run_in_executor(None, ...)` because a real engine is a remote process. Ours
    is in-process and never blocks, so a thread hop per call only adds latency,
    and even a call run inline through an executor is handed back to the loop
    thread-safely: a write to the loop's wake-up socket and a trip through its
    selector, per call. Here the call runs and its result is an already-done
    future. Calls given an executor of their own run as usual.
    """

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        if executor is not None:
            return super().run_in_executor(executor, func, *args)
        future: asyncio.Future[Any] = self.create_future()
        try:
            future.set_result(func(*args))
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            future.set_exception(exc)
        return future


class ProgramError(Exception):
    """The program failed. `expected` is True for `pulumi.RunError` (a message for the user, no traceback)."""

    def __init__(self, message: str, expected: bool, registered: int, original: BaseException):
        super().__init__(message)
        self.expected = expected
        self.registered = registered
        self.original = original


@dataclass
class PlanResult:
    plan: dict[str, Any]
    recording: Recording
    config: StackConfig


@contextlib.contextmanager
def shielded_environment(project_dir: Path) -> Iterator[None]:
    """Hide credential/config variables, run from the project directory with it on sys.path."""
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    try:
        for key in list(os.environ):
            if key.startswith(SHIELDED_PREFIXES):
                del os.environ[key]
        os.chdir(project_dir)
        sys.path.insert(0, str(project_dir))
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.path[:] = saved_path


def _count_resources(recording: Recording) -> int:
    return sum(1 for r in recording.registrations.values() if r.type != STACK_TYPE)


def run_program(project: Project, stack: str, config: StackConfig,
                stack_outputs: dict[str, dict[str, Any]] | None = None, *, fast: bool = True) -> PlanResult:
    """Plan `stack` of `project`; raises ProgramError when the program fails.

    `fast=False` runs the SDK's own code paths instead of `fastpath` (same plan, slower)."""
    # Default providers take their region from stack config; invokes through them see the same.
    default_regions = {pkg: config.values[key] for pkg, key in
                       (("aws", "aws:region"), ("gcp", "gcp:region"), ("azure-native", "azure-native:location"))
                       if config.values.get(key)}
    monitor = RecordingMonitor(stack_outputs, default_regions)
    recording = monitor.recording

    def run() -> None:
        pulumi.runtime.set_all_config(dict(config.values), list(config.secret_keys))
        pulumi_settings.reset_options(project=project.name, stack=stack,
                                      root_directory=str(project.directory), preview=True,
                                      organization="organization")
        settings = pulumi_settings.Settings(
            project=project.name, stack=stack, monitor=monitor, engine=RecordingEngine(recording),
            dry_run=True, organization="organization", root_directory=str(project.directory))
        pulumi_settings.configure(settings)
        def program() -> None:
            runpy.run_path(str(project.main), run_name="__main__")

        loop = OfflineEventLoop()
        asyncio.set_event_loop(loop)
        try:
            with fastpath.engaged() if fast else contextlib.nullcontext():
                loop.run_until_complete(run_in_stack(program))
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    with shielded_environment(project.directory):
        try:
            contextvars.copy_context().run(run)
        except pulumi.RunError as exc:
            raise ProgramError(str(exc), True, _count_resources(recording), exc) from exc
        except SystemExit as exc:
            raise ProgramError(f"the program exited with status {exc.code}", False,
                               _count_resources(recording), exc) from exc
        except Exception as exc:  # noqa: BLE001 - any program failure becomes exit 2
            raise ProgramError(f"{type(exc).__name__}: {exc}", False,
                               _count_resources(recording), exc) from exc
    if recording.duplicates:
        dups = ", ".join(sorted(set(recording.duplicates)))
        raise ProgramError(f"duplicate resource URN(s); a real preview fails on these: {dups}",
                           True, _count_resources(recording), RuntimeError(dups))
    return PlanResult(build_plan(project.name, stack, recording), recording, config)


def plan_stack(cwd: Path | str, stack: str,
               stack_outputs: dict[str, dict[str, Any]] | None = None, *, fast: bool = True) -> PlanResult:
    """Load the project in `cwd` and plan `stack`."""
    project = load_project(cwd)
    config = load_stack_config(project, stack)
    return run_program(project, stack, config, stack_outputs, fast=fast)
