"""`preflight diff`: the plan at a git ref against the work tree, in a scratch git repository."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import run_preflight

PULUMI_YAML = "name: fx-diff\nruntime: python\nstackConfigDir: stacks\n"
STACK_FILE = "config:\n  aws:region: us-east-1\n"
BASE = '''
import pulumi
import pulumi_aws as aws

bucket = aws.s3.Bucket("data", bucket="fx-data-v1", tags={"owner": "fx"})
aws.s3.BucketPolicy("data-policy", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: arn))
aws.ssm.Parameter("param", type="String", value="v1", description="first",
                  opts=pulumi.ResourceOptions(replace_on_changes=["description"]))
aws.ssm.Parameter("old-param", type="String", value="x")
aws.ssm.Parameter("moved", type="String", value="same")
aws.ssm.Parameter("steady", type="String", value="same", tags={"ignored": "a"},
                  opts=pulumi.ResourceOptions(ignore_changes=["tags"]))
'''
HEAD = '''
import pulumi
import pulumi_aws as aws

bucket = aws.s3.Bucket("data", bucket="fx-data-v2", tags={"owner": "fx", "team": "ml"})
aws.s3.BucketPolicy("data-policy", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: arn))
aws.ssm.Parameter("param", type="String", value="v1", description="second",
                  opts=pulumi.ResourceOptions(replace_on_changes=["description"]))
aws.ssm.Parameter("new-param", type="String", value="y")
aws.ssm.Parameter("renamed", type="String", value="same", opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="moved")]))
aws.ssm.Parameter("steady", type="String", value="same", tags={"ignored": "b"},
                  opts=pulumi.ResourceOptions(ignore_changes=["tags"]))
'''
URN = "urn:pulumi:dev::fx-diff::"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path) -> Path:
    """A repository with the project in a subdirectory, the base committed, the head in the work tree."""
    project = root / "infra"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(PULUMI_YAML)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(STACK_FILE)
    (project / "__main__.py").write_text(BASE)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    (project / "__main__.py").write_text(HEAD)
    return project


def test_diff_against_a_git_ref(tmp_path: Path) -> None:
    project = make_repo(tmp_path)
    out = tmp_path / "diff.json"
    proc = run_preflight("diff", "dev", "--cwd", project, "--base", "HEAD", "--json", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    diff: dict[str, Any] = json.loads(out.read_text())
    assert diff["base"]["ref"] == "HEAD" and diff["base"]["commit"] == git(tmp_path, "rev-parse", "HEAD").strip()
    assert [r["urn"] for r in diff["added"]] == [URN + "aws:ssm/parameter:Parameter::new-param"]
    assert [r["urn"] for r in diff["removed"]] == [URN + "aws:ssm/parameter:Parameter::old-param"]
    changed = {c["name"]: c for c in diff["changed"]}
    assert set(changed) == {"data", "data-policy", "param", "renamed", "steady"}

    bucket = changed["data"]
    assert bucket["op"] == "replace" and bucket["replace"] is True
    changes = {c["path"]: c for c in bucket["changes"]}
    assert changes["bucket"] == {"path": "bucket", "old": "fx-data-v1", "new": "fx-data-v2", "kind": "changed",
                                 "replaces": True, "reason": "`bucket` is create-only for aws:s3/bucket:Bucket"}
    assert changes["tags.team"] == {"path": "tags.team", "new": "ml", "kind": "added", "replaces": False}

    # Inputs computed from the replaced bucket read <unknown> in both plans, yet change at apply.
    policy = changed["data-policy"]
    assert policy["op"] == "update"
    assert {c["path"] for c in policy["changes"]} == {"bucket", "policy"}
    assert all("computed from replaced data" in c["reason"] for c in policy["changes"])

    param = changed["param"]
    assert param["op"] == "replace"
    [description] = param["changes"]
    assert (description["path"], description["old"], description["new"]) == ("description", "first", "second")
    assert description["reason"] == "listed in replaceOnChanges (description)"

    renamed = changed["renamed"]
    assert renamed["op"] == "rename" and renamed["oldUrn"] == URN + "aws:ssm/parameter:Parameter::moved"
    assert renamed["changes"] == []

    assert changed["steady"]["op"] == "ignore"
    [ignored] = changed["steady"]["changes"]
    assert ignored["path"] == "tags.ignored" and ignored["ignored"] is True and ignored["replaces"] is False

    assert diff["summary"] == {"added": 1, "removed": 1, "updated": 2, "replaced": 2, "ignored": 1,
                               "unchanged": 1}
    for text in ("+- replace", "+ add", "- delete", "> rename", "= ignored", "fx-data-v2",
                 "1 to add, 1 to delete, 2 to update, 2 to replace, 2 unchanged"):
        assert text in proc.stdout, text
    # The temporary worktree is gone.
    assert git(tmp_path, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_no_changes_and_bad_refs(tmp_path: Path) -> None:
    project = make_repo(tmp_path)
    git(tmp_path, "commit", "-qam", "head")
    proc = run_preflight("diff", "dev", "--cwd", project, "--base", "HEAD")
    assert proc.returncode == 0, proc.stderr
    assert "no changes" in proc.stdout
    proc = run_preflight("diff", "dev", "--cwd", project, "--base", "HEAD~1", "--json", tmp_path / "d.json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "d.json").read_text())["summary"]["replaced"] == 2

    proc = run_preflight("diff", "dev", "--cwd", project, "--base", "no-such-ref")
    assert proc.returncode == 2 and "unknown git ref 'no-such-ref'" in proc.stderr


def test_a_project_new_since_the_base_is_all_added(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("x\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "before the project")
    project = tmp_path / "infra"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(PULUMI_YAML)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(STACK_FILE)
    (project / "__main__.py").write_text(BASE)
    out = tmp_path / "d.json"
    proc = run_preflight("diff", "dev", "--cwd", project, "--base", "HEAD", "--json", out)
    assert proc.returncode == 0, proc.stderr
    diff = json.loads(out.read_text())
    assert len(diff["added"]) == 7 and diff["removed"] == [] and diff["changed"] == []
    assert "no Pulumi project at HEAD" in proc.stderr


def test_a_base_that_fails_to_plan_is_exit_2(tmp_path: Path) -> None:
    project = tmp_path / "infra"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(PULUMI_YAML)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(STACK_FILE)
    (project / "__main__.py").write_text("raise ValueError('broken at base')\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "broken")
    (project / "__main__.py").write_text(BASE)
    proc = run_preflight("diff", "dev", "--cwd", project, "--base", "HEAD")
    assert proc.returncode == 2
    assert "at HEAD" in proc.stderr and "broken at base" in proc.stderr
    assert git(tmp_path, "worktree", "list", "--porcelain").count("worktree ") == 1
