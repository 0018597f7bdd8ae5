"""The recording monitor answers as the engine does: transforms in the engine's order, invoke
transforms, and invokes answered without re-entering the event loop."""

from __future__ import annotations

from tests.conftest import FIXTURES, by_urn, plan_json, run_preflight


def _by_name(plan: dict) -> dict[str, dict]:
    return {r["name"]: r for r in by_urn(plan).values()}


def test_transforms_run_own_then_each_ancestor_then_the_stack() -> None:
    """pulumi/pulumi source_eval.go RegisterResource: own transforms, the parent's, the grandparent's...,
    then the stack's, each seeing the previous one's result."""
    resources = _by_name(plan_json("dev", FIXTURES / "transforms"))
    assert resources["outer-inner-bucket"]["inputs"]["tags"] == {"order": "own,inner,outer,stack"}
    assert resources["outer-inner-plain"]["inputs"]["tags"] == {"order": "inner,outer,stack"}
    assert resources["top"]["inputs"]["tags"] == {"order": "stack"}


def test_options_a_transform_returns_are_the_ones_recorded() -> None:
    resources = _by_name(plan_json("dev", FIXTURES / "transforms"))
    changed, plain = resources["outer-inner-bucket"]["options"], resources["outer-inner-plain"]["options"]
    assert (changed["protect"], changed["ignoreChanges"]) == (True, ["tags"])
    assert (plain["protect"], plain["ignoreChanges"]) == (None, [])


def test_invoke_transforms_change_what_the_data_source_is_asked() -> None:
    # The stack's region is eu-west-1; the invoke transform asks for ap-south-1.
    assert plan_json("dev", FIXTURES / "transforms")["outputs"] == {"region": "ap-south-1"}


def test_hundreds_of_invoke_outputs_plan_without_recursion() -> None:
    """Each invoke is answered at once; nothing re-enters the running loop (it once nested about 30 frames
    per pending invoke, and failed with RecursionError past about 90)."""
    proc = run_preflight("plan", "dev", "--cwd", FIXTURES / "invokes")
    assert proc.returncode == 0, proc.stderr
    assert "300 cloud resources" in proc.stdout
    plan = plan_json("dev", FIXTURES / "invokes")
    names = {r["inputs"]["bucket"] for r in plan["resources"] if r["type"] == "aws:s3/bucket:Bucket"}
    assert names == {f"fx-123456789012-{i}" for i in range(300)}
