"""`preflight trace STACK URL` on the trace fixtures: one program per cloud entry pattern, built from
raw cloud and Kubernetes resources (tests/fixtures/trace/<cloud>), planned once per stack.

Each program's `good` stack reaches a serving workload (exit 0); each other stack breaks one hop,
which the command names (exit 1). The same stacks feed tests/policies/test_entry_policies.py,
where the pack's stack rules name the same hops.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_preflight

TRACE = FIXTURES / "trace"
WIDE = {**os.environ, "COLUMNS": "200"}
URL = "https://chat.models.example.com/v1/models"
CLOUDS = ("aws", "gcp", "azure")
BROKEN = {"no-record": "dns", "not-on-cert": "certificate", "no-rule": "route", "no-endpoints": "workload",
          "no-auth": "auth"}
"""Each broken stack and the hop it breaks."""
SUPPLY_BROKEN = {"no-cache-rule": "image", "no-model-source": "model", "metric-not-produced": "autoscaler",
                 "short-probe": "cold-start"}
"""The AWS fixture's stacks that break a hop of the pod's supply (image, model, autoscaler)."""
SUPPLY_HOPS = ["image", "model", "autoscaler", "cold-start"]

# The resource type implementing each hop of the healthy path, per cloud pattern.
HEALTHY = {
    "aws": {"entry": "kubernetes:networking.k8s.io/v1:Ingress", "certificate": "aws:acm/certificate:Certificate",
            "route": "kubernetes:networking.k8s.io/v1:Ingress", "service": "kubernetes:core/v1:Service",
            "workload": "kubernetes:apps/v1:Deployment", "auth": "kubernetes:apps/v1:Deployment"},
    "gcp": {"entry": "kubernetes:gateway.networking.k8s.io/v1:Gateway",
            "certificate": "gcp:certificatemanager/certificate:Certificate",
            "route": "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "service": "kubernetes:core/v1:Service",
            "workload": "kubernetes:apps/v1:Deployment", "auth": "kubernetes:apps/v1:Deployment"},
    "azure": {"entry": "kubernetes:helm.sh/v3:Release", "certificate": "kubernetes:cert-manager.io/v1:Certificate",
              "route": "kubernetes:networking.k8s.io/v1:Ingress", "service": "kubernetes:core/v1:Service",
              "workload": "kubernetes:apps/v1:Deployment", "auth": "kubernetes:apps/v1:Deployment"},
}
RECORD = {"aws": "aws:route53/record:Record", "gcp": "gcp:dns/recordSet:RecordSet",
          "azure": "azure-native:dns:RecordSet"}


def _trace(cloud: str, stack: str, tmp_path: Path) -> tuple[int, str, dict]:
    out = tmp_path / f"{cloud}-{stack}.json"
    proc = run_preflight("trace", stack, URL, "--cwd", TRACE / cloud, "--json", out, env=WIDE)
    assert proc.stderr == "", proc.stderr
    return proc.returncode, proc.stdout, json.loads(out.read_text())


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_healthy_program_reaches_a_serving_workload(cloud: str, tmp_path: Path) -> None:
    code, stdout, doc = _trace(cloud, "good", tmp_path)
    assert code == 0, stdout
    assert "every backend reaches a serving workload (1 of 1)" in stdout
    [backend] = doc["backends"]
    assert doc["ok"] is True and backend["serving"] is True and backend["verdict"] is None
    hops = backend["hops"]
    assert [h["hop"] for h in hops] == ["dns", "dns", "entry", "certificate", "route", "service", "workload", "auth",
                                        *SUPPLY_HOPS]
    if cloud == "aws":  # the AWS fixture has the whole supply: cache, store copy, KEDA, cold-start budget
        assert {h["status"] for h in hops} == {"ok"}, hops
    else:  # vLLM from Docker Hub and the hub, fixed replicas: serving, from outside; no budget declared
        assert {h["status"] for h in hops if h["hop"] != "cold-start"} == {"ok"}, hops
        assert "OUTSIDE the cell" in backend["hops"][-4]["detail"], hops
        assert hops[-1]["status"] == "unknown-offline"
    types = {h["hop"]: h["urn"].split("::")[2].rsplit("$", 1)[-1] for h in hops}
    assert {k: types[k] for k in HEALTHY[cloud]} == HEALTHY[cloud]
    # chat CNAME use1, then use1's record, whose value the entry's address (or the Ingress) fed.
    assert [h["urn"].split("::")[2] for h in hops[:2]] == [RECORD[cloud]] * 2
    assert hops[0]["detail"].startswith("chat.models.example.com CNAME use1.models.example.com")
    assert "<unknown> from" in hops[1]["detail"]


@pytest.mark.parametrize("stack", sorted(BROKEN))
@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_broken_hop_is_named(cloud: str, stack: str, tmp_path: Path) -> None:
    code, stdout, doc = _trace(cloud, stack, tmp_path)
    hop = BROKEN[stack]
    assert code == 1, stdout
    assert f"at hop {hop}: " in stdout and f"broken at {hop}" in stdout, stdout
    assert "0 of 1 backends reach a serving workload" in stdout
    [backend] = doc["backends"]
    assert doc["ok"] is False and backend["verdict"]["hop"] == hop
    assert [h["hop"] for h in backend["hops"] if h["status"] == "broken"] == [hop], backend["hops"]
    assert "because: " in stdout  # the fact the verdict relies on, with its source


@pytest.mark.parametrize("stack", sorted(SUPPLY_BROKEN))
def test_each_broken_supply_hop_is_named(stack: str, tmp_path: Path) -> None:
    code, stdout, doc = _trace("aws", stack, tmp_path)
    hop = SUPPLY_BROKEN[stack]
    assert code == 1, stdout
    assert f"broken at {hop}" in stdout, stdout
    [backend] = doc["backends"]
    assert [h["hop"] for h in backend["hops"] if h["status"] == "broken"] == [hop], backend["hops"]
    detail = backend["verdict"]["detail"]
    assert {"no-cache-rule": "no cache rule of the stack serves that path (rules: docker-hub, ecr-public)",
            "no-model-source": "no init container writes volume 'model'",
            "metric-not-produced": "inference_requests_in_flight, which nobody produces",
            "short-probe": "needs 300 s to load, but its startup probe allows 60 s"}[stack] in detail, detail


def test_the_good_supply_names_each_part(tmp_path: Path) -> None:
    """Image source, model source, metric pipeline and cold-start budget, from the AWS fixture."""
    hops = {h["hop"]: h for h in _trace("aws", "good", tmp_path)[2]["backends"][0]["hops"]}
    assert "'vllm' through docker-hub" in hops["image"]["detail"]
    assert "s3://models-bucket/models/chat/v3/ copied into volume 'model'" in hops["model"]["detail"]
    assert "read granted by model-read" in hops["model"]["detail"]
    assert "on vllm:num_requests_running (target 8)" in hops["autoscaler"]["detail"]
    assert "scraped by scraper" in hops["autoscaler"]["detail"]
    assert hops["cold-start"]["detail"].startswith("1500 s to the first ready replica")


def test_the_hops_say_why(tmp_path: Path) -> None:
    """One line per broken hop that a reader can act on."""
    details = {stack: _trace("aws", stack, tmp_path)[2]["backends"][0]["verdict"]["detail"] for stack in BROKEN}
    assert details["no-record"].startswith("no record for use1.models.example.com in zone models.example.com")
    assert "cover use1.models.example.com, not chat.models.example.com" in details["not-on-cert"]
    assert details["no-rule"].startswith("no rule for host chat.models.example.com")
    assert "selector app=chat" in details["no-endpoints"] and "matches the pods of no workload" in details["no-endpoints"]
    assert "neither VLLM_API_KEY nor --api-key" in details["no-auth"]


@pytest.mark.parametrize("url, problem", [
    ("ftp://chat.models.example.com/", "only https:// and http:// URLs can be traced"),
    ("chat.models.example.com/v1/models", "only https:// and http:// URLs can be traced"),
    ("https:///v1/models", "has no host"),
    ("https://chat.models.example.com:99999/", "is not a URL"),
])
def test_a_bad_url_is_a_usage_error(url: str, problem: str) -> None:
    proc = run_preflight("trace", "good", url, "--cwd", TRACE / "aws")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert problem in proc.stderr and "Traceback" not in proc.stderr


def test_path_arguments_are_checked_before_planning(tmp_path: Path) -> None:
    proc = run_preflight("trace", "good", URL, "--cwd", TRACE / "aws", "--json", tmp_path)
    assert proc.returncode == 2 and "--json" in proc.stderr and "a directory" in proc.stderr
    proc = run_preflight("trace", "good", URL, "--cwd", tmp_path / "missing")
    assert proc.returncode == 2 and "--cwd" in proc.stderr
    proc = run_preflight("trace", "nope", URL, "--cwd", TRACE / "aws")
    assert proc.returncode == 2 and "Pulumi.nope.yaml" in proc.stderr


def test_plain_http_needs_an_http_listener(tmp_path: Path) -> None:
    """The ALB listens on HTTPS:443 only (listen-ports): http:// breaks at the certificate hop."""
    proc = run_preflight("trace", "good", "http://chat.models.example.com/v1/models", "--cwd", TRACE / "aws",
                         env=WIDE)
    assert proc.returncode == 1
    assert "no HTTP listener on port 80: the ALB listens on HTTPS:443" in proc.stdout
