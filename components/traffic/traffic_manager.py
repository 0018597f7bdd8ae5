"""GlobalEndpoint on Azure Traffic Manager, with the hostname a CNAME in Azure DNS.

Children (role names): `profile` (geo: `profile` plus `profile-<backend>` per
backend), `zone` (unless `zone_id`), `cname`; with an alert channel `alert-<backend>` per backend (a
metric alert on its probe state, to the channel's action group).

Endpoints are inline external endpoints only (separate endpoint resources fight
the profile's endpoint list: terraform-provider-azurerm #6041). Routing methods:
- round_robin / weighted: `Weighted` (weight 1 each / the backends' weights, 1-1000);
- random: `MultiValue`, targets are the backends' IPv4 addresses (required), up to 8
  healthy answers; HTTP(S) probes send the global hostname as Host header (every policy);
- failover: `Priority` (unique priorities);
- latency: `Performance`, each endpoint located at the Azure region nearest its region;
- geo: `Geographic` over nested profiles. A Geographic profile does not fail a
  location over to another endpoint, so each backend is a child `Priority`
  profile: the backend first, then the default (`*`) backend, then the others;
  the parent maps the backend's locations to its child (`min_child_endpoints` 1).
  Codes: `*` -> WORLD, continents -> GEO-xx (OC -> GEO-AP, AS -> GEO-AS and GEO-ME,
  since Traffic Manager lists the Middle East apart), countries as given.

Monitoring: the health check options, with tolerated failures = failure_threshold - 1
(Traffic Manager marks an endpoint degraded after more consecutive failures than it
tolerates) and the longest probe timeout allowed for the interval (9 s at 10 s, 10 s at 30 s).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import pulumi
import pulumi_azure_native as azure_native

from ..common.dispatch import unknown
from ..common.naming import global_name
from .args import CONTINENTS, DEFAULT_GEO, POLICIES, Backend, GlobalEndpointArgs, PerPolicy, Policy, \
    TrafficBuilder, TrafficOutputs, assign_priorities, effective_weight
from .locations import nearest_region

ROUTING_METHODS: PerPolicy[str] = {"round_robin": "Weighted", "weighted": "Weighted", "random": "MultiValue",
                                   "failover": "Priority", "latency": "Performance", "geo": "Geographic"}
"""The profile's `traffic_routing_method` for each policy (geo: of the parent profile)."""
EXTERNAL = "Microsoft.Network/trafficManagerProfiles/externalEndpoints"
NESTED = "Microsoft.Network/trafficManagerProfiles/nestedEndpoints"
TM_DOMAIN = "trafficmanager.net"
_Endpoint = azure_native.trafficmanager.EndpointArgsDict


def geo_codes(codes: list[str]) -> list[str]:
    """Traffic Manager geographic codes for the library's geo codes."""
    out: list[str] = []
    for code in codes:
        if code == DEFAULT_GEO:
            out.append("WORLD")
        elif code == "OC":
            out.append("GEO-AP")
        elif code == "AS":
            out += ["GEO-AS", "GEO-ME"]
        elif code in CONTINENTS:
            out.append(f"GEO-{code}")
        else:
            out.append(code)
    return out


class _Builder:
    def __init__(self, parent: pulumi.Resource, name: str, args: GlobalEndpointArgs):
        self.parent, self.name, self.args = parent, name, args
        self.env, self.options = args.environment, args.options
        assert args.resource_group_name is not None  # checked by GlobalEndpoint
        self.group: pulumi.Input[str] = args.resource_group_name
        self.profiles: list[azure_native.trafficmanager.Profile] = []
        self.home: dict[str, azure_native.trafficmanager.Profile] = {}
        """Per backend, the profile probing it as its first-choice external endpoint (its alert's scope)."""

    def monitor(self) -> azure_native.trafficmanager.MonitorConfigArgsDict:
        hc = self.options.health_check
        return {
            "protocol": hc.protocol,
            "port": hc.port,
            "path": hc.path if hc.protocol != "TCP" else None,
            "interval_in_seconds": hc.interval_seconds,
            "timeout_in_seconds": 9 if hc.interval_seconds == 10 else 10,
            "tolerated_number_of_failures": hc.failure_threshold - 1,
        }

    def external(self, b: Backend, *, ip_target: bool = False, weight: int | None = None,
                 priority: int | None = None, location: str | None = None) -> _Endpoint:
        endpoint: _Endpoint = {"name": b.name, "type": EXTERNAL, "endpoint_status": "Enabled",
                               "target": b.hostname}
        if ip_target:
            endpoint["target"] = b.ip or ""
        if self.options.health_check.protocol != "TCP":
            # Probes ask for the global name, as clients do, so a backend that does not serve it is
            # unhealthy (endpoint custom headers apply to health checks: Traffic Manager endpoint
            # monitoring docs). Traffic Manager does not validate the certificate.
            endpoint["custom_headers"] = [{"name": "Host", "value": self.options.hostname}]
        if weight is not None:
            endpoint["weight"] = weight
        if priority is not None:
            endpoint["priority"] = priority
        if location is not None:
            endpoint["endpoint_location"] = location
        return endpoint

    def profile(self, role: str, logical: str, method: str, endpoints: list[_Endpoint],
                **extra: Any) -> tuple[azure_native.trafficmanager.Profile, str]:
        relative = global_name(logical)
        profile = azure_native.trafficmanager.Profile(
            f"{self.name}-{role}",
            profile_name=relative,
            resource_group_name=self.group,
            location="global",
            profile_status="Enabled",
            traffic_routing_method=method,
            dns_config={"relative_name": relative, "ttl": self.options.ttl},
            monitor_config=self.monitor(),
            endpoints=endpoints,
            traffic_view_enrollment_status="Disabled",
            opts=self.env.child(self.parent),
            **extra)
        self.profiles.append(profile)
        return profile, f"{relative}.{TM_DOMAIN}"

    def _one(self, endpoints: list[_Endpoint], **extra: Any) -> tuple[azure_native.trafficmanager.Profile, str]:
        """The one profile of a policy without nested profiles."""
        built = self.profile("profile", self.name, ROUTING_METHODS[self.options.policy], endpoints, **extra)
        self.home.update({b.name: built[0] for b in self.args.backends})
        return built

    def weighted(self) -> tuple[azure_native.trafficmanager.Profile, str]:
        return self._one([self.external(b, weight=effective_weight(self.options, b.weight))
                          for b in self.args.backends])

    def random(self) -> tuple[azure_native.trafficmanager.Profile, str]:
        backends = self.args.backends
        return self._one([self.external(b, ip_target=True) for b in backends], max_return=min(len(backends), 8))

    def failover(self) -> tuple[azure_native.trafficmanager.Profile, str]:
        backends = self.args.backends
        priorities = assign_priorities([(b.name, b.priority) for b in backends])
        return self._one([self.external(b, priority=priorities[b.name]) for b in backends])

    def latency(self) -> tuple[azure_native.trafficmanager.Profile, str]:
        return self._one([self.external(b, location=nearest_region("azure", b.cloud, b.region))
                          for b in self.args.backends])

    def geographic(self) -> tuple[azure_native.trafficmanager.Profile, str]:
        backends = self.args.backends
        default = next((b for b in backends if DEFAULT_GEO in b.geo), None)
        nested: list[_Endpoint] = []
        for b in backends:
            fallbacks = ([default] if default is not None and default is not b else []) + \
                [o for o in backends if o is not b and o is not default]
            order = [b, *fallbacks]
            child, _ = self.profile(f"profile-{b.name}", f"{self.name}-{b.name}", "Priority",
                                    [self.external(e, priority=i + 1) for i, e in enumerate(order)])
            self.home[b.name] = child
            nested.append({"name": b.name, "type": NESTED, "endpoint_status": "Enabled", "target_resource_id": child.id,
                           "min_child_endpoints": 1, "geo_mapping": geo_codes(b.geo)})
        return self.profile("profile", self.name, ROUTING_METHODS["geo"], nested)


def builder(policy: Policy) -> TrafficBuilder:
    """The Traffic Manager builder for `policy`, chosen before anything is registered."""
    profiles: Callable[[_Builder], tuple[azure_native.trafficmanager.Profile, str]]
    match policy:
        case "round_robin" | "weighted":
            profiles = _Builder.weighted
        case "random":
            profiles = _Builder.random
        case "failover":
            profiles = _Builder.failover
        case "latency":
            profiles = _Builder.latency
        case "geo":
            profiles = _Builder.geographic
        case _:
            unknown(policy, "TrafficOptions.policy", POLICIES)

    def build(parent: pulumi.Resource, name: str, args: GlobalEndpointArgs) -> TrafficOutputs:
        return _build(parent, name, args, profiles)
    return build


def _build(parent: pulumi.Resource, name: str, args: GlobalEndpointArgs,
           profiles: Callable[[_Builder], tuple[azure_native.trafficmanager.Profile, str]]) -> TrafficOutputs:
    env, options = args.environment, args.options
    built = _Builder(parent, name, args)
    profile, fqdn = profiles(built)
    if args.alerts is not None:
        _health_alerts(built, args)
    stateful: list[pulumi.Resource] = []
    name_servers: pulumi.Output[Sequence[str]] | None = None
    if args.zone is not None:  # the environment's zone, on whichever provider serves it
        args.zone.record(parent, f"{name}-cname", options.hostname, "CNAME", [fqdn], ttl=options.ttl,
                         depends_on=[profile])
        return TrafficOutputs(health_check_ids=[p.id for p in built.profiles], stateful=stateful)
    zone_group: pulumi.Input[str] = built.group
    if options.zone_id is None:
        zone = azure_native.dns.Zone(f"{name}-zone", zone_name=options.zone_name, resource_group_name=built.group,
                                     location="global", zone_type=azure_native.dns.ZoneType.PUBLIC, opts=env.child(parent, stateful=True))
        stateful.append(zone)
        name_servers = zone.name_servers
        zone_name: pulumi.Input[str] = zone.name
    else:
        zone_name = options.zone_id
        zone_group = args.dns_zone_resource_group_name or built.group
    relative = options.hostname.rstrip(".")[: -len(options.zone_name.rstrip(".")) - 1]
    azure_native.dns.RecordSet(
        f"{name}-cname",
        zone_name=zone_name,
        resource_group_name=zone_group,
        relative_record_set_name=relative,
        record_type="CNAME",
        ttl=options.ttl,
        cname_record={"cname": fqdn},
        opts=env.child(parent, depends_on=[profile]))
    return TrafficOutputs(health_check_ids=[p.id for p in built.profiles], stateful=stateful,
                          name_servers=name_servers)


ENDPOINT_STATE_METRIC = "ProbeAgentCurrentEndpointStateByProfileResourceId"
"""Traffic Manager's per-endpoint probe state, 1 while the endpoint is online and 0 while degraded, with
dimension `EndpointName` (Azure Monitor docs, "Supported metrics for
Microsoft.Network/trafficManagerProfiles": Endpoint Status by Endpoint)."""
PROFILE_TYPE = "Microsoft.Network/trafficManagerProfiles"
HEALTH_ALERT_WINDOW = "PT5M"


def _health_alerts(built: _Builder, args: GlobalEndpointArgs) -> None:
    """Per backend, a metric alert (`alert-<backend>`) to the channel while Traffic Manager's probes have
    seen it degraded for a whole HEALTH_ALERT_WINDOW (maximum endpoint state below 1), on the profile
    that probes it first."""
    assert args.alerts is not None
    from ..alerts.azure import metric_alert
    for b in args.backends:
        metric_alert(built.parent, f"{built.name}-alert-{b.name}", built.env, built.group, args.alerts,
                     scope=built.home[b.name].id, target_type=PROFILE_TYPE, metric=ENDPOINT_STATE_METRIC,
                     aggregation="Maximum", operator="LessThan", threshold=1, window=HEALTH_ALERT_WINDOW,
                     dimensions=[{"name": "EndpointName", "operator": "Include", "values": [b.name]}],
                     description=f"{args.options.hostname}: the health check of backend {b.name} failed "
                                 "for 5 minutes; Traffic Manager sends clients elsewhere")
