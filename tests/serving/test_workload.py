"""Cluster-mode endpoints: every hardening setting of the Deployment and its companions, from the plans:
the engine's real arguments, the model copied from the cell's store before the server starts, KEDA on
the engine's own metric, the scraper admitted, images through the cell's cache, and the cold-start
budget in the probes and Pulumi's timeouts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.catalog.engines import VLLM_V0_11_0
from tests.conftest import ScratchProject, ancestors, base_config, cell_of, every, of_type, registry_config

STACKS = ("dev", "staging", "prod")


def _deployments(plans: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for stack in STACKS:
        plan = plans[stack]
        for d in of_type(plan, "kubernetes:apps/v1:Deployment"):
            if any(a["type"] == "aiinfra:serving:ModelEndpoint" for a in ancestors(plan, d)):
                found.append((stack, plan, d))
    return found


def test_every_cell_with_a_chat_endpoint_runs_it_on_its_cluster(plans: dict[str, Any]) -> None:
    deployments = _deployments(plans)
    cells = {(stack, cell_of(plan, d)) for stack, plan, d in deployments}
    assert cells == {("dev", "aws-use1"), ("staging", "aws-use2"), ("staging", "gcp-use4"),
                     ("prod", "aws-use1"), ("prod", "gcp-usc1"), ("prod", "azure-eus")}


def test_deployment_pod_is_hardened(plans: dict[str, Any]) -> None:
    for stack, plan, d in _deployments(plans):
        where = f"{stack}/{d['name']}"
        pod = d["inputs"]["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, where
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] >= 10000, where
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        [c] = pod["containers"]
        [loader] = pod["initContainers"]
        assert loader["securityContext"] == c["securityContext"], where  # the copy runs as restricted as the server
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False, where
        assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True, where
        assert sc["capabilities"] == {"drop": ["ALL"]}, where
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        image = c["image"]
        assert "@sha256:" in image or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")), where
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["httpGet"]["path"] == "/health", (where, probe)
        res = c["resources"]
        assert res["limits"]["nvidia.com/gpu"] == "1" and res["requests"]["nvidia.com/gpu"] == "1", where
        for kind in ("cpu", "memory"):
            assert res["requests"][kind] and res["limits"][kind] == res["requests"][kind], where
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        assert {"/tmp", "/models", "/var/cache/server", "/dev/shm"} <= set(mounts), where
        assert mounts["/models"].get("readOnly") is True, where  # only the loader writes the model
        empties = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        assert {m["name"] for m in c["volumeMounts"]} <= empties, where
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"], where
        assert set(pod["nodeSelector"]) == {"aiinfra.io/pool"}, where
        assert d["inputs"]["metadata"]["namespace"] != "default", where
        assert "spec.replicas" in d["options"]["ignoreChanges"], where


def test_vllm_starts_with_the_cells_model_offline(plans: dict[str, Any]) -> None:
    """The real vLLM flags of the pinned release, the model from the volume the loader fills, no hub."""
    for stack, plan, d in _deployments(plans):
        where = f"{stack}/{d['name']}"
        pod = d["inputs"]["spec"]["template"]["spec"]
        [c] = pod["containers"]
        args = c["args"]
        flags = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
        assert set(flags) <= VLLM_V0_11_0.flags, where
        assert flags["--model"] == "/models/model" and flags["--port"] == str(c["ports"][0]["containerPort"]), where
        assert flags["--served-model-name"] == "chat", where
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["HF_HUB_OFFLINE"] == "1", where
        assert all(env[k].startswith("/var/cache/server/") for k in VLLM_V0_11_0.cache_env), where
        assert "VLLM_API_KEY" in env, where
        [loader] = pod["initContainers"]
        text = " ".join([*loader.get("command", []), *loader.get("args", [])])
        assert "/models/model" in text and re.search(r"models/chat[a-z0-9-]*/v\d+/", text), (where, text)
        assert {m["name"] for m in loader["volumeMounts"]} >= {"model"}, where
        model_volume = next(v for v in pod["volumes"] if v["name"] == "model")
        assert model_volume["emptyDir"]["sizeLimit"].endswith("Gi"), where


def test_startup_probe_and_timeouts_cover_the_cold_start_budget(plans: dict[str, Any]) -> None:
    for stack, plan, d in _deployments(plans):
        where = f"{stack}/{d['name']}"
        template = d["inputs"]["spec"]["template"]
        budget = int(template["metadata"]["annotations"]["aiinfra.io/cold-start-seconds"])
        start = int(template["metadata"]["annotations"]["aiinfra.io/server-start-seconds"])
        [c] = template["spec"]["containers"]
        probe = c["startupProbe"]
        assert probe["periodSeconds"] * probe["failureThreshold"] >= start, where
        timeouts = d["options"]["customTimeouts"]
        assert timeouts["create"] == f"{budget}s" and timeouts["update"] == f"{budget}s", where
        assert budget > 600, where  # more than Pulumi's default 10 minutes: a new GPU node, image and model


def test_every_pod_image_comes_from_the_cells_cache(plans: dict[str, Any]) -> None:
    for stack, plan, d in _deployments(plans):
        cell = cell_of(plan, d)
        [cache] = [r for r in every(plan, "aiinfra:images:ImageCache") if cell_of(plan, r) == cell]
        host = cache["outputs"]["host"]
        pod = d["inputs"]["spec"]["template"]["spec"]
        for c in [*pod["initContainers"], *pod["containers"]]:
            assert c["image"].startswith(host + "/"), (stack, cell, c["image"], host)
            if stack == "prod":  # every image by digest: the server's from the spec, the loader's from the catalog
                assert "@sha256:" in c["image"], (cell, c["image"])


def test_pool_selected_is_the_cells_gpu_pool(plans: dict[str, Any]) -> None:
    for stack, plan, d in _deployments(plans):
        cell = cell_of(plan, d)
        pools = [p for p in of_type(plan, "aiinfra:compute:GpuNodePool") if cell_of(plan, p) == cell]
        selected = d["inputs"]["spec"]["template"]["spec"]["nodeSelector"]["aiinfra.io/pool"]
        assert selected in {p["name"].rsplit("-", 1)[-1] for p in pools}, (stack, cell)


def _in_namespace(plan: dict[str, Any], type_token: str, namespace: str, cell: str | None = None) -> list[dict[str, Any]]:
    return [r for r in of_type(plan, type_token)
            if r["inputs"]["metadata"].get("namespace") == namespace and (cell is None or cell_of(plan, r) == cell)]


def test_companions_scaled_object_pdb_network_policy_ingress(plans: dict[str, Any]) -> None:
    for stack, plan, d in _deployments(plans):
        ns = d["inputs"]["metadata"]["namespace"]
        cell = cell_of(plan, d)
        where = f"{stack}/{cell}"
        assert not _in_namespace(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", ns, cell), where
        [scaler] = _in_namespace(plan, "kubernetes:keda.sh/v1alpha1:ScaledObject", ns, cell)
        spec = scaler["inputs"]["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": d["inputs"]["metadata"]["name"]}
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"], where
        [trigger] = spec["triggers"]
        assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue", where
        assert trigger["authenticationRef"] == {"name": "aiinfra-prometheus", "kind": "ClusterTriggerAuthentication"}
        query = trigger["metadata"]["query"]
        assert query.startswith("sum(vllm:num_requests_running{") and f'namespace="{ns}"' in query, (where, query)
        assert "fallback" not in spec, where  # an unreadable metric keeps the replica count
        pod_meta = d["inputs"]["spec"]["template"]["metadata"]
        assert pod_meta["labels"]["aiinfra.io/metrics"] == "true", where
        assert pod_meta["annotations"]["prometheus.io/path"] == "/metrics", where
        [pdb] = _in_namespace(plan, "kubernetes:policy/v1:PodDisruptionBudget", ns, cell)
        assert pdb["inputs"]["spec"]["maxUnavailable"] == 1, where  # never a zero-disruption budget
        [netpol] = _in_namespace(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", ns, cell)
        rule = netpol["inputs"]["spec"]
        assert rule["policyTypes"] == ["Ingress"] and len(rule["ingress"]) == 2, where
        # only the load balancer's path and the metrics scraper, never everyone
        assert rule["ingress"][0]["from"] and rule["ingress"][1]["from"], where
        if str(cell).startswith("gcp"):  # a GKE Gateway with a Certificate Manager map, and its HTTPRoute
            [gateway] = _in_namespace(plan, "kubernetes:gateway.networking.k8s.io/v1:Gateway", ns, cell)
            assert "networking.gke.io/certmap" in gateway["inputs"]["metadata"]["annotations"], where
            [route] = _in_namespace(plan, "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", ns, cell)
            host = route["inputs"]["spec"]["hostnames"][0]
            assert not _in_namespace(plan, "kubernetes:networking.k8s.io/v1:Ingress", ns, cell), where
        else:
            [ingress] = _in_namespace(plan, "kubernetes:networking.k8s.io/v1:Ingress", ns, cell)
            host = ingress["inputs"]["spec"]["rules"][0]["host"]
            assert host in ingress["inputs"]["spec"]["tls"][0]["hosts"], where
        assert host.startswith(f"{cell}.") and host.endswith(".models.example.com"), where
        [namespace] = [n for n in of_type(plan, "kubernetes:core/v1:Namespace")
                       if n["inputs"]["metadata"]["name"] == ns and cell_of(plan, n) == cell]
        assert namespace["inputs"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        [sa] = _in_namespace(plan, "kubernetes:core/v1:ServiceAccount", ns, cell)
        assert sa["inputs"]["automountServiceAccountToken"] is False, where
        assert sa["inputs"]["metadata"]["annotations"], where  # bound to the cloud's workload identity


def test_endpoint_outputs_expose_the_public_entry(plans: dict[str, Any]) -> None:
    for endpoint in every(plans["prod"], "aiinfra:serving:ModelEndpoint"):
        out = endpoint["outputs"]
        if out["mode"] == "cluster":
            assert out["entry_hostname"].endswith(".models.example.com")
            assert out["health_url"] == f"https://{out['entry_hostname']}/health"
        else:
            assert out.get("entry_hostname") is None
    modes = {e["outputs"]["mode"] for e in of_type(plans["prod"], "aiinfra:serving:ModelEndpoint")}
    assert modes == {"managed", "cluster"}


def test_kserve_workload_renders_an_inference_service(scratch: ScratchProject) -> None:
    import json
    cell = {"name": "aws-use1", "cloud": "aws", "region": "us-east-1", "cluster": {"version": "1.33"},
            "gpu_pools": [{"name": "l4", "gpu": "l4", "max_nodes": 2}],
            "endpoints": [{"name": "chat", "mode": "cluster", "workload": "kserve",
                           "model": {"artifact_path": "models/x/", "image": "docker.io/vllm/vllm-openai:v0.11.0",
                                     "size_gb": 4},
                           "accelerator": {"gpu": "l4"}, "hostname": "chat.models.example.com",
                           "min_replicas": 1, "max_replicas": 3}]}
    scratch.write_stack("dev", base_config(**{"aiinfra:cells": [cell], "aiinfra:dns": {"zone": "models.example.com"},
                                              **registry_config()}))
    out = scratch.root / "plan.json"
    proc = scratch.plan("dev", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(out.read_text())
    assert not of_type(plan, "kubernetes:apps/v1:Deployment") or all(
        cell_of(plan, d) is None or "nvidia" in d["name"] for d in of_type(plan, "kubernetes:apps/v1:Deployment"))
    [isvc] = [r for r in plan["resources"] if r["type"] == "kubernetes:serving.kserve.io/v1beta1:InferenceService"]
    predictor = isvc["inputs"]["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 3)
    [container] = predictor["containers"]
    assert [c["name"] for c in predictor["initContainers"]] == ["model-loader"]
    assert isvc["inputs"]["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "external"
    [scaler] = of_type(plan, "kubernetes:keda.sh/v1alpha1:ScaledObject")
    assert scaler["inputs"]["spec"]["scaleTargetRef"]["name"] == "chat-predictor"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in predictor["tolerations"]


@pytest.mark.parametrize("endpoint,fragments", [
    ({"name": "chat", "mode": "cluster", "model": {"artifact_path": "m/", "image": "repo/server:latest"},
      "accelerator": {"gpu": "l4"}, "hostname": "a.example.com"},
     ["aiinfra:cells[0].endpoints[0].model.image", "'repo/server:latest'", "other than latest"]),
    ({"name": "chat", "mode": "cluster", "model": {"artifact_path": "m/", "image": "repo/server"},
      "accelerator": {"gpu": "l4"}, "hostname": "a.example.com"},
     ["aiinfra:cells[0].endpoints[0].model.image", "pinned"]),
    ({"name": "chat", "mode": "cluster", "model": {"artifact_path": "m/", "image": "repo/server:1"},
      "accelerator": {"gpu": "h100"}, "hostname": "a.example.com"},
     ["aiinfra:cells[0].endpoints[0].accelerator.gpu", "'h100'"]),
    ({"name": "chat", "mode": "cluster", "model": {"artifact_path": "m/", "image": "repo/server:1"},
      "accelerator": {"gpu": "l4"}},
     ["aiinfra:cells[0].endpoints[0].hostname: missing"]),
    ({"name": "chat", "mode": "cluster", "model": {"artifact_path": "m/", "image": "repo/server:1"},
      "accelerator": {"gpu": "l4"}, "hostname": "a.example.com", "min_replicas": 3, "max_replicas": 2},
     ["aiinfra:cells[0].endpoints[0]", "max_replicas (2) must be at least min_replicas (3)"]),
])
def test_bad_endpoints_are_rejected_before_anything_is_registered(
        scratch: ScratchProject, endpoint: dict[str, Any], fragments: list[str]) -> None:
    cell = {"name": "aws-use1", "cloud": "aws", "region": "us-east-1", "cluster": {"version": "1.33"},
            "gpu_pools": [{"name": "l4", "gpu": "l4", "max_nodes": 2}], "endpoints": [endpoint]}
    scratch.write_stack("dev", base_config(**{"aiinfra:cells": [cell]}))
    proc = scratch.plan("dev")
    assert proc.returncode == 2
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)
    assert "0 resources were registered before the error" in proc.stderr and "Traceback" not in proc.stderr
