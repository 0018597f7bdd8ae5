"""GlobalEndpoint on Route 53: a health check per backend and one record per backend (and location).

Children (role names): `zone` (unless `zone_id`), `check-<backend>` per backend
and, with an alert channel, `alarm-<backend>` (its CloudWatch alarm in us-east-1),
`record-<backend>` per backend (geo: `record-<backend>-<code>`, `*` as `default`),
failover: `primary-<priority>` / `secondary-<priority>` (the priority of the level
the record answers with) and `group-<priority>-<backend>`.

Answers are A records to the backends' IPs when every backend has one, else
CNAMEs to their hostnames (so the name cannot be the zone apex). Health checks
probe the same address the record answers with: `fqdn` (the backend hostname,
also the Host header and SNI name) plus `ip_address` in A mode.

Policies:
- round_robin: weighted records, weight 1 each; weighted: the backends' weights.
- random: multivalue answer records (A only: multivalue records cannot be CNAMEs);
  Route 53 answers up to eight healthy records per query.
- latency: latency records, each in the AWS region nearest the backend's region
  (`locations.nearest_region`); one backend per AWS region.
- geo: geolocation records, one per backend and code: continents as `continent`,
  countries as `country`, `*` as the default location (`country="*"`). An
  unhealthy location falls back to the broader record, then to `*`.
- failover: Route 53 failover records come in PRIMARY/SECONDARY pairs only. The
  pair at the hostname has the priority-1 backend as PRIMARY; with two priority
  levels the SECONDARY is the next level, with more it is an alias (evaluating
  target health) to the next pair at `backup-<p>.<hostname>`, and so on. A level
  with several backends is an alias to a weighted set (equal weights) at
  `priority-<p>.<hostname>`: healthy while any of them is.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import pulumi
import pulumi_aws as aws

from ..common import InputError, Problem
from ..common.dispatch import unknown
from .args import CONTINENTS, DEFAULT_GEO, POLICIES, Backend, GlobalEndpointArgs, Policy, TrafficBuilder, \
    TrafficOutputs, assign_priorities, effective_weight
from .locations import nearest_region


HEALTH_METRICS_REGION = "us-east-1"
"""Where Route 53 publishes health-check metrics, whatever the region of the caller."""


def _geo_location(code: str) -> dict[str, str]:
    if code == DEFAULT_GEO:
        return {"country": "*"}
    return {"continent": code} if code in CONTINENTS else {"country": code}


def _geo_role(code: str) -> str:
    return "default" if code == DEFAULT_GEO else code.lower()


class _Builder:
    def __init__(self, parent: pulumi.Resource, name: str, args: GlobalEndpointArgs):
        self.parent, self.name, self.args = parent, name, args
        self.env = args.environment
        self.options = args.options
        self.hostname = args.options.hostname
        self.all_ip = all(b.ip for b in args.backends)
        self.record_type = "A" if self.all_ip else "CNAME"
        self.stateful: list[pulumi.Resource] = []
        self.name_servers: pulumi.Output[Sequence[str]] | None = None
        self.zone_id: pulumi.Output[str]
        if args.zone is not None:  # the environment's zone (a Route 53 zone: checked by GlobalEndpoint)
            self.zone_id = pulumi.Output.from_input(args.zone.built.ref)
        elif self.options.zone_id is None:
            zone = aws.route53.Zone(f"{name}-zone", name=self.options.zone_name, force_destroy=False,
                                    comment=f"Global traffic for {self.hostname}",
                                    opts=self.env.child(parent, stateful=True))
            self.stateful.append(zone)
            self.name_servers = zone.name_servers
            self.zone_id = zone.zone_id
        else:
            self.zone_id = pulumi.Output.from_input(self.options.zone_id)
        self.checks = {b.name: self._health_check(b) for b in args.backends}

    def _health_check(self, b: Backend) -> aws.route53.HealthCheck:
        hc = self.options.health_check
        http = hc.protocol != "TCP"
        # With the backend's address, the check connects there and sends the global name as Host and
        # SNI: it fails when the backend does not serve that name, as clients would. Route 53 sends
        # `fqdn` as both, and connects to `ip_address` when given ("Values that you specify when you
        # create a health check", Route 53 developer guide); it does not validate the certificate.
        # Known only by name (an AWS ALB), the backend is probed under its own name.
        return aws.route53.HealthCheck(
            f"{self.name}-check-{b.name}",
            type=hc.protocol,
            fqdn=self.hostname if b.ip else b.hostname,
            ip_address=b.ip,
            port=hc.port,
            resource_path=hc.path if http else None,
            request_interval=hc.interval_seconds,
            failure_threshold=hc.failure_threshold,
            regions=list(hc.probe_regions) or None,
            enable_sni=True if hc.protocol == "HTTPS" else None,
            measure_latency=True,
            opts=self.env.child(self.parent))

    def health_alarms(self) -> None:
        """With an alert channel: an alarm per backend when its health check reports unhealthy for a
        minute. Route 53 publishes `HealthCheckStatus` (1 healthy, 0 unhealthy; dimension
        `HealthCheckId`) to CloudWatch in us-east-1 only, so the alarms, and the channel's SNS topic
        they publish to, are there (Route 53 developer guide, "Monitoring health checks using
        CloudWatch")."""
        channel = self.args.alerts
        if channel is None:
            return
        if channel.region != HEALTH_METRICS_REGION:
            raise InputError(f"invalid GlobalEndpoint {self.name!r}", [Problem(
                "GlobalEndpointArgs.alerts", f"a channel in {channel.region}",
                f"allowed: a channel in {HEALTH_METRICS_REGION}, where Route 53 publishes health-check metrics "
                "(a CloudWatch alarm notifies only an SNS topic of its own region)")])
        for backend, check in self.checks.items():
            aws.cloudwatch.MetricAlarm(
                f"{self.name}-alarm-{backend}",
                alarm_description=f"Route 53 health check of backend {backend} of {self.hostname} failing",
                namespace="AWS/Route53", metric_name="HealthCheckStatus", dimensions={"HealthCheckId": check.id},
                statistic="Minimum", period=60, evaluation_periods=1, threshold=1,
                comparison_operator="LessThanThreshold",
                # No data from a health check that exists means Route 53 cannot tell it is healthy.
                treat_missing_data="breaching",
                alarm_actions=list(channel.targets), ok_actions=list(channel.targets),
                region=HEALTH_METRICS_REGION, opts=self.env.child(self.parent))

    def record(self, role: str, b: Backend, *, name: str | None = None, set_identifier: str | None = None,
               **policy: Any) -> aws.route53.Record:
        """A record answering backend `b`, guarded by its health check."""
        return aws.route53.Record(
            f"{self.name}-{role}",
            zone_id=self.zone_id,
            name=name or self.hostname,
            type=self.record_type,
            ttl=self.options.ttl,
            records=[b.ip if self.all_ip and b.ip else b.hostname],
            set_identifier=set_identifier or b.name,
            health_check_id=self.checks[b.name].id,
            opts=self.env.child(self.parent),
            **policy)

    def alias(self, role: str, target: str, depends_on: list[aws.route53.Record], *, name: str,
              set_identifier: str, **policy: Any) -> aws.route53.Record:
        """An alias to records of this zone, healthy while any record it points at is."""
        return aws.route53.Record(
            f"{self.name}-{role}",
            zone_id=self.zone_id,
            name=name,
            type=self.record_type,
            aliases=[{"name": target, "zone_id": self.zone_id, "evaluate_target_health": True}],
            set_identifier=set_identifier,
            opts=self.env.child(self.parent, depends_on=list(depends_on)),
            **policy)

    # --- policies --------------------------------------------------------------------------------

    def weighted(self) -> None:
        for b in self.args.backends:
            self.record(f"record-{b.name}", b,
                        weighted_routing_policies=[{"weight": effective_weight(self.options, b.weight)}])

    def random(self) -> None:
        for b in self.args.backends:
            self.record(f"record-{b.name}", b, multivalue_answer_routing_policy=True)

    def latency(self) -> None:
        for b in self.args.backends:
            self.record(f"record-{b.name}", b,
                        latency_routing_policies=[{"region": nearest_region("aws", b.cloud, b.region)}])

    def geo(self) -> None:
        for b in self.args.backends:
            for code in b.geo:
                self.record(f"record-{b.name}-{_geo_role(code)}", b, set_identifier=f"{b.name}-{_geo_role(code)}",
                            geolocation_routing_policies=[_geo_location(code)])

    def failover(self) -> None:
        priorities = assign_priorities([(b.name, b.priority) for b in self.args.backends])
        levels: dict[int, list[Backend]] = {}
        for b in self.args.backends:
            levels.setdefault(priorities[b.name], []).append(b)
        order = sorted(levels)
        # Pair k (at the hostname for k = 0, else at backup-<p_k>.<hostname>): PRIMARY is level k,
        # SECONDARY is the last level or an alias to pair k + 1. Built from the last pair back so
        # every alias target exists before the alias.
        pair_names = [self.hostname] + [f"backup-{p}.{self.hostname}" for p in order[1:-1]]
        next_pair: list[aws.route53.Record] = []
        for k in range(len(order) - 2, -1, -1):
            name = pair_names[k]
            here = [self._member("PRIMARY", order[k], levels[order[k]], name=name)]
            if k == len(order) - 2:
                here.append(self._member("SECONDARY", order[k + 1], levels[order[k + 1]], name=name))
            else:
                here.append(self.alias(f"secondary-{order[k + 1]}", pair_names[k + 1], next_pair, name=name,
                                       set_identifier=f"secondary-backup-{order[k + 1]}",
                                       failover_routing_policies=[{"type": "SECONDARY"}]))
            next_pair = here

    def _member(self, kind: str, priority: int, group: list[Backend], *, name: str) -> aws.route53.Record:
        """One side of a failover pair: the backend itself, or an alias to a weighted set of the level."""
        role = f"{kind.lower()}-{priority}"
        policy = [{"type": kind}]
        if len(group) == 1:
            return self.record(role, group[0], name=name, set_identifier=f"{kind.lower()}-{group[0].name}",
                               failover_routing_policies=policy)
        target = f"priority-{priority}.{self.hostname}"
        members = [self.record(f"group-{priority}-{b.name}", b, name=target, weighted_routing_policies=[{"weight": 1}])
                   for b in group]
        return self.alias(role, target, members, name=name, set_identifier=f"{kind.lower()}-priority-{priority}",
                          failover_routing_policies=policy)


def builder(policy: Policy) -> TrafficBuilder:
    """The Route 53 builder for `policy`, chosen before anything is registered."""
    records: Callable[[_Builder], None]
    match policy:
        case "round_robin" | "weighted":
            records = _Builder.weighted
        case "random":
            records = _Builder.random
        case "latency":
            records = _Builder.latency
        case "geo":
            records = _Builder.geo
        case "failover":
            records = _Builder.failover
        case _:
            unknown(policy, "TrafficOptions.policy", POLICIES)

    def build(parent: pulumi.Resource, name: str, args: GlobalEndpointArgs) -> TrafficOutputs:
        built = _Builder(parent, name, args)
        records(built)
        built.health_alarms()
        return TrafficOutputs(health_check_ids=[c.id for c in built.checks.values()], stateful=built.stateful,
                              name_servers=built.name_servers)
    return build
