"""The adapter between the Analyzer's stack snapshot and the request-path model.

`requestpath` (a sibling package of `rules/`, standard library only) reads resources in the plan
JSON's shape; this builds that shape from `StackValidationArgs.resources`, so stack rules run the
same model as `preflight trace`:

- `inputs` are the resource's properties with unknown values as `"<unknown>"`, secrets as
  `"<secret>"` and whole numbers as ints (the Struct encoding turns every number into a float);
- `provider`, `parent`, `dependencies` and `propertyDependencies` are URNs;
- `custom` is true for resources with a provider (the engine gives every custom resource one) and
  for providers themselves. Components are kept but the model never reads their outputs.
"""

from __future__ import annotations

from typing import Any, Iterable

from pulumi_policy import PolicyResource, Secret, StackValidationArgs

from requestpath import SECRET, UNKNOWN, Index

from .common import UNKNOWN as PLAIN_UNKNOWN
from .common import plain


def plan_value(value: Any) -> Any:
    """A property value as the plan JSON writes it."""
    if value is PLAIN_UNKNOWN:
        return UNKNOWN
    if isinstance(value, Secret):
        return SECRET
    if isinstance(value, dict):
        return {str(k): plan_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plan_value(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def plan_resource(r: PolicyResource) -> dict[str, Any]:
    parent = r.parent.urn if r.parent is not None else (r.opts.parent or None)
    return {
        "urn": r.urn, "type": r.resource_type, "name": r.name, "parent": parent,
        "custom": r.provider is not None or r.resource_type.startswith("pulumi:providers:"),
        "provider": r.provider.urn if r.provider is not None else None,
        "dependencies": [d.urn for d in r.dependencies],
        "propertyDependencies": {k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
        "inputs": plan_value(plain(r.props)),
    }


def plan_resources(resources: Iterable[PolicyResource]) -> list[dict[str, Any]]:
    return [plan_resource(r) for r in resources]


def stack_index(args: StackValidationArgs) -> Index:
    """The request-path model of the stack under analysis."""
    return Index.of(plan_resources(args.resources))
