"""Global traffic: health-checked DNS routing and complete failover sets.

"Routed" DNS records are those that take part in a routing policy: Route53 records with a
setIdentifier (weighted, latency, failover, geolocation, ...), Traffic Manager profiles, and Cloud
DNS record sets with a routingPolicy. Without a health check, such a policy keeps sending users to
a dead endpoint.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from .common import (
    Resource,
    Stack,
    UNKNOWN,
    as_list,
    get,
    label_of,
    need,
    resource_policy,
    stack_policy,
)

ROUTE53_RECORD = "aws:route53/record:Record"
TRAFFIC_MANAGER = ("azure-native:trafficmanager:Profile", "azure-native:network:Profile")
TRAFFIC_MANAGER_ENDPOINTS = ("azure-native:trafficmanager:Endpoint", "azure-native:network:Endpoint")
CLOUD_DNS_RECORD = "gcp:dns/recordSet:RecordSet"


def _present(value: Any) -> bool:
    return value is UNKNOWN or (value is not None and value != "")


def _gcp_health_checked(policy: dict[str, Any]) -> bool:
    """Every target of a Cloud DNS routing policy is health-checked.

    External endpoints need the policy's healthCheck; internal load balancers are checked by their
    own health checks when listed as healthCheckedTargets (or as the failover primary).
    """
    if _present(policy.get("healthCheck")):
        return True
    items = as_list(policy.get("wrrs")) + as_list(policy.get("geos"))
    primary = get(policy, "primaryBackup", "primary")
    items += as_list(get(policy, "primaryBackup", "backupGeos"))
    if not items and primary is None:
        return False
    if primary is not None and (as_list(get(primary, "externalEndpoints"))
                                or not as_list(get(primary, "internalLoadBalancers"))):
        return False
    return all(_present(get(i, "healthCheckedTargets")) for i in items)


def check_health_check(resource: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type == ROUTE53_RECORD:
        if not _present(resource.get("setIdentifier")):
            return
        if _present(resource.get("healthCheckId")):
            return
        if any(get(a, "evaluateTargetHealth") in (True, UNKNOWN) for a in as_list(resource.get("aliases"))):
            return
        yield (f"Set healthCheckId (or an alias with evaluateTargetHealth) on routed {label_of(resource)} with set "
               f"identifier '{resource.get('setIdentifier')}'.")
    elif resource.type in TRAFFIC_MANAGER:
        monitor = need(resource.get("monitorConfig"), "monitorConfig")
        if not isinstance(monitor, dict) or not _present(monitor.get("protocol")):
            yield f"Set monitorConfig (protocol, port and path) on {label_of(resource)}."
    elif resource.type == CLOUD_DNS_RECORD:
        policy = need(resource.get("routingPolicy"), "routingPolicy")
        if not isinstance(policy, dict) or not policy:
            return
        if _gcp_health_checked(policy):
            return
        yield (f"Set routingPolicy.healthCheck (or healthCheckedTargets on every routing item) on "
               f"{label_of(resource)}.")


def _route53_zone(record: Resource) -> str:
    zone = record.get("zoneId")
    if isinstance(zone, str):
        return zone
    refs = record.refs("zoneId")
    return refs[0] if refs else "?"


def _fqdn(name: Any) -> str:
    return name.rstrip(".").lower() if isinstance(name, str) else "?"


def check_failover_pairs(stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    groups: dict[tuple[str, str, str], dict[str, list[Resource]]] = {}
    for record in stack.of_type(ROUTE53_RECORD):
        for policy in as_list(record.get("failoverRoutingPolicies")):
            role = get(policy, "type")
            if role is UNKNOWN:
                continue
            key = (_route53_zone(record), _fqdn(record.get("name")), str(record.get("type")))
            groups.setdefault(key, {}).setdefault(str(role), []).append(record)
    for (_zone, name, kind), roles in sorted(groups.items()):
        for missing in ("PRIMARY", "SECONDARY"):
            if missing not in roles:
                present = next(iter(roles.values()))[0]
                yield (f"Add a {missing} failover record for {name} ({kind}) next to {label_of(present)}.",
                       present.urn)

    separate = stack.of_type(*TRAFFIC_MANAGER_ENDPOINTS)
    for profile in stack.of_type(*TRAFFIC_MANAGER):
        if profile.get("trafficRoutingMethod") != "Priority":
            continue
        inline = profile.get("endpoints")
        if inline is UNKNOWN:
            continue
        count = len(as_list(inline)) + sum(1 for e in separate if e.depends_on(profile.urn, "profileName"))
        if count < 2:
            yield (f"Give Priority-routed {label_of(profile)} at least two endpoints so it can fail over.",
                   profile.urn)

    for record in stack.of_type(CLOUD_DNS_RECORD):
        backup = record.get("routingPolicy", "primaryBackup")
        if backup is None or backup is UNKNOWN:
            continue
        if get(backup, "primary") is None or not as_list(get(backup, "backupGeos")):
            yield (f"Set both routingPolicy.primaryBackup.primary and backupGeos on {label_of(record)}.",
                   record.urn)


POLICIES = [
    resource_policy("dns-routed-record-health-check",
                    "Routed DNS records (Route53 records with a set identifier, Traffic Manager profiles, Cloud DNS "
                    "routing policies) must be health-checked.",
                    [ROUTE53_RECORD, *TRAFFIC_MANAGER, CLOUD_DNS_RECORD], check_health_check),
    stack_policy("dns-failover-pair",
                 "DNS failover sets (Route53, Traffic Manager, Cloud DNS) must have both a primary and a secondary "
                 "member.", check_failover_pairs),
]
