"""The model server's contract (components/serving/server.py): the real flags of the pinned engine
release, offline mode, writable caches, the engine's own metric names, and what a custom server
must bring. Checked against each release's flag list (components/catalog/engine_flags/, read from
the engine's source at the tag)."""

from __future__ import annotations

from typing import Any

import pytest

from components.catalog.engines import TGI_3_3_7, VLLM_V0_11_0
from components.serving.args import EndpointOptions
from components.serving.coldstart import cold_start
from components.serving.server import (CACHE_DIR, MODEL_DIR, scaling_query, server_contract, server_problems)

VLLM_IMAGE = "docker.io/vllm/vllm-openai:v0.11.0"
TGI_IMAGE = "ghcr.io/huggingface/text-generation-inference:3.3.7"


def _options(**changes: Any) -> EndpointOptions:
    model = {"artifact_path": "models/chat/v3/", "image": VLLM_IMAGE, "size_gb": 15, "port": 8000,
             **changes.pop("model", {})}
    return EndpointOptions.model_validate({"name": "chat", "mode": "cluster", "accelerator": {"gpu": "l4"},
                                           "hostname": "a.models.example.com", "model": model, **changes})


def _flag_values(args: list[str]) -> dict[str, str]:
    return {args[i]: args[i + 1] for i in range(0, len(args) - 1) if args[i].startswith("--")
            and not args[i + 1].startswith("--")}


def test_vllm_gets_its_model_path_port_name_and_tensor_parallelism() -> None:
    contract = server_contract(_options(accelerator={"gpu": "l4", "count": 2}, model={"served_name": "chat-v3"}))
    flags = _flag_values(contract.args)
    assert flags == {"--model": MODEL_DIR, "--port": "8000", "--served-model-name": "chat-v3", "--host": "0.0.0.0",
                     "--tensor-parallel-size": "2"}
    assert set(flags) <= VLLM_V0_11_0.flags  # every flag exists in the pinned release
    env = {e["name"]: e["value"] for e in contract.env}
    assert env["HF_HUB_OFFLINE"] == "1"  # no hub fallback: a missing model fails at start
    assert env["HOME"] == CACHE_DIR and env["HF_HOME"].startswith(CACHE_DIR + "/")
    assert all(v.startswith(CACHE_DIR) for k, v in env.items() if k in VLLM_V0_11_0.cache_env)
    assert contract.api_key_env == "VLLM_API_KEY" and contract.metrics_path == "/metrics"


def test_one_gpu_sets_no_tensor_parallelism_and_the_endpoint_names_the_model() -> None:
    flags = _flag_values(server_contract(_options()).args)
    assert "--tensor-parallel-size" not in flags and flags["--served-model-name"] == "chat"


def test_tgi_gets_its_own_flag_names() -> None:
    contract = server_contract(_options(engine="tgi", accelerator={"gpu": "l4", "count": 4},
                                        model={"image": TGI_IMAGE, "port": 8080}))
    flags = _flag_values(contract.args)
    assert flags == {"--model-id": MODEL_DIR, "--port": "8080", "--hostname": "0.0.0.0", "--num-shard": "4"}
    assert set(flags) <= TGI_3_3_7.flags
    assert contract.api_key_env == "API_KEY"
    assert contract.metric_names == {"concurrency": "tgi_batch_current_size", "queue": "tgi_queue_size",
                                     "invocations": "tgi_request_success"}


@pytest.mark.parametrize("metric, query", [
    ("concurrency", 'sum(vllm:num_requests_running{cluster="c1",namespace="serve-chat"})'),
    ("queue", 'sum(vllm:num_requests_waiting{cluster="c1",namespace="serve-chat"})'),
    ("invocations", 'sum(rate(vllm:request_success_total{cluster="c1",namespace="serve-chat"}[2m])) * 60'),
])
def test_each_scaling_metric_maps_to_the_engines_own_metric(metric: Any, query: str) -> None:
    names = server_contract(_options()).metric_names
    assert scaling_query(metric, names, {"namespace": "serve-chat", "cluster": "c1"}) == query


def test_the_error_ratio_reads_the_engines_counters() -> None:
    vllm = server_contract(_options()).error_ratio_query({"namespace": "serve-chat"})
    assert vllm == ('sum(rate(http_requests_total{namespace="serve-chat",status="5xx"}[5m])) / '
                    'sum(rate(http_requests_total{namespace="serve-chat"}[5m]))')
    tgi = server_contract(_options(engine="tgi", model={"image": TGI_IMAGE})).error_ratio_query({"namespace": "n"})
    assert tgi == 'sum(rate(tgi_request_failure{namespace="n"}[5m])) / sum(rate(tgi_request_count{namespace="n"}[5m]))'


@pytest.mark.parametrize("changes, problems", [
    ({"model": {"args": ["--model", "x"]}}, ["model.args[0]"]),  # the library's own flag
    ({"model": {"args": ["--no-such-flag"]}}, ["model.args[0]"]),
    ({"model": {"image": "docker.io/vllm/vllm-openai:v0.6.0"}}, ["model.image"]),  # not a catalogued release
    ({"model": {"size_gb": None}}, ["model.size_gb"]),
    ({"engine": "tgi", "model": {"image": TGI_IMAGE, "served_name": "x"}}, ["model.served_name"]),
    ({"engine": "custom", "model": {"image": "acme.example.com/server:1.2.3"}},
     ["model.args", "model.metrics", "model.health_path"]),
])
def test_what_a_server_cannot_run_with_is_named(changes: dict[str, Any], problems: list[str]) -> None:
    found = [p.path for p in server_problems(_options(**changes))]
    assert found == problems, found


def test_a_custom_server_brings_its_args_metrics_and_health_path() -> None:
    options = _options(engine="custom", model={
        "image": "acme.example.com/server:1.2.3", "args": ["serve", "--dir", MODEL_DIR], "health_path": "/ready",
        "metrics": {"running": "acme_running", "waiting": "acme_waiting", "success_total": "acme_done_total"}})
    assert server_problems(options) == []
    contract = server_contract(options)
    assert contract.args == ["serve", "--dir", MODEL_DIR] and contract.metric_names["queue"] == "acme_waiting"
    assert contract.error_ratio_query({}) is None  # no counters named: only the health check alerts


def test_a_vllm_flag_of_the_release_passes_through() -> None:
    options = _options(model={"args": ["--max-model-len", "8192", "--gpu-memory-utilization=0.9"]})
    assert server_problems(options) == []
    assert server_contract(options).args[-3:] == ["--max-model-len", "8192", "--gpu-memory-utilization=0.9"]


def test_the_cold_start_budget_adds_node_image_copy_and_load() -> None:
    from types import SimpleNamespace
    budget = cold_start(SimpleNamespace(cloud="aws", options=_options()))  # type: ignore[arg-type]
    # node 420 + image 10 GB at 100 MB/s + model 15 GB at 200 MB/s + (vLLM 180 + 15 GB x 6 s/GB), x 1.25
    assert (budget.node_seconds, budget.image_seconds, budget.copy_seconds, budget.server_start_seconds) == \
        (420, 100, 75, 270)
    assert budget.total_seconds == 1082
    gcp = cold_start(SimpleNamespace(cloud="gcp", options=_options(engine="tgi", model={"image": TGI_IMAGE})))  # type: ignore[arg-type]
    assert (gcp.node_seconds, gcp.image_seconds, gcp.server_start_seconds, gcp.total_seconds) == (600, 60, 210, 1182)
