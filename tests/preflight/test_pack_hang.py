"""A policy pack can never hang `preflight check`, nor outlive it.

Real process behaviour, so preflight runs as a subprocess and the checks read /proc.
Fixture packs: `hangs` (a resource policy that never returns on buckets, a quick
one, a stack policy) and `spawns` (starts a helper in its process group, one that
calls setsid and a double-forked daemon; the first two hold the pack's stdout open,
and each records "<kind> <pgid> <sid>" in procs/<pid> of the pack directory).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

import pytest

from tests.conftest import FIXTURES, REPO

PROGRAM = FIXTURES / "policy_program"
PACKS = FIXTURES / "policy_packs"
BUCKET = "urn:pulumi:dev::fx-policy::fx:index:Store$aws:s3/bucket:Bucket::logs-bucket"


def copy_pack(tmp_path: Path, name: str) -> Path:
    """A private copy: a unique directory to look for on command lines, and room for procs/."""
    target = tmp_path / f"pack-{name}"
    shutil.copytree(PACKS / name, target)
    return target


def live_processes() -> Iterator[tuple[int, int, int, str]]:
    """(pid, pgid, sid, command line) of every process that is not a zombie."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            cmdline = " ".join((entry / "cmdline").read_bytes().decode(errors="replace").split())
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if fields[0] in (b"Z", b"X"):
            continue
        yield int(entry.name), int(fields[2]), int(fields[3]), cmdline


def survivors(pack_dir: Path, groups: Iterable[int] = ()) -> list[str]:
    """`ps -o pid,pgid,sid,args` lines of live processes naming the pack or in one of `groups`."""
    groups = set(groups)
    return [f"{pid} {pgid} {sid} {args[:120]}" for pid, pgid, sid, args in live_processes()
            if str(pack_dir) in args or pgid in groups]


def wait_until_gone(pack_dir: Path, groups: Iterable[int], seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    left = survivors(pack_dir, groups)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = survivors(pack_dir, groups)
    return left


def recorded(pack_dir: Path) -> dict[str, tuple[int, int, int]]:
    """kind -> (pid, pgid, sid) of the helpers the `spawns` pack started."""
    found: dict[str, tuple[int, int, int]] = {}
    for path in (pack_dir / "procs").glob("[0-9]*"):
        parts = path.read_text().split()
        if len(parts) == 3:
            found[parts[0]] = (int(path.name), int(parts[1]), int(parts[2]))
    return found


def kill_leftovers(pack_dir: Path) -> None:
    """Clean up after a failing run (the old behaviour leaves processes behind): by pid, only ours."""
    for pid, _, _, args in live_processes():
        if str(pack_dir) in args:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def preflight(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "preflight", *map(str, args)]


@pytest.mark.parametrize("disable_quick, expected", [
    # Analyze runs every enabled resource policy in turn: both are candidates, named as such.
    (False, r"running one of the policies bucket-never-returns, quick-check \(the pack runs them in turn"),
    # With the quick one disabled, the policy is known.
    (True, r"running policy bucket-never-returns(;|$)"),
], ids=["candidates", "one-policy"])
def test_a_policy_that_never_returns_fails_the_run_at_the_deadline(
        tmp_path: Path, disable_quick: bool, expected: str) -> None:
    pack_dir = copy_pack(tmp_path, "hangs")
    extra: list[str | Path] = []
    if disable_quick:
        config = tmp_path / "policy-config.json"
        config.write_text(json.dumps({"quick-check": "disabled"}))
        extra = ["--policy-config", config]
    started = time.monotonic()
    try:
        proc = subprocess.run(preflight("check", "dev", "--cwd", PROGRAM, "--policy-pack", pack_dir,
                                        "--timeout", "3", *extra),
                              cwd=REPO, capture_output=True, text=True, timeout=15)
    finally:
        elapsed = time.monotonic() - started
        kill_leftovers(pack_dir)
    # Planning this program takes about a second, then come 3 s of policy phase and the 1 s
    # SIGINT grace of stop(); without the deadline, the run would take an hour.
    assert elapsed < 3 + 7, f"took {elapsed:.1f}s"
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    [line] = lines
    assert line.startswith("error: policy pack fx-hangs did not finish within the 3s limit (--timeout): ")
    assert f"Analyze of aws:s3/bucket:Bucket {BUCKET} was in flight" in line
    assert re.search(expected, line), line
    assert "stack-check" not in line  # a stack policy does not run in Analyze
    assert not survivors(pack_dir), "the policy pack outlived the command"


def test_processes_the_pack_started_die_with_it_even_out_of_its_group(tmp_path: Path) -> None:
    pack_dir = copy_pack(tmp_path, "spawns")
    started = time.monotonic()
    try:
        proc = subprocess.run(preflight("check", "dev", "--cwd", PROGRAM, "--policy-pack", pack_dir),
                              cwd=REPO, capture_output=True, text=True, timeout=10)
        elapsed = time.monotonic() - started
        helpers = recorded(pack_dir)
        groups = {pgid for _, pgid, _ in helpers.values()}
        left = wait_until_gone(pack_dir, groups, 1.0)
    finally:
        kill_leftovers(pack_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert elapsed < 8, f"took {elapsed:.1f}s"
    assert set(helpers) == {"in-group", "own-session", "daemon"}
    pack_group = helpers["in-group"][1]
    assert helpers["own-session"][1] != pack_group and helpers["daemon"][1] != pack_group
    assert helpers["own-session"][2] == helpers["own-session"][0]  # it leads a session of its own
    assert not left, "processes of the pack survived the command:\n" + "\n".join(left)


def test_a_killed_preflight_takes_the_pack_and_its_children_along(tmp_path: Path) -> None:
    """SIGKILL: no cleanup code of preflight runs. PR_SET_PDEATHSIG ends the pack; the
    run's watchdog ends the processes the pack started."""
    project = tmp_path / "slow"
    shutil.copytree(PROGRAM, project)
    main = project / "__main__.py"
    main.write_text("import time\ntime.sleep(60)\n" + main.read_text())
    pack_dir = copy_pack(tmp_path, "spawns")
    proc = subprocess.Popen(preflight("check", "dev", "--cwd", project, "--policy-pack", pack_dir),
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 8
        while len(recorded(pack_dir)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        helpers = recorded(pack_dir)
        assert set(helpers) == {"in-group", "own-session", "daemon"}, "the pack's helpers never started"
        assert survivors(pack_dir)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        groups = {pgid for _, pgid, _ in helpers.values()}
        left = wait_until_gone(pack_dir, groups, 3.0)
        assert not left, "processes of the pack outlived a killed preflight:\n" + "\n".join(left)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_leftovers(pack_dir)
