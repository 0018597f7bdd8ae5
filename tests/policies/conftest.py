"""Run `preflight check` over the policy fixture programs and the shipped stacks, once per session.

Each run is the real command (in this process, its plan shared with other tests through the
session's plan cache; the pack in its own process, as under the CLI); the tests read the JSON
reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from preflight.check import PackPool, pooled_packs
from preflight.project import load_project, load_stack_config
from tests.conftest import FIXTURES, REPO, run_preflight

PACK = REPO / "policies"
PROGRAMS = FIXTURES / "policy_programs"


@dataclass(frozen=True)
class Run:
    """One `preflight check` invocation: a project directory, a stack, an optional policy config."""

    key: str
    project: Path
    stack: str
    policy_config: dict[str, Any] | None = None


@dataclass
class Result:
    run: Run
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        assert self.report is not None, self.output
        return self.report["diagnostics"]

    @property
    def mandatory(self) -> set[tuple[str, str]]:
        """(policy name, resource name) of every mandatory violation."""
        return {(d["policyName"], d["urn"].rsplit("::", 1)[-1]) for d in self.diagnostics
                if d["enforcementLevel"] == "mandatory"}

    @property
    def output(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _fixture(area: str, stack: str, config: dict[str, Any] | None = None, suffix: str = "") -> Run:
    return Run(f"{area}/{stack}{suffix}", PROGRAMS / area, stack, config)


RUNS: list[Run] = [
    *(Run(f"shipped/{stack}", REPO, stack) for stack in ("dev", "staging", "prod")),
    Run("broken_prod/prod", PROGRAMS / "broken_prod", "prod"),
    *(_fixture(area, stack) for area in ("storage", "clusters", "node_pools", "workloads", "serving", "traffic",
                                         "backups", "tags", "protection", "entry", "supply")
      for stack in ("good", "bad")),
    # A model server declared open (aiinfra.io/auth: none) passes in dev (entry/good) and fails in prod.
    _fixture("entry", "prod"),
    _fixture("clusters", "dev"),
    _fixture("backups", "staging"),
    _fixture("protection", "dev"),
    # The device plugin passes only through the default exemption: clear it and three rules speak.
    _fixture("workloads", "good", {rule: {"exempt_workloads": []} for rule in
                                   ("workload-probes", "workload-non-root", "workload-gpu-limits")}, "+no-exemptions"),
    # Thresholds belong to the user: 30 days' retention turns staging's 14 days into violations.
    _fixture("backups", "staging", {"backup-min-retention": {"min_retention_days": 30}}, "+30-days"),
]


def _check(run: Run, tmp: Path) -> Result:
    name = run.key.replace("/", "_").replace("+", "_")
    report_path = tmp / f"{name}.json"
    args: list[str | Path] = ["check", run.stack, "--cwd", run.project, "--policy-pack", PACK, "--json", report_path]
    if run.policy_config is not None:
        config_path = tmp / f"{name}.policy-config.json"
        config_path.write_text(json.dumps(run.policy_config))
        args += ["--policy-config", config_path]
    proc = run_preflight(*args)
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return Result(run, proc.returncode, proc.stdout, proc.stderr, report)


@pytest.fixture(scope="session")
def checks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every run's result by key (`area/stack`, `shipped/prod`, ...). The packs are launched ahead,
    together, and runs of the same stack share one (`check.PackPool`)."""
    tmp = tmp_path_factory.mktemp("policy-checks")
    pool = PackPool()
    try:
        for run in RUNS:
            project = load_project(run.project)
            pool.warm(project, run.stack, load_stack_config(project, run.stack), PACK)
        with pooled_packs(pool):
            return {run.key: _check(run, tmp) for run in RUNS}
    finally:
        pool.close()
