"""The workload's supply: its model, its autoscaler's metric and its images, on the request-path model.

The same hops `preflight trace` prints after `auth` (requestpath image.py, model.py, autoscaler.py),
asked of every Deployment, StatefulSet, ReplicaSet, Pod and InferenceService of the stack, whether
or not an entry routes to it yet:

- `model-server-has-model-source`: a recognised model server (vLLM, TGI) loads a model the stack
  puts in its pod (an init container copying the cell's store prefix, readable by the pod's cloud
  identity), never its built-in default or a hub download.
- `autoscaler-metric-produced`: a ScaledObject or HPA scales on a metric the server exports, that a
  scraper collects and KEDA or an adapter serves.
- `serving-images-from-cell-cache`: in production environments, every image of every pod comes
  through a pull-through cache of the cell (a failover scales the surviving cells out exactly when
  upstream rate limits bite).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from requestpath import Index, Status, model_servers, supply

from .common import Stack, environment_setting, label
from .entry import model_policy


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def check_model_source(index: Index, _stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    servers = {r.urn for r in model_servers(index)}
    for found in supply(index, "model"):
        if found.workload.urn not in servers:
            continue
        where = label(found.workload.type, found.workload.name)
        if found.hop.status is Status.BROKEN:
            yield _sentence(f"Give {where} its model from the cell's store: {found.hop.detail}"), found.workload.urn
        elif found.outside is not None:
            yield (_sentence(f"Copy the model of {where} from the cell's store into the pod and set HF_HUB_OFFLINE=1: "
                             f"{found.hop.detail}"), found.workload.urn)


def check_autoscaler_metric(index: Index, _stack: Stack,
                            _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for found in supply(index, "autoscaler"):
        if found.hop.status is Status.BROKEN:
            holder = index.get(found.hop.urn) or found.workload
            target = "" if holder is found.workload else f" (it scales {label(found.workload.type, found.workload.name)})"
            yield (_sentence(f"Scale {label(holder.type, holder.name)}{target} on a metric its server exports and the "
                             f"cluster scrapes and serves: {found.hop.detail}"), holder.urn)


CACHE_SETTINGS = [
    environment_setting("production_environments", ["prod"],
                        "Environments whose pods must pull every image through a pull-through cache of their cell."),
]


def check_images(index: Index, stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for found in supply(index, "image"):
        resource = stack.by_urn.get(found.workload.urn)
        environment = stack.environment_of(resource) if resource is not None else stack.environment
        where = label(found.workload.type, found.workload.name)
        if found.hop.status is Status.BROKEN:
            yield _sentence(f"Fix the image of {where}: {found.hop.detail}"), found.workload.urn
        elif found.outside is not None and environment in config["production_environments"]:
            yield (_sentence(f"Pull {found.outside} of {where} through the cell's pull-through cache (an ECR "
                             f"pull-through cache rule, an Artifact Registry remote repository or an ACR cache rule): "
                             f"{environment} pods may not depend on an upstream registry"), found.workload.urn)


POLICIES = [
    model_policy("model-server-has-model-source",
                 "Model servers (vLLM, TGI) must load a model the stack copies into their pod from the cell's store, "
                 "readable by the pod's identity; never a built-in default or a Hugging Face hub download.",
                 check_model_source),
    model_policy("autoscaler-metric-produced",
                 "Autoscalers must scale on a metric the server exports, a scraper collects and KEDA or a metrics "
                 "adapter serves.", check_autoscaler_metric),
    model_policy("serving-images-from-cell-cache",
                 "In production environments every pod image must come through a pull-through cache of its cell.",
                 check_images, settings=CACHE_SETTINGS),
]
