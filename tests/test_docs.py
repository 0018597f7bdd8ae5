"""The manual stays true: README.md, CONTRIBUTING.md and docs/ against the code and the commands.

- The README's two set-up commands: CI runs exactly the documented test command.
- README.md is at most 250 lines; every relative link (and #anchor) in README.md,
  CONTRIBUTING.md and docs/*.md points to a file (and heading) that exists.
- The generated blocks of docs/components.md and docs/policies.md equal what
  scripts/reference.py prints from the code.
- Every example output the docs show is what the command prints today. Timing lines
  and the warning about a missing policies/venv are left out of the comparison:
  they depend on the machine, not on the code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_preflight

DOCS = REPO / "docs"
MANUAL = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --- the README's set-up commands --------------------------------------------------------------

def _readme_commands() -> list[str]:
    readme = _read(REPO / "README.md")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", quickstart, re.S)
    assert block
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert "preflight plan dev" in commands[0] and "pytest" in commands[1]
    assert all(c.startswith("python3 -m venv .venv && ") for c in commands)


def test_ci_runs_the_readme_test_command() -> None:
    ci = _read(REPO / ".ci" / "run")
    assert _readme_commands()[1] in ci.splitlines()


# --- size and links ----------------------------------------------------------------------------

def test_readme_is_at_most_250_lines() -> None:
    lines = len(_read(REPO / "README.md").splitlines())
    assert lines <= 250, f"README.md has {lines} lines; move detail to docs/"


def test_the_manual_exists() -> None:
    expected = {"components", "preflight", "policies", "disaster-recovery", "cost", "deploying", "offline-limits",
                "performance"}
    assert expected <= {p.stem for p in DOCS.glob("*.md")}
    assert (REPO / "CONTRIBUTING.md").exists() and (REPO / "CHANGELOG.md").exists()


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _links(text: str) -> list[str]:
    return _LINK.findall(_FENCE.sub("", text))


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", _read(path))
    return {_anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


@pytest.mark.parametrize("path", MANUAL, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_to_an_existing_file_and_heading(path: Path) -> None:
    broken = []
    for target in _links(_read(path)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(REPO)}")
    assert not broken, "\n".join(broken)


# --- generated reference -----------------------------------------------------------------------

def _block(path: Path, name: str) -> str:
    return _read(path).split(f"<!-- {name}:start -->\n", 1)[1].split(f"<!-- {name}:end -->", 1)[0]


@pytest.mark.parametrize("doc,name,flag", [("components.md", "reference", []), ("policies.md", "rules", ["--rules"])])
def test_generated_blocks_match_the_code(doc: str, name: str, flag: list[str]) -> None:
    generated = subprocess.run([sys.executable, str(REPO / "scripts" / "reference.py"), *flag], capture_output=True,
                               text=True, check=True).stdout
    assert _block(DOCS / doc, name) == generated, f"docs/{doc} is stale: run python scripts/reference.py --write"


# --- the example outputs -----------------------------------------------------------------------

_TIMING = re.compile(r"^plan \d+\.\d+s, policies \d+\.\d+s \([\d.]+ ms per resource\)$", re.M)
_NO_VENV = re.compile(r"^warning: \S*PulumiPolicy\.yaml: virtualenv '[^']*' does not exist; running the pack with "
                      r"\S+\n", re.M)


def _normal(text: str) -> str:
    """Without what depends on the machine: the timing line, the missing-venv warning."""
    return _NO_VENV.sub("", _TIMING.sub("plan <s>, policies <s>", text))


def _preflight(*args: str, columns: str = "200", cwd: Path = REPO) -> tuple[int, str]:
    """The command's exit code and its output as a terminal of that width shows it (one stream)."""
    proc = run_preflight(*args, cwd=cwd, env={**os.environ, "COLUMNS": columns}, merged=True)
    return proc.returncode, proc.stdout.rstrip("\n")


def _shown(doc: str, command: str) -> str:
    """The output a doc shows under `$ command`, up to the end of its code block."""
    text = _read(REPO / doc)
    marker = f"$ {command}\n"
    assert marker in text, f"{doc} shows no `$ {command}`"
    return text.split(marker, 1)[1].split("\n```", 1)[0]


def _bad_config_project(root: Path) -> Path:
    """The README's example of a spec error: this program with a typo'd region and a wrong Azure replica."""
    project = root / "bad-config"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(
        "config:\n"
        "  aiinfra:tags: {owner: ml-platform, cost-center: cc-1234}\n"
        "  aiinfra:cells:\n"
        "    - {name: aws-use1, cloud: aws, region: us-east-9}\n"
        "    - {name: azure-eus, cloud: azure, region: eastus, storage: {replica_region: westeurope}}\n")
    return project


def _diff_project(root: Path) -> Path:
    """docs/preflight.md's diff example: the generic fixture in its own repository, then two changes."""
    project = root / "diffdemo"
    shutil.copytree(REPO / "tests" / "fixtures" / "generic", project)
    git = ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.com", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run([*git, *args], cwd=project, check=True, capture_output=True)
    main = project / "__main__.py"
    main.write_text(main.read_text().replace('location="EU"', 'location="EU", versioning={"enabled": True}'))
    stack = project / "stacks" / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("prefix: demo", "prefix: demo2"))
    return project


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Every documented command, run once, two at a time: key -> (exit code, output)."""
    tmp = tmp_path_factory.mktemp("docs")
    config = tmp / "policy-config.json"
    config.write_text(json.dumps({"backup-min-retention": {"min_retention_days": 30},
                                  "workload-image-pinned": "advisory", "workload-probs": "disabled"}))
    runs: dict[str, tuple[tuple[str, ...], str]] = {
        "cost prod": (("cost", "prod"), "200"),
        "graph prod": (("graph", "prod", "--format", "mermaid"), "200"),
        "whatif prod aws": (("whatif", "prod", "--lose", "aws"), "80"),
        "whatif staging aws": (("whatif", "staging", "--lose", "aws"), "80"),
        "plan generic": (("plan", "dev", "--cwd", "tests/fixtures/generic", "--json", str(tmp / "plan.json")), "100"),
        "plan broken": (("plan", "dev", "--cwd", "tests/fixtures/broken"), "200"),
        "plan bad config": (("plan", "dev", "--cwd", str(_bad_config_project(tmp))), "200"),
        "manifests dev": (("manifests", "dev", "--out", str(tmp / "manifests")), "200"),
        "check dev": (("check", "dev"), "200"),
        "check storage bad": (("check", "bad", "--cwd", "tests/fixtures/policy_programs/storage", "--policy-pack",
                               "policies"), "120"),
        "check staging config": (("check", "staging", "--policy-config", str(config)), "100"),
        "check hangs": (("check", "dev", "--cwd", "tests/fixtures/policy_program", "--policy-pack",
                         "tests/fixtures/policy_packs/hangs", "--timeout", "3"), "200"),
        "diff generic": (("diff", "dev", "--cwd", str(_diff_project(tmp)), "--base", "HEAD"), "100"),
        "trace gcp good": (("trace", "good", "https://chat.models.example.com/v1/models", "--cwd",
                            "tests/fixtures/trace/gcp"), "100"),
        "trace aws not-on-cert": (("trace", "not-on-cert", "https://chat.models.example.com/v1/models", "--cwd",
                                   "tests/fixtures/trace/aws"), "100"),
    }
    done = {key: _preflight(*args, columns=columns) for key, (args, columns) in runs.items()}
    done["plan generic"] = (done["plan generic"][0], done["plan generic"][1].replace(str(tmp / "plan.json"), "plan.json"))
    done["manifests dev"] = (done["manifests dev"][0], "\n".join(
        [done["manifests dev"][1].replace(str(tmp / "manifests"), "manifests"), "$ find manifests -type f | sort",
         *sorted(f"manifests/{p.relative_to(tmp / 'manifests')}" for p in (tmp / "manifests").rglob("*")
                 if p.is_file())]))
    done["plan.json"] = (0, (tmp / "plan.json").read_text(encoding="utf-8"))
    return done


# (doc, the command line the doc shows, key of `outputs`, expected exit code)
EXAMPLES = [
    ("README.md", "COLUMNS=80 preflight whatif prod --lose aws", "whatif prod aws", 0),
    ("README.md", "preflight plan dev   # a stack with a typo'd region and a wrong Azure replica", "plan bad config", 2),
    ("docs/cost.md", "COLUMNS=200 preflight cost prod", "cost prod", 0),
    ("docs/disaster-recovery.md", "COLUMNS=80 preflight whatif prod --lose aws", "whatif prod aws", 0),
    ("docs/disaster-recovery.md", "COLUMNS=80 preflight whatif staging --lose aws", "whatif staging aws", 1),
    ("docs/preflight.md", "COLUMNS=100 preflight plan dev --cwd tests/fixtures/generic --json plan.json",
     "plan generic", 0),
    ("docs/preflight.md", "preflight plan dev --cwd tests/fixtures/broken", "plan broken", 2),
    ("docs/preflight.md", "preflight manifests dev --out manifests", "manifests dev", 0),
    ("docs/preflight.md", "preflight check dev", "check dev", 0),
    ("docs/preflight.md", "COLUMNS=120 preflight check bad --cwd tests/fixtures/policy_programs/storage "
                          "--policy-pack policies", "check storage bad", 1),
    ("docs/preflight.md", "preflight check dev --cwd tests/fixtures/policy_program --policy-pack "
                          "tests/fixtures/policy_packs/hangs --timeout 3", "check hangs", 2),
    ("docs/preflight.md", "COLUMNS=100 preflight diff dev --cwd /tmp/diffdemo --base HEAD", "diff generic", 0),
    ("docs/preflight.md", "COLUMNS=100 preflight trace good https://chat.models.example.com/v1/models --cwd "
                          "tests/fixtures/trace/gcp", "trace gcp good", 0),
    ("docs/preflight.md", "COLUMNS=100 preflight trace not-on-cert https://chat.models.example.com/v1/models --cwd "
                          "tests/fixtures/trace/aws", "trace aws not-on-cert", 1),
    ("docs/policies.md", "COLUMNS=100 preflight check staging --policy-config policy-config.json",
     "check staging config", 1),
]


@pytest.mark.parametrize("doc,command,key,code", EXAMPLES, ids=[f"{e[0]}: {e[2]}" for e in EXAMPLES])
def test_the_docs_show_each_output_as_printed_today(outputs: dict[str, tuple[int, str]], doc: str, command: str,
                                                      key: str, code: int) -> None:
    returncode, printed = outputs[key]
    assert returncode == code, printed
    shown = _shown(doc, command)
    if key == "diff generic":  # a new commit id in every copy
        shown, printed = (re.sub(r"HEAD \([0-9a-f]{12}\)", "HEAD (<commit>)", t) for t in (shown, printed))
    assert _normal(shown) == _normal(printed), f"{doc}: the output under `$ {command}` is not what it prints today"


def test_the_graph_example_is_the_prod_graph(outputs: dict[str, tuple[int, str]]) -> None:
    shown = _read(DOCS / "preflight.md").split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    assert outputs["graph prod"] == (0, shown)


def test_the_plan_json_example_is_the_generic_fixtures_bucket(outputs: dict[str, tuple[int, str]]) -> None:
    plan = json.loads(outputs["plan.json"][1])
    [bucket] = [r for r in plan["resources"] if r["type"] == "gcp:storage/bucket:Bucket"]
    shown = _read(DOCS / "preflight.md").split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(shown) == bucket


def test_every_command_and_option_is_documented() -> None:
    from preflight.cli import build_parser

    text = _read(DOCS / "preflight.md")
    parser = build_parser()
    [sub] = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]  # noqa: SLF001
    missing = []
    for name, command in sub.choices.items():  # type: ignore[attr-defined]
        if f"## {name}" not in text:
            missing.append(f"no section `## {name}`")
        for action in command._actions:  # noqa: SLF001
            for option in action.option_strings:
                if option.startswith("--") and option != "--help" and option not in text:
                    missing.append(f"{name} {option}")
    assert not missing, missing
