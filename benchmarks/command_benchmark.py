"""Whole `preflight` commands, this work tree against a git ref, alternating in one run.

For each command (default: `plan prod` and `check prod`), runs it in a fresh process from
a temporary worktree of `--base` and from this work tree, alternately, `--repeat` times
each, and reports the best and the median wall time and the CPU time (user + system) of
each side. Alternating in one run means both sides meet the same machine: on a shared
virtual machine a run is only ever slowed down by its neighbours, so the best of several
is the closest to the work itself, and the medians show the spread.

    python benchmarks/command_benchmark.py --base 80cb535 [--repeat 7] [--command "plan prod" ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(tree: Path, command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one command from `tree`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "preflight", *command, "--cwd", str(tree)], cwd=tree,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} in {tree} failed ({proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="git ref to compare with (e.g. origin/main)")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each side per command (default 7)")
    parser.add_argument("--command", action="append", help='a command, e.g. "plan prod" (repeatable)')
    args = parser.parse_args()
    commands = [c.split() for c in (args.command or ["plan prod", "check prod"])]
    scratch = Path(tempfile.mkdtemp(prefix="preflight-bench-"))
    base = scratch / "base"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(base), args.base], cwd=REPO, check=True)
    try:
        print(f"{'command':<12} {'side':<10} {'best s':>7} {'median s':>9} {'CPU best s':>11} {'CPU median s':>13}")
        for command in commands:
            runs: dict[str, list[tuple[float, float]]] = {"base": [], "this tree": []}
            for _ in range(args.repeat):
                runs["base"].append(_run(base, command))
                runs["this tree"].append(_run(REPO, command))
            for side, found in runs.items():
                walls, cpus = [w for w, _ in found], [c for _, c in found]
                print(f"{' '.join(command):<12} {side:<10} {min(walls):7.2f} {statistics.median(walls):9.2f} "
                      f"{min(cpus):11.2f} {statistics.median(cpus):13.2f}")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main()
