"""ModelEndpoint on GCP, asserted from offline plans.

The GCP cell of the shipped prod stack (a cluster-mode `chat` endpoint on GKE and a
managed Model Garden `gemma` endpoint on Vertex AI) is planned on its own; scratch
stacks cover the other managed shapes and what managed mode on GCP refuses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from components.catalog.gpus import GPU_MACHINES, CatalogError
from components.catalog.regions import Cloud
from components.serving import Accelerator, EndpointOptions, ModelEndpointArgs
from components.serving.args import RATE_LIMITED_ENTRY
from components.serving.endpoint import endpoint_problems
from components.serving.gcp import (DUTY_CYCLE_METRIC, VERTEX_ACCELERATORS, entry_problems, predict_url,
                                    prefix_condition, vertex_machine, vertex_problems)
from tests.components.entry_args import FakeZone, cluster_args
from tests.conftest import REPO, ScratchProject, ancestors, of_type, plan_json, run_preflight

ENDPOINT = "aiinfra:serving:ModelEndpoint"
VERTEX = "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment"
ACCOUNT = "gcp:serviceaccount/account:Account"
ACCOUNT_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
BUCKET = "gcp:storage/bucket:Bucket"
ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
CERTIFICATE = "kubernetes:networking.gke.io/v1:ManagedCertificate"
CERT = "gcp:certificatemanager/certificate:Certificate"
CERT_MAP = "gcp:certificatemanager/certificateMap:CertificateMap"
CERT_MAP_ENTRY = "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry"
DNS_AUTHORIZATION = "gcp:certificatemanager/dnsAuthorization:DnsAuthorization"
SECURITY_POLICY = "gcp:compute/securityPolicy:SecurityPolicy"
SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy"
ROUTE53_ZONE = "aws:route53/zone:Zone"
ROUTE53_RECORD = "aws:route53/record:Record"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
HEALTH_CHECK_POLICY = "kubernetes:networking.gke.io/v1:HealthCheckPolicy"
BACKEND_POLICY = "kubernetes:networking.gke.io/v1:GCPBackendPolicy"
GATEWAY_POLICY = "kubernetes:networking.gke.io/v1:GCPGatewayPolicy"
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
    # The deployment and its 5xx alert (to the cell's notification channels).
    assert sorted(inside) == sorted([VERTEX, "gcp:monitoring/alertPolicy:AlertPolicy"])


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


# --- Cluster mode: the GKE Gateway entry ---------------------------------------------------

def _inputs(plan: dict[str, Any], endpoint: str, type_token: str) -> dict[str, Any]:
    return _one(plan, endpoint, type_token)["inputs"]


def _names(cell: dict[str, Any]) -> list[str]:
    """Every name the chat entry serves: the cell's own first, then the global traffic name."""
    return [_endpoint_config(cell, "chat")["hostname"], _gcp_only("prod")["aiinfra:traffic"]["hostname"]]


def test_chat_entry_is_a_global_external_gke_gateway_on_the_reserved_address(
        plan: dict[str, Any], cell: dict[str, Any]) -> None:
    gateway = _one(plan, "gcp-usc1-chat", GATEWAY)
    spec, metadata = gateway["inputs"]["spec"], gateway["inputs"]["metadata"]
    assert spec["gatewayClassName"] == "gke-l7-global-external-managed"
    address = _one(plan, "gcp-usc1-chat", ADDRESS)
    assert spec["addresses"] == [{"type": "NamedAddress", "value": address["inputs"]["name"]}]
    assert address["urn"] in gateway["propertyDependencies"]["spec"]
    assert (address["inputs"]["addressType"], address["inputs"]["ipVersion"]) == ("EXTERNAL", "IPV4")
    assert address["inputs"]["project"] == cell["project"] and len(address["inputs"]["name"]) <= 63
    # HTTPS only: no plain-HTTP listener (a redirect would still take each first request in clear text).
    assert spec["listeners"] == [{"name": "https", "protocol": "HTTPS", "port": 443,
                                  "allowedRoutes": {"namespaces": {"from": "Same"}}}]
    assert metadata["namespace"] == "serve-chat"
    assert gateway["provider"] == _one(plan, "gcp-usc1-chat", DEPLOYMENT)["provider"]  # on the cell's cluster
    # The GKE Ingress, its ManagedCertificate and the NEG annotation for Ingress are gone.
    for gone in (INGRESS, CERTIFICATE):
        assert not _under(plan, "gcp-usc1-chat", gone), gone
    assert "annotations" not in _inputs(plan, "gcp-usc1-chat", SERVICE)["metadata"] or \
        not _inputs(plan, "gcp-usc1-chat", SERVICE)["metadata"]["annotations"]


def test_certmap_annotation_names_the_map_whose_entries_cover_the_cell_and_global_names(
        plan: dict[str, Any], cell: dict[str, Any]) -> None:
    gateway = _one(plan, "gcp-usc1-chat", GATEWAY)
    certificate_map = _one(plan, "gcp-usc1-chat", CERT_MAP)
    assert gateway["inputs"]["metadata"]["annotations"] == {
        "networking.gke.io/certmap": certificate_map["inputs"]["name"]}
    assert certificate_map["urn"] in gateway["propertyDependencies"]["metadata"]
    assert certificate_map["inputs"]["project"] == cell["project"]  # the cluster's project
    certificate = _one(plan, "gcp-usc1-chat", CERT)
    entries = _under(plan, "gcp-usc1-chat", CERT_MAP_ENTRY)
    assert sorted(e["inputs"]["hostname"] for e in entries) == sorted(_names(cell))
    for entry in entries:
        assert entry["inputs"]["map"] == certificate_map["inputs"]["name"]
        assert entry["propertyDependencies"]["map"] == [certificate_map["urn"]]
        assert entry["propertyDependencies"]["certificates"] == [certificate["urn"]]


def test_certificate_covers_every_name_through_a_per_project_dns_authorization_each(
        plan: dict[str, Any], cell: dict[str, Any]) -> None:
    certificate = _one(plan, "gcp-usc1-chat", CERT)
    managed = certificate["inputs"]["managed"]
    assert managed["domains"] == _names(cell)
    assert certificate["inputs"]["scope"] == "DEFAULT" and certificate["inputs"]["location"] == "global"
    authorizations = _under(plan, "gcp-usc1-chat", DNS_AUTHORIZATION)
    assert sorted(a["inputs"]["domain"] for a in authorizations) == sorted(_names(cell))
    # PER_PROJECT_RECORD: `_acme-challenge_<id>.<name>`, so other clouds' validation of the global name
    # (ACM's `_<hash>.<name>`, ACME's `_acme-challenge.<name>`) never collides with this one.
    assert {a["inputs"]["type"] for a in authorizations} == {"PER_PROJECT_RECORD"}
    assert {a["inputs"]["project"] for a in authorizations} == {cell["project"]}
    assert sorted(certificate["propertyDependencies"]["managed"]) == sorted(a["urn"] for a in authorizations)
    assert len(managed["dnsAuthorizations"]) == len(authorizations)


def test_dns_authorization_records_are_created_in_the_environment_zone(plan: dict[str, Any]) -> None:
    [zone] = of_type(plan, ROUTE53_ZONE)  # prod's aiinfra:dns: Route 53
    authorizations = {a["urn"]: a for a in _under(plan, "gcp-usc1-chat", DNS_AUTHORIZATION)}
    records = [r for r in _under(plan, "gcp-usc1-chat", ROUTE53_RECORD)
               if set(r["propertyDependencies"].get("name", [])) & set(authorizations)]
    assert len(records) == len(authorizations) == 2
    for record in records:
        inputs = record["inputs"]
        assert inputs["type"] == "CNAME"
        assert record["propertyDependencies"]["zoneId"] == [zone["urn"]]
        # Name and target are the authorization's dns_resource_records (known once it exists).
        assert record["propertyDependencies"]["name"] == record["propertyDependencies"]["records"]
    by_domain = {authorizations[r["propertyDependencies"]["name"][0]]["inputs"]["domain"]: r for r in records}
    # The certificate is requested once its validation records exist.
    certificate = _one(plan, "gcp-usc1-chat", CERT)
    assert {r["urn"] for r in records} <= set(certificate["dependencies"])
    # The global name's record is the project's, shared by its cells proving the same name.
    assert by_domain["chat.models.example.com"]["inputs"].get("allowOverwrite") is True
    assert not by_domain["gcp-usc1.models.example.com"]["inputs"].get("allowOverwrite")


def test_http_route_sends_every_name_to_the_chat_service(plan: dict[str, Any], cell: dict[str, Any]) -> None:
    route = _one(plan, "gcp-usc1-chat", HTTP_ROUTE)
    spec = route["inputs"]["spec"]
    gateway = _one(plan, "gcp-usc1-chat", GATEWAY)
    assert spec["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                   "name": gateway["inputs"]["metadata"]["name"], "sectionName": "https"}]
    assert route["inputs"]["metadata"]["namespace"] == gateway["inputs"]["metadata"]["namespace"]
    assert spec["hostnames"] == _names(cell)
    service = _inputs(plan, "gcp-usc1-chat", SERVICE)
    # Only the OpenAI API and the health path reach the server; /metrics is never public.
    assert spec["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/v1"}},
                                          {"path": {"type": "Exact", "value": "/health"}}],
                              "backendRefs": [{"name": service["metadata"]["name"], "port": 80}]}]
    assert service["spec"]["ports"][0]["port"] == 80


def _service_ref(plan: dict[str, Any]) -> dict[str, str]:
    return {"group": "", "kind": "Service", "name": _inputs(plan, "gcp-usc1-chat", SERVICE)["metadata"]["name"]}


def test_backend_policy_allows_long_generations_drains_and_applies_cloud_armor(plan: dict[str, Any]) -> None:
    policy = _one(plan, "gcp-usc1-chat", BACKEND_POLICY)
    spec = policy["inputs"]["spec"]
    assert spec["targetRef"] == _service_ref(plan)
    default = spec["default"]
    assert default["timeoutSec"] >= 600  # GKE's default is 30 s: long generations would be cut
    assert default["connectionDraining"]["drainingTimeoutSec"] > 0
    armor = _one(plan, "gcp-usc1-chat", SECURITY_POLICY)
    assert default["securityPolicy"] == armor["inputs"]["name"]
    assert armor["urn"] in policy["propertyDependencies"]["spec"]
    [throttle] = [r for r in armor["inputs"]["rules"] if r["action"] in ("throttle", "rate_based_ban")]
    options = throttle["rateLimitOptions"]
    assert options["enforceOnKey"] == "IP" and options["exceedAction"] == "deny(429)"
    assert options["rateLimitThreshold"] == {"count": 600, "intervalSec": 60}  # the default
    assert throttle["match"] == {"versionedExpr": "SRC_IPS_V1", "config": {"srcIpRanges": ["*"]}}
    [default_rule] = [r for r in armor["inputs"]["rules"] if r["priority"] == 2147483647]
    assert default_rule["action"] == "allow" and throttle["priority"] < default_rule["priority"]


def test_health_check_policy_probes_the_models_health_path(plan: dict[str, Any], cell: dict[str, Any]) -> None:
    spec = _inputs(plan, "gcp-usc1-chat", HEALTH_CHECK_POLICY)["spec"]
    assert spec["targetRef"] == _service_ref(plan)
    config = spec["default"]["config"]
    assert config["type"] == "HTTP"
    assert config["httpHealthCheck"]["requestPath"] == _endpoint_config(cell, "chat")["model"]["health_path"]
    assert config["httpHealthCheck"]["portSpecification"] == "USE_SERVING_PORT"  # the pod's port
    assert spec["default"]["timeoutSec"] <= spec["default"]["checkIntervalSec"]  # the CRD's rule


def test_gateway_policy_sets_an_ssl_policy_of_tls_1_2_and_up(plan: dict[str, Any]) -> None:
    policy = _one(plan, "gcp-usc1-chat", GATEWAY_POLICY)
    gateway = _one(plan, "gcp-usc1-chat", GATEWAY)
    spec = policy["inputs"]["spec"]
    assert spec["targetRef"] == {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                 "name": gateway["inputs"]["metadata"]["name"]}
    ssl = _one(plan, "gcp-usc1-chat", SSL_POLICY)
    assert spec["default"] == {"sslPolicy": ssl["inputs"]["name"]}
    assert ssl["urn"] in policy["propertyDependencies"]["spec"]
    assert ssl["inputs"]["minTlsVersion"] in ("TLS_1_2", "TLS_1_3")
    assert ssl["inputs"]["profile"] in ("MODERN", "RESTRICTED")


def test_cell_hostname_is_an_a_record_to_the_address(plan: dict[str, Any], cell: dict[str, Any]) -> None:
    address = _one(plan, "gcp-usc1-chat", ADDRESS)
    [record] = [r for r in _under(plan, "gcp-usc1-chat", ROUTE53_RECORD)
                if r["inputs"]["name"] == _endpoint_config(cell, "chat")["hostname"]]
    assert record["inputs"]["type"] == "A"
    assert record["propertyDependencies"]["records"] == [address["urn"]]


def test_chat_pods_admit_only_google_front_ends_and_health_checkers(
        plan: dict[str, Any], cell: dict[str, Any]) -> None:
    rule, scraper = _one(plan, "gcp-usc1-chat", NETWORK_POLICY)["inputs"]["spec"]["ingress"]
    assert rule["from"] == [{"ipBlock": {"cidr": "35.191.0.0/16"}}, {"ipBlock": {"cidr": "130.211.0.0/22"}}]
    port = [{"protocol": "TCP", "port": _endpoint_config(cell, "chat")["model"]["port"]}]
    assert rule["ports"] == port
    # And Managed Service for Prometheus's collectors (gmp-system), on the same port, for /metrics.
    [peer] = scraper["from"]
    assert peer == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gmp-system"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "collector"}}}, peer
    assert scraper["ports"] == port


RENAMED = "gcp-central.models.example.com"


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The prod GCP cell with its chat entry renamed and a tighter rate limit."""
    root = tmp_path_factory.mktemp("gcp-serving-renamed")
    config = _gcp_only("prod")
    [chat] = [e for e in config["aiinfra:cells"][0]["endpoints"] if e["name"] == "chat"]
    chat["hostname"], chat["rate_limit_per_minute"] = RENAMED, 120
    ScratchProject(root).write_stack("prod", config)
    return plan_json("prod", project=root, tmp=root)


def test_renaming_the_entry_changes_no_force_new_field_of_the_address(
        plan: dict[str, Any], renamed: dict[str, Any]) -> None:
    before, after = _one(plan, "gcp-usc1-chat", ADDRESS), _one(renamed, "gcp-usc1-chat", ADDRESS)
    assert RENAMED in json.dumps(_under(renamed, "gcp-usc1-chat", CERT_MAP_ENTRY))  # the rename took effect
    # Every GlobalAddress field but labels is ForceNew (magic-modules GlobalAddress.yaml, immutable: true).
    force_new = {k: v for k, v in before["inputs"].items() if k != "labels"}
    assert force_new == {k: v for k, v in after["inputs"].items() if k != "labels"}
    assert not any("models.example.com" in str(v) for v in force_new.values())
    assert before["urn"] == after["urn"]
    assert "description" in before["options"]["ignoreChanges"]  # rewording never replaces the address
    # The names the Gateway and its policies refer to stay put too.
    for token in (CERT_MAP, SECURITY_POLICY, SSL_POLICY):
        assert _inputs(plan, "gcp-usc1-chat", token)["name"] == _inputs(renamed, "gcp-usc1-chat", token)["name"]
    # What holds the renamed name is replaced under a new cloud name (created before the old one goes),
    # and every Certificate Manager name fits its 64 characters.
    for token in (CERT, DNS_AUTHORIZATION, CERT_MAP_ENTRY):
        old = {r["name"]: r["inputs"]["name"] for r in _under(plan, "gcp-usc1-chat", token)}
        new = {r["name"]: r["inputs"]["name"] for r in _under(renamed, "gcp-usc1-chat", token)}
        assert all(len(n) <= 64 for n in [*old.values(), *new.values()]), token
        first = min(old)  # the cell's own name comes first
        assert old[first] != new[first], token


def test_rate_limit_per_client_is_configurable(renamed: dict[str, Any]) -> None:
    [throttle] = [r for r in _inputs(renamed, "gcp-usc1-chat", SECURITY_POLICY)["rules"] if r["action"] == "throttle"]
    assert throttle["rateLimitOptions"]["rateLimitThreshold"] == {"count": 120, "intervalSec": 60}


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_rate_limit_is_refused_where_the_entry_does_not_enforce_it(cloud: Cloud) -> None:
    assert RATE_LIMITED_ENTRY["gcp"] is True  # Cloud Armor
    options = EndpointOptions.model_validate({
        "name": "chat", "mode": "cluster", "hostname": "cell.models.example.com", "rate_limit_per_minute": 60,
        "model": {"artifact_path": "models/chat/", "image": "repo/server:1.2.3"}, "accelerator": {"gpu": "t4"}})
    refused = [p for p in endpoint_problems(cloud, "us-east-1", options, True, {"t4": "t4"})
               if p.path == "rate_limit_per_minute"]
    assert len(refused) == (0 if RATE_LIMITED_ENTRY[cloud] else 1)
    assert all("does not enforce" in p.allowed for p in refused)


def _cluster_args(**changes: Any) -> ModelEndpointArgs:
    return cluster_args("gcp", "gcp-usc1.models.example.com", **changes)


def test_a_gcp_cluster_entry_without_a_dns_zone_is_refused_naming_the_argument() -> None:
    [problem] = entry_problems(_cluster_args())
    assert problem.path == "ModelEndpointArgs.dns_zone" and problem.missing
    assert "DNS authorization" in problem.allowed
    zone = cast(Any, FakeZone())
    assert entry_problems(_cluster_args(dns_zone=zone, global_hostnames=("chat.models.example.com",))) == []
    [outside] = entry_problems(_cluster_args(dns_zone=zone, global_hostnames=("chat.example.org",)))
    assert (outside.path, outside.received) == ("ModelEndpointArgs.global_hostnames", "chat.example.org")


def test_manifests_include_the_gateway_and_its_policies(tmp_path: Path) -> None:
    ScratchProject(tmp_path).write_stack("prod", _gcp_only("prod"))
    out = tmp_path / "manifests"
    proc = run_preflight("manifests", "prod", "--cwd", tmp_path, "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = {}
    for path in out.rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if doc["kind"] in ("Gateway", "HTTPRoute", "HealthCheckPolicy", "GCPBackendPolicy", "GCPGatewayPolicy"):
            found[doc["kind"]] = (doc["apiVersion"], path.parent.name == doc["metadata"]["namespace"] == "serve-chat")
    assert found == {"Gateway": ("gateway.networking.k8s.io/v1", True), "HTTPRoute": ("gateway.networking.k8s.io/v1", True),
                     "HealthCheckPolicy": ("networking.gke.io/v1", True),
                     "GCPBackendPolicy": ("networking.gke.io/v1", True),
                     "GCPGatewayPolicy": ("networking.gke.io/v1", True)}
