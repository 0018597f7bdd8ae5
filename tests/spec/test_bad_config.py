"""Bad stack configuration: exit 2, every problem with its key path, no traceback, nothing registered."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ScratchProject, base_config

AWS = {"name": "aws-use1", "cloud": "aws", "region": "us-east-1"}
GCP = {"name": "gcp-usc1", "cloud": "gcp", "region": "us-central1", "project": "acme-aiinfra-dev"}
AZURE = {"name": "azure-eus", "cloud": "azure", "region": "eastus"}

CLUSTER = {"version": "1.33"}
POOL = {"name": "l4", "gpu": "l4", "max_nodes": 2}

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unknown region", base_config(**{"aiinfra:cells": [{**AWS, "region": "us-east-9"}]}),
     ["aiinfra:cells[0].region", "'us-east-9'", "us-west-2"]),
    ("unknown cloud", base_config(**{"aiinfra:cells": [{**AWS, "cloud": "oracle"}]}),
     ["aiinfra:cells[0].cloud", "'oracle'", "'aws', 'azure' or 'gcp'"]),
    ("missing cloud", base_config(**{"aiinfra:cells": [{"name": "x-one", "region": "us-east-1"}]}),
     ["aiinfra:cells[0].cloud: missing"]),
    ("missing name", base_config(**{"aiinfra:cells": [{"cloud": "aws", "region": "us-east-1"}]}),
     ["aiinfra:cells[0].name: missing"]),
    ("bad name", base_config(**{"aiinfra:cells": [{**AWS, "name": "AWS_1"}]}),
     ["aiinfra:cells[0].name", "'AWS_1'"]),
    ("duplicate names", base_config(**{"aiinfra:cells": [AWS, {**AWS, "region": "us-west-2"}]}),
     ["aiinfra:cells[1].name", "no other cell"]),
    ("unknown cell key", base_config(**{"aiinfra:cells": [{**AWS, "zone": "a"}]}),
     ["aiinfra:cells[0].zone", "unknown key", "region"]),
    ("unknown top-level key", base_config(**{"aiinfra:cell": [AWS]}),
     ["aiinfra:cell:", "unknown key", "cells"]),
    ("missing owner tag", base_config(**{"aiinfra:tags": {"cost-center": "cc-1"}}),
     ["aiinfra:tags.owner: missing"]),
    ("non-portable tag", base_config(**{"aiinfra:tags": {"owner": "Jane Doe", "cost-center": "cc-1"}}),
     ["aiinfra:tags.owner", "'Jane Doe'", "lowercase letters"]),
    ("no cells", base_config(**{"aiinfra:cells": []}),
     ["aiinfra:cells", "at least 1"]),
    ("gcp without project", base_config(**{"aiinfra:cells": [{k: v for k, v in GCP.items() if k != "project"}]}),
     ["aiinfra:cells[0].project: missing"]),
    ("project on an aws cell", base_config(**{"aiinfra:cells": [{**AWS, "project": "acme-aiinfra-dev"}]}),
     ["aiinfra:cells[0].project", "unknown key"]),
    ("retention zero", base_config(**{"aiinfra:cells": [{**AWS, "storage": {"noncurrent_version_days": 0}}]}),
     ["aiinfra:cells[0].storage.noncurrent_version_days", "got 0", "greater than or equal to 1"]),
    ("soft delete too short", base_config(**{"aiinfra:cells": [{**GCP, "storage": {"soft_delete_days": 3}}]}),
     ["aiinfra:cells[0].storage.soft_delete_days", "got 3"]),
    ("replica in the same region", base_config(**{"aiinfra:cells": [{**AWS, "storage": {"replica_region": "us-east-1"}}]}),
     ["aiinfra:cells[0].storage.replica_region", "other than the primary"]),
    ("azure replica not the pair", base_config(**{"aiinfra:cells": [{**AZURE, "storage": {"replica_region": "westeurope"}}]}),
     ["aiinfra:cells[0].storage.replica_region", "'westus', the pair of 'eastus'"]),
    ("gcp replica on another continent", base_config(**{"aiinfra:cells": [{**GCP, "storage": {"replica_region": "europe-west1"}}]}),
     ["aiinfra:cells[0].storage.replica_region", "same continent"]),
    ("unknown environment", base_config(**{"aiinfra:environment": "qa"}),
     ["aiinfra:environment", "'qa'", "'dev', 'staging' or 'prod'"]),
    ("cells not a list", base_config(**{"aiinfra:cells": "aws-use1"}),
     ["aiinfra:cells", "a structured value"]),
    ("negative RTO", base_config(**{"aiinfra:targets": {"rto_seconds": -5}}),
     ["aiinfra:targets.rto_seconds", "got -5"]),
    ("unknown storage key", base_config(**{"aiinfra:cells": [{**AWS, "storage": {"versions": 3}}]}),
     ["aiinfra:cells[0].storage.versions", "unknown key", "noncurrent_version_days"]),

    # Compute: GPUs, pools and cluster access.
    ("unknown GPU", base_config(**{"aiinfra:cells": [{**AWS, "cluster": CLUSTER, "gpu_pools": [{**POOL, "gpu": "v100"}]}]}),
     ["aiinfra:cells[0].gpu_pools[0].gpu", "'v100'", "l4"]),
    ("GPU count the cloud does not offer", base_config(**{"aiinfra:cells": [
        {**AWS, "cluster": CLUSTER, "gpu_pools": [{**POOL, "gpu": "a100-40gb", "gpus_per_node": 1}]}]}),
     ["aiinfra:cells[0].gpu_pools[0].gpus_per_node", "got 1", "8 GPUs (p4d.24xlarge)"]),
    ("GPU the cloud does not offer", base_config(**{"aiinfra:cells": [{**AZURE, "cluster": CLUSTER, "gpu_pools": [POOL]}]}),
     ["aiinfra:cells[0].gpu_pools[0].gpu", "'l4'", "t4", "a100-80gb"]),
    ("max below min", base_config(**{"aiinfra:cells": [{**AWS, "cluster": CLUSTER, "gpu_pools": [{**POOL, "min_nodes": 3, "max_nodes": 1}]}]}),
     ["aiinfra:cells[0].gpu_pools[0]", "max_nodes (1) must be at least min_nodes (3)"]),
    ("spot system pool", base_config(**{"aiinfra:cells": [{**AWS, "cluster": {**CLUSTER, "system_pool": {"spot": True}}}]}),
     ["aiinfra:cells[0].cluster.system_pool.spot", "got True", "cluster-critical"]),
    ("public endpoint outside dev", base_config(**{"aiinfra:environment": "staging", "aiinfra:cells": [
        {**AWS, "cluster": {**CLUSTER, "public_endpoint": True, "public_access_cidrs": ["203.0.113.0/24"]}}]}),
     ["aiinfra:cells[0].cluster.public_endpoint", "false in staging"]),
    ("API server open to the world", base_config(**{"aiinfra:cells": [
        {**AWS, "cluster": {**CLUSTER, "public_endpoint": True, "public_access_cidrs": ["0.0.0.0/0"]}}]}),
     ["aiinfra:cells[0].cluster.public_access_cidrs", "open", "world"]),
    ("public endpoint without CIDRs", base_config(**{"aiinfra:cells": [{**AWS, "cluster": {**CLUSTER, "public_endpoint": True}}]}),
     ["aiinfra:cells[0].cluster.public_access_cidrs", "at least one CIDR"]),
    ("GPU pools without a cluster", base_config(**{"aiinfra:cells": [{**AWS, "gpu_pools": [POOL]}]}),
     ["aiinfra:cells[0].gpu_pools", "`cluster`"]),
    ("duplicate pool names", base_config(**{"aiinfra:cells": [{**AWS, "cluster": CLUSTER, "gpu_pools": [POOL, POOL]}]}),
     ["aiinfra:cells[0].gpu_pools[1].name", "no other pool"]),
    ("unpinned Kubernetes version", base_config(**{"aiinfra:cells": [{**AWS, "cluster": {"version": "latest"}}]}),
     ["aiinfra:cells[0].cluster.version", "'latest'"]),
    ("cluster without a version", base_config(**{"aiinfra:cells": [{**AWS, "cluster": {}}]}),
     ["aiinfra:cells[0].cluster.version: missing"]),
    ("GCP network smaller than /16", base_config(**{"aiinfra:cells": [{**GCP, "network": {"cidr": "10.0.0.0/20"}, "cluster": CLUSTER}]}),
     ["aiinfra:cells[0].network.cidr", "a /16 on GCP"]),
    ("secrets key that is not a KMS ARN", base_config(**{"aiinfra:cells": [{**AWS, "cluster": {**CLUSTER, "secrets_key_id": "my-key"}}]}),
     ["aiinfra:cells[0].cluster.secrets_key_id", "'my-key'", "KMS key ARN"]),
    ("public network range", base_config(**{"aiinfra:cells": [{**AWS, "network": {"cidr": "8.8.0.0/16"}}]}),
     ["aiinfra:cells[0].network.cidr", "private IPv4"]),
    ("secrets key in another region", base_config(**{"aiinfra:cells": [{**AWS, "cluster": {
        **CLUSTER, "secrets_key_id": "arn:aws:kms:eu-west-1:123456789012:key/abc-123"}}]}),
     ["aiinfra:cells[0].cluster.secrets_key_id", "cluster's region 'us-east-1'"]),
    ("SageMaker endpoint on a public image", base_config(**{"aiinfra:cells": [{**AWS, "endpoints": [{
        "name": "embed", "mode": "managed", "accelerator": {"gpu": "l4"},
        "model": {"artifact_path": "m/", "image": "docker.io/vllm/vllm-openai:v0.11.0", "port": 8080,
                  "health_path": "/ping"}}]}]}),
     ["aiinfra:cells[0].endpoints[0].model.image", "ECR image"]),
]


@pytest.mark.parametrize("config,expected", [(c, e) for _, c, e in CASES], ids=[n for n, _, _ in CASES])
def test_bad_config_exits_2_naming_the_key_path(scratch: ScratchProject, config: dict[str, Any],
                                                expected: list[str]) -> None:
    scratch.write_stack("dev", config)
    proc = scratch.plan("dev")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = proc.stderr
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "0 resources were registered before the error" in message
    assert "invalid configuration for stack 'dev'" in message


def test_all_problems_are_reported_at_once(scratch: ScratchProject) -> None:
    scratch.write_stack("dev", base_config(**{
        "aiinfra:tags": {"owner": "ml-platform"},
        "aiinfra:cells": [{**AWS, "region": "mars-1"}, {**GCP, "storage": {"soft_delete_days": 1}},
                          {**AZURE, "colour": "blue"},
                          {**AZURE, "name": "azure-weu", "region": "westeurope",
                           "storage": {"replica_region": "eastus"}}],
    }))
    proc = scratch.plan("dev")
    assert proc.returncode == 2
    for path in ("aiinfra:tags.cost-center", "aiinfra:cells[0].region", "aiinfra:cells[1].storage.soft_delete_days",
                 "aiinfra:cells[2].colour", "aiinfra:cells[3].storage.replica_region"):
        assert path in proc.stderr
    assert "(5 problems)" in proc.stderr


def test_stack_name_outside_the_tiers_needs_an_explicit_environment(scratch: ScratchProject) -> None:
    config = base_config()
    del config["aiinfra:environment"]
    scratch.write_stack("ci", config)
    proc = scratch.plan("ci")
    assert proc.returncode == 2
    assert "aiinfra:environment: missing" in proc.stderr and "Traceback" not in proc.stderr
    scratch.write_stack("dev", config)  # a tier-named stack defaults to its own name
    assert scratch.plan("dev").returncode == 0


def test_a_valid_config_plans(scratch: ScratchProject) -> None:
    scratch.write_stack("dev", base_config(**{"aiinfra:cells": [AWS, GCP, AZURE]}))
    proc = scratch.plan("dev")
    assert proc.returncode == 0, proc.stderr
    assert "aws-use1" in proc.stdout and "gcp-usc1" in proc.stdout and "azure-eus" in proc.stdout


# --- the workload (issue 15): what the server, its images and its alerts need -------------------------

VLLM = "docker.io/vllm/vllm-openai:v0.11.0"
DIGEST = "@sha256:" + "0" * 64


def _serving_cell(cell: dict[str, Any], **endpoint: Any) -> dict[str, Any]:
    gpu = "t4" if cell["cloud"] == "azure" else "l4"
    chat = {"name": "chat", "mode": "cluster", "hostname": f"{cell['name']}.models.example.com",
            "model": {"artifact_path": "models/chat/", "image": VLLM, "size_gb": 4, "port": 8000},
            "accelerator": {"gpu": gpu}, **endpoint}
    return {**cell, "cluster": CLUSTER, "gpu_pools": [{**POOL, "gpu": gpu}], "endpoints": [chat]}


SERVING_CASES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("prod without alerts", "prod", {"aiinfra:environment": "prod", "aiinfra:cells": [AWS]},
     ["aiinfra:alerts: missing; required in prod"]),
    ("Docker Hub through ECR without credentials", "dev", {"aiinfra:cells": [_serving_cell(AWS)],
                                                            "aiinfra:dns": {"zone": "models.example.com"}},
     ["aiinfra:images.credentials.docker.io: missing", "the aws cache pulls from docker.io only with credentials"]),
    ("Docker Hub through ACR without credentials", "dev", {"aiinfra:cells": [_serving_cell(AZURE)],
                                                            "aiinfra:dns": {"zone": "models.example.com",
                                                                            "provider": "azure_dns"}},
     ["aiinfra:images.credentials.docker.io: missing", "the azure cache"]),
    ("credentials naming no secret", "dev", {"aiinfra:images": {"credentials": {
        "docker.io": {"username": "ci", "token_secret": "hub-token"}}}},
     ["aiinfra:images.credentials.docker.io.token_secret", "'hub-token'", "aiinfra:secrets"]),
    ("a registry the cache cannot pull through", "dev", {"aiinfra:cells": [_serving_cell(
        GCP, model={"artifact_path": "m/", "image": "nvcr.io/nvidia/tritonserver:25.01-py3", "size_gb": 4,
                    "args": ["tritonserver"], "health_path": "/v2/health/ready",
                    "metrics": {"running": "a", "waiting": "b", "success_total": "c"}},
        engine="custom", auth="none")], "aiinfra:dns": {"zone": "models.example.com"}},
     ["aiinfra:cells[0].endpoints[0].model.image", "'nvcr.io/nvidia/tritonserver:25.01-py3'",
      "an image from a registry the gcp cache pulls through"]),
    ("the old engine values", "dev", {"aiinfra:cells": [_serving_cell(AWS, engine="kserve")]},
     ["aiinfra:cells[0].endpoints[0].engine", "moved to `workload`"]),
    ("a flag vLLM does not have", "dev", {"aiinfra:cells": [_serving_cell(
        AWS, model={"artifact_path": "m/", "image": VLLM, "size_gb": 4, "args": ["--max-len", "8192"]})]},
     ["aiinfra:cells[0].endpoints[0].model.args[0]", "'--max-len'", "a flag of vllm v0.11.0"]),
    ("a flag the library sets", "dev", {"aiinfra:cells": [_serving_cell(
        AWS, model={"artifact_path": "m/", "image": VLLM, "size_gb": 4, "args": ["--model", "x"]})]},
     ["aiinfra:cells[0].endpoints[0].model.args[0]", "flags the library does not set itself"]),
    ("no model size", "dev", {"aiinfra:cells": [_serving_cell(
        AWS, model={"artifact_path": "m/", "image": VLLM})]},
     ["aiinfra:cells[0].endpoints[0].model.size_gb: missing"]),
    ("a custom server without its contract", "dev", {"aiinfra:cells": [_serving_cell(
        AWS, engine="custom", model={"artifact_path": "m/", "image": "acme.example.com/server:1.2.3", "size_gb": 4})]},
     ["endpoints[0].model.args: missing", "endpoints[0].model.metrics: missing",
      "endpoints[0].model.health_path: missing"]),
    ("queue scaling on a managed service", "dev", {"aiinfra:cells": [{**AWS, "endpoints": [{
        "name": "embed", "mode": "managed", "accelerator": {"gpu": "l4"}, "scaling": {"metric": "queue"},
        "model": {"artifact_path": "m/", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi:3.0.1",
                  "health_path": "/ping"}}]}]},
     ["aiinfra:cells[0].endpoints[0].scaling.metric", "'queue'", "concurrency or invocations in managed mode"]),
    ("a prod image without a digest", "prod", {"aiinfra:environment": "prod",
                                               "aiinfra:alerts": {"emails": ["oncall@example.com"]},
                                               "aiinfra:cells": [_serving_cell(AWS)]},
     ["aiinfra:cells[0].endpoints[0].model.image", "pinned by digest in prod"]),
]


@pytest.mark.parametrize("stack,config,expected", [(s, c, e) for _, s, c, e in SERVING_CASES],
                         ids=[n for n, _, _, _ in SERVING_CASES])
def test_what_the_workload_needs_is_a_plan_time_error_with_its_key_path(
        scratch: ScratchProject, stack: str, config: dict[str, Any], expected: list[str]) -> None:
    scratch.write_stack(stack, base_config(**config))
    proc = scratch.plan(stack)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for fragment in expected:
        assert fragment in proc.stderr, f"{fragment!r} not in:\n{proc.stderr}"
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "0 resources were registered before the error" in proc.stderr
