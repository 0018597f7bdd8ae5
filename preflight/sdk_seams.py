"""Where preflight relies on the Pulumi SDK beyond its documented API: the whole list, each with why.

preflight and the components use no private name of any Pulumi package (no
`_`-prefixed module, function or attribute; `tests/preflight/test_sdk_seams.py`
checks every file). What remains are behaviours of public classes that the SDK
does not promise in so many words. Each is tested under the oldest and newest SDK
of the range in `requirements.txt` (`.ci/run` plans the shipped stacks under both
and compares them byte for byte), so an SDK that changes one fails a test instead
of changing a plan.

1. **The monitor and engine are objects, not addresses.** `pulumi.runtime.Settings`
   takes `monitor` and `engine` as a gRPC address or as any object with the
   services' methods (how the SDK's own `set_mocks` works; typed `Union[str, Any]`).
   preflight passes objects (`monitor.RecordingMonitor`, `monitor.RecordingEngine`,
   through `settings()` below): a loopback gRPC server answering the same calls
   measured twice the cost per resource. The SDK calls them from its executor
   threads, as it would a stub, and starts the callback server transforms need for
   such a monitor too (since the SDK of pulumi/pulumi#24406; 3.261, the oldest SDK
   in the range, already does).
2. **Engine calls go through the loop's default executor.** The SDK makes every
   engine call with `loop.run_in_executor(None, f)`; `runtime.OfflineEventLoop` runs
   `f` at once on the loop's thread. For a registration, `f` returns the monitor's
   answer unchanged, so the monitor may answer with a task on the loop (a registration
   whose transforms the program's own callback server, on that loop, must answer);
   an invoke's answer is wrapped, so an invoke with transforms asks to run on a worker
   thread instead (`monitor.MustLeaveLoop`). Either way the result is the SDK's own.
3. **The SDK waits for its outputs after the program's body** (`wait_for_rpcs` in
   `run_in_stack`), waking on every completed output and waiting on all pending ones
   again each time. preflight's program wrapper lets the engine calls settle first
   (`monitor.RecordingMonitor.settled`), so that wait finds little left; it still
   waits for everything, so only the time changes.
4. **Several programs in one process** (the test suite plans in-process): each run
   gets a fresh context copy (the SDK keeps its settings in context variables), a new
   event loop, `pulumi.runtime.reset_options` (which clears the root stack resource),
   and forgets the program's own modules afterwards (`runtime.shielded_environment`).
5. **Generated SDK classes**: a resource type `pkg:mod/x:Type` is the class `Type` of
   module `pulumi_pkg.mod` and its arguments are `TypeArgs`, or `TypeInitArgs` where an
   input type already took `TypeArgs`. `analyzer.output_only_properties` reads them to
   tell inputs from outputs, and `components/common/tagging.py` to know which types
   take tags (a transform sees only the properties that were set).
"""

from __future__ import annotations

from typing import Any

import pulumi.runtime


def settings(project: str, stack: str, organization: str, root_directory: str, monitor: Any,
             engine: Any) -> pulumi.runtime.Settings:
    """Settings for a preview whose engine is `monitor` and `engine` (seam 1)."""
    return pulumi.runtime.Settings(project=project, stack=stack, monitor=monitor, engine=engine, dry_run=True,
                                   organization=organization, root_directory=root_directory)
