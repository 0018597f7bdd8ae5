"""GlobalEndpoint on Cloud DNS: one A record set with a routing policy over health-checked IPs.

Children (role names): `zone` (unless `zone_id`; public, DNSSEC on), `check`,
`record`, and with an alert channel `alert-<backend>`: a log-match alert policy per backend on the
health check's log (state changes to UNHEALTHY of its IP; the check then logs, `log_config`).

Cloud DNS health-checks external endpoints by IP address only, with one global
health check per record set probing every target from exactly 3 source regions
(interval at least 30 s; probe timeout 5 s, healthy again after 2 passes). With
DNSSEC on, each policy item holds one IP.
HTTP(S) probes send the global hostname as Host header (one check serves every
backend, and every backend must answer that name anyway).

Policies:
- round_robin / random: `wrrs` with weight 1 each (Cloud DNS picks weighted-randomly
  per query, so random is the same as round_robin here); weighted: the backends' weights.
- geo: `geos`, each backend at the GCP region nearest its own region; queries get the
  item nearest the resolver's Google Cloud region, and fail over to the next nearest
  healthy one (geo fencing off). Geo codes are not used.
- failover: `primary_backup` with the priority-1 backend as primary and every other
  backend as a backup geo item at its nearest GCP region (trickle ratio 0). Cloud DNS
  answers a failed primary's traffic from the backup nearest the resolver, not by
  priority: priorities beyond 1 have no effect.
- latency: not available (rejected by traffic_problems).
"""

from __future__ import annotations

from typing import Callable, Sequence

import pulumi
import pulumi_gcp as gcp

from ..common.dispatch import unknown, unsupported
from ..common.naming import global_name
from .args import CLOUD_DNS_DEFAULT_PROBE_REGIONS, POLICIES, Backend, GlobalEndpointArgs, Policy, TrafficBuilder, \
    TrafficOutputs, assign_priorities, effective_weight
from .locations import nearest_region

RoutingPolicy = Callable[[GlobalEndpointArgs, pulumi.Output[str]], gcp.dns.RecordSetRoutingPolicyArgsDict]


def _targets(b: Backend) -> gcp.dns.RecordSetRoutingPolicyWrrHealthCheckedTargetsArgsDict:
    return {"external_endpoints": [b.ip or ""]}


def _geos(args: GlobalEndpointArgs, health_check: pulumi.Output[str]) -> gcp.dns.RecordSetRoutingPolicyArgsDict:
    return {"health_check": health_check, "enable_geo_fencing": False,
            "geos": [{"location": nearest_region("gcp", b.cloud, b.region), "health_checked_targets": _targets(b)}
                     for b in args.backends]}


def _primary_backup(args: GlobalEndpointArgs,
                    health_check: pulumi.Output[str]) -> gcp.dns.RecordSetRoutingPolicyArgsDict:
    backends = args.backends
    priorities = assign_priorities([(b.name, b.priority) for b in backends])
    ordered = sorted(backends, key=lambda b: priorities[b.name])
    primary, backups = ordered[0], ordered[1:]
    return {"health_check": health_check, "primary_backup": {
        "primary": _targets(primary),
        "backup_geos": [{"location": nearest_region("gcp", b.cloud, b.region), "health_checked_targets": _targets(b)}
                        for b in backups],
        "trickle_ratio": 0,
        "enable_geo_fencing_for_backups": False,
    }}


def _wrrs(args: GlobalEndpointArgs, health_check: pulumi.Output[str]) -> gcp.dns.RecordSetRoutingPolicyArgsDict:
    return {"health_check": health_check,
            "wrrs": [{"weight": effective_weight(args.options, b.weight), "health_checked_targets": _targets(b)}
                     for b in args.backends]}


def builder(policy: Policy) -> TrafficBuilder:
    """The Cloud DNS builder for `policy`, chosen before anything is registered."""
    routing: RoutingPolicy
    match policy:
        case "round_robin" | "weighted" | "random":
            routing = _wrrs
        case "geo":
            routing = _geos
        case "failover":
            routing = _primary_backup
        case "latency":
            unsupported("TrafficOptions.policy", policy, "Cloud DNS has no latency-based routing; allowed: "
                        + ", ".join(p for p in POLICIES if p != "latency"))
        case _:
            unknown(policy, "TrafficOptions.policy", POLICIES)

    def build(parent: pulumi.Resource, name: str, args: GlobalEndpointArgs) -> TrafficOutputs:
        return _build(parent, name, args, routing)
    return build


def _build(parent: pulumi.Resource, name: str, args: GlobalEndpointArgs, routing: RoutingPolicy) -> TrafficOutputs:
    env, options = args.environment, args.options
    hc = options.health_check
    stateful: list[pulumi.Resource] = []
    name_servers: pulumi.Output[Sequence[str]] | None = None
    if args.zone is not None:  # the environment's zone (a Cloud DNS zone: checked by GlobalEndpoint)
        zone_name: pulumi.Input[str] = args.zone.built.ref
    elif options.zone_id is None:
        zone = gcp.dns.ManagedZone(
            f"{name}-zone",
            name=global_name(name),
            dns_name=f"{options.zone_name.rstrip('.')}.",
            description=f"Global traffic for {options.hostname}",
            visibility="public",
            dnssec_config={"state": "on"},
            force_destroy=False,
            project=args.project,
            opts=env.child(parent, stateful=True))
        stateful.append(zone)
        name_servers = zone.name_servers
        zone_name = zone.name
    else:
        zone_name = options.zone_id

    http: gcp.compute.HealthCheckHttpsHealthCheckArgsDict = {
        "port": hc.port, "request_path": hc.path, "host": options.hostname}
    check = gcp.compute.HealthCheck(
        f"{name}-check",
        description=f"Health of the backends of {options.hostname}",
        project=args.project,
        check_interval_sec=hc.interval_seconds,
        timeout_sec=5,
        healthy_threshold=2,
        unhealthy_threshold=hc.failure_threshold,
        source_regions=list(hc.probe_regions) or list(CLOUD_DNS_DEFAULT_PROBE_REGIONS),
        https_health_check=http if hc.protocol == "HTTPS" else None,
        http_health_check={**http} if hc.protocol == "HTTP" else None,
        tcp_health_check={"port": hc.port} if hc.protocol == "TCP" else None,
        # Health check logs record each target's health state changes (HEALTHY <-> UNHEALTHY): the
        # backend alerts match them.
        log_config={"enable": True} if args.alerts is not None else None,
        opts=env.child(parent))

    gcp.dns.RecordSet(
        f"{name}-record",
        managed_zone=zone_name,
        name=f"{options.hostname.rstrip('.')}.",
        type="A",
        ttl=options.ttl,
        project=args.project,
        routing_policy=routing(args, check.id),
        opts=env.child(parent))
    if args.alerts is not None:
        for backend in args.backends:
            _backend_alert(parent, name, args, backend)
    return TrafficOutputs(health_check_ids=[check.id], stateful=stateful, name_servers=name_servers)


HEALTH_CHECK_LOG = "compute.googleapis.com/healthchecks"
"""The log a health check with `log_config.enable` writes each target's health state changes to, with
`jsonPayload.healthCheckProbeResult` (`healthState`, `previousHealthState`, `targetIp`); Cloud Load
Balancing docs, "Health check logging". Not confirmed by a source read here: that Cloud DNS's checks of
external endpoints log there the same way (a public sample filters this log by `targetIp` for exactly
that); the check's state is not exported as a Cloud Monitoring metric for external endpoints."""


def unhealthy_log_filter(ip: str) -> str:
    """Cloud Logging filter of the moments a health check finds `ip` unhealthy."""
    return (f'log_id("{HEALTH_CHECK_LOG}") AND jsonPayload.healthCheckProbeResult.healthState="UNHEALTHY" '
            f'AND jsonPayload.healthCheckProbeResult.targetIp="{ip}"')


def _backend_alert(parent: pulumi.Resource, name: str, args: GlobalEndpointArgs, backend: Backend) -> None:
    """A log-match alert policy per backend: the global health check marked its IP unhealthy (Cloud DNS
    then answers with the other backends)."""
    from ..alerts.gcp import alert_policy
    assert args.alerts is not None
    title = f"Global name {args.options.hostname}: backend {backend.name} ({backend.cloud} {backend.region}) failing its health check"
    log_filter = pulumi.Output.from_input(backend.ip or "").apply(unhealthy_log_filter)
    alert_policy(
        parent, f"{name}-alert-{backend.name}", args.alerts, args.project, title,
        {"display_name": title, "condition_matched_log": {"filter": log_filter}},
        environment=args.environment, rate_limit_seconds=300,
        documentation=(f"{title}. Cloud DNS stops answering with its address until it passes "
                       f"2 probes again; check the cell's entry and endpoint."))
