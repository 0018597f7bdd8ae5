"""Tagging is one transform per front door; nested front doors tag each resource once, with the
innermost front door's tags winning, exactly as if every level tagged."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from preflight.runtime import plan_stack

PROGRAM = '''
import pulumi
from components import Environment
from components.storage import ObjectStore, ObjectStoreArgs, ObjectStoreOptions

team = Environment("dev", {"owner": "ml-platform", "cost-center": "cc-1"})
other = Environment("dev", {"owner": "data-eng", "cost-center": "cc-2", "project": "lake"})


class Wrapper(pulumi.ComponentResource):
    """A front door of the user's own, tagging like ours do, with one store inside."""

    def __init__(self, name, outer, inner, **extra):
        super().__init__("user:index:Wrapper", name, None, outer.tagged(self, None, **extra))
        self.store = ObjectStore(f"{name}-store", ObjectStoreArgs(cloud="aws", region="us-east-1", environment=inner,
                                                                  options=ObjectStoreOptions()),
                                 opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


ObjectStore("alone", ObjectStoreArgs(cloud="aws", region="us-east-1", environment=team, options=ObjectStoreOptions()))
Wrapper("same", team, team, cell="c1")
Wrapper("differs", other, team)
'''


def _tags(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """The tags of every S3 bucket and KMS key, by the top-level name they sit under."""
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: tagging\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    plan = plan_stack(tmp_path, "dev").plan
    found: dict[str, list[dict[str, Any]]] = {}
    for r in plan["resources"]:
        if r["type"] in ("aws:s3/bucket:Bucket", "aws:kms/key:Key"):
            found.setdefault(r["name"].split("-")[0], []).append(r["inputs"]["tags"])
    assert sorted(found) == ["alone", "differs", "same"] and all(len(v) == 2 for v in found.values())
    return found


def test_nested_front_doors_tag_like_each_level_tagged(tmp_path: Path) -> None:
    tags = _tags(tmp_path)
    base = {"owner": "ml-platform", "cost-center": "cc-1", "environment": "dev", "managed-by": "pulumi"}
    assert all(t == base for t in tags["alone"])
    # Same tags outside: the outer level's extra tag reaches the store's resources.
    assert all(t == {**base, "cell": "c1"} for t in tags["same"])
    # Different tags outside: the store's own win, the outer level's other keys are added.
    assert all(t == {**base, "project": "lake"} for t in tags["differs"])


def test_tagging_is_a_transform_not_a_transformation() -> None:
    """`transforms` (run by the engine, reaching children of packaged components too), never the
    superseded `transformations`; a front door nested in one with the same tags adds none."""
    import pulumi
    from components import Environment

    env = Environment("dev", {"owner": "o", "cost-center": "c"})

    class Door(pulumi.ComponentResource):
        pass

    outer = Door.__new__(Door)
    opts = env.tagged(outer, None)
    assert opts.transforms and len(opts.transforms) == 1 and not opts.transformations
    inner = env.tagged(Door.__new__(Door), pulumi.ResourceOptions(parent=outer))
    assert not inner.transforms and not inner.transformations


def test_which_types_take_tags_comes_from_the_sdk_classes() -> None:
    from components.common.tagging import tag_key

    assert tag_key("aws:s3/bucket:Bucket") == "tags"
    assert tag_key("azure-native:storage:StorageAccount") == "tags"
    # The resource's args class is BackupInstanceInitArgs: BackupInstanceArgs is an input type.
    assert tag_key("azure-native:dataprotection:BackupInstance") == "tags"
    assert tag_key("gcp:storage/bucket:Bucket") == "labels"
    assert tag_key("gcp:container/cluster:Cluster") == "resourceLabels"
    assert tag_key("aws:iam/rolePolicyAttachment:RolePolicyAttachment") is None
    assert tag_key("kubernetes:apps/v1:Deployment") is None
    assert tag_key("pulumi:providers:aws") is None
