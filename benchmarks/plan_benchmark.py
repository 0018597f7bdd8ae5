"""How fast is `preflight plan`, against the SDK's own floor?

For N object stores (N cells cycling AWS, Azure and GCP) this plans a synthetic
spec through the real program, then registers the very same custom resources
(same types, names and inputs, taken from that plan) directly with
`pulumi.CustomResource` under the same mock runtime: the floor, the SDK's own
per-resource cost with no component logic at all. Each measurement runs in a
fresh process with the cloud SDKs already imported; the program's library
(`components`, with pydantic) is then imported and timed on its own, as a
once-per-process cost; the plan is timed after it, with cyclic garbage
collection off for the process as the `preflight` command runs. Runs of ours and of the
floor alternate and the best of `--repeat` counts: on a shared machine a run is only ever
slowed down by its neighbours, so the fastest of several is the closest to the work itself.

`--instructions` also counts the instructions each plan executes under Valgrind's callgrind
(needs `valgrind`, its `valgrind/callgrind.h` and a C compiler). Counts do not depend on
what else the machine is doing: the same program gives the same count to within 0.1%, so
their ratio is the steadiest measure of the work a plan adds to the floor. It is slow
(about 50x), so it runs once per program and size.

    python benchmarks/plan_benchmark.py [--sizes 10 30 100] [--repeat 9] [--instructions]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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
        if r["custom"]:
            sdk_class(r["type"])(r["name"], **{snake(k): v for k, v in r["inputs"].items()})
''')

# Not the target's floor, but where the rest of the gap lies: the same tree (components with
# their outputs, parents, explicit providers, dependencies, protect/retain) registered through
# the SDK directly. What ours costs beyond this is the library's own Python.
TREE_PROGRAM = CLASS_LOOKUP + textwrap.dedent('''
    import json
    from pathlib import Path
    import pulumi

    resources = [r for r in json.loads(Path("resources.json").read_text()) if r["type"] != "pulumi:pulumi:Stack"]
    by_urn = {r["urn"]: r for r in resources}
    made = {}

    def make(r):
        if r["urn"] in made:
            return made[r["urn"]]
        parent = make(by_urn[r["parent"]]) if r["parent"] in by_urn else None
        provider_urn = (r["provider"] or "").rsplit("::", 1)[0]
        provider = make(by_urn[provider_urn]) if r["custom"] and provider_urn in by_urn else None
        opts = pulumi.ResourceOptions(
            parent=parent, provider=provider, protect=r["options"]["protect"],
            retain_on_delete=r["options"]["retainOnDelete"],
            depends_on=[make(by_urn[d]) for d in r["dependencies"] if d in by_urn])
        if r["custom"]:
            made[r["urn"]] = sdk_class(r["type"])(r["name"], opts=opts, **{snake(k): v for k, v in r["inputs"].items()})
        else:
            made[r["urn"]] = pulumi.ComponentResource(r["type"], r["name"], None, opts)
            made[r["urn"]].register_outputs(r.get("outputs") or {})
        return made[r["urn"]]

    for r in resources:
        make(r)
''')

TIMER = CLASS_LOOKUP + textwrap.dedent('''
    import ctypes, gc, importlib, json, os, sys, time
    from pathlib import Path
    from preflight.runtime import plan_stack
    gc.disable()  # as the `preflight` command runs (preflight.cli.run)
    # Load every class the run will use first: lazy SDK imports are not what we measure.
    for r in json.loads(Path(sys.argv[2]).read_text()):
        if r["custom"]:
            sdk_class(r["type"])
    # The program's own library is imported once per process whatever the size: timed on its own.
    sys.path.insert(0, sys.argv[1])
    start = time.perf_counter()
    for module in filter(None, sys.argv[3].split(",")):
        importlib.import_module(module)
    imported = time.perf_counter() - start
    # Under callgrind, count the plan's instructions only (see CALLGRIND_TOGGLE below).
    counter = ctypes.CDLL(os.environ["BENCH_CALLGRIND_TOGGLE"]) if os.environ.get("BENCH_CALLGRIND_TOGGLE") else None
    if counter is not None:
        counter.plan_started()
    start = time.perf_counter()
    result = plan_stack(sys.argv[1], "bench")
    elapsed = time.perf_counter() - start
    if counter is not None:
        counter.plan_finished()
    custom = [r for r in result.plan["resources"] if r["custom"]]
    print(json.dumps({"seconds": elapsed, "import_seconds": imported, "custom": len(custom),
                      "all": len(result.plan["resources"]) - 1}))
    if len(sys.argv) > 4:
        Path(sys.argv[4]).write_text(json.dumps(result.plan["resources"]))
''')

# Two calls the timer makes around the plan when run under callgrind: instructions are counted
# between them only (not while Python starts or the SDKs are imported).
CALLGRIND_TOGGLE = textwrap.dedent('''
    #include <valgrind/callgrind.h>
    void plan_started(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; CALLGRIND_TOGGLE_COLLECT; }
    void plan_finished(void) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT("plan"); CALLGRIND_STOP_INSTRUMENTATION; }
''')

# What our program imports before it builds anything (see __main__.py).
LIBRARY_MODULES = "components.deployment,components.spec"


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


def _project(directory: Path, program: str, stack_yaml: str = "config: {}\n") -> Path:
    (directory / "stacks").mkdir(parents=True)
    (directory / "Pulumi.yaml").write_text(
        (REPO / "Pulumi.yaml").read_text() if directory.name == "ours"
        else f"name: {directory.name}\nruntime: python\nstackConfigDir: stacks\n")
    (directory / "__main__.py").write_text(program)
    (directory / "stacks" / "Pulumi.bench.yaml").write_text(stack_yaml)
    return directory


def _measure(project: Path, resources: Path, modules: str = "", dump: bool = False) -> dict[str, Any]:
    args = [sys.executable, "-c", TIMER, str(project), str(resources), modules] + ([str(resources)] if dump else [])
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build_callgrind_toggle(directory: Path) -> Path | None:
    """The shared library with the two callgrind calls, or None (with the reason printed) if this
    machine cannot count instructions."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if shutil.which("valgrind") is None or compiler is None:
        print("--instructions: needs valgrind and a C compiler; skipped", file=sys.stderr)
        return None
    source, library = directory / "callgrind_toggle.c", directory / "callgrind_toggle.so"
    source.write_text(CALLGRIND_TOGGLE)
    built = subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(source)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        print(f"--instructions: cannot build the callgrind calls (valgrind/callgrind.h missing?): "
              f"{built.stderr.strip()}; skipped", file=sys.stderr)
        return None
    return library


def _count_instructions(project: Path, resources: Path, toggle: Path, modules: str = "") -> int:
    """Instructions the plan executes, from callgrind's own summary."""
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
             f"--callgrind-out-file={out}/callgrind.%p", sys.executable, "-c", TIMER,
             str(project), str(resources), modules],
            capture_output=True, text=True, cwd=REPO, env={**os.environ, "BENCH_CALLGRIND_TOGGLE": str(toggle)})
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run of {project.name} failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def bench(stores: int, repeat: int, toggle: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ours = _project(Path(tmp, "ours"), (REPO / "__main__.py").read_text(),
                        yaml.safe_dump({"config": synthetic_config(stores)}))
        floor = _project(Path(tmp, "floor"), FLOOR_PROGRAM)
        tree = _project(Path(tmp, "tree"), TREE_PROGRAM)
        resources = Path(tmp, "resources.json")
        resources.write_text("[]")
        _measure(ours, resources, LIBRARY_MODULES, dump=True)  # learn the resources (and warm the disk cache)
        for d in (floor, tree):
            (d / "resources.json").write_text(resources.read_text())
        runs, floor_runs, tree_runs = [], [], []
        for _ in range(repeat):  # interleaved, so a noisy moment hits every side alike
            runs.append(_measure(ours, resources, LIBRARY_MODULES))
            floor_runs.append(_measure(floor, resources))
            tree_runs.append(_measure(tree, resources))
        instructions: dict[str, int] = {}
        if toggle is not None:
            for side, project, modules in (("ours", ours, LIBRARY_MODULES), ("floor", floor, ""), ("tree", tree, "")):
                instructions[side] = _count_instructions(project, resources, toggle, modules)
    best, best_floor, best_tree = (min(r, key=lambda x: x["seconds"]) for r in (runs, floor_runs, tree_runs))
    assert best["custom"] == best_floor["custom"] == best_tree["custom"], (best, best_floor, best_tree)
    assert best["all"] == best_tree["all"], (best, best_tree)
    counted = {}
    if instructions:
        counted = {
            "instructions_per_resource": instructions["ours"] / best["custom"],
            "floor_instructions_per_resource": instructions["floor"] / best["custom"],
            "instruction_ratio": instructions["ours"] / instructions["floor"],
            "tree_instruction_ratio": instructions["tree"] / instructions["floor"],
        }
    return {
        **counted,
        "stores": stores,
        "runs": repeat,
        "custom_resources": best["custom"],
        "all_registrations": best["all"],
        "import_ms": min(r["import_seconds"] for r in runs) * 1000,
        "ours_ms": best["seconds"] * 1000,
        "floor_ms": best_floor["seconds"] * 1000,
        "ours_ms_per_resource": best["seconds"] * 1000 / best["custom"],
        "floor_ms_per_resource": best_floor["seconds"] * 1000 / best_floor["custom"],
        "ratio": best["seconds"] / best_floor["seconds"],
        "tree_ms": best_tree["seconds"] * 1000,
        "tree_ratio": best_tree["seconds"] / best_floor["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per program and size (best counts)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count each plan's instructions under callgrind (slow; needs valgrind)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        toggle = build_callgrind_toggle(Path(tmp)) if args.instructions else None
        rows = [bench(n, args.repeat, toggle) for n in args.sizes]
    print("| object stores | cloud resources | registrations (with components, providers) "
          "| library import ms (once) | plan ms | ms/resource | floor ms/resource | ratio "
          "| same tree via the SDK: ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['stores']} | {r['custom_resources']} | {r['all_registrations']} | {r['import_ms']:.0f} "
              f"| {r['ours_ms']:.0f} | {r['ours_ms_per_resource']:.2f} | {r['floor_ms_per_resource']:.2f} "
              f"| {r['ratio']:.2f} | {r['tree_ratio']:.2f} |")
    if any("instruction_ratio" in r for r in rows):
        print()
        print("| object stores | instructions per resource (millions) | floor | ratio | same tree via the SDK: ratio |")
        print("|---:|---:|---:|---:|---:|")
        for r in rows:
            if "instruction_ratio" in r:
                print(f"| {r['stores']} | {r['instructions_per_resource'] / 1e6:.2f} "
                      f"| {r['floor_instructions_per_resource'] / 1e6:.2f} | {r['instruction_ratio']:.3f} "
                      f"| {r['tree_instruction_ratio']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
