"""Model-server engines: the pinned releases of vLLM and TGI, and what the library must know to run them.

One `EngineRelease` per (engine, image tag): the image, what it runs, every long option its CLI
accepts at that version, the Prometheus names the autoscaler and alerts read, the health path,
and the environment that sets its API key, keeps it off the Hugging Face hub and puts its caches
on a writable volume. Each fact was read in the engine's source at the release, on `READ_ON`;
`EngineRelease.fact_sources` says where, field by field.

The flag lists are data files, `engine_flags/<engine>-<version>.txt` next to this module, written
by `scripts/engine_flags.py` from a checkout of the engine (its docstring says how).

How to add a release
--------------------
1. Check out the engine at the tag and run `scripts/engine_flags.py ... --write`.
2. Copy the release's entry in `ENGINE_RELEASES` to the front of its tuple (newest first: the first is
   the default) and re-read every fact and every `fact_sources` entry at the new tag: metric names,
   health path, API key, offline and cache variables, the Dockerfile's ENTRYPOINT.
3. Run `pytest tests/catalog/test_engines.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, TypedDict, TypeVar

EngineName = Literal["vllm", "tgi"]
"""The model servers the library runs in Kubernetes."""

ENGINE_NAMES: tuple[EngineName, ...] = ("vllm", "tgi")

V = TypeVar("V")


class PerEngine(TypedDict, Generic[V]):
    """A fact per engine (components/common/dispatch.py): pyright lists a table missing an engine."""

    vllm: V
    tgi: V


READ_ON = "2026-12-08"
"""When the facts in this file were read in the engines' source."""

FLAGS_DIR = Path(__file__).resolve().parent / "engine_flags"

ROLES: tuple[str, ...] = ("model", "served_name", "port", "host", "tensor_parallel", "max_model_len")
"""The roles whose flags `EngineRelease.arg_names` names (an engine may lack some)."""


@dataclass(frozen=True)
class EngineFlags:
    """One engine release's CLI: its long options and their short aliases."""

    long: frozenset[str]
    """Every long option, `--no-x` forms of boolean options included."""
    aliases: dict[str, str]
    """Short alias -> its long option, e.g. "-tp" -> "--tensor-parallel-size"."""
    header: tuple[str, ...]
    """The file's comment lines: where and when the list was read."""


def parse_flags(text: str) -> EngineFlags:
    """Parse an engine_flags file: `#` comments, then one long option a line, then its short aliases."""
    long: set[str] = set()
    aliases: dict[str, str] = {}
    header: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            header.append(line.lstrip("# "))
            continue
        option, *shorts = line.split()
        if not option.startswith("--") or len(option) < 3 or option in long:
            raise ValueError(f"line {number}: not a new long option: {line!r}")
        long.add(option)
        for short in shorts:
            if not short.startswith("-") or short.startswith("--"):
                raise ValueError(f"line {number}: not a short alias: {short!r}")
            aliases.setdefault(short, option)  # TGI's clap declares -p twice: the first (--port) wins
    return EngineFlags(frozenset(long), aliases, tuple(header))


def load_flags(engine: EngineName, version: str) -> EngineFlags:
    """The flag list of `engine` at `version`, from engine_flags/<engine>-<version>.txt."""
    return parse_flags((FLAGS_DIR / f"{engine}-{version}.txt").read_text())


@dataclass(frozen=True)
class EngineRelease:
    """One engine at one image tag, and the facts the library needs to run it."""

    engine: EngineName
    version: str
    """The image tag, e.g. "v0.11.0" (vLLM) or "3.3.7" (TGI)."""
    repository: str
    """The image repository with its registry host, e.g. "docker.io/vllm/vllm-openai"."""
    digest: str | None
    """sha256 of the tag's image index when a source the project publishes states it; else None."""
    source: str
    """Where the facts were read: repository, commit, tag, files, date."""
    flags: frozenset[str]
    """Every long option the server's CLI accepts at this version (engine_flags/ file)."""
    entrypoint: tuple[str, ...]
    """The image's ENTRYPOINT, from its Dockerfile at the tag; the server's options follow it."""
    metric_running: str
    """Prometheus gauge: requests being processed now."""
    metric_waiting: str
    """Prometheus gauge: requests queued, not yet scheduled."""
    metric_success_total: str
    """Prometheus counter of finished requests, as exposed on /metrics."""
    metric_requests_total: str
    """Prometheus counter of every request the server answered (the denominator of its error ratio)."""
    metric_errors_total: str
    """Prometheus counter of requests it failed (with `error_selector`): the numerator of the error ratio
    the endpoint's 5xx alert fires on."""
    error_selector: dict[str, str]
    """Label matchers that pick the failed requests out of `metric_errors_total` (may be empty)."""
    metrics_path: str
    """Where Prometheus scrapes, on the serving port."""
    health_path: str
    """Answers 200 only once the model is loaded."""
    api_key_env: str | None
    """The env var the server reads its API key from; None when it has no API key."""
    offline_env: dict[str, str]
    """Env vars that stop every download from the Hugging Face hub."""
    cache_env: dict[str, str]
    """Env var -> path relative to a writable cache mount, for every cache the server writes."""
    arg_names: dict[str, str]
    """Role (one of ROLES) -> the flag that sets it; every value is in `flags`."""
    flag_aliases: dict[str, str] = field(default_factory=dict)
    """Short alias -> long option (vLLM "-tp" -> "--tensor-parallel-size")."""
    image_port: int = 0
    """The port the image serves on when no port flag is given."""
    usage_stats_off_env: dict[str, str] = field(default_factory=dict)
    """Env vars that stop the server's own usage reporting (a call home, not a hub download)."""
    notes: tuple[str, ...] = ()
    """What bites when running this release."""
    fact_sources: dict[str, str] = field(default_factory=dict)
    """Field name -> the file (and line) at the release where the fact was read."""

    @property
    def image(self) -> str:
        """`repository:version`, with `@digest` when known."""
        ref = f"{self.repository}:{self.version}"
        return f"{ref}@{self.digest}" if self.digest else ref


# --- vLLM ---------------------------------------------------------------------------------
_VLLM_SOURCE = (
    "vllm-project/vllm f71952c1c (tag v0.11.0): the Python source of the PyPI release "
    "vllm-0.11.0-cp38-abi3-manylinux1_x86_64.whl (sha256 3861c75ff2b12e24f6d179ff5c084d791b42ded8675d76c8706697c79f68cd62; "
    "its setuptools-scm vllm/_version.py names commit gf71952c1c; the full 40-hex id was not available "
    "offline), files vllm/engine/arg_utils.py, vllm/entrypoints/openai/cli_args.py, "
    "vllm/entrypoints/openai/api_server.py, vllm/v1/metrics/loggers.py, vllm/envs.py; docker/Dockerfile "
    f"as explained in fact_sources['entrypoint']; read {READ_ON}")

_VLLM_FLAGS = load_flags("vllm", "v0.11.0")

VLLM_V0_11_0 = EngineRelease(
    engine="vllm",
    version="v0.11.0",
    repository="docker.io/vllm/vllm-openai",
    digest=None,
    source=_VLLM_SOURCE,
    flags=_VLLM_FLAGS.long,
    flag_aliases=_VLLM_FLAGS.aliases,
    entrypoint=("python3", "-m", "vllm.entrypoints.openai.api_server"),
    metric_running="vllm:num_requests_running",
    metric_waiting="vllm:num_requests_waiting",
    metric_success_total="vllm:request_success_total",
    metric_requests_total="http_requests_total",
    metric_errors_total="http_requests_total",
    error_selector={"status": "5xx"},
    metrics_path="/metrics",
    health_path="/health",
    api_key_env="VLLM_API_KEY",
    offline_env={"HF_HUB_OFFLINE": "1"},
    cache_env={
        "HF_HOME": "huggingface",
        "XDG_CACHE_HOME": "xdg",
        "VLLM_CACHE_ROOT": "vllm",
        "VLLM_CONFIG_ROOT": "vllm-config",
        "TRITON_CACHE_DIR": "triton",
        "OUTLINES_CACHE_DIR": "outlines",
    },
    arg_names={
        "model": "--model",
        "served_name": "--served-model-name",
        "port": "--port",
        "host": "--host",
        "tensor_parallel": "--tensor-parallel-size",
        "max_model_len": "--max-model-len",
    },
    image_port=8000,
    usage_stats_off_env={"VLLM_NO_USAGE_STATS": "1"},
    notes=(
        "The image runs `python3 -m vllm.entrypoints.openai.api_server`: name the model with --model. "
        "That entrypoint ignores a positional model; `vllm serve` at v0.11.0 takes the model positionally "
        "and refuses --model with a ValueError (vllm/utils/__init__.py FlexibleArgumentParser.parse_args).",
        "The API key guards only paths under /v1 (AuthenticationMiddleware); /health and /metrics stay open. "
        "--api-key wins over VLLM_API_KEY.",
        "/tmp must be writable: ZMQ IPC sockets go under tempfile.gettempdir() (VLLM_RPC_BASE_PATH).",
        "FlashInfer (0.3.1 in the image) keeps its JIT cache and its downloaded cubins under "
        "FLASHINFER_WORKSPACE_BASE (default: $HOME), so it is not moved to the cache mount; a read-only "
        "$HOME breaks a FlashInfer JIT compile.",
        "The counter carries labels model_name, engine and finished_reason; the gauges model_name and engine.",
    ),
    fact_sources={
        "version": "PyPI vllm 0.11.0 (vllm/_version.py: version 0.11.0, commit gf71952c1c); image tag v0.11.0 as "
                   "the shipped stacks use it",
        "digest": "not published in any vLLM source read; third-party pins disagree (see the report in the "
                  "change that added this file)",
        "flags": "engine_flags/vllm-v0.11.0.txt: make_arg_parser (vllm/entrypoints/openai/cli_args.py) -> "
                 "FrontendArgs.add_cli_args, AsyncEngineArgs/EngineArgs.add_cli_args (vllm/engine/arg_utils.py; "
                 "bool fields get --no- forms via argparse.BooleanOptionalAction in _compute_kwargs); "
                 "static reading checked against the real parser",
        "entrypoint": "inferred, the Dockerfile at the tag was not readable here: on main, docker/Dockerfile's "
                      "vllm-openai stage has ENTRYPOINT [\"python3\", \"-m\", \"vllm.entrypoints.openai.api_server\"] "
                      "until commit d00d65299835da159c161b29ee3b02c12440e777 (#25967, 2025-10-03) made it "
                      "[\"vllm\", \"serve\"]. The v0.11.0 release branched from main about 2025-09-26 (its 945 .py "
                      "files match main at b761df963 but for 85 cherry-picks), and the Python half of #25967 "
                      "(vllm/utils/__init__.py letting `vllm serve` take --model) is absent from the release, so "
                      "#25967 is not in v0.11.0",
        "metric_running": "vllm/v1/metrics/loggers.py PrometheusStatLogger: Gauge vllm:num_requests_running "
                          "(\"Number of requests in model execution batches.\")",
        "metric_waiting": "vllm/v1/metrics/loggers.py: Gauge vllm:num_requests_waiting "
                          "(\"Number of requests waiting to be processed.\")",
        "metric_success_total": "vllm/v1/metrics/loggers.py: prometheus_client.Counter vllm:request_success; "
                                "prometheus_client (>=0.18.0, the wheel's requirement) exposes a counter as "
                                "<name>_total (checked with prometheus_client 0.26.0)",
        "metric_requests_total": "vllm/entrypoints/openai/api_server.py mount_metrics: Instrumentator("
                                 "excluded_handlers=[/metrics, /health, /load, /ping, /version, /server_info], "
                                 "registry=registry).add().instrument(app): prometheus-fastapi-instrumentator's "
                                 "default metric http_requests_total{handler,method,status}, status grouped as "
                                 "2xx/4xx/5xx (should_group_status_codes defaults to True)",
        "metric_errors_total": "the same counter, status=\"5xx\"",
        "metrics_path": "vllm/entrypoints/openai/api_server.py mount_metrics: Mount(\"/metrics\", make_asgi_app(...)) "
                        "on the API server's port",
        "health_path": "vllm/entrypoints/openai/api_server.py: GET /health -> 200, or 503 on EngineDeadError; the "
                       "HTTP server starts only after build_async_engine_client has loaded the model",
        "api_key_env": "vllm/envs.py VLLM_API_KEY; vllm/entrypoints/openai/api_server.py build_app: "
                       "args.api_key or [envs.VLLM_API_KEY]",
        "offline_env": "huggingface_hub.constants.HF_HUB_OFFLINE (also set by TRANSFORMERS_OFFLINE), read by "
                       "vllm/engine/arg_utils.py (model id -> local snapshot), vllm/transformers_utils/config.py "
                       "and tokenizer.py, vllm/model_executor/model_loader/weight_utils.py (local_files_only)",
        "cache_env": "HF_HOME: huggingface_hub's cache root (hub downloads, token). XDG_CACHE_HOME: vllm/envs.py "
                     "get_default_cache_root. VLLM_CACHE_ROOT: vllm/envs.py (torch.compile cache, "
                     "compilation/backends.py; modelinfos, model_executor/models/registry.py; custom all-reduce "
                     "P2P cache, distributed/device_communicators/all_reduce_utils.py; deep_gemm; assets). "
                     "VLLM_CONFIG_ROOT: vllm/usage/usage_lib.py writes usage_stats.json there. TRITON_CACHE_DIR: "
                     "Triton's JIT cache (default ~/.triton/cache); vLLM repoints it under VLLM_CACHE_ROOT once it "
                     "compiles (compilation/compiler_interface.py), and sets TORCHINDUCTOR_CACHE_DIR there too. "
                     "OUTLINES_CACHE_DIR: vllm/v1/structured_output/utils.py get_outlines_cache_path. No "
                     "NUMBA_CACHE_DIR: the numba jit in v1/spec_decode/ngram_proposer.py has no cache=True",
        "arg_names": "engine_flags/vllm-v0.11.0.txt",
        "image_port": "vllm/entrypoints/openai/cli_args.py FrontendArgs.port = 8000; host None (all interfaces)",
        "usage_stats_off_env": "vllm/envs.py VLLM_NO_USAGE_STATS (also VLLM_DO_NOT_TRACK, DO_NOT_TRACK); "
                               "vllm/usage/usage_lib.py is_usage_stats_enabled",
    },
)

# --- TGI ----------------------------------------------------------------------------------
_TGI_COMMIT = "dfb3fbe78e0d1d69251bd33065591c61bafdfaa8"
_TGI_SOURCE = (
    f"huggingface/text-generation-inference {_TGI_COMMIT} (tag v3.3.7, 2025-12-18, the newest 3.x tag), files "
    "launcher/src/main.rs, router/src/server.rs, backends/v3/src/{backend,queue}.rs, Dockerfile, "
    "tgi-entrypoint.sh, server/text_generation_server/utils/hub.py, .github/workflows/build.yaml; "
    f"read {READ_ON}")

_TGI_FLAGS = load_flags("tgi", "3.3.7")

TGI_3_3_7 = EngineRelease(
    engine="tgi",
    version="3.3.7",
    repository="ghcr.io/huggingface/text-generation-inference",
    digest=None,
    source=_TGI_SOURCE,
    flags=_TGI_FLAGS.long,
    flag_aliases=_TGI_FLAGS.aliases,
    entrypoint=("/tgi-entrypoint.sh",),
    metric_running="tgi_batch_current_size",
    metric_waiting="tgi_queue_size",
    metric_success_total="tgi_request_success",
    metric_requests_total="tgi_request_count",
    metric_errors_total="tgi_request_failure",
    error_selector={},
    metrics_path="/metrics",
    health_path="/health",
    api_key_env="API_KEY",
    offline_env={"HF_HUB_OFFLINE": "1"},
    cache_env={
        "HF_HOME": "huggingface",
        "TRITON_CACHE_DIR": "triton",
    },
    arg_names={
        "model": "--model-id",
        "port": "--port",
        "host": "--hostname",
        "tensor_parallel": "--num-shard",
        "max_model_len": "--max-total-tokens",
    },
    image_port=80,
    usage_stats_off_env={"USAGE_STATS": "off"},
    notes=(
        "/tgi-entrypoint.sh runs `exec text-generation-launcher $@` with $@ unquoted: an argument "
        "containing a space is split in two.",
        "No --served-model-name at this version: the OpenAI API reports the model id.",
        "--max-total-tokens is the per-request limit of input plus generated tokens (vLLM's --max-model-len); "
        "--max-input-tokens must stay below it.",
        "The API key guards the generation routes only (/generate, /generate_stream, /v1/chat/completions, "
        "/v1/completions, /vertex, /invocations, /tokenize); /health, /metrics, /info and /v1/models stay "
        "open. The router compares the Bearer token case-insensitively, and the launcher passes the key "
        "to the router on its command line.",
        "The running gauge is the size of the batch being generated (TGI has no request-running gauge); "
        "it reads 0 between batches.",
        "Metrics are served on the serving port; --prometheus-port's listener is built but never started.",
        "HF_KERNELS_CACHE (/kernels) holds kernels downloaded when the image was built: do not move it.",
        "/tmp must be writable: the shards' sockets default to /tmp/text-generation-server-<n>.",
        "text-generation-launcher --version prints 3.3.6-dev0 (Cargo.toml at the tag).",
        "TGI is in maintenance mode since 2025-12-11 (README at the tag): minor fixes only.",
    ),
    fact_sources={
        "version": f"git tag v3.3.7 = {_TGI_COMMIT}; .github/workflows/ci_build.yaml builds on tags v*, and "
                   "build.yaml tags the CUDA image ghcr.io/huggingface/text-generation-inference with "
                   "type=semver,pattern={{version}} (3.3.7, no v)",
        "digest": "not published in any TGI source read",
        "flags": "engine_flags/tgi-3.3.7.txt: launcher/src/main.rs struct Args (clap derive: long = kebab-case "
                 "field name); same list as docs/source/reference/launcher.md",
        "entrypoint": "Dockerfile final stage: ENTRYPOINT [\"/tgi-entrypoint.sh\"]; tgi-entrypoint.sh: ldconfig, "
                      "source /usr/src/.venv/bin/activate, exec text-generation-launcher $@",
        "metric_running": "backends/v3/src/backend.rs: gauge tgi_batch_current_size set to the running batch's "
                          "size, 0 when the batch ends; docs/source/reference/metrics.md",
        "metric_waiting": "backends/v3/src/queue.rs: gauge tgi_queue_size = queued entries",
        "metric_success_total": "router/src/server.rs: counter tgi_request_success; metrics-exporter-prometheus "
                                "0.15.3 (Cargo.lock) renders counter names unchanged, no _total "
                                "(metrics-rs/metrics tag metrics-exporter-prometheus-v0.15.3, recorder.rs render); "
                                "assets/tgi_grafana.json queries tgi_request_success",
        "metric_requests_total": "router/src/server.rs: metrics::counter!(\"tgi_request_count\") on every "
                                 "generate request",
        "metric_errors_total": "router/src/server.rs: metrics::counter!(\"tgi_request_failure\", \"err\" => ...) "
                               "on every failed request",
        "metrics_path": "router/src/server.rs: .route(\"/metrics\", get(metrics)) -> prom_handle.render(); the "
                        "PrometheusBuilder's http listener future is dropped (`let (recorder, _) = builder.build()`)",
        "health_path": "router/src/server.rs: .route(\"/health\", get(health)) -> 200 or 503; the launcher starts "
                       "the router only after every shard has loaded the model and warmed up",
        "api_key_env": "launcher/src/main.rs Args.api_key #[clap(long, env)] (env API_KEY), passed to the router "
                       "as --api-key; router/src/server.rs checks Authorization: Bearer <key>",
        "offline_env": "router/src/server.rs: HF_HUB_OFFLINE == \"1\" -> hub cache only; "
                       "server/text_generation_server/utils/hub.py: HF_HUB_OFFLINE in (true, 1, yes) -> "
                       "local_files_only",
        "cache_env": "HF_HOME: Dockerfile ENV HF_HOME=/data; huggingface_hub 0.30.1 (server/uv.lock) and the "
                     "router's hf-hub Cache::from_env put the hub cache under it. TRITON_CACHE_DIR: "
                     "server/text_generation_server/models/metadata_kernels.py JIT-compiles Triton kernels "
                     "(triton 3.3.0, default cache ~/.triton/cache). No OUTLINES_CACHE_DIR: outlines 0.1.14's "
                     "RegexGuide keeps no disk cache",
        "arg_names": "engine_flags/tgi-3.3.7.txt",
        "image_port": "Dockerfile ENV PORT=80, read by --port's env (launcher default 3000); --hostname "
                      "default 0.0.0.0",
        "usage_stats_off_env": "launcher/src/main.rs Args.usage_stats (env USAGE_STATS; on, off, no-stack)",
    },
)

ENGINE_RELEASES: PerEngine[tuple[EngineRelease, ...]] = {
    "vllm": (VLLM_V0_11_0,),
    "tgi": (TGI_3_3_7,),
}
"""Catalogued releases per engine, newest first; the first is the default. A `PerEngine` table (a dict
at run time, indexed by `EngineName`) so that pyright reports an engine without releases."""


def default_release(engine: EngineName) -> EngineRelease:
    """The release the library runs when a spec names no image: the newest catalogued."""
    return ENGINE_RELEASES[engine][0]


_DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into its parts."""

    host: str
    """Registry host, "docker.io" when none is written."""
    path: str
    """Repository path after the host ("vllm/vllm-openai"; "library/x" for a bare Docker Hub name)."""
    tag: str | None
    digest: str | None


def parse_image(image: str) -> ImageRef:
    """Split `[host/]path[:tag][@digest]`; a first part with "." or ":" or "localhost" is the host."""
    rest, _, digest = image.strip().partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag: str | None = None
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, path = first.lower(), remainder
    else:
        host, path = "docker.io", rest
    if host in _DOCKER_HUB_HOSTS:
        host = "docker.io"
        if "/" not in path:
            path = f"library/{path}"
    return ImageRef(host=host, path=path, tag=tag or None, digest=digest or None)


def _repository_path(repository: str) -> str:
    return parse_image(repository).path


def release_for(engine: EngineName, image: str) -> EngineRelease | None:
    """The catalogued release of `engine` that `image` names, matched on repository path and tag.

    The path after the registry host must equal the release's, or end with "/" + it (a registry
    mirror: ".../docker-hub/vllm/vllm-openai:v0.11.0"); the host itself is not compared. A digest
    after the tag must equal the release's when the catalogue has one. None otherwise.
    """
    ref = parse_image(image)
    for release in ENGINE_RELEASES[engine]:
        wanted = _repository_path(release.repository)
        if ref.path != wanted and not ref.path.endswith(f"/{wanted}"):
            continue
        if release.digest is not None and ref.digest is not None and ref.digest != release.digest:
            continue
        if ref.tag == release.version:
            return release
        if ref.tag is None and release.digest is not None and ref.digest == release.digest:
            return release
    return None
