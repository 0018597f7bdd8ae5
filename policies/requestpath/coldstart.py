"""The cold-start hop: how long a new replica on a new GPU node takes to serve, and whether the
startup probe waits that long.

The budget is the pod template's aiinfra.io/cold-start-seconds annotation (the library computes it
from the catalog: node provisioning, image pull, model copy, engine load). The hop breaks when the
server container's startup probe gives up before the part of the budget the server itself spends
after its pod's init containers (the annotation aiinfra.io/server-start-seconds, when present);
without an annotation the budget is unknown offline.
"""

from __future__ import annotations

from typing import Any

from . import facts as F
from .index import Resource
from .registry import Step, Walk, add_hop, broken, ok, register, unknown
from .workload import POD_SOURCES, template_of

HOP = "cold-start"
add_hop(HOP, after="autoscaler")
SERVER_START_ANNOTATION = "aiinfra.io/server-start-seconds"


def probe_allows(container: dict[str, Any]) -> int | None:
    """Seconds the startup probe waits before the kubelet restarts the container."""
    probe = container.get("startupProbe")
    if not isinstance(probe, dict):
        return None
    period = probe.get("periodSeconds", 10)
    failures = probe.get("failureThreshold", 3)
    delay = probe.get("initialDelaySeconds", 0)
    if not all(isinstance(v, (int, float)) for v in (period, failures, delay)):
        return None
    return int(delay + period * failures)


def _seconds(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def _cold_start(w: Walk, workload: Resource) -> Step:
    t = template_of(workload)
    if t is None or not t.containers:
        return Step(unknown(HOP, workload, "containers unknown offline"), None)
    server = w.container or t.containers[0]
    budget = _seconds(t.annotations.get(F.COLD_START_ANNOTATION))
    start = _seconds(t.annotations.get(SERVER_START_ANNOTATION))
    allows = probe_allows(server)
    w.extra["cold_start_seconds"] = budget
    if budget is None:
        return Step(unknown(HOP, workload, f"no {F.COLD_START_ANNOTATION} on {workload.kind} {workload.k8s_ref}: the "
                            "cold-start budget is not known"), None)
    probe = f"startup probe allows {allows} s" if allows is not None else "no startup probe"
    if start is not None and allows is not None and allows < start:
        return Step(broken(HOP, workload, f"budget {budget} s, of which the server needs {start} s to load, but its "
                           f"{probe}: the kubelet restarts it before it is ready", "cold-start-budget"), None)
    return Step(ok(HOP, workload, f"{budget} s to the first ready replica on a new node; {probe}",
                   "cold-start-budget"), None)


register(HOP, tuple(POD_SOURCES), _cold_start, describe="the cold-start budget and the startup probe")
