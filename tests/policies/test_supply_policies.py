"""The pack's supply rules (policies/rules/supply.py) name the same broken hops as `preflight trace`.

The AWS trace fixture (tests/fixtures/trace/aws) has the whole supply in its `good` stack (cache,
store copy through Pod Identity, KEDA on an engine metric) and breaks one supply hop in each of
`no-cache-rule`, `no-model-source` and `metric-not-produced`; the GCP fixture's vLLM pulls from Docker
Hub and downloads its model from the Hugging Face hub: it serves, from outside the cell.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import pytest
from tests.conftest import FIXTURES, plan_json
from tests.policies.test_entry_policies import rule_violations
from tests.policies.test_pack import load_rules

AWS = FIXTURES / "trace" / "aws"
GCP = FIXTURES / "trace" / "gcp"


def _supply_module() -> ModuleType:
    load_rules()
    return sys.modules["aiinfra_policy_pack_rules.supply"]


def violations(plan: dict[str, Any], stack: str = "dev") -> set[tuple[str, str]]:
    """(rule, resource name) of every violation the supply rules report."""
    return rule_violations(_supply_module(), plan, stack)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_whole_supply_passes_every_rule(stack: str) -> None:
    assert violations(plan_json("good", AWS), stack) == set()


@pytest.mark.parametrize("fixture, rule, resource", [
    ("no-cache-rule", "serving-images-from-cell-cache", "chat"),
    ("no-model-source", "model-server-has-model-source", "chat"),
    ("metric-not-produced", "autoscaler-metric-produced", "chat-scaler"),
])
def test_each_broken_supply_hop_fails_its_rule(fixture: str, rule: str, resource: str) -> None:
    assert violations(plan_json(fixture, AWS)) == {(rule, resource)}


def test_a_hub_model_is_refused_and_upstream_images_only_in_prod() -> None:
    plan = plan_json("good", GCP)
    assert violations(plan, "dev") == {("model-server-has-model-source", "chat")}
    assert violations(plan, "prod") == {("model-server-has-model-source", "chat"),
                                        ("serving-images-from-cell-cache", "chat")}
