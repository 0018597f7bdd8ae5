"""The auth hop: who may call the model server.

It holds when the serving container requires a key (vLLM: the VLLM_API_KEY environment variable,
from a value or a secret, or `--api-key` in its command or args), or when the entry authenticates
requests itself (ALB auth-type cognito/oidc, NGINX auth-url/auth-type). A pod template annotated
`aiinfra.io/auth: none` declares an open endpoint on purpose: reported as "none (declared)", not a
break (the policy pack allows it outside prod only).
"""

from __future__ import annotations

from typing import Any

from . import facts as F
from .index import Resource
from .registry import Step, Walk, broken, ok, register
from .workload import POD_SOURCES, template_of

HOP = "auth"


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _key_envs(container: dict[str, Any]) -> tuple[str, ...]:
    """The variables a container's server reads its API key from: VLLM_API_KEY, and API_KEY for TGI."""
    image = container.get("image")
    tgi = isinstance(image, str) and "huggingface/text-generation-inference" in image
    return (F.VLLM_API_KEY_ENV, F.TGI_API_KEY_ENV) if tgi else (F.VLLM_API_KEY_ENV,)


def container_key(container: dict[str, Any]) -> str | None:
    """How a container requires a key, or None."""
    names = _key_envs(container)
    for env in container.get("env") or []:
        if isinstance(env, dict) and env.get("name") in names and (env.get("value") or env.get("valueFrom")):
            source = env.get("valueFrom")
            if isinstance(source, dict) and isinstance(source.get("secretKeyRef"), dict):
                return f"{env.get('name')} from secret {source['secretKeyRef'].get('name')}"
            return str(env.get("name"))
    for arg in _strings(container.get("command")) + _strings(container.get("args")):
        if arg == F.VLLM_API_KEY_ARG or arg.startswith(F.VLLM_API_KEY_ARG + "=") or f" {F.VLLM_API_KEY_ARG}" in f" {arg}":
            return F.VLLM_API_KEY_ARG
    return None


def entry_auth(r: Resource | None) -> str | None:
    """The annotation by which an entry object authenticates requests, or None."""
    if r is None:
        return None
    annotations = r.annotations
    if annotations.get(F.ALB["auth_type"]) in F.ALB_AUTH_TYPES:
        return f"{F.ALB['auth_type']}: {annotations[F.ALB['auth_type']]}"
    for key in F.NGINX_AUTH_ANNOTATIONS:
        if annotations.get(key):
            return key
    return None


def declared_open(workload: Resource) -> bool:
    t = template_of(workload)
    key, value = F.AUTH_OPT_OUT
    return t is not None and t.annotations.get(key) == value


def _auth(w: Walk, workload: Resource) -> Step:
    t = template_of(workload)
    if t is not None and declared_open(workload):
        w.extra["auth"] = "none"
        return Step(ok(HOP, workload, f"none (declared: {F.AUTH_OPT_OUT[0]}: {F.AUTH_OPT_OUT[1]} on {workload.kind} "
                                      f"{workload.k8s_ref})", "auth-declared-none"), workload)
    container = w.container or (t.containers[0] if t is not None and t.containers else None)
    how = container_key(container) if container is not None else None
    if how is not None:
        w.extra["auth"] = "key"
        return Step(ok(HOP, workload, f"container '{container.get('name') if container else '?'}' requires a key "
                                      f"({how})", "vllm-api-key"), workload)
    for holder in (w.route, w.entry):
        via = entry_auth(holder)
        if via is not None and holder is not None:
            w.extra["auth"] = "entry"
            return Step(ok(HOP, holder, f"{holder.kind} {holder.k8s_ref} authenticates requests ({via})",
                           "alb-auth", "nginx-auth"), workload)
    w.extra["auth"] = "missing"
    name = container.get("name") if container is not None else "?"
    return Step(broken(HOP, workload, f"no auth: container '{name}' of {workload.kind} {workload.k8s_ref} sets neither "
                                      f"{F.VLLM_API_KEY_ENV} nor {F.VLLM_API_KEY_ARG}, the entry does not authenticate, "
                                      f"and the pod template does not declare {F.AUTH_OPT_OUT[0]}: {F.AUTH_OPT_OUT[1]}",
                       "vllm-api-key", "auth-declared-none"), workload)


register(HOP, tuple(POD_SOURCES), _auth, describe="API key on the serving container, entry auth, or declared none")
