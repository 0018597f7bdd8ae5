"""`preflight whatif`: lose a cell, a region or a cloud, and check the environment's targets from the plan.

Reads only the plan (components' registered outputs and the stack's `targets`
output), so it knows nothing the plan does not say:

- traffic: the GlobalEndpoint's backends (cells) that remain; at least one must;
- capacity: the minimum replicas of the traffic's endpoint in the surviving cells, as
  far as their pools hold them at their maximum (`capacity.py`), against
  `targets.min_gpu_replicas`;
- failover: the GlobalEndpoint's worst-case failover time against `targets.rto_seconds`
  (only when a lost cell was serving);
- restore: how long until the surviving cells can add replicas for the lost capacity: the slowest
  surviving endpoint's cold-start budget (its `cold_start_seconds` output: a new GPU node, the image,
  the model, the server's start), against `targets.restore_seconds`;
- data: every lost cell's BackupPlan must keep a copy outside the lost region whose RPO
  (`copy_rpo_minutes`, which can be coarser than the primary's) is within `targets.rpo_minutes`. A cloud-wide outage is survived by serving
  from the other clouds; the lost cells' data waits for that cloud's recovery, so the
  check there is the same backup promise, not a cross-cloud copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .capacity import Machines
from .capacity import pools as capacity_pools

CELL = "aiinfra:index:Cell"
ENDPOINT = "aiinfra:serving:ModelEndpoint"
GLOBAL = "aiinfra:traffic:GlobalEndpoint"
BACKUP = "aiinfra:backup:BackupPlan"


class WhatIfError(Exception):
    """The NAME matches nothing, or the plan lacks what the question needs (exit 2)."""


@dataclass
class Check:
    target: str
    required: str
    actual: str
    ok: bool
    note: str = ""


@dataclass
class WhatIf:
    lose: str
    lost_cells: list[str]
    surviving_cells: list[str]
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"lose": self.lose, "lost_cells": self.lost_cells, "surviving_cells": self.surviving_cells,
                "ok": self.ok, "checks": [c.__dict__ for c in self.checks]}


def _cells(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """cell name -> {urn, cloud, region} from the Cell components' outputs."""
    return {r["name"]: {"urn": r["urn"], **(r.get("outputs") or {})}
            for r in plan["resources"] if r["type"] == CELL}


def _cell_of(plan: dict[str, Any], resource: dict[str, Any]) -> str | None:
    index = {r["urn"]: r for r in plan["resources"]}
    parent = resource.get("parent")
    while parent:
        node = index[parent]
        if node["type"] == CELL:
            return node["name"]
        parent = node.get("parent")
    return None


def lost_cells(plan: dict[str, Any], name: str) -> list[str]:
    cells = _cells(plan)
    if name in cells:
        return [name]
    by_region = [c for c, o in cells.items() if o.get("region") == name]
    if by_region:
        return sorted(by_region)
    by_cloud = [c for c, o in cells.items() if o.get("cloud") == name]
    if by_cloud:
        return sorted(by_cloud)
    choices = sorted(cells) + sorted({o.get("region", "") for o in cells.values()}) + \
        sorted({o.get("cloud", "") for o in cells.values()})
    raise WhatIfError(f"{name!r} is not a cell, region or cloud of this stack; allowed: {', '.join(choices)}")


def _held_replicas(plan: dict[str, Any], machines: Machines | None) -> dict[str, int]:
    """Per ModelEndpoint URN: the replicas of its workload that its pool holds at its maximum."""
    if machines is None:
        return {}
    by_urn = {r["urn"]: r for r in plan["resources"]}
    held: dict[str, int] = {}
    for pool in capacity_pools(plan, machines):
        for workload in pool.workloads:
            parent = by_urn.get(workload.urn, {}).get("parent")
            while parent and parent in by_urn and by_urn[parent]["type"] != ENDPOINT:
                parent = by_urn[parent].get("parent")
            if parent in by_urn:
                held[parent] = pool.replicas_at_max(workload)
    return held


def analyse(plan: dict[str, Any], lose: str, machines: Machines | None = None) -> WhatIf:
    """The checks after losing `lose`; `machines` (the price file's machine catalog) lets the
    capacity check see what each pool holds."""
    cells = _cells(plan)
    lost = lost_cells(plan, lose)
    lost_regions = {cells[c].get("region") for c in lost}
    surviving = sorted(set(cells) - set(lost))
    result = WhatIf(lose, lost, surviving)
    targets = plan.get("outputs", {}).get("targets") or {}
    traffic = plan.get("outputs", {}).get("traffic") or {}
    globals_ = [r for r in plan["resources"] if r["type"] == GLOBAL]

    # Traffic: which backends remain.
    backends: list[str] = []
    failover: int | None = None
    if globals_:
        out = globals_[0].get("outputs") or {}
        backends = [b["name"] for b in out.get("backends", [])]
        failover = out.get("failover_seconds")
        remaining = [b for b in backends if b not in lost]
        result.checks.append(Check("traffic backends", "at least 1 healthy backend",
                                   f"{len(remaining)} of {len(backends)}: {', '.join(remaining) or 'none'}",
                                   bool(remaining)))
    else:
        result.checks.append(Check("traffic backends", "a global endpoint", "none in this plan", not lost,
                                   "without global traffic, losing a serving cell loses its traffic"))

    # Capacity: warm replicas of the traffic's endpoint in surviving cells: the minimum replicas,
    # as far as their pool holds them at its maximum (capacity.py, the figure `cost` uses too).
    endpoint_name = traffic.get("endpoint")
    if targets.get("min_gpu_replicas") is not None:
        held = _held_replicas(plan, machines)
        replicas, notes = 0, []
        for r in plan["resources"]:
            if r["type"] != ENDPOINT:
                continue
            cell = _cell_of(plan, r)
            if cell in surviving and (endpoint_name is None or r["name"] == f"{cell}-{endpoint_name}") \
                    and (not backends or cell in backends):
                wanted = int((r.get("outputs") or {}).get("min_replicas") or 0)
                fits = held.get(r["urn"])
                if fits is not None and fits < wanted:
                    notes.append(f"{r['name']}: {fits} of {wanted} minimum replicas fit its pool at its maximum")
                replicas += wanted if fits is None else min(wanted, fits)
        need = int(targets["min_gpu_replicas"])
        if machines is None:
            notes.append("no machine catalog: minimum replicas counted as written, not checked against pools")
        result.checks.append(Check("min GPU replicas", f">= {need}", str(replicas), replicas >= need,
                                   "; ".join(notes)))

    # Failover time: only matters when a lost cell was serving.
    if targets.get("rto_seconds") is not None:
        rto = int(targets["rto_seconds"])
        serving_lost = [c for c in lost if c in backends]
        if not serving_lost:
            result.checks.append(Check("failover time", f"<= {rto}s", "no serving cell lost", True))
        elif failover is None:
            result.checks.append(Check("failover time", f"<= {rto}s", "unknown: no global endpoint", False))
        else:
            result.checks.append(Check("failover time", f"<= {rto}s", f"{failover}s", failover <= rto))

    # Restore: the surviving cells scale out on new nodes; the slowest cold start bounds it.
    if targets.get("restore_seconds") is not None:
        limit = int(targets["restore_seconds"])
        budgets = []
        for r in plan["resources"]:
            if r["type"] != ENDPOINT or _cell_of(plan, r) not in surviving:
                continue
            if endpoint_name is not None and r["name"] != f"{_cell_of(plan, r)}-{endpoint_name}":
                continue
            seconds = (r.get("outputs") or {}).get("cold_start_seconds")
            if isinstance(seconds, (int, float)):
                budgets.append((int(seconds), r["name"]))
        if not budgets:
            result.checks.append(Check("capacity restore", f"<= {limit}s", "no surviving endpoint with a "
                                       "cold-start budget", not lost))
        else:
            worst, name = max(budgets)
            result.checks.append(Check("capacity restore", f"<= {limit}s", f"{worst}s ({name}'s cold start)",
                                       worst <= limit, "a new replica on a new GPU node: node, image, model, "
                                       "server start (serving/coldstart.py)"))

    # Data: each lost cell's backup promise.
    if targets.get("rpo_minutes") is not None:
        rpo = int(targets["rpo_minutes"])
        plans = {_cell_of(plan, r): (r.get("outputs") or {}) for r in plan["resources"] if r["type"] == BACKUP}
        for cell in lost:
            backup = plans.get(cell)
            if backup is None:
                result.checks.append(Check(f"RPO {cell}", f"<= {rpo} min with a copy elsewhere", "no backup", False))
                continue
            # The lost cell's primary backups are gone with it: recovery starts from the copy.
            effective = int(backup.get("copy_rpo_minutes") or backup.get("rpo_minutes") or 0)
            copy = backup.get("copy_to_region")
            ok = effective <= rpo and copy is not None and copy not in lost_regions
            actual = f"{effective} min, copy in {copy or 'no other region'}"
            result.checks.append(Check(f"RPO {cell}", f"<= {rpo} min with a copy elsewhere", actual, ok))
    return result
