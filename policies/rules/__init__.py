"""The aiinfra policy rules, grouped by area. Importing this package has no side effects."""

from __future__ import annotations

from typing import Any

from pulumi_policy import Policy

from . import backups, clusters, entry, node_pools, protection, serving, storage, supply, tags, traffic, workloads

AREAS = {
    "storage": storage.POLICIES,
    "clusters": clusters.POLICIES,
    "node_pools": node_pools.POLICIES,
    "workloads": workloads.POLICIES,
    "serving": serving.POLICIES,
    "traffic": traffic.POLICIES,
    "entry": entry.POLICIES,
    "supply": supply.POLICIES,
    "backups": backups.POLICIES,
    "tags": tags.POLICIES,
    "protection": protection.POLICIES,
}

POLICIES: list[Policy] = [policy for policies in AREAS.values() for policy in policies]


def initial_config() -> dict[str, Any]:
    """Each configurable rule's settings at their defaults: what a user's --policy-config file overrides.

    Every entry repeats the rule's own enforcement level: the engine reads an initial-config entry
    without one as "advisory" (the protocol's zero value) and would silently demote the rule.
    """
    config: dict[str, Any] = {}
    for policy in POLICIES:
        schema = policy.config_schema
        if schema is not None and schema.properties:
            config[policy.name] = {"enforcementLevel": policy.enforcement_level,
                                   **{k: v["default"] for k, v in schema.properties.items() if "default" in v}}
    return config
