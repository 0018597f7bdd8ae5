"""Does `preflight plan` stay linear? Milliseconds per resource at 10, 50 and 100 full cells.

Plans synthetic environments (`synthetic_spec.py`: about 60 cloud resources per cell)
and reports, per size, the plan's time per cloud resource and the process's peak memory.
Each measurement is a fresh process that first plans a three-cell stack (so the cloud SDKs'
lazy imports are not counted), then the size measured. Sizes alternate within each
round, `--repeat` rounds, and the best time counts: on a shared machine a run is only
ever slowed down by its neighbours. The last column is each size's best ms per resource
over the smallest size's: linear cost is 1.0; the target is at most 1.3.

    python benchmarks/scale_benchmark.py [--sizes 10 50 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_spec import REPO, write_project  # noqa: E402 - after the path is set

TIMER = textwrap.dedent('''
    import gc, json, os, resource, sys, time
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    from preflight.runtime import plan_stack
    gc.disable()  # as the `preflight` command runs (preflight.cli.run)
    plan_stack(sys.argv[1], "c3")  # the SDKs' imports (one cell per cloud), once
    start = time.perf_counter()
    result = plan_stack(sys.argv[1], sys.argv[2])
    elapsed = time.perf_counter() - start
    custom = sum(1 for r in result.plan["resources"] if r["custom"])
    print(json.dumps({"seconds": elapsed, "resources": custom,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
''')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100], help="cells per environment")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="preflight-scale-") as scratch:
        project = write_project(Path(scratch), [3, *args.sizes])
        runs: dict[int, list[dict[str, float]]] = {n: [] for n in args.sizes}
        for _ in range(args.repeat):
            for n in args.sizes:
                proc = subprocess.run([sys.executable, "-c", TIMER, str(project), f"c{n}"], cwd=REPO,
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"{n} cells failed:\n{proc.stderr}")
                runs[n].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base = None
    print(f"{'cells':>5} {'cloud resources':>15} {'best s':>7} {'ms/resource':>11} {'median ms/res':>13} "
          f"{'peak MB':>8} {'MB/resource':>11} {'vs smallest':>11}")
    for n in args.sizes:
        per = sorted(1000 * r["seconds"] / r["resources"] for r in runs[n])
        resources = int(runs[n][0]["resources"])
        rss = min(r["rss_mb"] for r in runs[n])
        base = base or per[0]
        print(f"{n:>5} {resources:>15} {min(r['seconds'] for r in runs[n]):>7.2f} {per[0]:>11.2f} "
              f"{per[len(per) // 2]:>13.2f} {rss:>8.0f} {rss / resources:>11.3f} {per[0] / base:>11.2f}")


if __name__ == "__main__":
    main()
