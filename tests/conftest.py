"""Shared test helpers: run preflight as users do (a subprocess) and read its plans."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def run_preflight(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
                  timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """`python -m preflight ARGS` in a fresh process, like a user or CI would run it."""
    return subprocess.run([sys.executable, "-m", "preflight", *map(str, args)], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout, env=env)


def plan_json(stack: str, project: Path = REPO, tmp: Path | None = None) -> dict[str, Any]:
    out = (tmp or Path(project)) / f".plan-{stack}.json"
    proc = run_preflight("plan", stack, "--cwd", project, "--json", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The plan of every shipped stack, each from its own preflight process."""
    tmp = tmp_path_factory.mktemp("plans")
    return {stack: plan_json(stack, tmp=tmp) for stack in ("dev", "staging", "prod")}


def of_type(plan: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_token]


def every(plan: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
    """All resources of `type_token`, failing when there are none: a loop over none asserts nothing."""
    found = of_type(plan, type_token)
    assert found, f"no {type_token} in the plan"
    return found


def by_urn(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in plan["resources"]}


def ancestors(plan: dict[str, Any], resource: dict[str, Any]) -> list[dict[str, Any]]:
    index = by_urn(plan)
    chain = []
    parent = resource["parent"]
    while parent:
        chain.append(index[parent])
        parent = index[parent]["parent"]
    return chain


def cell_of(plan: dict[str, Any], resource: dict[str, Any]) -> str | None:
    for a in ancestors(plan, resource):
        if a["type"] == "aiinfra:index:Cell":
            return a["name"]
    return None


class ScratchProject:
    """A copy of this project's program with a stack file the test writes."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
        shutil.copy(REPO / "__main__.py", root / "__main__.py")
        (root / "stacks").mkdir()

    def write_stack(self, stack: str, config: dict[str, Any]) -> None:
        (self.root / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))

    def plan(self, stack: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return run_preflight("plan", stack, "--cwd", self.root, *extra)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[ScratchProject]:
    yield ScratchProject(tmp_path)


def base_config(**overrides: Any) -> dict[str, Any]:
    """A valid one-cell dev config to break in one place."""
    config: dict[str, Any] = {
        "aiinfra:environment": "dev",
        "aiinfra:tags": {"owner": "ml-platform", "cost-center": "cc-1234"},
        "aiinfra:cells": [{"name": "aws-use1", "cloud": "aws", "region": "us-east-1"}],
    }
    config.update(overrides)
    return config
