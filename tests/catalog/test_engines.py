"""The engine catalog: flag lists, the flags the library sets, image references, the regeneration script."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import get_args

import pytest

from components.catalog import engines
from components.catalog.engines import (
    ENGINE_NAMES,
    ENGINE_RELEASES,
    ROLES,
    EngineName,
    EngineRelease,
    default_release,
    ImageRef,
    load_flags,
    parse_flags,
    parse_image,
    release_for,
)

REPO = Path(__file__).resolve().parents[2]
RELEASES = [r for name in ENGINE_NAMES for r in ENGINE_RELEASES[name]]
IDS = [f"{r.engine}-{r.version}" for r in RELEASES]


def test_engine_names_are_the_literal_and_every_engine_has_releases() -> None:
    assert ENGINE_NAMES == get_args(EngineName)
    assert tuple(ENGINE_RELEASES) == ENGINE_NAMES
    assert all(ENGINE_RELEASES[name] for name in ENGINE_NAMES)
    assert all(r.engine == name for name in ENGINE_NAMES for r in ENGINE_RELEASES[name])


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_the_default_release_is_the_first(engine: EngineName, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_release(engine) is ENGINE_RELEASES[engine][0]
    from dataclasses import replace
    newest = ENGINE_RELEASES[engine][0]
    older = replace(newest, version="0.0.1")
    monkeypatch.setitem(engines.ENGINE_RELEASES, engine, (newest, older))
    assert default_release(engine) is newest
    monkeypatch.setitem(engines.ENGINE_RELEASES, engine, (older, newest))
    assert default_release(engine) is older


def test_the_pinned_versions() -> None:
    assert default_release("vllm").image == "docker.io/vllm/vllm-openai:v0.11.0"
    assert default_release("tgi").image == "ghcr.io/huggingface/text-generation-inference:3.3.7"


@pytest.mark.parametrize("release", RELEASES, ids=IDS)
def test_every_flag_the_library_sets_is_one_the_release_accepts(release: EngineRelease) -> None:
    assert set(release.arg_names) <= set(ROLES)
    assert {"model", "port", "host", "tensor_parallel"} <= set(release.arg_names)
    missing = {role: flag for role, flag in release.arg_names.items() if flag not in release.flags}
    assert missing == {}


@pytest.mark.parametrize("release", RELEASES, ids=IDS)
def test_aliases_point_at_listed_options(release: EngineRelease) -> None:
    assert all(long in release.flags for long in release.flag_aliases.values())
    assert all(re.fullmatch(r"-[A-Za-z]+", short) for short in release.flag_aliases)


def test_the_vllm_flag_list_is_the_whole_cli() -> None:
    release = default_release("vllm")
    assert {"--model", "--served-model-name", "--port", "--host", "--tensor-parallel-size",
            "--max-model-len", "--api-key", "--help"} <= release.flags
    # bool config fields come with their --no- form (argparse.BooleanOptionalAction), store_true ones do not
    assert {"--enable-prefix-caching", "--no-enable-prefix-caching", "--no-enable-chunked-prefill",
            "--no-trust-remote-code", "--no-enable-log-requests"} <= release.flags
    assert "--no-disable-log-stats" not in release.flags
    assert release.flag_aliases["-tp"] == "--tensor-parallel-size"
    assert release.flag_aliases["-O"] == "--compilation-config"
    assert len(release.flags) == 229


def test_the_tgi_flag_list_is_the_whole_cli() -> None:
    release = default_release("tgi")
    assert {"--model-id", "--num-shard", "--port", "--hostname", "--api-key", "--max-total-tokens",
            "--usage-stats", "--help", "--version"} <= release.flags
    assert "--served-model-name" not in release.flags
    assert release.flag_aliases["-p"] == "--port"
    assert len(release.flags) == 56


@pytest.mark.parametrize("engine,version", [("vllm", "v0.11.0"), ("tgi", "3.3.7")])
def test_each_flag_file_names_its_source(engine: EngineName, version: str) -> None:
    header = " ".join(load_flags(engine, version).header)
    assert "Source:" in header and "read 2026-" in header
    assert version.lstrip("v") in header
    assert re.search(r"\b[0-9a-f]{9,40}\b", header)


def test_flag_files_refuse_what_is_not_one_long_option_a_line() -> None:
    parsed = parse_flags("# header\n--a -x\n\n--b\n")
    assert parsed.long == {"--a", "--b"} and parsed.aliases == {"-x": "--a"}
    assert parsed.header == ("header",)
    for bad in ("--a\n--a\n", "-a\n", "--\n", "--a --b\n"):
        with pytest.raises(ValueError):
            parse_flags(bad)


@pytest.mark.parametrize("release", RELEASES, ids=IDS)
def test_every_release_fact_is_filled_and_sourced(release: EngineRelease) -> None:
    assert release.digest is None or re.fullmatch(r"sha256:[0-9a-f]{64}", release.digest)
    assert release.metrics_path == "/metrics" and release.health_path == "/health"
    assert release.offline_env.get("HF_HUB_OFFLINE") == "1"
    assert "HF_HOME" in release.cache_env
    assert all(p and not p.startswith("/") and ".." not in p.split("/") for p in release.cache_env.values())
    assert release.entrypoint and release.image_port > 0 and release.usage_stats_off_env
    sourced = {"version", "digest", "flags", "entrypoint", "metric_running", "metric_waiting",
               "metric_success_total", "metrics_path", "health_path", "api_key_env", "offline_env",
               "cache_env", "arg_names", "image_port", "usage_stats_off_env"}
    assert sourced - set(release.fact_sources) == set()
    assert "read 2026-" in release.source


def test_counter_names_follow_each_client_library() -> None:
    # prometheus_client (vLLM) adds _total to a counter; metrics-exporter-prometheus 0.15 (TGI) does not
    assert default_release("vllm").metric_success_total == "vllm:request_success_total"
    assert default_release("tgi").metric_success_total == "tgi_request_success"
    assert default_release("vllm").metric_waiting == "vllm:num_requests_waiting"
    assert default_release("tgi").metric_waiting == "tgi_queue_size"


def test_the_api_key_variables() -> None:
    assert default_release("vllm").api_key_env == "VLLM_API_KEY"
    assert default_release("tgi").api_key_env == "API_KEY"


def test_the_vllm_image_runs_the_api_server_module_so_the_model_goes_in_model() -> None:
    release = default_release("vllm")
    assert release.entrypoint == ("python3", "-m", "vllm.entrypoints.openai.api_server")
    assert release.arg_names["model"] == "--model"


@pytest.mark.parametrize("image", [
    "docker.io/vllm/vllm-openai:v0.11.0",
    "vllm/vllm-openai:v0.11.0",
    "index.docker.io/vllm/vllm-openai:v0.11.0",
    "vllm/vllm-openai:v0.11.0@sha256:" + "0" * 64,
    "docker.io/vllm/vllm-openai:v0.11.0@sha256:" + "0" * 64,
    "123.dkr.ecr.us-east-1.amazonaws.com/docker-hub/vllm/vllm-openai:v0.11.0",
    "mirror.example.com:5000/vllm/vllm-openai:v0.11.0",
])
def test_release_for_finds_vllm_by_repository_path_and_tag(image: str) -> None:
    assert release_for("vllm", image) is default_release("vllm")


@pytest.mark.parametrize("image", [
    "ghcr.io/huggingface/text-generation-inference:3.3.7",
    "ghcr.io/huggingface/text-generation-inference:3.3.7@sha256:" + "a" * 64,
    "europe-docker.pkg.dev/p/ghcr/huggingface/text-generation-inference:3.3.7",
])
def test_release_for_finds_tgi(image: str) -> None:
    assert release_for("tgi", image) is default_release("tgi")


@pytest.mark.parametrize("engine,image", [
    ("vllm", "docker.io/vllm/vllm-openai:v0.10.2"),
    ("vllm", "docker.io/vllm/vllm-openai:latest"),
    ("vllm", "docker.io/vllm/vllm-openai"),
    ("vllm", "docker.io/vllm/vllm-openai@sha256:" + "0" * 64),
    ("vllm", "docker.io/vllm/vllm-openai:0.11.0"),
    ("vllm", "docker.io/vllm/vllm-openai-rocm:v0.11.0"),
    ("vllm", "docker.io/myvllm/vllm-openai:v0.11.0"),
    ("vllm", "ghcr.io/huggingface/text-generation-inference:3.3.7"),
    ("tgi", "docker.io/vllm/vllm-openai:v0.11.0"),
    ("tgi", "ghcr.io/huggingface/text-generation-inference:v3.3.7"),
    ("tgi", "ghcr.io/huggingface/text-generation-inference:3.3.6"),
    ("tgi", "ghcr.io/huggingface/text-generation-inference:3.3.7-rocm"),
    ("tgi", "ghcr.io/other/text-generation-inference:3.3.7"),
])
def test_release_for_refuses_other_tags_and_repositories(engine: EngineName, image: str) -> None:
    assert release_for(engine, image) is None


@pytest.mark.parametrize("image,ref", [
    ("ubuntu:22.04", ImageRef("docker.io", "library/ubuntu", "22.04", None)),
    ("registry-1.docker.io/vllm/vllm-openai", ImageRef("docker.io", "vllm/vllm-openai", None, None)),
    ("localhost/x/y:1", ImageRef("localhost", "x/y", "1", None)),
    ("Registry.Local:5000/x/y:1@sha256:ab", ImageRef("registry.local:5000", "x/y", "1", "sha256:ab")),
])
def test_image_references_split_into_host_path_tag_and_digest(image: str, ref: ImageRef) -> None:
    assert parse_image(image) == ref


def test_a_catalogued_digest_must_match(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace
    pinned = replace(default_release("vllm"), digest="sha256:" + "1" * 64)
    monkeypatch.setitem(engines.ENGINE_RELEASES, "vllm", (pinned,))
    assert release_for("vllm", "vllm/vllm-openai:v0.11.0@sha256:" + "1" * 64) is pinned
    assert release_for("vllm", "vllm/vllm-openai@sha256:" + "1" * 64) is pinned
    assert release_for("vllm", "vllm/vllm-openai:v0.11.0") is pinned
    assert release_for("vllm", "vllm/vllm-openai:v0.11.0@sha256:" + "2" * 64) is None


# --- scripts/engine_flags.py ---------------------------------------------------------------
def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("engine_flags", REPO / "scripts" / "engine_flags.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["engine_flags"] = module
    spec.loader.exec_module(module)
    return module


def test_the_script_reads_a_clap_struct(tmp_path: Path) -> None:
    (tmp_path / "launcher" / "src").mkdir(parents=True)
    (tmp_path / "launcher" / "src" / "main.rs").write_text('''
/// App Configuration
#[derive(Parser, Debug)]
#[clap(author, version, about, long_about = None)]
struct Args {
    /// The model.
    #[clap(default_value = "x", long, env)]
    model_id: String,
    #[clap(default_value = "3000", long, short, env)]
    port: u16,
    #[clap(long = "renamed-flag", env)]
    some_field: bool,
    #[clap(env)]
    env_only: Option<String>,
}
''')
    flags = _script().tgi_flags(tmp_path)
    assert flags.lines() == ["--help -h", "--model-id", "--port -p", "--renamed-flag", "--version -V"]


def test_the_script_reads_vllm_parsers_and_config_fields(tmp_path: Path) -> None:
    (tmp_path / "vllm" / "engine").mkdir(parents=True)
    (tmp_path / "vllm" / "entrypoints" / "openai").mkdir(parents=True)
    (tmp_path / "vllm" / "config").mkdir(parents=True)
    (tmp_path / "vllm" / "config" / "model.py").write_text('''
@config
@dataclass
class ModelConfig:
    model: str = "m"
    enforce_eager: bool = False
    chunked: SkipValidation[bool] = None
    maybe: Optional[bool] = None
    many: list[bool] = field(default_factory=list)
@config
@dataclass
class CompilationConfig:
    level: int = 0
@dataclass
class VllmConfig:
    compilation_config: Union[CompilationConfig, bool] = None
''')
    (tmp_path / "vllm" / "engine" / "arg_utils.py").write_text('''
class EngineArgs:
    @staticmethod
    def add_cli_args(parser):
        model_kwargs = get_kwargs(ModelConfig)
        group = parser.add_argument_group()
        group.add_argument("--model", **model_kwargs["model"])
        group.add_argument("--enforce-eager", **model_kwargs["enforce_eager"])
        group.add_argument("--chunked", **model_kwargs["chunked"])
        group.add_argument("--maybe", **model_kwargs["maybe"])
        group.add_argument("--many", **model_kwargs["many"])
        vllm_kwargs = get_kwargs(VllmConfig)
        group.add_argument("--compilation-config", "-O", **vllm_kwargs["compilation_config"])
        for arg, type in [("--old-one", str), ("--old-two", bool)]:
            group.add_argument(arg, type=type)
        parser.add_argument("--disable-log-stats", action="store_true")
        return parser
class AsyncEngineArgs(EngineArgs):
    @staticmethod
    def add_cli_args(parser):
        parser.add_argument("--enable-log-requests", action=argparse.BooleanOptionalAction)
        return parser
''')
    (tmp_path / "vllm" / "entrypoints" / "openai" / "cli_args.py").write_text('''
@dataclass
class FrontendArgs:
    host: Optional[str] = None
    allow_credentials: bool = False
    @staticmethod
    def add_cli_args(parser):
        frontend_kwargs = get_kwargs(FrontendArgs)
        frontend_kwargs["host"]["type"] = str
        for key, value in frontend_kwargs.items():
            parser.add_argument(f"--{key.replace('_', '-')}", **value)
        return parser
def make_arg_parser(parser):
    parser.add_argument("model_tag", nargs="?")
    parser.add_argument("--api-server-count", "-asc", type=int)
    return parser
''')
    flags = _script().vllm_flags(tmp_path)
    assert flags.lines() == [
        "--allow-credentials", "--api-server-count -asc", "--chunked", "--compilation-config -O",
        "--disable-log-stats", "--enable-log-requests", "--enforce-eager", "--help -h", "--host",
        "--many", "--maybe", "--model", "--no-allow-credentials", "--no-chunked",
        "--no-enable-log-requests", "--no-enforce-eager", "--no-maybe", "--old-one", "--old-two",
    ]
