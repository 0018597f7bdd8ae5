"""Run an unmodified Pulumi Python program offline, in preview mode, against the recording monitor.

This drives the SDK the way the Pulumi CLI's Python language host does (its
`pulumi-language-python-exec` script): the stack's config in `PULUMI_CONFIG` and
`PULUMI_CONFIG_SECRET_KEYS`, `set_all_config` from them, `Settings` with the
monitor and engine (in-process objects answering as the engine's services do, see
`monitor.py`), then `run_in_stack` around the program's `__main__`. Only public
SDK entry points are used; `preflight/sdk_seams.py` lists the few behaviours of
the SDK this relies on beyond its documented API, each with why.

A plan can run several times in one process (the test suite does): each run gets
a copied context, a new event loop and a new monitor, and the program's own
modules (files under its project directory imported during the run) are
forgotten afterwards, so the next program imports its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import os
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pulumi
import pulumi.runtime

from . import sdk_seams
from .monitor import STACK_TYPE, MustLeaveLoop, Recording, RecordingEngine, RecordingMonitor
from .plan import build_plan
from .project import Project, StackConfig, load_project, load_stack_config

# Environment variables the SDKs and providers read as fallbacks for config.
# An offline plan must depend on the stack files only, never on the shell it runs in.
SHIELDED_PREFIXES = (
    "PULUMI_CONFIG", "PULUMI_K8S_", "KUBECONFIG", "KUBERNETES_",
    "AWS_", "AZURE_", "ARM_", "MSI_", "GOOGLE_", "GCLOUD_", "CLOUDSDK_", "GCP_",
)

ORGANIZATION = "organization"
"""The organization a program sees offline (`pulumi.get_organization()`)."""


class OfflineEventLoop(asyncio.SelectorEventLoop):
    """An event loop whose default executor runs each call at once, on the loop's thread.

    The SDK hands every engine call (registrations, invokes, outputs) to
    `run_in_executor(None, ...)` because a real engine is a remote process. Ours is
    in-process and never blocks, so a thread per call only adds latency, and the
    results arriving one by one make the SDK's quiescence loop wake once per call
    (`asyncio.wait` over every pending output each time: measured 2.5x the cost of a
    prod plan). Here each call runs at once. A call whose answer needs the program's
    own callback server, which runs on this loop (a transform), returns a task on this
    loop instead of blocking it; that task is the call's result; where the SDK would not
    pass a pending answer through (an invoke transform), the call says so before doing
    anything and runs again on a worker thread (`monitor._answer`). Calls given an
    executor of their own run as usual.
    """

    accepts_pending_answers = True

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        if executor is not None:
            return super().run_in_executor(executor, func, *args)
        try:
            result = func(*args)
        except MustLeaveLoop:  # a call that must wait for this loop, where a pending answer won't do
            return super().run_in_executor(None, func, *args)
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            future: asyncio.Future[Any] = self.create_future()
            future.set_exception(exc)
            return future
        if isinstance(result, asyncio.Future) and result.get_loop() is self:
            return result  # the engine's answer is still being worked out, on this loop
        future = self.create_future()
        future.set_result(result)
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
def shielded_environment(project_dir: Path, config: StackConfig) -> Iterator[None]:
    """Hide credential/config variables, pass the stack's config as the language host does, and run
    from the project directory with it on sys.path; afterwards forget the program's own modules."""
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    added_to_path = str(project_dir) not in sys.path
    try:
        for key in list(os.environ):
            if key.startswith(SHIELDED_PREFIXES):
                del os.environ[key]
        os.environ["PULUMI_CONFIG"] = json.dumps(config.values)
        os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(config.secret_keys)
        os.chdir(project_dir)
        sys.path.insert(0, str(project_dir))
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        if added_to_path:
            _forget_modules_under(project_dir, saved_modules)


def _installed_roots() -> tuple[str, ...]:
    """Where installed packages live: the interpreter's prefixes and site-packages directories."""
    import site
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    user = site.getusersitepackages()
    if isinstance(user, str):
        roots.add(user)
    return tuple(os.path.abspath(r) + os.sep for r in roots)


def _forget_modules_under(directory: Path, keep: set[str]) -> None:
    """Drop modules the program imported from its own directory, so another program with modules
    of the same names imports its own (as each `pulumi up` runs in a new process).

    Installed packages stay, even when the virtualenv is inside the project (Pulumi's default
    `virtualenv: .venv`): forgetting `pulumi_aws` while the Pulumi runtime still holds its package
    registration makes the next import of it fail ("Cannot re-register package")."""
    root = str(directory.resolve()) + os.sep
    installed = _installed_roots()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name in keep or not isinstance(path, str):
            continue
        path = os.path.abspath(path)
        if path.startswith(root) and not path.startswith(installed):
            del sys.modules[name]


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the program runs: the heap holds the cloud SDKs'
    millions of objects, so each full collection costs more than the plan (measured: 8.6 s with,
    3.1 s without, for 100 object stores), and a plan makes little cyclic garbage. Reference
    counting still frees everything else. `gc.freeze()` moves what is already alive (the imported
    SDKs) out of the collector's sight for the collections that follow."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _count_resources(recording: Recording) -> int:
    return sum(1 for r in recording.registrations.values() if r.type != STACK_TYPE)


def run_program(project: Project, stack: str, config: StackConfig,
                stack_outputs: dict[str, dict[str, Any]] | None = None) -> PlanResult:
    """Plan `stack` of `project`; raises ProgramError when the program fails."""
    # Default providers take their region from stack config; invokes through them see the same.
    default_regions = {pkg: config.values[key] for pkg, key in
                       (("aws", "aws:region"), ("gcp", "gcp:region"), ("azure-native", "azure-native:location"))
                       if config.values.get(key)}
    monitor = RecordingMonitor(project.name, stack, stack_outputs, default_regions)
    recording = monitor.recording

    def run() -> None:
        # As the language host's exec script: config from the environment it was given, then settings
        # naming the engine (here: the recording monitor and engine objects, not addresses).
        pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
        pulumi.runtime.reset_options(project=project.name, stack=stack, root_directory=str(project.directory),
                                     preview=True, organization=ORGANIZATION)
        pulumi.runtime.configure(sdk_seams.settings(project.name, stack, ORGANIZATION, str(project.directory),
                                                    monitor, RecordingEngine(recording)))

        async def program() -> None:
            runpy.run_path(str(project.main), run_name="__main__")
            await monitor.settled()

        loop = OfflineEventLoop()
        asyncio.set_event_loop(loop)
        monitor.bind_loop(loop)
        try:
            with cyclic_gc_paused():
                loop.run_until_complete(pulumi.runtime.run_in_stack(program))
        finally:
            monitor.bind_loop(None)
            loop.run_until_complete(monitor.aclose())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            asyncio.set_event_loop(None)

    with shielded_environment(project.directory, config):
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
               stack_outputs: dict[str, dict[str, Any]] | None = None) -> PlanResult:
    """Load the project in `cwd` and plan `stack`."""
    project = load_project(cwd)
    config = load_stack_config(project, stack)
    return run_program(project, stack, config, stack_outputs)
