"""The model server's contract: how the library starts each engine, what it exposes, what it measures.

For `vllm` and `tgi` the flags, environment, paths and metric names come from the pinned release in
components/catalog/engines.py (read from each engine's source at that tag); `custom` brings its own.
Every engine reads the model from MODEL_DIR, which the cloud's model loader fills from the cell's
store before the server starts (serving/<cloud>.py `model_loader`), and never from the Internet: the
Hugging Face hub is switched off (the release's `offline_env`), so a missing model is an error at
start, not a silent download of another one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import pulumi_kubernetes as k8s

from ..catalog.engines import ENGINE_NAMES, EngineRelease, default_release, release_for
from ..common import Problem
from ..common.dispatch import unknown
from .args import ENGINES, Engine, EndpointOptions, Metric, PerMetric

MODEL_DIR = "/models/model"
"""Where the loader puts the artifacts and the server reads them (on the `model` volume)."""
MODEL_MOUNT = "/models"
CACHE_DIR = "/var/cache/server"
"""A writable directory (emptyDir `cache`) every engine cache points under: the root is read-only."""
ERROR_WINDOW = "5m"
"""Rate window of the error-ratio alert: long enough that one failed request among few is not a page."""
ERROR_RATIO_THRESHOLD = 0.05
"""The endpoint's 5xx alert fires when more than this share of its requests fail for 5 minutes."""
QUERY_WINDOW = "2m"
"""Rate window of the `invocations` query: two scrape intervals at least."""

EXPORTED_METRICS_ANNOTATION = "aiinfra.io/exported-metrics"
"""Pod template annotation: the metrics the server exports, comma-separated (what `preflight trace` checks
an autoscaler's query against when it does not recognise the image)."""

PathType = Literal["Prefix", "Exact"]


@dataclass(frozen=True)
class ServerContract:
    """How one endpoint's server container is started and observed."""

    release: EngineRelease | None
    """The catalogued release (None for `custom`)."""
    args: list[str]
    """The container's arguments (after the image's own entrypoint)."""
    env: list[k8s.core.v1.EnvVarArgsDict]
    """Offline mode, writable caches, the model's place; the API key is added by the caller."""
    api_key_env: str | None
    """The variable the server reads its API key from, if it enforces one."""
    metrics_path: str
    metric_names: PerMetric[str]
    """Per scaling metric, the server's own metric: a gauge (`concurrency`, `queue`) or a counter
    (`invocations`)."""
    public_paths: list[tuple[str, PathType]]
    """What the entry routes to the server: its API and its health path, never `/metrics`."""
    requests_total: str | None = None
    """Counter of every request answered (None: the server states no error ratio)."""
    errors_total: str | None = None
    """Counter of failed requests, selected by `error_selector`."""
    error_selector: tuple[tuple[str, str], ...] = ()

    def exported_metrics(self) -> list[str]:
        """Every metric name the library relies on, for the pod's EXPORTED_METRICS_ANNOTATION."""
        names = [*self.metric_names.values(), self.requests_total, self.errors_total]
        return sorted({n for n in names if n})

    def error_ratio_query(self, matchers: dict[str, str]) -> str | None:
        """PromQL of the share of requests the endpoint's pods failed over ERROR_WINDOW (0..1), or None
        when the server has no such counters (a custom server that names none)."""
        if self.requests_total is None or self.errors_total is None:
            return None
        errors = _selector({**matchers, **dict(self.error_selector)})
        every = _selector(matchers)
        return (f"sum(rate({self.errors_total}{errors}[{ERROR_WINDOW}])) / "
                f"sum(rate({self.requests_total}{every}[{ERROR_WINDOW}]))")


def _library_flags(release: EngineRelease) -> set[str]:
    return {release.arg_names[role] for role in ("model", "served_name", "port", "host", "tensor_parallel")
            if role in release.arg_names}


def _engine_release(options: EndpointOptions) -> EngineRelease | None:
    engine = options.engine
    match engine:
        case "vllm" | "tgi":
            image = options.model.image
            return release_for(engine, image) if image else default_release(engine)
        case "custom":
            return None
        case _:
            unknown(engine, "EndpointOptions.engine", ENGINES)


def server_problems(options: EndpointOptions) -> list[Problem]:
    """What a cluster-mode server needs: a catalogued release of its engine, flags that exist in it,
    or (custom) its arguments, metrics and health path; the model's size. Paths are relative to the
    endpoint options."""
    if options.mode != "cluster":
        return []
    model = options.model
    problems: list[Problem] = []
    if model.size_gb is None:
        problems.append(Problem("model.size_gb", None, "required in cluster mode: it sizes the pod's model "
                                "volume and the cold-start budget", missing=True))
    if options.engine == "custom":
        if not model.args:
            problems.append(Problem("model.args", None, "required with engine custom: the server's "
                                    "arguments (the model is in " + MODEL_DIR + ")", missing=True))
        if model.metrics is None:
            problems.append(Problem("model.metrics", None, "required with engine custom: the names of "
                                    "its running, waiting and finished-requests metrics, for autoscaling",
                                    missing=True))
        if "health_path" not in model.model_fields_set:
            problems.append(Problem("model.health_path", None, "required with engine custom: a path "
                                    "that answers 200 only once the model is loaded", missing=True))
        return problems
    if model.metrics is not None:
        problems.append(Problem("model.metrics", "set", "allowed: only with engine custom; "
                                f"{options.engine}'s metrics are known"))
    release = _engine_release(options)
    if release is None:
        versions = ", ".join(f"{r.repository}:{r.version}" for r in _releases(options.engine))
        problems.append(Problem("model.image", model.image,
                                f"allowed: a catalogued {options.engine} release ({versions}), optionally "
                                "@sha256:<digest> or through a mirror with the same path; the library passes that "
                                "release's flags. Another server or version: engine custom"))
        return problems
    if model.served_name is not None and "served_name" not in release.arg_names:
        problems.append(Problem("model.served_name", model.served_name,
                                f"allowed: unset with {release.engine} {release.version}, which has no flag for it "
                                "(clients name the model by its directory)"))
    ours = _library_flags(release)
    for i, arg in enumerate(model.args):
        if not arg.startswith("--"):
            continue
        flag = arg.split("=", 1)[0]
        if flag not in release.flags:
            problems.append(Problem(f"model.args[{i}]", arg,
                                    f"allowed: a flag of {release.engine} {release.version} ({release.source})"))
        elif flag in ours:
            problems.append(Problem(f"model.args[{i}]", arg,
                                    f"allowed: flags the library does not set itself ({', '.join(sorted(ours))})"))
    if options.auth == "api_key" and release.api_key_env is None:
        problems.append(Problem("auth", options.auth,
                                f"allowed: none with {release.engine} {release.version}, which cannot check an API "
                                "key itself; use vllm, or a custom server that does"))
    return problems


def _releases(engine: Engine) -> tuple[EngineRelease, ...]:
    from ..catalog.engines import ENGINE_RELEASES
    return ENGINE_RELEASES[engine] if engine in ENGINE_NAMES else ()  # type: ignore[index]


def server_contract(options: EndpointOptions) -> ServerContract:
    """The server's arguments, environment, public paths and metrics (server_problems passed)."""
    model = options.model
    served = model.served_name or options.name
    if options.engine == "custom":
        assert model.metrics is not None
        return ServerContract(
            release=None, args=list(model.args),
            env=[{"name": "MODEL_DIR", "value": MODEL_DIR}, {"name": "HOME", "value": CACHE_DIR}],
            api_key_env=None, metrics_path=model.metrics.path,
            metric_names={"concurrency": model.metrics.running, "queue": model.metrics.waiting,
                          "invocations": model.metrics.success_total},
            public_paths=[("/", "Prefix")],
            requests_total=model.metrics.requests_total, errors_total=model.metrics.errors_total)
    release = _engine_release(options)
    assert release is not None
    names = release.arg_names
    args = [names["model"], MODEL_DIR, names["port"], str(model.port)]
    if "served_name" in names:
        args += [names["served_name"], served]
    if "host" in names:
        args += [names["host"], "0.0.0.0"]
    if options.accelerator.count > 1:
        args += [names["tensor_parallel"], str(options.accelerator.count)]
    args += list(model.args)
    env: list[k8s.core.v1.EnvVarArgsDict] = [{"name": "HOME", "value": CACHE_DIR}]
    env += [_env(k, v) for k, v in sorted(release.offline_env.items())]
    env += [_env(k, f"{CACHE_DIR}/{sub}") for k, sub in sorted(release.cache_env.items())]
    return ServerContract(
        release=release, args=args, env=env, api_key_env=release.api_key_env, metrics_path=release.metrics_path,
        metric_names={"concurrency": release.metric_running, "queue": release.metric_waiting,
                      "invocations": release.metric_success_total},
        public_paths=[("/v1", "Prefix"), (model.health_path, "Exact")],
        requests_total=release.metric_requests_total, errors_total=release.metric_errors_total,
        error_selector=tuple(sorted(release.error_selector.items())))


def _env(name: str, value: str) -> k8s.core.v1.EnvVarArgsDict:
    return {"name": name, "value": value}


def _selector(matchers: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(matchers.items())) + "}"


def scaling_query(metric: Metric, names: PerMetric[str], matchers: dict[str, str]) -> str:
    """The PromQL KEDA evaluates for `metric` over the endpoint's pods: the sum over pods, which KEDA
    divides by the replica count (metricType AverageValue) to compare with the per-replica target."""
    selector = _selector(matchers)
    match metric:
        case "concurrency":
            return f"sum({names['concurrency']}{selector})"
        case "queue":
            return f"sum({names['queue']}{selector})"
        case "invocations":
            return f"sum(rate({names['invocations']}{selector}[{QUERY_WINDOW}])) * 60"
        case _:
            unknown(metric, "Scaling.metric", ("concurrency", "queue", "invocations"))


def model_volume_gib(size_gb: float) -> int:
    """The model volume's size limit: the artifacts plus a tenth, in GiB, at least 1."""
    return max(1, math.ceil(size_gb * 1.1 * 1e9 / 2**30))
