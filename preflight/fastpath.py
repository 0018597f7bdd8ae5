"""Fast paths for running a program offline: same results as the SDK, less work.

The SDK's run loop is written for a remote engine and a long-lived process.
Offline, seven of its costs grow with the size of the program without changing
anything a plan records. `engaged()` replaces them while a program runs and
restores the SDK afterwards:

1. **Quiescence.** After the program body returns, the SDK's `wait_for_rpcs`
   waits for every tracked output with `asyncio.wait(FIRST_COMPLETED)` over
   *all* pending outputs, re-registering a callback on each of them whenever any
   one finishes: waves x pending outputs (about 460,000 registrations for 100
   object stores). `wait_for_rpcs` below keeps the contract (outstanding RPCs
   first, their first failure re-raised; then every tracked output, a failed or
   cancelled one re-raised; repeat until nothing is outstanding) with one
   callback per output.
2. **Stack traces.** Every registration sends the engine the whole stack that
   created the resource, for the engine's error messages, and its first frame
   as the resource's source position. The SDK builds it with
   `traceback.extract_stack()`, which also reads each frame's source line, and
   turns each file name into a URI; the cost grows with call depth, i.e. with
   component nesting (even built without source lines, 5-6% of a plan's
   instructions for components two levels deep). The recording monitor reads
   neither, so `stack_trace` below sends the first frame only: the source
   position stays the SDK's own.
3. **URNs computed client-side.** The SDK builds every URN it computes itself
   (one per registration, kept only for when no engine is attached, and one per
   alias of every resource) from a chain of three or four Outputs, even when
   every part is a plain string. `create_urn` below builds the same string at
   once when the parts are plain (one Output), and with one `apply` when the
   parent is a resource; anything else goes to the SDK's own function.
4. **Alias URNs nobody reads.** Each resource turns every alias it has into a
   URN through two or three Outputs as it is constructed; the typed classes add
   one alias per former type or API version (2 for an S3 bucket, 30 for an
   Azure storage account). Those URNs are read only to send children's
   inherited aliases to an engine without alias specs; an engine with them
   (current engines, and ours) is sent the aliases themselves and derives the
   rest. `collapse_alias_to_urn` below skips the work when the monitor takes
   alias specs: about a third of a plan's time.
5. **Debug logs.** The SDK formats and sends a debug message per registration
   step; the recording engine keeps none, so `pulumi.log.debug` does nothing.
6. **Output types per class.** Every registration looks up the resource
   class's output types from its annotations and property getters
   (`typing.get_type_hints`, once per property). They depend on the class only,
   so `resource_types` is computed once per class for the run.
7. **Cyclic garbage collection** is paused: the heap holds the cloud SDKs'
   millions of objects and grows with the program's outputs, so full collections
   cost more than the program (100 object stores, this change alone: 8.6 s with
   them, 3.1 s without), while a plan makes little cyclic garbage (about 3,000 objects for
   100 stores). Reference counting still frees everything else.

Each replacement relies on SDK internals; `engaged()` checks they look as
expected and otherwise leaves that part of the SDK alone, so a future SDK can
only make plans slower, never different.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import pathlib
import sys
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator

from pulumi import _types as pulumi_types  # pyright: ignore[reportPrivateUsage]
from pulumi import log as pulumi_log
from pulumi import resource as pulumi_resource_module
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime import stack as pulumi_stack
from pulumi.runtime.proto import resource_pb2


# 1. Quiescence ---------------------------------------------------------------------------------

async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """The SDK's `wait_for_rpcs`, with one done-callback per output instead of one per output per wave."""
    settings: Any = pulumi_settings.SETTINGS
    rpc_manager: Any = pulumi_settings._get_rpc_manager()  # pyright: ignore[reportPrivateUsage]
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    raise exn from rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)

        if await_all_outstanding_tasks:
            await _wait_for_outputs(settings)

        if not rpc_manager.rpcs:
            break


async def _wait_for_outputs(settings: Any) -> None:
    """Until the SDK's set of tracked outputs is empty (an output removes itself when it succeeds)."""
    loop = asyncio.get_running_loop()
    watched: set[asyncio.Future[Any]] = set()
    finished: list[asyncio.Future[Any]] = []
    wake: list[asyncio.Future[None]] = []

    def on_done(task: asyncio.Future[Any]) -> None:
        finished.append(task)
        if wake and not wake[0].done():
            wake[0].set_result(None)

    while True:
        for task in finished:
            watched.discard(task)
            # The SDK leaves failed outputs in its set and raises them from its loop; so do we.
            if (task.cancelled() or task.exception() is not None) and task in settings.outputs:
                with settings.lock:
                    settings.outputs.discard(task)
                await task
        finished.clear()
        with settings.lock:
            outputs: set[asyncio.Future[Any]] = settings.outputs
            if not outputs:
                return
            new = outputs - watched
        for task in new:
            watched.add(task)
            task.add_done_callback(on_done)
        if finished:
            continue
        wake[:] = [loop.create_future()]
        await wake[0]


def _quiescence_supported() -> bool:
    settings: Any = pulumi_settings.SETTINGS
    try:
        return (isinstance(settings.outputs, set) and hasattr(settings, "lock")
                and hasattr(pulumi_settings._get_rpc_manager(), "rpcs")  # pyright: ignore[reportPrivateUsage]
                and callable(getattr(pulumi_stack, "wait_for_rpcs", None)))
    except Exception:  # noqa: BLE001 - any surprise means: keep the SDK's own loop
        return False


# 2. Stack traces -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _file_uri(filename: str) -> str | None:
    try:
        return pathlib.Path(filename).as_uri()
    except BaseException:  # noqa: BLE001 - as the SDK: no position for a frame it cannot name
        return None


def stack_trace() -> Any:
    """The first frame of the SDK's `_get_stack_trace`: the frame that called the concrete
    resource's constructor, which is the resource's source position.

    Walks the frames directly, reading a line number for that frame only."""
    source_pb2: Any = getattr(pulumi_resource, "source_pb2")
    # As the SDK: the third `__init__` from the innermost frame is the concrete resource's
    # constructor; its caller is the source position. No caller (or no such frame): empty trace.
    frame = sys._getframe()
    seen = 0
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            seen += 1
            if seen == 3:
                break
        frame = frame.f_back
    caller = frame.f_back if frame is not None else None
    if caller is None:
        return source_pb2.StackTrace()
    filename, line = caller.f_code.co_filename, caller.f_lineno
    uri = _file_uri(filename) if filename and line is not None else None
    position = source_pb2.SourcePosition(uri=uri, line=line) if uri else None
    return source_pb2.StackTrace(frames=[source_pb2.StackFrame(pc=position)])


def _stack_trace_supported() -> bool:
    return callable(getattr(pulumi_resource, "_get_stack_trace", None)) and hasattr(pulumi_resource, "source_pb2")


# 3. URNs ------------------------------------------------------------------------------------------

_sdk_create_urn: Any = getattr(pulumi_resource, "create_urn", None)


def create_urn(name: Any, type_: Any, parent: Any = None, project: Any = None, stack: Any = None) -> Any:
    """The SDK's `create_urn`, same value, same dependencies, fewer Outputs."""
    from pulumi import Output, Resource

    if isinstance(name, str) and isinstance(type_, str):
        if parent is None:
            stack = pulumi_settings.get_stack() if stack is None else stack
            project = pulumi_settings.get_project() if project is None else project
            if isinstance(stack, str) and isinstance(project, str):
                return Output.from_input(f"urn:pulumi:{stack}::{project}::{type_}::{name}")
        elif isinstance(parent, str):
            return Output.from_input(f"{parent[0:parent.rfind('::')]}${type_}::{name}")
        elif isinstance(parent, Resource):
            return parent.urn.apply(lambda urn: f"{urn[0:urn.rfind('::')]}${type_}::{name}")
    return _sdk_create_urn(name, type_, parent, project, stack)


def _create_urn_supported() -> bool:
    return callable(_sdk_create_urn)


# 4. Alias URNs -----------------------------------------------------------------------------------

_sdk_collapse_alias_to_urn: Any = getattr(pulumi_resource, "collapse_alias_to_urn", None)
_ALIAS_SPECS: Any = getattr(resource_pb2, "RESOURCE_MONITOR_FEATURE_ALIAS_SPECS", None)


def collapse_alias_to_urn(alias: Any, default_name: str, default_type: str, default_parent: Any) -> Any:
    """What `Resource.__init__` keeps in `_aliases`: the SDK's URN only for an engine without alias
    specs (the one reader, `all_aliases`, runs only then); the alias itself otherwise.

    An alias the SDK would reject (an `Alias` whose name or type is None) still goes to the SDK,
    so the program fails exactly as it would."""
    from pulumi import Alias

    if pulumi_settings.monitor_supports_feature(_ALIAS_SPECS) and (
            isinstance(alias, str) or (isinstance(alias, Alias) and alias.name is not None
                                       and alias.type_ is not None)):
        return alias
    return _sdk_collapse_alias_to_urn(alias, default_name, default_type, default_parent)


def _alias_urns_supported() -> bool:
    return (callable(_sdk_collapse_alias_to_urn) and _ALIAS_SPECS is not None
            and callable(getattr(pulumi_settings, "monitor_supports_feature", None))
            and getattr(pulumi_resource_module, "collapse_alias_to_urn", None) is _sdk_collapse_alias_to_urn)


# 5. Debug logs ------------------------------------------------------------------------------------

def _no_debug_log(msg: str, resource: Any = None, stream_id: Any = None, ephemeral: Any = None) -> None:
    """`pulumi.log.debug` for an engine that keeps no debug messages."""


# 6. Output types per class ------------------------------------------------------------------------

def _resource_types_supported() -> bool:
    return callable(getattr(pulumi_types, "resource_types", None))


# 7. Cyclic garbage collection ------------------------------------------------------------------

@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _replaced(module: Any, attribute: str, replacement: Any) -> Iterator[None]:
    original = getattr(module, attribute)
    setattr(module, attribute, replacement)
    try:
        yield
    finally:
        setattr(module, attribute, original)


@contextmanager
def engaged() -> Iterator[list[str]]:
    """All fast paths the installed SDK allows, for the duration; yields their names."""
    in_use: list[str] = []
    with ExitStack() as stack:
        if _quiescence_supported():
            stack.enter_context(_replaced(pulumi_stack, "wait_for_rpcs", wait_for_rpcs))
            in_use.append("quiescence")
        if _create_urn_supported():
            stack.enter_context(_replaced(pulumi_resource, "create_urn", create_urn))
            in_use.append("create-urn")
        if _stack_trace_supported():
            stack.enter_context(_replaced(pulumi_resource, "_get_stack_trace", stack_trace))
            in_use.append("stack-trace")
        if _alias_urns_supported():
            stack.enter_context(_replaced(pulumi_resource_module, "collapse_alias_to_urn", collapse_alias_to_urn))
            in_use.append("alias-urns")
        if callable(getattr(pulumi_log, "debug", None)):
            stack.enter_context(_replaced(pulumi_log, "debug", _no_debug_log))
            in_use.append("debug-logs")
        if _resource_types_supported():
            per_class = functools.lru_cache(maxsize=None)(pulumi_types.resource_types)
            stack.enter_context(_replaced(pulumi_types, "resource_types", per_class))
            in_use.append("resource-types")
        stack.enter_context(cyclic_gc_paused())
        in_use.append("gc-paused")
        yield in_use
