"""How fast is `preflight plan`, against the SDK's own floor?

For N object stores (N cells cycling AWS, Azure and GCP) this plans a synthetic
spec through the real program, then registers the very same custom resources
(same types, names and inputs, taken from that plan) directly with
`pulumi.CustomResource` under the same mock runtime: the floor, the SDK's own
per-resource cost with no component logic at all. Each measurement runs in a
fresh process with the cloud SDKs already imported; the best of `--repeat`
runs counts.

    python benchmarks/plan_benchmark.py [--sizes 10 30 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CLOUDS = [("aws", ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"]),
          ("azure", ["eastus", "eastus2", "westus2", "northeurope", "westeurope"]),
          ("gcp", ["us-central1", "us-east1", "us-east4", "europe-west1", "europe-west4"])]

CLASS_LOOKUP = textwrap.dedent('''
    import importlib, re

    PACKAGES = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp"}

    def sdk_class(type_token):
        """The SDK's typed class for a type token (providers included)."""
        if type_token.startswith("pulumi:providers:"):
            return importlib.import_module(PACKAGES[type_token.split(":")[2]]).Provider
        package, module, name = type_token.split(":")
        root = PACKAGES[package]
        mod = importlib.import_module(root if module == "index" else f"{root}.{module.split('/')[0]}")
        return getattr(mod, name)

    def snake(key):
        return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
''')

# The floor: the same custom resources, same names and inputs, through the SDK's own typed
# classes, with no components, validation, tagging or Output plumbing of ours.
FLOOR_PROGRAM = CLASS_LOOKUP + textwrap.dedent('''
    import json
    from pathlib import Path

    for r in json.loads(Path("resources.json").read_text()):
        sdk_class(r["type"])(r["name"], **{snake(k): v for k, v in r["inputs"].items()})
''')

TIMER = CLASS_LOOKUP + textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    from preflight.runtime import plan_stack
    # Load every class the run will use first: lazy SDK imports are not what we measure.
    for r in json.loads(Path(sys.argv[2]).read_text()):
        sdk_class(r["type"])
    start = time.perf_counter()
    result = plan_stack(sys.argv[1], "bench")
    elapsed = time.perf_counter() - start
    custom = [r for r in result.plan["resources"] if r["custom"]]
    print(json.dumps({"seconds": elapsed, "custom": len(custom), "all": len(result.plan["resources"]) - 1}))
    if len(sys.argv) > 3:
        Path(sys.argv[3]).write_text(json.dumps(custom))
''')


def synthetic_config(stores: int) -> dict[str, Any]:
    cells = []
    for i in range(stores):
        cloud, regions = CLOUDS[i % 3]
        cell: dict[str, Any] = {"name": f"{cloud}-c{i:03d}", "cloud": cloud, "region": regions[(i // 3) % 5]}
        if cloud == "gcp":
            cell["project"] = "acme-aiinfra-bench"
        cells.append(cell)
    return {"aiinfra:environment": "prod",
            "aiinfra:tags": {"owner": "ml-platform", "cost-center": "cc-1234"},
            "aiinfra:cells": cells}


def _measure(project: Path, resources: Path, dump: bool = False) -> dict[str, Any]:
    args = [sys.executable, "-c", TIMER, str(project), str(resources)] + ([str(resources)] if dump else [])
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(stores: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ours, floor = Path(tmp, "ours"), Path(tmp, "floor")
        for d in (ours, floor):
            (d / "stacks").mkdir(parents=True)
        (ours / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
        (ours / "__main__.py").write_text((REPO / "__main__.py").read_text())
        (ours / "stacks" / "Pulumi.bench.yaml").write_text(yaml.safe_dump({"config": synthetic_config(stores)}))
        (floor / "Pulumi.yaml").write_text("name: floor\nruntime: python\nstackConfigDir: stacks\n")
        (floor / "__main__.py").write_text(FLOOR_PROGRAM)
        (floor / "stacks" / "Pulumi.bench.yaml").write_text("config: {}\n")
        resources = floor / "resources.json"
        resources.write_text("[]")
        _measure(ours, resources, dump=True)  # learn the resources (and warm the disk cache)
        runs = [_measure(ours, resources) for _ in range(repeat)]
        floor_runs = [_measure(floor, resources) for _ in range(repeat)]
    best, best_floor = min(runs, key=lambda r: r["seconds"]), min(floor_runs, key=lambda r: r["seconds"])
    assert best["custom"] == best_floor["custom"], (best, best_floor)
    return {
        "stores": stores,
        "custom_resources": best["custom"],
        "all_registrations": best["all"],
        "ours_ms": best["seconds"] * 1000,
        "floor_ms": best_floor["seconds"] * 1000,
        "ours_ms_per_resource": best["seconds"] * 1000 / best["custom"],
        "floor_ms_per_resource": best_floor["seconds"] * 1000 / best_floor["custom"],
        "ratio": best["seconds"] / best_floor["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [bench(n, args.repeat) for n in args.sizes]
    print("| object stores | cloud resources | registrations (with components, providers) "
          "| plan ms | ms/resource | floor ms/resource | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['stores']} | {r['custom_resources']} | {r['all_registrations']} | {r['ours_ms']:.0f} "
              f"| {r['ours_ms_per_resource']:.2f} | {r['floor_ms_per_resource']:.2f} | {r['ratio']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
