"""The runtime's fast paths change how much work a plan takes, never what it says."""

from __future__ import annotations

import gc
import json
import sys
import textwrap
from pathlib import Path

import pytest
from pulumi.runtime import resource as sdk_resource

from preflight import fastpath
from preflight.plan import dumps
from preflight.runtime import ProgramError, plan_stack
from tests.conftest import REPO


def _project(root: Path, program: str) -> Path:
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: fast\nruntime: python\nstackConfigDir: stacks\n")
    (root / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    (root / "__main__.py").write_text(textwrap.dedent(program))
    return root


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plans_are_identical_with_and_without_the_fast_paths(stack: str) -> None:
    fast = plan_stack(REPO, stack)
    sdk = plan_stack(REPO, stack, fast=False)
    assert dumps(fast.plan) == dumps(sdk.plan)
    assert fast.recording.logs == sdk.recording.logs


def test_the_sdk_is_restored_and_the_collector_resumes(tmp_path: Path) -> None:
    sdk_stack_trace, sdk_create_urn = sdk_resource._get_stack_trace, sdk_resource.create_urn  # pyright: ignore[reportPrivateUsage]
    assert gc.isenabled()
    plan_stack(_project(tmp_path / "p", "import pulumi\npulumi.export('x', 1)\n"), "dev")
    assert gc.isenabled()
    assert sdk_resource._get_stack_trace is sdk_stack_trace  # pyright: ignore[reportPrivateUsage]
    assert sdk_resource.create_urn is sdk_create_urn


def test_stack_traces_are_the_sdks_own(tmp_path: Path) -> None:
    # Constructors nested like a resource class hierarchy under user code at several depths.
    (tmp_path / "nested_resources.py").write_text(textwrap.dedent('''
        from pulumi.runtime import resource as sdk
        from preflight import fastpath

        class Resource:
            def __init__(self):
                self.traces = (sdk._get_stack_trace(), fastpath.stack_trace())

        class CustomResource(Resource):
            def __init__(self):
                super().__init__()

        class Bucket(CustomResource):
            def __init__(self):
                super().__init__()

        class Store:
            def __init__(self):
                self.traces = Bucket().traces

        def user(depth):
            return user(depth - 1) if depth else Store().traces

        def too_shallow():
            return CustomResource().traces
    '''))
    sys.path.insert(0, str(tmp_path))
    try:
        import nested_resources  # pyright: ignore[reportMissingImports]
        cases = [nested_resources.user(0), nested_resources.user(4), nested_resources.too_shallow()]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("nested_resources", None)
    for sdk_trace, fast_trace in cases:
        assert fast_trace == sdk_trace
    assert len(cases[1][0].frames) == len(cases[0][0].frames) + 4
    assert cases[0][0].frames[0].pc.uri == (tmp_path / "nested_resources.py").as_uri()
    assert len(cases[2][0].frames) == 0


def test_client_side_urns_are_the_sdks_own(tmp_path: Path) -> None:
    program = '''
        import pulumi
        from preflight import fastpath

        parent = pulumi.ComponentResource("test:index:Parent", "parent")
        child = pulumi.ComponentResource("test:index:Child", "child", None, pulumi.ResourceOptions(parent=parent))
        cases = {
            "root": ("n", "test:index:T", None),
            "explicit-stack": ("n", "test:index:T", None, "other-project", "other-stack"),
            "urn-parent": ("n", "test:index:T", "urn:pulumi:dev::fast::test:index:Parent::parent"),
            "resource-parent": ("n", "test:index:T", parent),
            "nested-parent": ("n", "test:index:T", child),
            "output-name": (pulumi.Output.from_input("n"), "test:index:T", child),
        }
        for key, args in cases.items():
            pulumi.export(key, pulumi.Output.all(fastpath._sdk_create_urn(*args), fastpath.create_urn(*args)))
    '''
    outputs = plan_stack(_project(tmp_path / "p", program), "dev").plan["outputs"]
    assert len(outputs) == 6
    for key, (sdk_urn, fast_urn) in outputs.items():
        assert fast_urn == sdk_urn, key
    assert outputs["nested-parent"][0] == "urn:pulumi:dev::fast::test:index:Parent$test:index:Child$test:index:T::n"


def test_a_failed_output_fails_the_plan_as_with_the_sdk(tmp_path: Path) -> None:
    program = '''
        import pulumi
        def explode(_):
            raise ValueError("bucket name rejected")
        pulumi.Output.from_input("x").apply(lambda v: v).apply(explode)
    '''
    project = _project(tmp_path / "p", program)
    for fast in (True, False):
        with pytest.raises(ProgramError, match="bucket name rejected"):
            plan_stack(project, "dev", fast=fast)


def test_outputs_created_while_waiting_are_waited_for(tmp_path: Path) -> None:
    # Each apply registers a resource whose output feeds the next: a chain of dependency waves,
    # every one created after the program body returned.
    program = '''
        import pulumi

        def chain(depth):
            resource = pulumi.ComponentResource("test:index:Link", f"link-{depth}")
            resource.register_outputs({"depth": depth})
            if depth < 25:
                resource.urn.apply(lambda _: chain(depth + 1))

        pulumi.Output.from_input(0).apply(chain)
    '''
    project = _project(tmp_path / "p", program)
    fast, sdk = plan_stack(project, "dev"), plan_stack(project, "dev", fast=False)
    names = sorted(r["name"] for r in fast.plan["resources"] if r["type"] == "test:index:Link")
    assert len(names) == 26
    assert json.dumps(fast.plan, sort_keys=True) == json.dumps(sdk.plan, sort_keys=True)


def test_each_fast_path_stays_off_when_the_sdk_does_not_look_as_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sdk_resource, "_get_stack_trace")
    monkeypatch.setattr(fastpath, "_sdk_create_urn", None)
    with fastpath.engaged() as in_use:
        assert in_use == ["quiescence", "gc-paused"]
