"""ModelEndpoint on GCP, asserted from offline plans.

The GCP cell of the shipped prod stack (a cluster-mode `chat` endpoint on GKE and a
managed Model Garden `gemma` endpoint on Vertex AI) is planned on its own; scratch
stacks cover the other managed shapes and what managed mode on GCP refuses.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.catalog.gpus import GPU_MACHINES, CatalogError
from components.serving import Accelerator, EndpointOptions
from components.serving.gcp import (DUTY_CYCLE_METRIC, VERTEX_ACCELERATORS, predict_url, prefix_condition,
                                    vertex_machine, vertex_problems)
from tests.conftest import REPO, ScratchProject, ancestors, of_type, plan_json, run_preflight

ENDPOINT = "aiinfra:serving:ModelEndpoint"
VERTEX = "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment"
ACCOUNT = "gcp:serviceaccount/account:Account"
ACCOUNT_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
BUCKET = "gcp:storage/bucket:Bucket"
ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
CERTIFICATE = "kubernetes:networking.gke.io/v1:ManagedCertificate"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

GEMMA = "publishers/google/models/gemma3@gemma-3-1b-it"
ACCOUNT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
TAGS = {"owner": "ml-platform", "cost-center": "cc-1234"}


def _gcp_only(stack: str) -> dict[str, Any]:
    config = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    config["aiinfra:cells"] = [c for c in config["aiinfra:cells"] if c["cloud"] == "gcp"]
    assert len(config["aiinfra:cells"]) == 1, f"{stack}: expected one GCP cell"
    return config


@pytest.fixture(scope="module")
def cell() -> dict[str, Any]:
    """The GCP cell of the shipped prod stack, as configured."""
    return _gcp_only("prod")["aiinfra:cells"][0]


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("gcp-serving")
    ScratchProject(root).write_stack("prod", _gcp_only("prod"))
    return plan_json("prod", project=root, tmp=root)


def _endpoint_config(cell: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [e for e in cell["endpoints"] if e["name"] == name]
    return found


def _component(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in of_type(plan, ENDPOINT) if r["name"] == name]
    return found


def _under(plan: dict[str, Any], endpoint: str, type_token: str) -> list[dict[str, Any]]:
    """Resources of `type_token` inside the ModelEndpoint named `endpoint`."""
    return [r for r in of_type(plan, type_token)
            if any(a["type"] == ENDPOINT and a["name"] == endpoint for a in ancestors(plan, r))]


def _one(plan: dict[str, Any], endpoint: str, type_token: str) -> dict[str, Any]:
    found = _under(plan, endpoint, type_token)
    assert len(found) == 1, f"{endpoint}: {type_token}: {len(found)}"
    return found[0]


def _garden(**changes: Any) -> EndpointOptions:
    model = {"artifact_path": "models/gemma/", "model_garden": GEMMA, **changes.pop("model", {})}
    return EndpointOptions.model_validate({"name": "gemma", "mode": "managed", "model": model,
                                           "accelerator": {"gpu": "l4"}, **changes})


# --- Managed: Vertex AI Model Garden -------------------------------------------------------

def test_gemma_is_a_model_garden_deployment_on_one_l4_with_its_replica_range(
        plan: dict[str, Any], cell: dict[str, Any]) -> None:
    gemma = _endpoint_config(cell, "gemma")
    assert gemma["mode"] == "managed" and gemma["model"]["model_garden"] == GEMMA
    deployment = _one(plan, "gcp-usc1-gemma", VERTEX)
    inputs = deployment["inputs"]
    assert inputs["publisherModelName"] == GEMMA
    assert "huggingFaceModelId" not in inputs
    assert inputs["project"] == cell["project"] and inputs["location"] == cell["region"]
    assert inputs["modelConfig"] == {"acceptEula": True}
    assert inputs["endpointConfig"]["dedicatedEndpointEnabled"] is True
    resources = inputs["deployConfig"]["dedicatedResources"]
    assert resources["machineSpec"] == {"machineType": "g2-standard-4", "acceleratorType": "NVIDIA_L4",
                                        "acceleratorCount": 1}
    assert (resources["minReplicaCount"], resources["maxReplicaCount"]) == (gemma["min_replicas"],
                                                                            gemma["max_replicas"]) == (1, 2)
    assert resources["autoscalingMetricSpecs"] == [{"metricName": DUTY_CYCLE_METRIC, "target": 60}]
    # Nothing of cluster mode for a managed endpoint, and only the one deployment.
    assert len(of_type(plan, VERTEX)) == 1
    inside = [r["type"] for r in plan["resources"]
              if any(a["type"] == ENDPOINT and a["name"] == "gcp-usc1-gemma" for a in ancestors(plan, r))]
    assert inside == [VERTEX]


def test_gemma_outputs_are_the_vertex_endpoint_not_a_public_entry(plan: dict[str, Any]) -> None:
    out = _component(plan, "gcp-usc1-gemma")["outputs"]
    assert out["mode"] == "managed" and (out["min_replicas"], out["max_replicas"]) == (1, 2)
    assert out.get("entry_hostname") is None  # Vertex needs an OAuth token: no shared DNS name in front
    assert out["url"] == out["health_url"] == "<unknown>"  # the endpoint id exists only after deployment


def test_predict_url_is_the_dedicated_endpoint_of_the_deployment() -> None:
    assert predict_url("acme-aiinfra-prod", "us-central1", "1234567890", "987654321") == (
        "https://1234567890.us-central1-987654321.prediction.vertexai.goog/v1/"
        "projects/acme-aiinfra-prod/locations/us-central1/endpoints/1234567890:predict")


def test_every_gcp_gpu_of_the_catalog_has_a_vertex_accelerator() -> None:
    assert {m.accelerator for m in GPU_MACHINES if m.cloud == "gcp"} <= set(VERTEX_ACCELERATORS)
    assert VERTEX_ACCELERATORS["nvidia-l4"] == "NVIDIA_L4"
    assert VERTEX_ACCELERATORS["nvidia-tesla-t4"] == "NVIDIA_TESLA_T4"
    assert VERTEX_ACCELERATORS["nvidia-tesla-a100"] == "NVIDIA_TESLA_A100"
    assert VERTEX_ACCELERATORS["nvidia-a100-80gb"] == "NVIDIA_A100_80GB"
    assert VERTEX_ACCELERATORS["nvidia-h100-80gb"] == "NVIDIA_H100_80GB"


def test_vertex_machine_comes_from_the_catalog_by_gpu_or_by_instance_type() -> None:
    assert vertex_machine(Accelerator(gpu="l4")).name == "g2-standard-4"
    assert vertex_machine(Accelerator(gpu="t4", count=2)).name == "n1-standard-8"
    a100 = vertex_machine(Accelerator(instance_type="a2-highgpu-1g"))
    assert (a100.accelerator, a100.gpu_count) == ("nvidia-tesla-a100", 1)
    with pytest.raises(CatalogError, match="a2-highgpu-1g"):
        vertex_machine(Accelerator(instance_type="n2-standard-8"))


def test_the_shipped_gemma_endpoint_has_no_vertex_problem(cell: dict[str, Any]) -> None:
    assert vertex_problems(EndpointOptions.model_validate(_endpoint_config(cell, "gemma"))) == []


@pytest.mark.parametrize("options,path,fragment", [
    (_garden(scaling={"metric": "concurrency", "target": 4}), "scaling", "duty cycle"),
    (_garden(model={"image": "repo/server:1.2.3"}), "model.image", "own serving container"),
    (_garden(model={"port": 9000}), "model.port", "own serving container"),
    (_garden(model={"model_garden": "gemma3"}), "model.model_garden", "publishers/<publisher>"),
    (_garden(model={"hugging_face": "google/gemma-2-2b-it"}), "model.hugging_face", "only one"),
    (_garden(model={"model_garden": None, "hugging_face": "not a model id"}), "model.hugging_face", "<org>/<model>"),
    (_garden(accelerator={"instance_type": "n2-standard-8"}), "accelerator.instance_type", "a2-highgpu-1g"),
    (_garden(accelerator={"instance_type": "a2-highgpu-2g", "count": 1}), "accelerator.count", "allowed: 2"),
])
def test_what_vertex_cannot_express_is_a_problem_not_a_silent_default(
        options: EndpointOptions, path: str, fragment: str) -> None:
    problems = vertex_problems(options)
    assert [p.path for p in problems] == [path]
    assert fragment in problems[0].allowed


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dev GCP cell without a cluster: a Hugging Face model on an explicit A100 machine."""
    root = tmp_path_factory.mktemp("gcp-serving-variants")
    ScratchProject(root).write_stack("dev", {
        "aiinfra:environment": "dev", "aiinfra:tags": TAGS,
        "aiinfra:cells": [{"name": "gcp-euw4", "cloud": "gcp", "region": "europe-west4",
                           "project": "acme-aiinfra-dev",
                           "endpoints": [{"name": "qwen", "mode": "managed",
                                          "model": {"artifact_path": "models/qwen/", "hugging_face": "Qwen/Qwen3-0.6B"},
                                          "accelerator": {"instance_type": "a2-highgpu-1g"},
                                          "min_replicas": 2, "max_replicas": 5}]}]})
    return plan_json("dev", project=root, tmp=root)


def test_hugging_face_model_on_an_explicit_instance_type(variants: dict[str, Any]) -> None:
    inputs = _one(variants, "gcp-euw4-qwen", VERTEX)["inputs"]
    assert inputs["huggingFaceModelId"] == "Qwen/Qwen3-0.6B" and "publisherModelName" not in inputs
    assert inputs["location"] == "europe-west4" and inputs["project"] == "acme-aiinfra-dev"
    resources = inputs["deployConfig"]["dedicatedResources"]
    assert resources["machineSpec"] == {"machineType": "a2-highgpu-1g", "acceleratorType": "NVIDIA_TESLA_A100",
                                        "acceleratorCount": 1}
    assert (resources["minReplicaCount"], resources["maxReplicaCount"]) == (2, 5)


def _gcp_cell(*endpoints: dict[str, Any]) -> dict[str, Any]:
    return {"aiinfra:environment": "dev", "aiinfra:tags": TAGS,
            "aiinfra:cells": [{"name": "gcp-usc1", "cloud": "gcp", "region": "us-central1",
                               "project": "acme-aiinfra-dev", "endpoints": list(endpoints)}]}


def test_managed_custom_container_on_gcp_is_refused_before_anything_is_registered(scratch: ScratchProject) -> None:
    scratch.write_stack("dev", _gcp_cell({
        "name": "embed", "mode": "managed",
        "model": {"artifact_path": "models/embed/", "image": "repo/server:1.2.3"},
        "accelerator": {"gpu": "l4"}}))
    proc = scratch.plan("dev")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "aiinfra:cells[0].endpoints[0].mode" in proc.stderr
    assert "mode: cluster" in proc.stderr and "#15303" in proc.stderr
    assert "0 resources were registered before the error" in proc.stderr and "Traceback" not in proc.stderr


def test_explicit_scaling_on_a_vertex_endpoint_is_refused(scratch: ScratchProject) -> None:
    scratch.write_stack("dev", _gcp_cell({
        "name": "gemma", "mode": "managed", "model": {"artifact_path": "models/gemma/", "model_garden": GEMMA},
        "accelerator": {"gpu": "l4"}, "scaling": {"metric": "invocations", "target": 600}}))
    proc = scratch.plan("dev")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "aiinfra:cells[0].endpoints[0].scaling" in proc.stderr and "duty cycle" in proc.stderr
    assert "0 resources were registered before the error" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- Cluster mode: workload identity -------------------------------------------------------

def test_chat_pods_run_as_a_google_service_account_bound_to_their_kubernetes_service_account(
        plan: dict[str, Any], cell: dict[str, Any]) -> None:
    account = _one(plan, "gcp-usc1-chat", ACCOUNT)
    assert ACCOUNT_ID.match(account["inputs"]["accountId"]), account["inputs"]["accountId"]
    assert account["inputs"]["project"] == cell["project"]
    ksa = _one(plan, "gcp-usc1-chat", SERVICE_ACCOUNT)["inputs"]["metadata"]
    assert (ksa["namespace"], ksa["name"]) == ("serve-chat", "chat")
    binding = _one(plan, "gcp-usc1-chat", ACCOUNT_MEMBER)
    assert binding["inputs"]["role"] == "roles/iam.workloadIdentityUser"
    assert binding["inputs"]["member"] == (
        f"serviceAccount:{cell['project']}.svc.id.goog[{ksa['namespace']}/{ksa['name']}]")
    assert binding["propertyDependencies"]["serviceAccountId"] == [account["urn"]]


def test_chat_may_read_only_its_model_prefix_of_the_cell_bucket(plan: dict[str, Any], cell: dict[str, Any]) -> None:
    account = _one(plan, "gcp-usc1-chat", ACCOUNT)
    [bucket] = of_type(plan, BUCKET)
    name, prefix = bucket["inputs"]["name"], _endpoint_config(cell, "chat")["model"]["artifact_path"]
    viewer = _one(plan, "gcp-usc1-chat", BUCKET_MEMBER)
    inputs = viewer["inputs"]
    assert inputs["bucket"] == name and inputs["role"] == "roles/storage.objectViewer"
    assert viewer["propertyDependencies"]["member"] == [account["urn"]]
    expression = inputs["condition"]["expression"]
    assert expression.startswith(f'resource.name.startsWith("projects/_/buckets/{name}/objects/{prefix}")')
    assert expression == prefix_condition(name, prefix)
    assert f'"storage.googleapis.com/objectListPrefix", "").startsWith("{prefix}")' in expression
    assert prefix == "models/chat-7b/v3/" and bucket["inputs"]["uniformBucketLevelAccess"] is True


def test_service_account_annotation_and_pods_wait_for_the_grants(plan: dict[str, Any]) -> None:
    account = _one(plan, "gcp-usc1-chat", ACCOUNT)
    ksa = _one(plan, "gcp-usc1-chat", SERVICE_ACCOUNT)
    assert set(ksa["inputs"]["metadata"]["annotations"]) == {"iam.gke.io/gcp-service-account"}
    assert account["urn"] in ksa["dependencies"]  # the annotation is the account's email
    deployment = _one(plan, "gcp-usc1-chat", DEPLOYMENT)
    for grant in (ACCOUNT_MEMBER, BUCKET_MEMBER):
        assert _one(plan, "gcp-usc1-chat", grant)["urn"] in deployment["dependencies"], grant
    pod = deployment["inputs"]["spec"]["template"]
    assert not {k for k in pod["metadata"]["labels"] if "identity" in k}  # GKE needs no pod label


# --- Cluster mode: ingress -----------------------------------------------------------------

def test_chat_entry_is_a_gke_ingress_with_a_managed_certificate_on_a_reserved_address(
        plan: dict[str, Any], cell: dict[str, Any]) -> None:
    hostname = _endpoint_config(cell, "chat")["hostname"]
    ingress = _one(plan, "gcp-usc1-chat", INGRESS)
    metadata, spec = ingress["inputs"]["metadata"], ingress["inputs"]["spec"]
    assert spec["ingressClassName"] == "gce"
    annotations = metadata["annotations"]
    assert annotations["kubernetes.io/ingress.allow-http"] == "false"
    certificate = _one(plan, "gcp-usc1-chat", CERTIFICATE)
    assert certificate["inputs"]["apiVersion"] == "networking.gke.io/v1"
    assert annotations["networking.gke.io/managed-certificates"] == certificate["inputs"]["metadata"]["name"] \
        == "chat-cert"
    assert certificate["inputs"]["metadata"]["namespace"] == metadata["namespace"]
    assert certificate["inputs"]["spec"] == {"domains": [hostname]}
    assert certificate["provider"] == ingress["provider"]  # on the cell's cluster
    address = _one(plan, "gcp-usc1-chat", ADDRESS)["inputs"]
    assert annotations["kubernetes.io/ingress.global-static-ip-name"] == address["name"]
    assert (address["addressType"], address["ipVersion"]) == ("EXTERNAL", "IPV4")
    assert address["project"] == cell["project"] and len(address["name"]) <= 63


def test_chat_service_uses_container_native_load_balancing(plan: dict[str, Any]) -> None:
    service = _one(plan, "gcp-usc1-chat", SERVICE)["inputs"]
    assert service["metadata"]["annotations"] == {"cloud.google.com/neg": '{"ingress": true}'}
    assert service["spec"]["type"] == "ClusterIP"


def test_chat_pods_admit_only_google_front_ends_and_health_checkers(
        plan: dict[str, Any], cell: dict[str, Any]) -> None:
    [rule] = _one(plan, "gcp-usc1-chat", NETWORK_POLICY)["inputs"]["spec"]["ingress"]
    assert rule["from"] == [{"ipBlock": {"cidr": "35.191.0.0/16"}}, {"ipBlock": {"cidr": "130.211.0.0/22"}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": _endpoint_config(cell, "chat")["model"]["port"]}]


def test_gke_ingress_has_no_tls_section_without_a_secret(plan: dict[str, Any]) -> None:
    spec = _one(plan, "gcp-usc1-chat", INGRESS)["inputs"]["spec"]
    assert all(t.get("secretName") for t in spec.get("tls", []))


def test_manifests_include_the_managed_certificate(tmp_path: Path) -> None:
    ScratchProject(tmp_path).write_stack("prod", _gcp_only("prod"))
    out = tmp_path / "manifests"
    proc = run_preflight("manifests", "prod", "--cwd", tmp_path, "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [path] = list(out.rglob("managedcertificate-chat-cert.yaml"))
    doc = yaml.safe_load(path.read_text())
    assert (doc["apiVersion"], doc["kind"]) == ("networking.gke.io/v1", "ManagedCertificate")
    assert path.parent.name == doc["metadata"]["namespace"] == "serve-chat"
