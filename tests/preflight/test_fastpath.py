"""The runtime's fast paths change how much work a plan takes, never what it says."""

from __future__ import annotations

import gc
import json
import sys
import textwrap
from pathlib import Path

import pulumi
import pulumi.log
import pulumi.resource
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


def _fails_alike(project: Path, message: str) -> None:
    """The plan fails with `message` on the fast paths and on the SDK's own."""
    for fast in (True, False):
        with pytest.raises(ProgramError, match=message):
            plan_stack(project, "dev", fast=fast)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plans_are_identical_with_and_without_the_fast_paths(stack: str) -> None:
    fast = plan_stack(REPO, stack)
    sdk = plan_stack(REPO, stack, fast=False)
    assert dumps(fast.plan) == dumps(sdk.plan)
    assert fast.recording.logs == sdk.recording.logs


def test_the_sdk_is_restored_and_the_collector_resumes(tmp_path: Path) -> None:
    replaced = [(sdk_resource, "_get_stack_trace"), (sdk_resource, "create_urn"), (sdk_resource, "wait_for_rpcs"),
                (pulumi.resource, "collapse_alias_to_urn"), (pulumi.log, "debug"),
                (fastpath.pulumi_types, "resource_types")]
    before = [getattr(module, name, None) for module, name in replaced]
    assert gc.isenabled()
    plan_stack(_project(tmp_path / "p", "import pulumi\npulumi.export('x', 1)\n"), "dev")
    assert gc.isenabled()
    assert [getattr(module, name, None) for module, name in replaced] == before


def test_aliases_reach_the_plan_as_with_the_sdk(tmp_path: Path) -> None:
    # Aliases of every form, on parents and children, including the typed classes' own.
    program = '''
        import pulumi
        import pulumi_aws as aws

        parent = pulumi.ComponentResource("test:index:Parent", "renamed", None, pulumi.ResourceOptions(
            aliases=[pulumi.Alias(name="old-parent"), "urn:pulumi:dev::fast::test:index:Older::older"]))
        child = pulumi.ComponentResource("test:index:Child", "renamed-child", None, pulumi.ResourceOptions(
            parent=parent, aliases=[pulumi.Alias(type_="test:index:OldChild"), pulumi.Alias(parent=None)]))
        aws.s3.Bucket("renamed-bucket", opts=pulumi.ResourceOptions(
            parent=child, aliases=[pulumi.Alias(name="old-bucket", project="other", stack="other")]))
    '''
    project = _project(tmp_path / "p", program)
    fast, sdk = plan_stack(project, "dev"), plan_stack(project, "dev", fast=False)
    assert dumps(fast.plan) == dumps(sdk.plan)
    aliases = {r["name"]: r["options"]["aliases"] for r in fast.plan["resources"]}
    assert "name=old-parent" in aliases["renamed"]
    assert "urn:pulumi:dev::fast::test:index:Older::older" in aliases["renamed"]
    assert "noParent=true" in aliases["renamed-child"]
    assert any("type=aws:s3/bucketV2:BucketV2" in a for a in aliases["renamed-bucket"])


def test_an_alias_the_sdk_rejects_fails_the_plan_as_with_the_sdk(tmp_path: Path) -> None:
    program = '''
        import pulumi
        pulumi.ComponentResource("test:index:T", "t", None,
                                 pulumi.ResourceOptions(aliases=[pulumi.Alias(name=None)]))
    '''
    _fails_alike(_project(tmp_path / "p", program), "No valid 'name' passed in for alias")


def test_calls_given_an_executor_of_their_own_still_run_on_it(tmp_path: Path) -> None:
    program = '''
        import asyncio, threading
        from concurrent.futures import ThreadPoolExecutor
        import pulumi

        async def where():
            loop = asyncio.get_running_loop()
            default = await loop.run_in_executor(None, lambda: threading.current_thread().name)
            with ThreadPoolExecutor(1, thread_name_prefix="own") as pool:
                own = await loop.run_in_executor(pool, lambda: threading.current_thread().name)
            return [default, own]

        pulumi.export("threads", pulumi.Output.from_input(asyncio.ensure_future(where())))
    '''
    default, own = plan_stack(_project(tmp_path / "p", program), "dev").plan["outputs"]["threads"]
    assert default == "MainThread"
    assert own.startswith("own")


def test_stack_traces_keep_the_sdks_source_position(tmp_path: Path) -> None:
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
        # The first frame is the resource's source position; the monitor reads no more.
        assert list(fast_trace.frames) == list(sdk_trace.frames[:1])
    assert len(cases[1][0].frames) == len(cases[0][0].frames) + 4
    assert cases[0][1].frames[0].pc.line == cases[1][1].frames[0].pc.line > 0
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
    _fails_alike(_project(tmp_path / "p", program), "bucket name rejected")


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


def test_every_fast_path_is_on_with_the_installed_sdk() -> None:
    # An SDK update that switches one off makes plans slower without changing them: say so here.
    with fastpath.engaged() as in_use:
        assert in_use == ["quiescence", "create-urn", "stack-trace", "alias-urns", "debug-logs",
                          "resource-types", "gc-paused"]


def test_each_fast_path_stays_off_when_the_sdk_does_not_look_as_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sdk_resource, "_get_stack_trace")
    monkeypatch.setattr(fastpath, "_sdk_create_urn", None)
    monkeypatch.setattr(fastpath, "_sdk_collapse_alias_to_urn", None)
    monkeypatch.delattr(fastpath.pulumi_types, "resource_types")
    with fastpath.engaged() as in_use:
        assert in_use == ["quiescence", "debug-logs", "gc-paused"]
