"""The lowest releases requirements.txt admits plan the shipped stacks exactly as the newest do.

`.venv-floor` holds requirements-floor.txt's pins (the README's test command creates it). Each
program runs there in its own `preflight` process; its plan must equal, byte for byte, the
plan made here with the newest releases. The policy pack, run by that interpreter, checks dev.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from preflight import plan as plan_io
from tests.conftest import FIXTURES, REPO, cached_plan_stack

FLOOR_PYTHON = REPO / ".venv-floor" / "bin" / "python"
SETUP = "python3 -m venv .venv-floor && .venv-floor/bin/pip install -q -e . -c requirements-floor.txt"
PROGRAMS = [(REPO, "dev"), (REPO, "staging"), (REPO, "prod"), (FIXTURES / "transforms", "dev"),
            (FIXTURES / "invokes", "dev")]


def _bounds(path: Path, operator: str) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if m := re.match(rf"^([A-Za-z0-9_.-]+)\s*{re.escape(operator)}\s*([0-9][^,\s]*)", line):
            found[m.group(1).lower()] = m.group(2)
    return found


def test_floor_pins_are_the_lower_bounds_of_the_requirements() -> None:
    lower = _bounds(REPO / "requirements.txt", ">=")
    pins = _bounds(REPO / "requirements-floor.txt", "==")
    assert set(pins) == set(lower)
    for name, version in lower.items():
        assert pins[name].split(".")[:len(version.split("."))] == version.split(".") or \
            pins[name] == version, f"{name}: floor pin {pins[name]} is not the lower bound {version}"


@pytest.fixture(scope="module")
def floor_python() -> Path:
    if not FLOOR_PYTHON.exists():
        pytest.fail(f"{FLOOR_PYTHON} is missing; create it with: {SETUP}")
    return FLOOR_PYTHON


def test_the_floor_environment_has_the_pinned_releases(floor_python: Path) -> None:
    pins = _bounds(REPO / "requirements-floor.txt", "==")
    code = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")
    proc = subprocess.run([str(floor_python), "-c", code, *pins], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    import json
    assert {k.lower(): v for k, v in json.loads(proc.stdout).items()} == pins


def test_plans_under_the_floor_are_byte_identical(floor_python: Path, tmp_path: Path) -> None:
    procs = []
    for i, (project, stack) in enumerate(PROGRAMS):
        out = tmp_path / f"{i}.json"
        procs.append((project, stack, out, subprocess.Popen(
            [str(floor_python), "-m", "preflight", "plan", stack, "--cwd", str(project), "--json", str(out)],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
    for project, stack, out, proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{project.name}/{stack}: {err}"
        assert out.read_text() == plan_io.dumps(cached_plan_stack(project, stack).plan), f"{project.name}/{stack}"


def test_the_policy_pack_runs_under_the_floor(floor_python: Path) -> None:
    proc = subprocess.run([str(floor_python), "-m", "preflight", "check", "dev", "--cwd", str(REPO)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no mandatory violations" in proc.stdout, proc.stdout
