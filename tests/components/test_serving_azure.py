"""ModelEndpoint on Azure, asserted from offline plans of scratch stacks.

`prod` is the Azure cell of the shipped prod stack: `chat` in cluster mode on AKS and `embed`
as an Azure ML managed online endpoint (Standard_NC4as_T4_v3, 1-3 replicas on invocations).
`staging` changes only `embed`: a catalog GPU instead of an instance type, a fixed replica
count and the concurrency metric.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pulumi_azure_native
import pytest
import yaml

from components.serving.azure import (
    ONLINE_ENDPOINT_API_VERSION,
    _account_id,  # pyright: ignore[reportPrivateUsage]
    _account_name,  # pyright: ignore[reportPrivateUsage]
    _container_name,  # pyright: ignore[reportPrivateUsage]
)
from tests.conftest import REPO, ScratchProject, ancestors, by_urn, of_type, plan_json

ML = "azure-native:machinelearningservices:"
ENDPOINT = ML + "OnlineEndpoint"
DEPLOYMENT = ML + "OnlineDeployment"
WORKSPACE = ML + "Workspace"
ARM_DEPLOYMENT = "azure-native:resources:Deployment"
AUTOSCALE = "azure-native:monitor:AutoscaleSetting"
ROLE = "azure-native:authorization:RoleAssignment"
CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
CONTAINER = "azure-native:storage:BlobContainer"
CLUSTER = "azure-native:containerservice:ManagedCluster"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
ZERO = "00000000-0000-0000-0000-000000000000"


def _prod_config() -> dict[str, Any]:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    # Serving only: the cell's backup adds storage of its own (tests/components/test_backup.py covers it).
    cells = [{k: v for k, v in c.items() if k != "backup"} for c in config["aiinfra:cells"] if c["cloud"] == "azure"]
    assert [c["name"] for c in cells] == ["azure-eus"]
    return {"aiinfra:environment": config["aiinfra:environment"], "aiinfra:tags": config["aiinfra:tags"],
            "aiinfra:cells": cells}


def _staging_config(prod: dict[str, Any]) -> dict[str, Any]:
    cell = copy.deepcopy(prod["aiinfra:cells"][0])
    [embed] = [e for e in cell["endpoints"] if e["name"] == "embed"]
    embed["accelerator"] = {"gpu": "a100-80gb", "count": 1}
    embed["min_replicas"] = embed["max_replicas"] = 2
    embed["scaling"] = {"metric": "concurrency", "target": 3}
    return {"aiinfra:environment": "staging", "aiinfra:tags": prod["aiinfra:tags"], "aiinfra:cells": [cell]}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root: Path = tmp_path_factory.mktemp("azure-serving")
    project = ScratchProject(root)
    prod = _prod_config()
    project.write_stack("prod", prod)
    project.write_stack("staging", _staging_config(prod))
    return {stack: plan_json(stack, project=root) for stack in ("prod", "staging")}


@pytest.fixture(scope="module")
def prod(plans: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return plans["prod"]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The shipped prod stack's Azure endpoints, by name."""
    return {e["name"]: e for e in _prod_config()["aiinfra:cells"][0]["endpoints"]}


def _one(plan: dict[str, Any], type_token: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in of_type(plan, type_token) if name is None or r["name"] == name]
    assert len(found) == 1, f"{type_token} {name}: {len(found)}"
    return found[0]


def _urn(plan: dict[str, Any], type_token: str, name: str | None = None) -> str:
    return _one(plan, type_token, name)["urn"]


# --- Managed: the online deployment ----------------------------------------------------------

def test_deployment_probes_have_concrete_timings(prod: dict[str, Any]) -> None:
    props = _one(prod, DEPLOYMENT)["inputs"]["properties"]
    assert props["livenessProbe"] == {"initialDelay": "PT600S", "period": "PT10S", "timeout": "PT5S",
                                      "failureThreshold": 6, "successThreshold": 1}
    assert props["readinessProbe"] == {"initialDelay": "PT10S", "period": "PT5S", "timeout": "PT5S",
                                       "failureThreshold": 3, "successThreshold": 1}


def test_deployment_runs_the_spec_instance_type_with_the_model_mounted(prod: dict[str, Any],
                                                                       spec: dict[str, Any]) -> None:
    deployment = _one(prod, DEPLOYMENT)
    props = deployment["inputs"]["properties"]
    assert props["endpointComputeType"] == "Managed"
    assert props["instanceType"] == spec["embed"]["accelerator"]["instance_type"] == "Standard_NC4as_T4_v3"
    # Keys reach the provider in the API's camelCase (a plain dict for this union would not).
    assert not [k for k in props if "_" in k]
    assert props["modelMountPath"] == "/models"
    assert props["environmentVariables"]["PORT"] == str(spec["embed"]["model"]["port"])
    assert _urn(prod, ML + "EnvironmentVersion") in deployment["propertyDependencies"]["properties"]
    assert _urn(prod, ML + "ModelVersion") in deployment["propertyDependencies"]["properties"]
    # The endpoint identity may read the container before the model is downloaded.
    assert _urn(prod, ROLE, "azure-eus-embed-model-reader") in deployment["dependencies"]


def test_scale_settings_and_autoscale_follow_the_spec(prod: dict[str, Any], spec: dict[str, Any]) -> None:
    embed = spec["embed"]
    deployment = _one(prod, DEPLOYMENT)
    assert deployment["inputs"]["properties"]["scaleSettings"] == {"scaleType": "Default"}
    assert deployment["inputs"]["sku"] == {"name": "Default", "capacity": embed["min_replicas"]}
    # Azure Monitor autoscale owns the instance count after creation.
    assert "sku.capacity" in deployment["options"]["ignoreChanges"]
    autoscale = _one(prod, AUTOSCALE)
    [profile] = autoscale["inputs"]["profiles"]
    assert profile["capacity"] == {"minimum": str(embed["min_replicas"]), "maximum": str(embed["max_replicas"]),
                                   "default": str(embed["min_replicas"])}
    assert (embed["min_replicas"], embed["max_replicas"]) == (1, 3)
    out, scale_in = profile["rules"]
    assert out["scaleAction"]["direction"] == "Increase" and scale_in["scaleAction"]["direction"] == "Decrease"
    for rule in (out, scale_in):
        trigger = rule["metricTrigger"]
        assert trigger["metricName"] == "RequestsPerMinute"  # scaling.metric: invocations
        assert trigger["dividePerInstance"] is True
        assert trigger["dimensions"] == [{"dimensionName": "deployment", "operator": "Equals",
                                          "values": [deployment["inputs"]["deploymentName"]]}]
        assert _urn(prod, ENDPOINT) in autoscale["propertyDependencies"]["profiles"]
    assert out["metricTrigger"]["operator"] == "GreaterThan"
    assert out["metricTrigger"]["threshold"] == embed["scaling"]["target"] == 600
    assert scale_in["metricTrigger"]["operator"] == "LessThan" and scale_in["metricTrigger"]["threshold"] == 300
    assert autoscale["propertyDependencies"]["targetResourceUri"] == [deployment["urn"]]


def test_catalog_gpu_fixed_replicas_and_concurrency(plans: dict[str, dict[str, Any]]) -> None:
    plan = plans["staging"]
    deployment = _one(plan, DEPLOYMENT)
    props = deployment["inputs"]["properties"]
    assert props["instanceType"] == "Standard_NC24ads_A100_v4"
    assert props["requestSettings"]["maxConcurrentRequestsPerInstance"] == 3
    assert deployment["inputs"]["sku"]["capacity"] == 2
    assert of_type(plan, AUTOSCALE) == []
    assert "sku.capacity" not in deployment["options"]["ignoreChanges"]


# --- Managed: traffic without a cycle ---------------------------------------------------------

def test_endpoint_is_created_without_traffic_and_ignores_it(prod: dict[str, Any]) -> None:
    endpoint = _one(prod, ENDPOINT)
    assert "traffic" not in endpoint["inputs"]["properties"]
    assert endpoint["options"]["ignoreChanges"] == ["properties.traffic"]
    assert endpoint["inputs"]["properties"]["authMode"] == "AADToken"
    assert endpoint["inputs"]["identity"] == {"type": "SystemAssigned"}
    name = endpoint["inputs"]["endpointName"]
    assert re.fullmatch(r"embed-[0-9a-f]{8}", name) and len(name) <= 32


def test_arm_deployment_sends_all_traffic_to_the_deployment_after_it_exists(prod: dict[str, Any]) -> None:
    endpoint, deployment = _one(prod, ENDPOINT), _one(prod, DEPLOYMENT)
    workspace = _one(prod, WORKSPACE)
    arm = _one(prod, ARM_DEPLOYMENT)
    assert arm["name"] == "azure-eus-embed-traffic"
    assert arm["inputs"]["properties"]["mode"] == "Incremental"
    [resource] = arm["inputs"]["properties"]["template"]["resources"]
    assert resource["type"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    assert resource["name"] == f"{workspace['inputs']['workspaceName']}/{endpoint['inputs']['endpointName']}"
    assert resource["properties"]["traffic"] == {deployment["inputs"]["deploymentName"]: 100}
    # The same endpoint as the OnlineEndpoint resource declares it, so the PUT changes only traffic.
    assert resource["location"] == endpoint["inputs"]["location"] == "eastus"
    assert resource["identity"] == endpoint["inputs"]["identity"]
    assert resource["tags"] == endpoint["inputs"]["tags"]
    assert resource["properties"]["authMode"] == endpoint["inputs"]["properties"]["authMode"]
    assert resource["properties"]["publicNetworkAccess"] == endpoint["inputs"]["properties"]["publicNetworkAccess"]
    # endpoint -> deployment -> traffic, and nothing back.
    assert deployment["urn"] in arm["dependencies"]
    assert endpoint["urn"] in deployment["dependencies"]
    assert arm["urn"] not in deployment["dependencies"] and arm["urn"] not in endpoint["dependencies"]


def test_template_api_version_is_the_one_the_sdk_uses_for_online_endpoints() -> None:
    source = (Path(pulumi_azure_native.__file__).parent / "machinelearningservices" / "online_endpoint.py").read_text()
    [version] = set(re.findall(r"Uses Azure REST API version (\S+)\.", source))
    assert ONLINE_ENDPOINT_API_VERSION == version


# --- Managed: workspace, assets, access ------------------------------------------------------

def test_workspace_uses_the_cells_storage_account_with_identity_auth(prod: dict[str, Any]) -> None:
    workspace = _one(prod, WORKSPACE)
    inputs = workspace["inputs"]
    assert inputs["identity"] == {"type": "SystemAssigned"}
    assert inputs["systemDatastoresAuthMode"] == "Identity"
    assert inputs["hbiWorkspace"] is False and inputs["v1LegacyMode"] is False
    assert workspace["propertyDependencies"]["storageAccount"] == [_urn(prod, CONTAINER)]
    assert workspace["propertyDependencies"]["keyVault"] == [_urn(prod, "azure-native:keyvault:Vault",
                                                                  "azure-eus-embed-kv")]
    assert _urn(prod, "azure-native:applicationinsights:Component") in \
        workspace["propertyDependencies"]["applicationInsights"]
    assert len(inputs["workspaceName"]) <= 33
    vault = _one(prod, "azure-native:keyvault:Vault", "azure-eus-embed-kv")["inputs"]
    assert vault["properties"]["enablePurgeProtection"] is True
    assert vault["properties"]["enableRbacAuthorization"] is True
    assert len(vault["vaultName"]) <= 24 and vault["vaultName"].isalnum()


def test_stateful_managed_resources_are_protected_in_prod(prod: dict[str, Any]) -> None:
    for type_token, name in ((WORKSPACE, None), ("azure-native:keyvault:Vault", "azure-eus-embed-kv"),
                             ("azure-native:operationalinsights:Workspace", "azure-eus-embed-logs")):
        options = _one(prod, type_token, name)["options"]
        assert options["protect"] is True and options["retainOnDelete"] is True, (type_token, name)
    assert _one(prod, ENDPOINT)["options"]["protect"] is None


def test_environment_and_model_come_from_the_spec(prod: dict[str, Any], spec: dict[str, Any]) -> None:
    model = spec["embed"]["model"]
    env = _one(prod, ML + "EnvironmentVersion")["inputs"]
    assert env["properties"]["image"] == model["image"]
    route = {"path": model["health_path"], "port": model["port"]}
    config = env["properties"]["inferenceConfig"]
    assert config["livenessRoute"] == config["readinessRoute"] == route
    assert config["scoringRoute"]["port"] == model["port"]
    registered = _one(prod, ML + "ModelVersion")
    assert registered["inputs"]["properties"]["modelType"] == "custom_model"
    assert _urn(prod, ML + "Datastore") in registered["propertyDependencies"]["properties"]
    datastore = _one(prod, ML + "Datastore")
    assert datastore["inputs"]["properties"]["credentials"] == {"credentialsType": "None"}
    assert datastore["propertyDependencies"]["properties"] == [_urn(prod, CONTAINER)]


def test_endpoint_identity_reads_only_the_model_container(prod: dict[str, Any]) -> None:
    role = _one(prod, ROLE, "azure-eus-embed-model-reader")
    assert role["inputs"]["roleDefinitionId"] == \
        f"/subscriptions/{ZERO}/providers/Microsoft.Authorization/roleDefinitions/{STORAGE_BLOB_DATA_READER}"
    assert role["inputs"]["principalType"] == "ServicePrincipal"
    assert role["propertyDependencies"]["scope"] == [_urn(prod, CONTAINER)]
    # The endpoint's system-assigned principal (known once the endpoint exists).
    assert _urn(prod, ENDPOINT) in role["dependencies"]


def test_managed_url_is_the_scoring_uri(prod: dict[str, Any]) -> None:
    endpoint = _one(prod, ENDPOINT)
    [component] = [r for r in of_type(prod, "aiinfra:serving:ModelEndpoint") if r["name"] == "azure-eus-embed"]
    url = f"https://{endpoint['inputs']['endpointName']}.eastus.inference.ml.azure.com/score"
    assert component["outputs"]["url"] == component["outputs"]["health_url"] == url
    assert component["outputs"].get("entry_hostname") is None


def test_every_serving_resource_is_under_its_endpoint(prod: dict[str, Any]) -> None:
    index = by_urn(prod)
    for r in prod["resources"]:
        if r["type"].startswith(ML) or r["type"] in (ARM_DEPLOYMENT, AUTOSCALE, CREDENTIAL):
            assert index[r["parent"]]["type"] == "aiinfra:serving:ModelEndpoint", r["urn"]
            assert r["provider"] and r["provider"].endswith("::azure-eus-azure"), r["urn"]


# --- Cluster mode: workload identity ---------------------------------------------------------

def test_federated_credential_trusts_the_clusters_issuer_for_the_service_account(prod: dict[str, Any]) -> None:
    credential = _one(prod, CREDENTIAL)
    assert credential["inputs"]["subject"] == "system:serviceaccount:serve-chat:chat"
    assert credential["inputs"]["audiences"] == ["api://AzureADTokenExchange"]
    # The issuer is the AKS cluster's OIDC issuer URL (unknown until the cluster exists).
    assert credential["propertyDependencies"]["issuer"] == [_urn(prod, CLUSTER)]
    assert credential["propertyDependencies"]["resourceName"] == [_urn(prod, IDENTITY, "azure-eus-chat-identity")]


def test_pods_identity_reads_the_model_container(prod: dict[str, Any]) -> None:
    role = _one(prod, ROLE, "azure-eus-chat-model-reader")
    assert role["inputs"]["roleDefinitionId"].endswith(f"/roleDefinitions/{STORAGE_BLOB_DATA_READER}")
    assert role["inputs"]["principalType"] == "ServicePrincipal"
    assert role["propertyDependencies"]["scope"] == [_urn(prod, CONTAINER)]
    assert role["propertyDependencies"]["principalId"] == [_urn(prod, IDENTITY, "azure-eus-chat-identity")]


def test_service_account_and_pods_carry_the_workload_identity(prod: dict[str, Any]) -> None:
    identity = _urn(prod, IDENTITY, "azure-eus-chat-identity")
    account = _one(prod, "kubernetes:core/v1:ServiceAccount", "azure-eus-chat-service-account")
    assert set(account["inputs"]["metadata"]["annotations"]) == {"azure.workload.identity/client-id"}
    assert identity in account["propertyDependencies"]["metadata"]
    deployment = _one(prod, "kubernetes:apps/v1:Deployment", "azure-eus-chat-deployment")
    labels = deployment["inputs"]["spec"]["template"]["metadata"]["labels"]
    assert labels["azure.workload.identity/use"] == "true"
    # Pods start only after the credential and the role exist.
    assert _urn(prod, CREDENTIAL) in deployment["dependencies"]
    assert _urn(prod, ROLE, "azure-eus-chat-model-reader") in deployment["dependencies"]


# --- Cluster mode: ingress ---------------------------------------------------------------------

def test_ingress_uses_app_routing_with_cert_manager_tls(prod: dict[str, Any], spec: dict[str, Any]) -> None:
    ingress = _one(prod, "kubernetes:networking.k8s.io/v1:Ingress")["inputs"]
    assert ingress["spec"]["ingressClassName"] == "webapprouting.kubernetes.azure.com"
    assert ingress["spec"]["tls"] == [{"hosts": ["azure-eus.models.example.com"], "secretName": "chat-tls"}]
    assert spec["chat"]["hostname"] == "azure-eus.models.example.com"
    annotations = ingress["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    service = _one(prod, "kubernetes:core/v1:Service", "azure-eus-chat-service")["inputs"]
    assert service["metadata"]["annotations"] == {}


def test_network_policy_admits_only_the_app_routing_namespace(prod: dict[str, Any]) -> None:
    [policy] = [p["inputs"] for p in of_type(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if p["inputs"]["metadata"]["namespace"] == "serve-chat"]
    [rule] = policy["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "app-routing-system"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_cluster_has_the_app_routing_add_on(prod: dict[str, Any]) -> None:
    cluster = _one(prod, CLUSTER)
    assert cluster["inputs"]["ingressProfile"] == {"webAppRouting": {"enabled": True}}
    assert "aiinfra:compute:KubernetesCluster" in [a["type"] for a in ancestors(prod, cluster)]


# --- Pure helpers ------------------------------------------------------------------------------

def test_storage_account_is_derived_from_the_container_id() -> None:
    container = ("/subscriptions/1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stabc123"
                 "/blobServices/default/containers/models")
    assert _account_id(container) == \
        "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stabc123"
    assert _account_name(container) == "stabc123"
    assert _container_name(container) == "models"
