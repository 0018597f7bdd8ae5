"""Shared test helpers: run preflight as users do and read its plans, in this process.

Starting a Python process that imports the cloud SDKs costs about 5 s, more than
most plans, so the suite runs preflight's command line in-process (`cli.main`, the
same argument parsing, output and exit codes) and plans each distinct program and
stack file once per session. Tests about the process itself (exit at once, signals,
byte-identical plans across processes) pass `in_subprocess=True`.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from preflight import cli
from preflight import plan as plan_io
from preflight import runtime
from preflight.project import ProjectError, load_project

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class CliResult:
    """What a `preflight` command did: its exit code and what it printed."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


# -- planning once per program and stack file ---------------------------------------------------

_PLANS: dict[tuple[Any, ...], runtime.PlanResult | runtime.ProgramError] = {}
_uncached_plan_stack: Callable[..., runtime.PlanResult] = runtime.plan_stack


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(str(path).encode())
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
    return h.hexdigest()


def cached_plan_stack(cwd: Path | str, stack: str,
                      stack_outputs: dict[str, dict[str, Any]] | None = None) -> runtime.PlanResult:
    """`runtime.plan_stack`, once per (project, stack, content of its program and stack files):
    later calls get a copy of the first result (or the same error)."""
    try:
        project = load_project(cwd)
    except ProjectError:
        return _uncached_plan_stack(cwd, stack, stack_outputs)
    key = (str(project.directory), stack, json.dumps(stack_outputs, sort_keys=True),
           _digest(project.directory / "Pulumi.yaml", project.main, project.stack_file(stack)))
    if key not in _PLANS:
        try:
            _PLANS[key] = _uncached_plan_stack(cwd, stack, stack_outputs)
        except runtime.ProgramError as exc:
            _PLANS[key] = exc
    found = _PLANS[key]
    if isinstance(found, runtime.ProgramError):
        raise found
    return runtime.PlanResult(copy.deepcopy(found.plan), found.recording, found.config)


@pytest.fixture(autouse=True, scope="session")
def _plans_once_per_session() -> Iterator[None]:
    """Every in-process command plans through the session's cache."""
    original = cli.plan_stack
    cli.plan_stack = cached_plan_stack
    try:
        yield
    finally:
        cli.plan_stack = original


# -- the command line ---------------------------------------------------------------------------

@contextlib.contextmanager
def _process_state(cwd: Path, env: dict[str, str] | None) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        os.chdir(cwd)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)


def run_preflight(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
                  timeout: int = 300, in_subprocess: bool = False, merged: bool = False) -> CliResult:
    """`preflight ARGS` as a user runs it: exit code, standard output and error.

    In this process by default (`cli.main`, plans shared through the session cache); with
    `in_subprocess=True`, `python -m preflight ARGS` in a fresh process. `merged=True` puts both
    streams in `stdout`, in the order printed, as a terminal shows them."""
    argv = [str(a) for a in args]
    if in_subprocess:
        proc = subprocess.run([sys.executable, "-m", "preflight", *argv], cwd=cwd or REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                              timeout=timeout, env=env)
        return CliResult(argv, proc.returncode, proc.stdout, proc.stderr or "")
    out = io.StringIO()
    err = out if merged else io.StringIO()
    with _process_state(cwd or REPO, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return CliResult(argv, code, out.getvalue(), "" if merged else err.getvalue())


def plan_json(stack: str, project: Path = REPO, tmp: Path | None = None) -> dict[str, Any]:
    """The plan JSON of `stack`, exactly as `preflight plan --json` writes it."""
    result = cached_plan_stack(project, stack)
    return json.loads(plan_io.dumps(result.plan))


@pytest.fixture(scope="session")
def plans() -> dict[str, dict[str, Any]]:
    """The plan of every shipped stack."""
    return {stack: plan_json(stack) for stack in ("dev", "staging", "prod")}


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

    def plan(self, stack: str, *extra: str) -> CliResult:
        return run_preflight("plan", stack, "--cwd", self.root, *extra)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[ScratchProject]:
    yield ScratchProject(tmp_path)


def registry_config() -> dict[str, Any]:
    """The shipped dev stack's Docker Hub credentials for the image caches (`aiinfra:images` and the
    `aiinfra:secrets` entry its token names): what a cluster-mode endpoint on Docker Hub's vLLM needs."""
    shipped = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    return {key: shipped[key] for key in ("aiinfra:images", "aiinfra:secrets")}


def base_config(**overrides: Any) -> dict[str, Any]:
    """A valid one-cell dev config to break in one place."""
    config: dict[str, Any] = {
        "aiinfra:environment": "dev",
        "aiinfra:tags": {"owner": "ml-platform", "cost-center": "cc-1234"},
        "aiinfra:cells": [{"name": "aws-use1", "cloud": "aws", "region": "us-east-1"}],
    }
    config.update(overrides)
    return config
