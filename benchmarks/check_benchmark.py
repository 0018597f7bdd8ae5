"""How long does `preflight check` take, and how much of it is the policy pack?

Runs `preflight check STACK --json` in fresh processes (as CI does) and reads the
timing the command reports: `plan_seconds` (the offline plan), `policy_seconds`
(protocol set-up, Analyze per resource, AnalyzeStack) and, inside it, the
Analyze+AnalyzeStack time per resource. The pack starts before the plan, so its
start-up overlaps planning; `pack_start_seconds` shows how long it took. Best of
`--repeat` runs per figure.

    python benchmarks/check_benchmark.py [--stack prod] [--repeat 3] [--policy-pack DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FALLBACK_PACK = REPO / "tests" / "fixtures" / "policy_packs" / "basic"


def default_pack() -> Path:
    pack = REPO / "policies"
    return pack if (pack / "PulumiPolicy.yaml").exists() else FALLBACK_PACK


def run_once(stack: str, pack: Path, cwd: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "check.json"
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "preflight", "check", stack, "--cwd", str(cwd),
                               "--policy-pack", str(pack), "--json", str(out)],
                              cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode not in (0, 1) or not out.exists():
            raise SystemExit(f"preflight check {stack} failed ({proc.returncode}):\n{proc.stderr}")
        report = json.loads(out.read_text())
    timing = dict(report["timing"])
    timing["wall_seconds"] = wall
    timing["policies"] = len(report["policies"])
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--cwd", type=Path, default=REPO, help="Pulumi project directory (default: this repo)")
    parser.add_argument("--policy-pack", type=Path, default=None,
                        help="pack directory (default: ./policies, else the tests' basic fixture pack)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the best figures as JSON here")
    args = parser.parse_args()
    pack = (args.policy_pack or default_pack()).resolve()

    runs = [run_once(args.stack, pack, args.cwd) for _ in range(max(1, args.repeat))]
    best = {key: min(r[key] for r in runs if r.get(key) is not None)
            for key in ("wall_seconds", "plan_seconds", "policy_seconds", "analyze_seconds", "pack_start_seconds")
            if any(r.get(key) is not None for r in runs)}
    resources, policies = runs[0]["resources"], runs[0]["policies"]
    best["policy_ms_per_resource"] = 1000 * best["policy_seconds"] / resources
    best["analyze_ms_per_resource"] = 1000 * best["analyze_seconds"] / resources
    best["policy_share"] = best["policy_seconds"] / best["wall_seconds"]

    print(f"preflight check {args.stack}: {resources} resources, {policies} policies "
          f"({pack.relative_to(REPO) if pack.is_relative_to(REPO) else pack}), best of {len(runs)}")
    print()
    print("| part | seconds | ms per resource |")
    print("|---|---:|---:|")
    print(f"| whole command (process start to exit) | {best['wall_seconds']:.2f} | "
          f"{1000 * best['wall_seconds'] / resources:.1f} |")
    print(f"| plan (in-process, SDK mock runtime) | {best['plan_seconds']:.2f} | "
          f"{1000 * best['plan_seconds'] / resources:.1f} |")
    print(f"| policy: set-up + Analyze + AnalyzeStack | {best['policy_seconds']:.3f} | "
          f"{best['policy_ms_per_resource']:.2f} |")
    print(f"| of which Analyze + AnalyzeStack | {best['analyze_seconds']:.3f} | "
          f"{best['analyze_ms_per_resource']:.2f} |")
    if "pack_start_seconds" in best:
        print(f"| pack start-up (overlaps the plan) | {best['pack_start_seconds']:.2f} | |")
    print()
    print(f"policy share of the command: {100 * best['policy_share']:.0f}%")
    if args.json:
        args.json.write_text(json.dumps({"stack": args.stack, "resources": resources, "policies": policies,
                                         **best}, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
