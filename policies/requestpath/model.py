"""The model hop: which model the server loads, and from where.

For a recognised engine (facts.ENGINES, by image path) the model is its model flag's value (vLLM
--model, TGI --model-id or MODEL_ID). The hop breaks when the engine gets no model (it would serve
its built-in default from the Hugging Face hub), when the model is a local path that nothing fills
(no init container writes the volume it is on), or when hub downloads are off (HF_HUB_OFFLINE=1) and
the model is a hub id. A model copied from an object store by an init container holds when the
store location is readable by the pod's cloud identity (a binding of its ServiceAccount and a grant
naming the bucket or prefix exist in the stack). A hub id with downloads on still serves, from
outside the cell: the hop says so, and the stack policy `model-server-has-model-source` refuses it.
For an image it does not recognise, the hop reads the init containers: a copy from a store holds,
anything else is unknown offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import facts as F
from .image import parse
from .index import UNKNOWN, Index, Resource, known_str
from .registry import Step, Walk, add_hop, broken, ok, register, unknown
from .workload import POD_SOURCES, PodTemplate, template_of

HOP = "model"
add_hop(HOP, after="image")


def engine_of(container: dict[str, Any]) -> F.EngineFacts | None:
    image = known_str(container.get("image"))
    if image is None:
        return None
    path = parse(image).path
    return next((e for e in F.ENGINES if path == e.repository or path.endswith("/" + e.repository)), None)


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def argv(container: dict[str, Any]) -> list[str]:
    return _strings(container.get("command")) + _strings(container.get("args"))


def flag_value(args: list[str], flags: tuple[str, ...]) -> str | None:
    for i, arg in enumerate(args):
        for flag in flags:
            if arg == flag and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
    return None


def env_value(container: dict[str, Any], name: str) -> Any:
    for env in container.get("env") or []:
        if isinstance(env, dict) and env.get("name") == name:
            return env.get("value") if "value" in env else UNKNOWN
    return None


def model_of(container: dict[str, Any], engine: F.EngineFacts) -> str | None:
    value = flag_value(argv(container), engine.model_flags)
    if value is None and engine.model_env is not None:
        env = env_value(container, engine.model_env)
        value = env if isinstance(env, str) else None
    return value


def offline(container: dict[str, Any]) -> bool:
    return env_value(container, F.HF_OFFLINE_ENV[0]) == F.HF_OFFLINE_ENV[1]


def store_url(container: dict[str, Any]) -> str | None:
    """The object-store location a copy tool's command or environment names (s3://, gs://, an Azure
    blob URL)."""
    values = [e.get("value") for e in container.get("env") or [] if isinstance(e, dict)]
    for arg in argv(container) + [v for v in values if isinstance(v, str)]:
        for word in arg.replace("'", " ").replace('"', " ").split():
            if word.startswith(("s3://", "gs://")) or (word.startswith("https://") and F.BLOB_HOST_SUFFIX in word):
                return word
    return None


def _volume_at(container: dict[str, Any], path: str) -> str | None:
    best: tuple[int, str] | None = None
    for m in container.get("volumeMounts") or []:
        if not isinstance(m, dict):
            continue
        mount = known_str(m.get("mountPath"))
        if mount and (path == mount or path.startswith(mount.rstrip("/") + "/")):
            if best is None or len(mount) > best[0]:
                best = (len(mount), str(m.get("name")))
    return best[1] if best else None


def _writers(t: PodTemplate, volume: str) -> list[dict[str, Any]]:
    return [c for c in t.init_containers
            if any(isinstance(m, dict) and m.get("name") == volume and not m.get("readOnly")
                   for m in c.get("volumeMounts") or [])]


@dataclass(frozen=True)
class Location:
    bucket: str
    prefix: str


def parse_store(url: str) -> Location | None:
    if url.startswith(("s3://", "gs://")):
        bucket, _, prefix = url[5:].partition("/")
        return Location(bucket, prefix)
    if url.startswith("https://"):
        host, _, rest = url[8:].partition("/")
        container, _, prefix = rest.partition("/")
        return Location(f"{host.split('.', 1)[0]}/{container}", prefix)
    return None


def _text(r: Resource) -> str:
    return json.dumps(r.inputs, default=str)


def identity_of(index: Index, namespace: str, account: str) -> Resource | None:
    """What binds the pod's ServiceAccount to a cloud identity: an EKS Pod Identity association, an Azure
    federated credential (subject system:serviceaccount:ns:sa) or a GKE Workload Identity member
    (.../ns/<ns>/sa/<sa> or <project>.svc.id.goog[ns/sa])."""
    marks = (f"system:serviceaccount:{namespace}:{account}", f"/ns/{namespace}/sa/{account}", f"[{namespace}/{account}]")
    for r in index.resources:
        if r.is_kubernetes:
            continue
        if r.get("namespace") == namespace and r.get("serviceAccount") == account:
            return r
        text = _text(r)
        if any(m in text for m in marks):
            return r
    return None


def grant_of(index: Index, where: Location, identity: Resource) -> Resource | None:
    """A non-Kubernetes resource (a policy, binding or role assignment) naming the bucket and prefix, or
    fed by the identity and naming the bucket."""
    bucket_name = where.bucket.split("/")[-1]
    for r in index.resources:
        if r.is_kubernetes or r is identity:
            continue
        text = _text(r)
        if bucket_name in text and where.prefix and where.prefix in text:
            return r
    return None


def _source(w: Walk, workload: Resource, t: PodTemplate, copier: dict[str, Any], url: str, into: str) -> Step:
    where = parse_store(url)
    name = copier.get("name")
    if where is None:
        return Step(unknown(HOP, workload, f"init container '{name}' copies from {url}"), workload)
    account = t.service_account or "default"
    identity = identity_of(w.index, workload.namespace, account)
    if identity is None:
        return Step(broken(HOP, workload, f"init container '{name}' copies {url} {into}, but ServiceAccount "
                           f"{workload.namespace}/{account} is bound to no cloud identity in the stack: the copy has "
                           "no credentials"), workload)
    grant = grant_of(w.index, where, identity)
    if grant is None:
        return Step(broken(HOP, identity, f"init container '{name}' copies {url} {into}, but nothing in the stack "
                           f"grants read on {where.prefix or where.bucket} to the identity of ServiceAccount "
                           f"{workload.namespace}/{account}"), workload)
    return Step(ok(HOP, workload, f"{url} copied {into} by init container '{name}' as ServiceAccount "
                   f"{workload.namespace}/{account} ({identity.name}; read granted by {grant.name})",
                   "hf-hub-offline"), workload)


def _model(w: Walk, workload: Resource) -> Step:
    t = template_of(workload)
    if t is None or not t.containers:
        return Step(unknown(HOP, workload, f"{workload.kind} {workload.k8s_ref}: containers unknown offline"), workload)
    server = w.container or t.containers[0]
    engine = engine_of(server)
    copiers = [(c, store_url(c)) for c in t.init_containers]
    copiers = [(c, u) for c, u in copiers if u is not None]
    if engine is None:
        if copiers:
            c, url = copiers[0]
            return _source(w, workload, t, c, url, "into the pod")
        return Step(unknown(HOP, workload, f"container '{server.get('name')}' is no model server this model "
                            "recognises, and no init container copies from an object store"), workload)
    model = model_of(server, engine)
    w.extra["model"] = model
    if model is None:
        return Step(broken(HOP, workload, f"{engine.name} in container '{server.get('name')}' gets no "
                           f"{engine.model_flags[0]}: it serves its built-in default model, from the Hugging Face hub",
                           "engine-model-flag"), workload)
    if model == UNKNOWN:
        return Step(unknown(HOP, workload, f"{engine.model_flags[0]} unknown offline"), workload)
    if model.startswith("/"):
        volume = _volume_at(server, model)
        if volume is None:
            return Step(ok(HOP, workload, f"{engine.name} loads {model} from the image itself", "engine-model-flag"),
                        workload)
        writers = [(c, store_url(c)) for c in _writers(t, volume)]
        sourced = [(c, u) for c, u in writers if u is not None]
        if not sourced:
            what = f"init container '{writers[0][0].get('name')}' writes it from no object store" if writers else \
                f"no init container writes volume '{volume}'"
            return Step(broken(HOP, workload, f"{engine.name} loads {model}, but {what}: the server starts without "
                               "its model", "engine-model-flag"), workload)
        if not offline(server):
            w.extra["model_outside"] = "hub fallback"
        c, url = sourced[0]
        return _source(w, workload, t, c, url, f"into volume '{volume}' ({model})")
    if offline(server):
        return Step(broken(HOP, workload, f"{engine.name} loads hub id {model} with {F.HF_OFFLINE_ENV[0]}=1: it fails "
                           "at start (nothing copies the model into the pod)", "hf-hub-offline", "engine-model-flag"),
                    workload)
    w.extra["model_outside"] = model
    return Step(ok(HOP, workload, f"{engine.name} downloads {model} from the Hugging Face hub at start: OUTSIDE the "
                   "cell", "engine-model-flag"), workload)


register(HOP, tuple(POD_SOURCES), _model, describe="the model the server loads and the store it is copied from")
