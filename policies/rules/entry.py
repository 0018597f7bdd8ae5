"""Entries: the path a request takes, checked on the request-path model (`requestpath`).

These stack rules call the same model `preflight trace` prints, through the adapter in `model.py`:
a resource that looks right alone can still leave the system broken (a health check on a name no
record defines, an Ingress that never routes the global name, a certificate without that name, a
rule to a Service without pods, a public model server without a key). Each message is the hop's
own verdict, turned into one imperative sentence naming the resource to change.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from requestpath import Index
from requestpath import Resource as ModelResource
from requestpath import certificate_gaps, open_entries, unresolved_targets, unrouted_names, unserved_routes

from .common import MANDATORY, Setting, Stack, config_schema, environment_setting, label, read_config
from .model import stack_index

ModelCheck = Callable[[Index, Stack, Mapping[str, Any]], Iterable[tuple[str, str | None]]]


def model_policy(name: str, description: str, check: ModelCheck, *, settings: Sequence[Setting] = (),
                 level: EnforcementLevel = MANDATORY, severity: Severity = Severity.HIGH) -> StackValidationPolicy:
    """A stack rule on the request-path model; `check` reports against the offending resource's URN."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = read_config(args.get_config(), settings)
        for message, urn in check(stack_index(args), Stack.from_args(args), config):
            report_violation(message, urn)

    return StackValidationPolicy(name=name, description=description, validate=validate, enforcement_level=level,
                                 config_schema=config_schema(settings), severity=severity)


def _label(r: ModelResource) -> str:
    return label(r.type, r.name)


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def check_targets(index: Index, _stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for target, zone in unresolved_targets(index):
        yield (_sentence(f"Add a record for {target.name} to {_label(zone.resource)} ({zone.name}): "
                         f"{_label(target.referrer)} {target.how} it and nothing answers"), target.referrer.urn)


def check_certificates(index: Index, _stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for gap in certificate_gaps(index):
        yield (_sentence(f"Give {_label(gap.entry)} a certificate that covers {gap.host}: {gap.hop.detail}"),
               gap.entry.urn)


def check_routed(index: Index, _stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for found in unrouted_names(index):
        holder = index.get(found.hop.urn)
        if holder is None:
            continue
        if found.hop.name == "entry":
            yield (_sentence(f"Give {_label(holder)} a load balancer that answers for {found.name}, which DNS points "
                             f"at it (backend {found.backend.name}): {found.hop.detail}"), holder.urn)
        else:
            yield (_sentence(f"Add a rule for host {found.name} to {_label(holder)}, which DNS answers {found.name} "
                             f"with (backend {found.backend.name}): {found.hop.detail}"), holder.urn)


def check_endpoints(index: Index, _stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for entry, host, hop in unserved_routes(index):
        target = index.get(hop.urn) or entry
        verb = "Deploy pods for" if hop.name == "workload" else "Add the Service that"
        what = (f"{_label(target)}, which {_label(entry)} routes {host} to" if hop.name == "workload"
                else f"{_label(target)} routes {host} to")
        yield _sentence(f"{verb} {what}: {hop.detail}"), target.urn


AUTH_SETTINGS = [
    environment_setting("production_environments", ["prod"],
                        "Environments where a public model server must require a key: the aiinfra.io/auth: none "
                        "declaration is refused there."),
]


def check_auth(index: Index, stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for found in open_entries(index):
        workload = found.workload
        resource = stack.by_urn.get(workload.urn)
        environment = stack.environment_of(resource) if resource is not None else stack.environment
        if found.declared_none:
            if environment not in config["production_environments"]:
                continue
            yield (_sentence(f"Set VLLM_API_KEY (or --api-key) on {_label(workload)} and drop its aiinfra.io/auth: "
                             f"none declaration: {_label(found.entry)} serves it publicly for {found.host} and "
                             f"{environment} does not allow open model servers"), workload.urn)
        else:
            yield (_sentence(f"Set VLLM_API_KEY (or --api-key) on {_label(workload)}, which {_label(found.entry)} "
                             f"serves publicly for {found.host}, or declare aiinfra.io/auth: none on its pod template "
                             f"outside {', '.join(config['production_environments'])}: {found.hop.detail}"),
                   workload.urn)


POLICIES = [
    model_policy("dns-target-has-record",
                 "Names that health checks probe or CNAME, alias and Traffic Manager records point at must have a "
                 "record in the stack's zone that covers them.", check_targets),
    model_policy("entry-certificate-covers-host",
                 "Every host an Ingress or Gateway serves must be covered by a certificate that the entry uses.",
                 check_certificates),
    model_policy("dns-name-routed-by-entry",
                 "DNS names, global weighted, failover, latency, geo and multivalue names included, must be routed "
                 "by a rule on every entry they answer with.", check_routed),
    model_policy("entry-route-has-endpoints",
                 "Ingress and Gateway rules must lead to a Service whose pods serve on the entry's cluster.",
                 check_endpoints),
    model_policy("public-entry-authenticates",
                 "Model servers behind public entries must require an API key, unless declared aiinfra.io/auth: none "
                 "outside prod.", check_auth, settings=AUTH_SETTINGS),
]
