"""The policy pack as the Pulumi CLI loads it: files, silent start, import walls, rule metadata."""

from __future__ import annotations

import ast
import importlib.util
import re
import select
import signal
import subprocess
import sys
from types import ModuleType

import jsonschema
import pytest
import yaml

from tests.conftest import REPO

PACK = REPO / "policies"
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def load_rules() -> ModuleType:
    """The `rules` package under a private name (the pack imports it as top-level `rules`)."""
    name = "aiinfra_policy_pack_rules"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PACK / "rules" / "__init__.py",
                                                  submodule_search_locations=[str(PACK / "rules")])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_pack_files_are_what_the_cli_expects() -> None:
    doc = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"]["name"] == "python"
    assert doc["runtime"]["options"]["virtualenv"] == "venv"
    assert isinstance(doc["description"], str) and doc["description"]
    requirements = (PACK / "requirements.txt").read_text()
    assert "pulumi-policy" in requirements and re.search(r"^pulumi>=", requirements, re.M)
    assert (PACK / "__main__.py").exists()


def test_pack_imports_nothing_from_the_project() -> None:
    """The CLI runs the pack alone, in its own virtualenv: no components/, no preflight/."""
    for path in PACK.rglob("*.py"):
        if "venv" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            for module in modules:
                top = module.split(".")[0]
                assert top not in ("components", "preflight", "tests"), f"{path}: imports {module}"


def test_rules_import_silently() -> None:
    proc = subprocess.run([sys.executable, "-c", "import rules"], cwd=PACK, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_pack_starts_like_the_cli_launches_it_and_prints_only_its_port() -> None:
    """`python -u -m pulumi.policy <engine> <pack>`: the first stdout line must be the port."""
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(PACK)], cwd=PACK,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the pack printed nothing within 60 s"
        first = proc.stdout.readline()
        assert re.fullmatch(r"\d+\n", first), repr(first)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    assert "Traceback" not in stderr or "KeyboardInterrupt" in stderr, stderr


def test_rule_metadata() -> None:
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

    rules = load_rules()
    names = [p.name for p in rules.POLICIES]
    assert len(names) == len(set(names)) >= 30
    for policy in rules.POLICIES:
        assert KEBAB.match(policy.name), policy.name
        assert isinstance(policy, (ResourceValidationPolicy, StackValidationPolicy))
        assert policy.enforcement_level == EnforcementLevel.MANDATORY, policy.name
        description = policy.description
        assert description[0].isupper() and description.endswith(".") and description.count(". ") == 0, description
        assert " must " in description, description
        schema = policy.config_schema
        if schema is not None:
            for key, prop in schema.properties.items():
                assert re.fullmatch(r"[a-z_]+", key), key
                assert "default" in prop and "description" in prop, (policy.name, key)
                jsonschema.validate(prop["default"], {k: v for k, v in prop.items() if k != "default"})
    areas = set(rules.AREAS)
    assert areas == {"storage", "clusters", "node_pools", "workloads", "serving", "traffic", "backups", "tags",
                     "protection", "entry", "supply"}


def test_initial_config_states_every_level_explicitly() -> None:
    """An initial-config entry without an enforcement level would demote its rule to advisory."""
    from pulumi_policy import EnforcementLevel

    rules = load_rules()
    config = rules.initial_config()
    configurable = {p.name for p in rules.POLICIES if p.config_schema is not None}
    assert set(config) == configurable
    for name, entry in config.items():
        assert entry["enforcementLevel"] == EnforcementLevel.MANDATORY, name


@pytest.mark.parametrize("image, problem", [
    ("docker.io/vllm/vllm-openai:v0.11.0", None),
    ("registry:5000/team/app@sha256:" + "a" * 64, None),
    ("registry:5000/team/app:1.2", None),
    ("registry:5000/team/app", "has no tag"),
    ("busybox", "has no tag"),
    ("nginx:latest", "uses the latest tag"),
])
def test_image_reference_parsing(image: str, problem: str | None) -> None:
    """Registry ports are not tags: the tag is the part after the last colon of the last path segment."""
    load_rules()
    workloads = sys.modules["aiinfra_policy_pack_rules.workloads"]
    assert workloads.image_problem(image) == problem


def test_iso_durations() -> None:
    load_rules()
    backups = sys.modules["aiinfra_policy_pack_rules.backups"]
    assert backups.iso_days("P35D") == 35
    assert backups.iso_days("P4W") == 28
    assert backups.iso_days("P1Y") == 365
    assert backups.iso_days("PT12H") == 0
    assert backups.iso_days("nonsense") is None


def test_sagemaker_instance_families() -> None:
    load_rules()
    serving = sys.modules["aiinfra_policy_pack_rules.serving"]
    assert serving.instance_family("ml.g6.xlarge") == "g6"
    assert serving.instance_family("ml.p4d.24xlarge") == "p4d"
    assert serving.instance_family(None) is None
