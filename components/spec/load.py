"""Load the environment spec from stack config and report every problem at once.

Each problem names its config key path (`aiinfra:cells[1].region`), the value
received and what is allowed. Nothing is registered before this succeeds.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Collection, Mapping

import pulumi
import pulumi.runtime
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..catalog.regions import CLOUDS
from ..common import InputError, Problem
from ..backup import backup_problems
from ..compute import cluster_problems, gpu_pool_problems
from ..network import network_problems
from ..images import cache_problems, parse_image, upstream_problem
from ..serving import auth_problems, endpoint_problems, prod_image_problems
from ..serving.images import upstreams
from ..serving.args import STATIC_ENTRY_ADDRESS
from ..dns import dns_problems
from ..dns.acme import acme_dns01_problems
from ..traffic import failover_seconds, traffic_problems
from ..traffic.endpoint import ZONE_PROVIDERS
from ..storage import storage_problems
from .model import AwsCell, AzureCell, Cell, EnvironmentSpec, GcpCell

_CELL: TypeAdapter[Cell] = TypeAdapter(Cell)
CELL_MODELS: dict[str, type[BaseModel]] = {"aws": AwsCell, "azure": AzureCell, "gcp": GcpCell}

_OBJECT_KEYS = {"tags", "cells", "targets", "traffic", "backup", "secrets", "dns", "alerts", "images"}
SECRET_KEYS = {"secrets"}
SECRET_SHOWN = "<secret>"
"""What a message shows in place of a secret key's value."""
"""The keys that may hold `secure:` values (see EnvironmentSpec.secrets)."""


def _all_config(namespace: str) -> tuple[dict[str, str], set[str]]:
    """Every config key of `namespace` as the engine passed them to the program, and which of them
    hold a `secure:` value.

    The SDK has no public call that lists config keys. The CLI's language host hands the program
    its whole config in `PULUMI_CONFIG` (`pulumi.runtime.get_config_env()`), which lists every key
    so that misspelled ones are found; the keys the spec knows are also read one by one through
    `pulumi.Config`, which sees config set in-process too (the Automation API's inline programs).
    The engine marks a key secret when any value in it is `secure:`."""
    prefix = f"{namespace}:"
    found = {k[len(prefix):]: str(v) for k, v in pulumi.runtime.get_config_env().items() if k.startswith(prefix)}
    config = pulumi.Config(namespace)
    for key in (*_TEXT_KEYS, *_OBJECT_KEYS):
        value = config.get(key)
        if value is not None:
            found[key] = value
    return found, {key for key in found if pulumi.runtime.is_config_secret(f"{prefix}{key}")}


def key_path(namespace: str, loc: tuple[int | str, ...]) -> str:
    """('cells', 1, 'aws', 'region') -> 'aiinfra:cells[1].region' (union tags dropped)."""
    text = f"{namespace}:"
    previous: int | str | None = None
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(previous, int) and part in CLOUDS and i == 2 and loc[0] == "cells":
            pass  # the discriminated union's member tag, not a key
        else:
            text += part if text.endswith(":") else f".{part}"
        previous = part
    return text


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class whose keys live at `loc` (to list the allowed keys)."""
    model: type[BaseModel] | None = EnvironmentSpec
    i = 0
    while model is not None and i < len(loc):
        part = loc[i]
        if part == "cells":  # cells, index, union tag
            tag = loc[i + 2] if len(loc) > i + 2 else None
            model = CELL_MODELS.get(str(tag))
            i += 3
            continue
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        candidates = getattr(annotation, "__args__", None) or (annotation,)
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        i += 1
    return model


def _problem(namespace: str, error: Mapping[str, Any]) -> Problem:
    loc = tuple(error["loc"])
    kind = error["type"]
    if loc[-1:] == ("[key]",):  # a mapping's key failed its pattern: the key is the path and the value
        loc = loc[:-1]
    elif loc[:1] == ("secrets",):
        # Never echo a secret: say what is wrong with the value, not what it is.
        message = str(error["msg"]).removeprefix("Value error, ")
        return Problem(key_path(namespace, loc), SECRET_SHOWN, f"allowed: {message[0].lower()}{message[1:]}")
    if kind == "missing":
        return Problem(key_path(namespace, loc), None, "required", missing=True)
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model else "see docs/components.md"
        return Problem(key_path(namespace, loc), error["input"], f"unknown key; allowed keys here: {allowed}")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        got = error["input"].get("cloud") if isinstance(error["input"], dict) else error["input"]
        return Problem(key_path(namespace, (*loc, "cloud")), got, "allowed: 'aws', 'azure' or 'gcp'",
                       missing=kind == "union_tag_not_found")
    message = str(error["msg"]).removeprefix("Value error, ")
    allowed = message if message.startswith("allowed") else f"allowed: {message[0].lower()}{message[1:]}"
    return Problem(key_path(namespace, loc), error["input"], allowed)


def _cell_rule_problems(namespace: str, raw_cells: Any, environment: str) -> list[Problem]:
    """Rules across fields and cells, checked on every cell whose own fields are valid,
    so they are reported together with any field errors elsewhere."""
    if not isinstance(raw_cells, list):
        return []
    problems: list[Problem] = []
    # Only text names count: any other value (a list, a mapping) is a field error of its own.
    names = Counter(c["name"] for c in raw_cells if isinstance(c, dict) and isinstance(c.get("name"), str))
    seen: set[Any] = set()
    for i, raw in enumerate(raw_cells):
        path = key_path(namespace, ("cells", i))
        name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
        if name is not None and names[name] > 1 and name in seen:
            problems.append(Problem(f"{path}.name", name, "allowed: a name no other cell uses"))
        seen.add(name)
        try:
            cell = _CELL.validate_python(raw)
        except ValidationError:
            continue  # its field errors come from the whole-spec validation
        problems += [p.under(f"{path}.storage") for p in storage_problems(cell.cloud, cell.region, cell.storage)]
        problems += [p.under(f"{path}.network") for p in network_problems(cell.cloud, cell.network)]
        if cell.cluster is not None:
            problems += [p.under(f"{path}.cluster") for p in cluster_problems(cell.cloud, environment, cell.cluster, cell.region)]
        elif cell.gpu_pools:
            problems.append(Problem(f"{path}.gpu_pools", [p.name for p in cell.gpu_pools],
                                    "allowed: only with a `cluster` section in the same cell"))
        pool_names = Counter(p.name for p in cell.gpu_pools)
        for j, pool in enumerate(cell.gpu_pools):
            if pool_names[pool.name] > 1:
                problems.append(Problem(f"{path}.gpu_pools[{j}].name", pool.name,
                                        "allowed: a name no other pool of this cell uses"))
            problems += [p.under(f"{path}.gpu_pools[{j}]") for p in gpu_pool_problems(cell.cloud, pool)]
        endpoint_names = Counter(e.name for e in cell.endpoints)
        pools = {p.name: p.gpu for p in cell.gpu_pools}
        for j, endpoint in enumerate(cell.endpoints):
            if endpoint_names[endpoint.name] > 1:
                problems.append(Problem(f"{path}.endpoints[{j}].name", endpoint.name,
                                        "allowed: a name no other endpoint of this cell uses"))
            problems += [p.under(f"{path}.endpoints[{j}]")
                         for p in [*endpoint_problems(cell.cloud, cell.region, endpoint, cell.cluster is not None, pools),
                                   *auth_problems(endpoint, environment),
                                   *prod_image_problems(endpoint, environment)]]
    return problems


def _environment_rule_problems(namespace: str, spec: EnvironmentSpec) -> list[Problem]:
    """Rules across cells: global traffic and backups (checked once every field is valid)."""
    problems: list[Problem] = []
    for i, cell in enumerate(spec.cells):
        options = spec.cell_backup(cell)
        if options is None:
            continue
        own = cell.backup is not None
        for p in backup_problems(cell.cloud, cell.region, options, cell.cluster is not None):
            if own:
                problems.append(p.under(key_path(namespace, ("cells", i, "backup"))))
            else:
                problems.append(Problem(f"{namespace}:backup.{p.path}", p.received,
                                        f"{p.allowed} (for cell {cell.name!r} on {cell.cloud}; override it "
                                        f"in {key_path(namespace, ('cells', i, 'backup'))})", p.missing))
    problems += _dns_problems(namespace, spec)
    problems += _alert_and_image_problems(namespace, spec)
    traffic = spec.traffic
    if traffic is None:
        return problems
    path = f"{namespace}:traffic"
    backends = []
    for i, cell in enumerate(spec.cells):
        for j, endpoint in enumerate(cell.endpoints):
            if endpoint.name != traffic.endpoint:
                continue
            if endpoint.mode != "cluster":
                problems.append(Problem(
                    key_path(namespace, ("cells", i, "endpoints", j, "mode")), endpoint.mode,
                    f"allowed: cluster for an endpoint behind {path}; managed endpoints (SigV4, keys, OAuth "
                    "on provider hostnames) need a per-cloud front door before one global name can serve them"))
                continue
            backends.append((cell.name, cell.cloud, cell.region, STATIC_ENTRY_ADDRESS[cell.cloud]))
    zone = spec.dns.zone if spec.dns is not None else traffic.hostname.split(".", 1)[-1]
    problems += [p.under(path) for p in traffic_problems(traffic.model_copy(update={"zone": zone}), backends)]
    if traffic.provider == "cloud_dns" and not any(c.cloud == "gcp" for c in spec.cells):
        problems.append(Problem(f"{path}.provider", traffic.provider, "allowed: cloud_dns only with a GCP cell "
                                "(its project hosts the zone)"))
    if traffic.provider == "traffic_manager" and not any(c.cloud == "azure" for c in spec.cells):
        problems.append(Problem(f"{path}.provider", traffic.provider, "allowed: traffic_manager only with an "
                                "Azure cell (its resource group holds the profile)"))
    rto = spec.targets.rto_seconds
    if rto is not None and (worst := failover_seconds(traffic)) > rto:
        hc = traffic.health_check
        problems.append(Problem(
            f"{namespace}:targets.rto_seconds", rto,
            f"allowed: at least {worst}, the worst-case failover of {path} ({hc.failure_threshold} failures x "
            f"{hc.interval_seconds}s + {traffic.ttl}s TTL + one {hc.interval_seconds}s probe spread); lower the "
            f"interval, threshold or TTL, or raise the target"))
    return problems


def _alert_and_image_problems(namespace: str, spec: EnvironmentSpec) -> list[Problem]:
    """Prod tells a person when it breaks; each cell's image cache has the credentials its upstreams
    need, and every credential names a secret that exists."""
    problems: list[Problem] = []
    if spec.environment == "prod" and spec.alerts is None:
        problems.append(Problem(f"{namespace}:alerts", None, "required in prod: emails and/or a webhook_url that "
                                "alerts reach (a failing cell, 5xx, a GPU pool at its maximum, a failed backup)",
                                missing=True))
    for host, credential in spec.images.credentials.items():
        if credential.token_secret not in spec.secrets:
            problems.append(Problem(f"{namespace}:images.credentials.{host}.token_secret", credential.token_secret,
                                    f"allowed: the name of an entry of {namespace}:secrets "
                                    f"({', '.join(sorted(spec.secrets)) or 'none set'}); set it with `pulumi config "
                                    f"set --secret --path '{namespace}:secrets.{credential.token_secret}' <token>`"))
    seen: set[tuple[str, str]] = set()
    for i, cell in enumerate(spec.cells):
        if cell.cluster is None:
            continue
        # An image from a registry the cell's cache cannot pull through: named at the image's own key.
        for j, endpoint in enumerate(cell.endpoints):
            image = endpoint.model.image
            if endpoint.mode == "cluster" and image and (bad := upstream_problem(cell.cloud, parse_image(image).registry)):
                problems.append(Problem(key_path(namespace, ("cells", i, "endpoints", j, "model", "image")), image, bad))
        for p in cache_problems(cell.cloud, upstreams(cell.cloud, cell.endpoints), spec.images.credentials,
                                path=f"{namespace}:images"):
            if (p.path, str(p.received)) not in seen:
                seen.add((p.path, str(p.received)))
                problems.append(Problem(p.path, p.received, f"{p.allowed} (cell {cell.name!r})", p.missing))
    return problems


def _dns_problems(namespace: str, spec: EnvironmentSpec) -> list[Problem]:
    """The zone: present when the environment serves public names, holding every one of them, on a
    provider the global traffic can use."""
    names = [(key_path(namespace, ("cells", i, "endpoints", j, "hostname")), e.hostname)
             for i, cell in enumerate(spec.cells) for j, e in enumerate(cell.endpoints)
             if e.mode == "cluster" and e.hostname is not None]
    traffic = spec.traffic
    if traffic is not None:
        names.append((f"{namespace}:traffic.hostname", traffic.hostname))
        for key in ("zone", "zone_id"):
            if getattr(traffic, key) is not None:
                return [Problem(f"{namespace}:traffic.{key}", getattr(traffic, key),
                                f"allowed: nothing here; the zone is {namespace}:dns (zone, provider, zone_id)")]
    dns = spec.dns
    if dns is None:
        return [Problem(f"{namespace}:dns", None, f"required: {names[0][0]} ({names[0][1]}) is a public name; "
                        "the zone that holds it (zone, provider) lets the stack create its record and its "
                        "certificate's validation records", missing=True)] if names else []
    problems = dns_problems(dns, names)
    clouds = {c.cloud for c in spec.cells if any(e.mode == "cluster" for e in c.endpoints)}
    if "azure" in clouds:  # AKS entries prove their names with cert-manager's DNS-01 in this zone
        problems += acme_dns01_problems(dns.provider, "azure")
    if traffic is not None and dns.provider not in ZONE_PROVIDERS[traffic.provider]:
        problems.append(Problem(f"{namespace}:dns.provider", dns.provider,
                                f"allowed with traffic provider {traffic.provider}: "
                                f"{' or '.join(ZONE_PROVIDERS[traffic.provider])}"))
    home = {"cloud_dns": "gcp", "azure_dns": "azure"}.get(dns.provider)
    if home is not None and not any(c.cloud == home for c in spec.cells):
        problems.append(Problem(f"{namespace}:dns.provider", dns.provider,
                                f"allowed: {dns.provider} only with a {home} cell (the zone lives beside it)"))
    return problems


TIERS = ("dev", "staging", "prod")
ALLOW_MISMATCH = "allow_environment_mismatch"
_TEXT_KEYS = ("environment", ALLOW_MISMATCH)


def _tier_problems(namespace: str, stack: str, data: Mapping[str, Any]) -> list[Problem]:
    """A stack named after a tier runs as that tier unless `allow_environment_mismatch` names the
    stack (see EnvironmentSpec.allow_environment_mismatch): a stack file copied from dev to prod
    must not deploy prod with dev's defaults, unprotected."""
    environment, allowance = data.get("environment"), data.get(ALLOW_MISMATCH)
    problems: list[Problem] = []
    if allowance is not None and allowance != stack:
        problems.append(Problem(f"{namespace}:{ALLOW_MISMATCH}", allowance,
                                f"allowed: this stack's own name ({stack!r}), so the allowance does not travel "
                                "with a stack file copied to another stack"))
    if stack in TIERS and environment in TIERS and environment != stack and allowance != stack:
        problems.append(Problem(
            f"{namespace}:environment", environment,
            f"allowed: {stack!r}, the tier stack {stack!r} is named after: the tier drives the secure defaults "
            f"(prod protects and retains stateful resources); to run stack {stack!r} as {environment!r} on "
            f"purpose, also set {namespace}:{ALLOW_MISMATCH}: {stack}"))
    return problems


def _secret_problems(namespace: str, raw_config: Mapping[str, str], secret_keys: Collection[str]) -> list[Problem]:
    """A `secure:` value outside `aiinfra:secrets`, or a plain one inside it. Values of secret keys
    are never shown."""
    problems = [Problem(f"{namespace}:{key}", SECRET_SHOWN,
                        f"allowed: no `secure:` value under {namespace}:{key}: it decides resource names, regions "
                        "and counts, which Pulumi records in plaintext (names, URNs, state), so a secret there "
                        f"cannot stay secret; put the value under {namespace}:secrets.<name> instead")
                for key in sorted(secret_keys) if key not in SECRET_KEYS and key in raw_config]
    for key in sorted(SECRET_KEYS):
        if key in raw_config and key not in secret_keys:
            try:
                names = sorted(json.loads(raw_config[key]))
            except (json.JSONDecodeError, TypeError):
                names = []
            problems.append(Problem(f"{namespace}:{key}", names or "a plain value",
                                    f"allowed: `secure:` values only; set each with `pulumi config set --secret "
                                    f"--path '{namespace}:{key}.<name>' <value>`"))
    return problems


def parse_spec(namespace: str, stack: str, raw_config: Mapping[str, str],
               secret_keys: Collection[str] = ()) -> EnvironmentSpec:
    """Validate raw config strings (key without namespace -> engine string) into a spec.

    `secret_keys`: the keys the engine marks secret (a `secure:` value somewhere in them). A secret
    key other than `secrets` is refused without being read, so no message can show its value."""
    problems: list[Problem] = _secret_problems(namespace, raw_config, secret_keys)
    data: dict[str, Any] = {}
    allowed_keys = [*_TEXT_KEYS, *sorted(_OBJECT_KEYS)]
    for key, text in sorted(raw_config.items()):
        if key in secret_keys and key not in SECRET_KEYS:
            continue
        if key not in allowed_keys:
            problems.append(Problem(f"{namespace}:{key}", text, f"unknown key; allowed keys: {', '.join(allowed_keys)}"))
        elif key in _OBJECT_KEYS:
            try:
                data[key] = json.loads(text)
            except json.JSONDecodeError:
                problems.append(Problem(f"{namespace}:{key}", text, "allowed: a structured value (a YAML mapping or list)"))
        else:
            data[key] = text
    problems += _tier_problems(namespace, stack, data)
    if "environment" not in data:
        if stack in TIERS:
            data["environment"] = stack
        else:
            problems.append(Problem(f"{namespace}:environment", None,
                                    f"required when the stack name ({stack!r}) is not dev, staging or prod",
                                    missing=True))
            data["environment"] = "dev"  # keep validating the rest
    spec: EnvironmentSpec | None = None
    try:
        spec = EnvironmentSpec.model_validate(data)
    except ValidationError as exc:
        problems += [_problem(namespace, e) for e in exc.errors()]
    refused = {f"{namespace}:{key}" for key in secret_keys if key not in SECRET_KEYS}
    problems = [p for p in problems if not (p.missing and p.path in refused)]  # refused above, not missing
    problems += _cell_rule_problems(namespace, data.get("cells"), str(data.get("environment")))
    if spec is not None:
        problems += _environment_rule_problems(namespace, spec)
    if problems or spec is None:
        raise InputError(f"invalid configuration for stack {stack!r}", problems)
    return spec


def load_spec() -> EnvironmentSpec:
    """The spec of the running stack; raises InputError (no traceback) listing every problem."""
    namespace = pulumi.get_project()
    raw, secret_keys = _all_config(namespace)
    return parse_spec(namespace, pulumi.get_stack(), raw, secret_keys)
