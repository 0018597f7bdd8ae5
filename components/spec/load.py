"""Load the environment spec from stack config and report every problem at once.

Each problem names its config key path (`aiinfra:cells[1].region`), the value
received and what is allowed. Nothing is registered before this succeeds.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Mapping

import pulumi
import pulumi.runtime
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..catalog.regions import CLOUDS
from ..common import InputError, Problem
from ..backup import backup_problems
from ..compute import cluster_problems, gpu_pool_problems
from ..network import network_problems
from ..serving import endpoint_problems
from ..traffic import failover_seconds, traffic_problems
from ..storage import storage_problems
from .model import AwsCell, AzureCell, Cell, EnvironmentSpec, GcpCell

_CELL: TypeAdapter[Cell] = TypeAdapter(Cell)
CELL_MODELS: dict[str, type[BaseModel]] = {"aws": AwsCell, "azure": AzureCell, "gcp": GcpCell}

_OBJECT_KEYS = {"tags", "cells", "targets", "traffic", "backup"}


def _all_config(namespace: str) -> dict[str, str]:
    """Every config key of `namespace`, as the engine passed them to the program."""
    merged: dict[str, Any] = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    prefix = f"{namespace}:"
    return {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}


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
    if kind == "missing":
        return Problem(key_path(namespace, loc), None, "required", missing=True)
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model else "see the README"
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
    names = Counter(c.get("name") for c in raw_cells if isinstance(c, dict))
    seen: set[Any] = set()
    for i, raw in enumerate(raw_cells):
        path = key_path(namespace, ("cells", i))
        name = raw.get("name") if isinstance(raw, dict) else None
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
                         for p in endpoint_problems(cell.cloud, cell.region, endpoint, cell.cluster is not None, pools)]
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
            backends.append((cell.name, cell.cloud, cell.region, False))
    problems += [p.under(path) for p in traffic_problems(traffic, backends)]
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


def parse_spec(namespace: str, stack: str, raw_config: Mapping[str, str]) -> EnvironmentSpec:
    """Validate raw config strings (key without namespace -> engine string) into a spec."""
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    allowed_keys = ["environment", *sorted(_OBJECT_KEYS)]
    for key, text in sorted(raw_config.items()):
        if key not in allowed_keys:
            problems.append(Problem(f"{namespace}:{key}", text, f"unknown key; allowed keys: {', '.join(allowed_keys)}"))
        elif key in _OBJECT_KEYS:
            try:
                data[key] = json.loads(text)
            except json.JSONDecodeError:
                problems.append(Problem(f"{namespace}:{key}", text, "allowed: a structured value (a YAML mapping or list)"))
        else:
            data[key] = text
    if "environment" not in data:
        if stack in ("dev", "staging", "prod"):
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
    problems += _cell_rule_problems(namespace, data.get("cells"), str(data.get("environment")))
    if spec is not None:
        problems += _environment_rule_problems(namespace, spec)
    if problems or spec is None:
        raise InputError(f"invalid configuration for stack {stack!r}", problems)
    return spec


def load_spec() -> EnvironmentSpec:
    """The spec of the running stack; raises InputError (no traceback) listing every problem."""
    namespace = pulumi.get_project()
    return parse_spec(namespace, pulumi.get_stack(), _all_config(namespace))
