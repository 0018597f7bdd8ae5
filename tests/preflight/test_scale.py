"""A plan of 50 full cells (about 2,500 cloud resources): it once failed with RecursionError from
about 28 cells, as every pending invoke re-entered the running loop."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import REPO, run_preflight


def _synthetic() -> object:
    spec = importlib.util.spec_from_file_location("synthetic_spec", REPO / "benchmarks" / "synthetic_spec.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_fifty_cell_environment_plans(tmp_path: Path) -> None:
    project = _synthetic().write_project(tmp_path, [50])  # type: ignore[attr-defined]
    proc = run_preflight("plan", "c50", "--cwd", project)
    assert proc.returncode == 0, proc.stderr
    counts = next(line for line in proc.stdout.splitlines() if "cloud resources" in line)
    assert int(counts.split()[0]) > 2400, counts
