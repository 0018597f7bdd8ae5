"""The pack's entry rules (policies/rules/entry.py) name the same broken hops as `preflight trace`.

Every trace fixture stack (tests/fixtures/trace/<cloud>, tests/preflight/test_trace.py) goes through
the pack's own stack policies in this process: the plan's resources become the Analyzer's
`PolicyResource`s (numbers as floats, as the protocol sends them), the policies' adapter turns them
back into the model's shape. The good stacks pass every entry rule; each broken stack fails exactly
the rule of its hop. test_policy_checks.py runs the same rules through the real protocol on
tests/fixtures/policy_programs/entry.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

import pytest
from pulumi_policy import PolicyProviderResource, PolicyResource, Secret, StackValidationArgs
from pulumi_policy.policy import PolicyCustomTimeouts, PolicyResourceOptions
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from tests.conftest import FIXTURES, plan_json
from tests.policies.test_pack import load_rules

CLOUDS = ("aws", "gcp", "azure")
RULE = {"no-record": "dns-target-has-record", "not-on-cert": "entry-certificate-covers-host",
        "no-rule": "dns-name-routed-by-entry", "no-endpoints": "entry-route-has-endpoints",
        "no-auth": "public-entry-authenticates"}
"""The rule each broken trace stack must fail (the hop it breaks: tests/preflight/test_trace.py BROKEN)."""


def _entry_module() -> ModuleType:
    load_rules()
    return sys.modules["aiinfra_policy_pack_rules.entry"]


def _floats(value: Any) -> Any:
    """What the Struct encoding does to numbers."""
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def policy_resources(plan: dict[str, Any]) -> list[PolicyResource]:
    """The plan's resources as the Analyzer's stack snapshot hands them to stack policies."""
    by_urn = {r["urn"]: r for r in plan["resources"]}
    built: dict[str, PolicyResource] = {}
    for r in plan["resources"]:
        opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], r["parent"])
        provider = None
        if r["provider"]:
            p = by_urn.get(r["provider"])
            provider = PolicyProviderResource(p["type"] if p else r["provider"].split("::")[2],
                                              _floats(p["inputs"]) if p else {}, r["provider"],
                                              r["provider"].rsplit("::", 1)[-1])
        built[r["urn"]] = PolicyResource(r["type"], _floats(r["inputs"]), r["urn"], r["name"], opts, provider, None,
                                         [], {})
    for r in plan["resources"]:
        resource = built[r["urn"]]
        resource.parent = built.get(r["parent"]) if r["parent"] else None
        resource.dependencies = [built[u] for u in r["dependencies"] if u in built]
        resource.property_dependencies = {k: [built[u] for u in v if u in built]
                                          for k, v in r["propertyDependencies"].items()}
    return list(built.values())


def rule_violations(module: ModuleType, plan: dict[str, Any], stack: str = "dev") -> set[tuple[str, str]]:
    """(rule, resource name) of every violation `module`'s stack rules report on `plan` as stack `stack`."""
    found: set[tuple[str, str]] = set()
    saved = os.environ.get("PULUMI_STACK")
    os.environ["PULUMI_STACK"] = stack
    try:
        for policy in module.POLICIES:
            args = StackValidationArgs(policy_resources(plan), {})
            policy.validate(args, lambda message, urn=None, name=policy.name: found.add(
                (name, (urn or "?").rsplit("::", 1)[-1])))
    finally:
        if saved is None:
            os.environ.pop("PULUMI_STACK", None)
        else:
            os.environ["PULUMI_STACK"] = saved
    return found


def violations(plan: dict[str, Any], stack: str = "dev") -> set[tuple[str, str]]:
    """(rule, resource name) of every violation the entry rules report."""
    return rule_violations(_entry_module(), plan, stack)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_healthy_programs_pass_every_entry_rule(cloud: str) -> None:
    assert violations(plan_json("good", FIXTURES / "trace" / cloud)) == set()


@pytest.mark.parametrize("stack", sorted(RULE))
@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_broken_hop_fails_its_rule(cloud: str, stack: str) -> None:
    found = violations(plan_json(stack, FIXTURES / "trace" / cloud))
    assert {rule for rule, _ in found} == {RULE[stack]}, found


def test_the_rules_report_the_resource_to_change() -> None:
    def names(stack: str, cloud: str = "aws") -> set[str]:
        return {name for _, name in violations(plan_json(stack, FIXTURES / "trace" / cloud))}
    assert names("no-record") == {"check", "global-record"}  # the health check and the CNAME
    assert names("not-on-cert") == {"chat-ingress"} and names("not-on-cert", "gcp") == {"gateway"}
    assert names("no-rule") == {"chat-ingress"}
    assert names("no-endpoints") == {"chat-service"}
    assert names("no-auth") == {"chat"}


def test_a_declared_open_server_is_refused_in_prod_only() -> None:
    plan = plan_json("good", FIXTURES / "policy_programs" / "entry")
    assert violations(plan, "dev") == set()
    # The environment tag wins over the stack name: the good variant is tagged dev.
    assert violations(plan, "prod") == set()
    prod = plan_json("prod", FIXTURES / "policy_programs" / "entry")
    assert violations(prod, "prod") == {("public-entry-authenticates", "gcp-chat")}


def test_the_adapter_builds_the_plan_shape() -> None:
    _entry_module()
    model = sys.modules["aiinfra_policy_pack_rules.model"]
    provider = PolicyProviderResource("pulumi:providers:kubernetes", {}, "urn:p::k8s", "k8s")
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    r = PolicyResource("kubernetes:core/v1:Service", {"spec": {"ports": [{"port": 80.0, "weight": 0.5}]},
                                                      "metadata": {"name": UNKNOWN_STRING_VALUE},
                                                      "token": Secret("s3cr3t")},
                       "urn:svc", "svc", opts, provider, None, [], {})
    shaped = model.plan_resource(r)
    assert shaped["inputs"] == {"spec": {"ports": [{"port": 80, "weight": 0.5}]}, "metadata": {"name": "<unknown>"},
                                "token": "<secret>"}
    assert type(shaped["inputs"]["spec"]["ports"][0]["port"]) is int  # as the plan writes it: resolvers compare ints
    assert shaped["custom"] is True and shaped["provider"] == "urn:p::k8s" and shaped["propertyDependencies"] == {}
