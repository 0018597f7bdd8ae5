"""ModelEndpoint on Azure, asserted from offline plans of scratch stacks.

`prod` is the Azure cell of the shipped prod stack: `chat` in cluster mode on AKS and `embed`
as an Azure ML managed online endpoint (Standard_NC4as_T4_v3, 1-3 replicas on invocations),
with prod's zone (Route 53) and global name. `staging` changes `embed` (a catalog GPU instead
of an instance type, a fixed replica count and the concurrency metric), limits each client of
`chat` to 120 requests a minute and puts the zone on Azure DNS, without a global name.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace
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
CHAT_CREDENTIAL = "azure-eus-chat-federated-credential"
KEDA_CREDENTIAL = "azure-eus-metrics-keda-federated-credential"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
ZERO = "00000000-0000-0000-0000-000000000000"


def _prod_config() -> dict[str, Any]:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    # Serving only: the cell's backup adds storage of its own (tests/components/test_backup.py covers it).
    cells = [{k: v for k, v in c.items() if k != "backup"} for c in config["aiinfra:cells"] if c["cloud"] == "azure"]
    assert [c["name"] for c in cells] == ["azure-eus"]
    assert config["aiinfra:dns"]["provider"] == "route53" and config["aiinfra:traffic"]["endpoint"] == "chat"
    # With prod's alert channel (required in prod), its image credentials and the secret they name.
    return {"aiinfra:environment": config["aiinfra:environment"], "aiinfra:tags": config["aiinfra:tags"],
            "aiinfra:cells": cells, "aiinfra:dns": config["aiinfra:dns"], "aiinfra:traffic": config["aiinfra:traffic"],
            **{key: config[key] for key in ("aiinfra:alerts", "aiinfra:images", "aiinfra:secrets")}}


def _staging_config(prod: dict[str, Any]) -> dict[str, Any]:
    cell = copy.deepcopy(prod["aiinfra:cells"][0])
    [embed] = [e for e in cell["endpoints"] if e["name"] == "embed"]
    embed["accelerator"] = {"gpu": "a100-80gb", "count": 1}
    embed["min_replicas"] = embed["max_replicas"] = 2
    embed["scaling"] = {"metric": "concurrency", "target": 3}
    [chat] = [e for e in cell["endpoints"] if e["name"] == "chat"]
    chat["rate_limit_per_minute"] = 120
    # The cell's cache pulls chat's image from docker.io, which ACR does only with credentials: prod's, as shipped.
    return {"aiinfra:environment": "staging", "aiinfra:tags": prod["aiinfra:tags"], "aiinfra:cells": [cell],
            "aiinfra:dns": {**prod["aiinfra:dns"], "provider": "azure_dns"},
            "aiinfra:images": prod["aiinfra:images"], "aiinfra:secrets": prod["aiinfra:secrets"]}


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
            # One credential is not an endpoint's: KEDA's, in the cell's metrics pipeline (to read its Prometheus).
            owner = "aiinfra:metrics:ClusterMetrics" if r["name"] == KEDA_CREDENTIAL else "aiinfra:serving:ModelEndpoint"
            assert index[r["parent"]]["type"] == owner, r["urn"]
            assert r["provider"] and r["provider"].endswith("::azure-eus-azure"), r["urn"]
    assert sorted(r["name"] for r in of_type(prod, CREDENTIAL)) == [CHAT_CREDENTIAL, KEDA_CREDENTIAL]


# --- Cluster mode: workload identity ---------------------------------------------------------

def test_federated_credential_trusts_the_clusters_issuer_for_the_service_account(prod: dict[str, Any]) -> None:
    credential = _one(prod, CREDENTIAL, CHAT_CREDENTIAL)
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
    assert _urn(prod, CREDENTIAL, CHAT_CREDENTIAL) in deployment["dependencies"]
    assert _urn(prod, ROLE, "azure-eus-chat-model-reader") in deployment["dependencies"]


# --- Cluster mode: the public entry -------------------------------------------------------------

PIP = "azure-native:network:PublicIPAddress"
NSG_RULE = "azure-native:network:SecurityRule"
NGINX = "kubernetes:approuting.kubernetes.azure.com/v1alpha1:NginxIngressController"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
RELEASE = "kubernetes:helm.sh/v3:Release"
CERT_MANAGER = "azure-eus-cluster-cert-manager"  # a release of its own beside the metrics pipeline's (DCGM exporter)
GROUP = "azure-native:resources:ResourceGroup"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
DNS_ZONE_CONTRIBUTOR = "befefa01-2a29-4197-83a8-272ff33ce314"
CELL_NAME, GLOBAL_NAME = "azure-eus.models.example.com", "chat.models.example.com"
ENTRY_IP = "azure-eus-chat-ingress-ip"


def test_entry_ip_is_static_standard_and_zone_redundant(prod: dict[str, Any]) -> None:
    ip = _one(prod, PIP, ENTRY_IP)
    assert ip["inputs"]["sku"] == {"name": "Standard", "tier": "Regional"}
    assert ip["inputs"]["publicIPAllocationMethod"] == "Static"
    assert ip["inputs"]["publicIPAddressVersion"] == "IPv4"
    assert ip["inputs"]["zones"] == ["1", "2", "3"]  # eastus has zones
    # In the cluster's address group, where the cluster identity may attach it.
    assert ip["propertyDependencies"]["resourceGroupName"] == [_urn(prod, GROUP, "azure-eus-cluster-ingress-ips")]
    group = _one(prod, GROUP, "azure-eus-cluster-ingress-ips")["options"]
    assert group["protect"] is True and group["retainOnDelete"] is True  # prod: like every resource group


def test_cluster_identity_may_attach_ips_of_the_address_group_only(prod: dict[str, Any]) -> None:
    role = _one(prod, ROLE, "azure-eus-cluster-ingress-ip-role")
    assert role["inputs"]["roleDefinitionId"].endswith(f"/roleDefinitions/{NETWORK_CONTRIBUTOR}")
    assert role["inputs"]["principalType"] == "ServicePrincipal"
    assert role["propertyDependencies"]["scope"] == [_urn(prod, GROUP, "azure-eus-cluster-ingress-ips")]
    assert role["propertyDependencies"]["principalId"] == [_urn(prod, IDENTITY, "azure-eus-cluster-identity")]


def test_the_endpoints_nginx_is_bound_to_the_ip_by_name(prod: dict[str, Any]) -> None:
    nginx = _one(prod, NGINX, "azure-eus-chat-nginx")
    spec = nginx["inputs"]["spec"]
    assert nginx["inputs"]["metadata"]["name"] == spec["ingressClassName"] == "nginx-chat"
    assert spec["controllerNamePrefix"] == "nginx-chat"
    assert "namespace" not in nginx["inputs"]["metadata"]  # cluster scoped
    annotations = spec["loadBalancerAnnotations"]
    assert set(annotations) == {"service.beta.kubernetes.io/azure-pip-name",
                                "service.beta.kubernetes.io/azure-load-balancer-resource-group",
                                "service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout"}
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout"] == "6"
    # The name and group are the IP's own outputs (unknown offline), so the spec depends on exactly them.
    assert set(nginx["propertyDependencies"]["spec"]) == {_urn(prod, PIP, ENTRY_IP),
                                                          _urn(prod, GROUP, "azure-eus-cluster-ingress-ips")}
    assert spec["httpDisabled"] is True  # no port 80: only HTTPS reaches NGINX
    # Created after the IP and the cluster identity's role on its group.
    assert {_urn(prod, PIP, ENTRY_IP),
            _urn(prod, ROLE, "azure-eus-cluster-ingress-ip-role")} <= set(nginx["dependencies"])
    assert nginx["provider"].endswith("::azure-eus-cluster-k8s")


def test_nsg_admits_https_from_the_internet_to_the_entry_ip_only(prod: dict[str, Any]) -> None:
    [rule] = of_type(prod, NSG_RULE)
    inputs = rule["inputs"]
    assert (inputs["direction"], inputs["access"], inputs["protocol"]) == ("Inbound", "Allow", "Tcp")
    assert inputs["sourceAddressPrefix"] == "Internet" and inputs["sourcePortRange"] == "*"
    assert inputs["destinationPortRange"] == "443"
    assert not inputs.get("destinationPortRanges") and not inputs.get("sourceAddressPrefixes")
    assert rule["propertyDependencies"]["destinationAddressPrefix"] == [_urn(prod, PIP, ENTRY_IP)]
    nsg = _one(prod, "azure-native:network:NetworkSecurityGroup")
    assert rule["propertyDependencies"]["networkSecurityGroupName"] == [nsg["urn"]]
    assert rule["propertyDependencies"]["resourceGroupName"] == [nsg["urn"]]
    assert 1000 <= inputs["priority"] < 4000
    # Standalone rules only: inline rules on the NSG would delete it on the next update.
    assert not nsg["inputs"].get("securityRules")


def test_https_rule_priorities_are_stable_and_never_shared() -> None:
    from components.network.azure import HTTPS_RULE_PRIORITIES, _rule_priority  # pyright: ignore[reportPrivateUsage]
    nsg, other = object(), object()
    first = _rule_priority(nsg, "cell-a-chat")  # type: ignore[arg-type]
    assert _rule_priority(nsg, "cell-a-chat") == first  # type: ignore[arg-type]
    assert _rule_priority(other, "cell-a-chat") == first  # type: ignore[arg-type]  # from the name, not the order
    names = [f"cell-a-endpoint{i}" for i in range(200)]
    priorities = [_rule_priority(nsg, n) for n in names]  # type: ignore[arg-type]
    assert len(set(priorities + [first])) == len(names) + 1
    assert all(p in HTTPS_RULE_PRIORITIES for p in priorities)


def test_cert_manager_is_installed_from_the_pinned_chart(prod: dict[str, Any]) -> None:
    from components.catalog.charts import CERT_MANAGER
    release = _one(prod, RELEASE, "azure-eus-cluster-cert-manager")
    inputs = release["inputs"]
    assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) == \
        ("cert-manager", "v1.21.1", "https://charts.jetstack.io") == (CERT_MANAGER.name, CERT_MANAGER.version,
                                                                     CERT_MANAGER.repo)
    assert inputs["namespace"] == "cert-manager" and inputs["atomic"] is True
    values = inputs["values"]
    assert values["crds"] == {"enabled": True, "keep": True}
    assert values["serviceAccount"]["name"] == "cert-manager"
    # Every pod on the system pool (tainted CriticalAddonsOnly); GPU nodes are tainted too.
    for part in (values, values["webhook"], values["cainjector"], values["startupapicheck"]):
        assert part["nodeSelector"]["aiinfra.io/pool"] == "system"
        assert {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"} in part["tolerations"]
    namespace = _urn(prod, "kubernetes:core/v1:Namespace", "azure-eus-cluster-cert-manager-namespace")
    assert namespace in release["dependencies"]


def test_route53_zone_cluster_issuer_solves_dns01_with_a_federated_role(prod: dict[str, Any]) -> None:
    issuer = _one(prod, ISSUER)
    acme = issuer["inputs"]["spec"]["acme"]
    assert issuer["inputs"]["metadata"]["name"] == "letsencrypt"
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    [solver] = acme["solvers"]
    assert solver["selector"] == {"dnsZones": ["models.example.com"]}
    route53 = solver["dns01"]["route53"]
    assert route53["region"] == "us-east-1"
    assert route53["auth"] == {"kubernetes": {"serviceAccountRef": {"name": "cert-manager-acme-route53"}}}
    assert set(issuer["propertyDependencies"]["spec"]) == {
        _urn(prod, "aws:route53/zone:Zone", "dns-zone"), _urn(prod, "aws:iam/role:Role", "azure-eus-cluster-acme-role")}
    # After cert-manager (its CRDs), the credentials and the token RBAC.
    for role, type_token in (("cert-manager", RELEASE), ("acme-role", "aws:iam/role:Role"),
                             ("acme-policy", "aws:iam/rolePolicy:RolePolicy"),
                             ("acme-token-binding", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")):
        assert _urn(prod, type_token, f"azure-eus-cluster-{role}") in issuer["dependencies"], role
    # cert-manager's own account may request tokens for that one ServiceAccount, nothing else.
    token_role = _one(prod, "kubernetes:rbac.authorization.k8s.io/v1:Role")["inputs"]
    assert token_role["rules"] == [{"apiGroups": [""], "resources": ["serviceaccounts/token"],
                                    "resourceNames": ["cert-manager-acme-route53"], "verbs": ["create"]}]
    binding = _one(prod, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")["inputs"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "cert-manager", "namespace": "cert-manager"}]
    assert binding["roleRef"]["name"] == token_role["metadata"]["name"]
    account = _one(prod, "kubernetes:core/v1:ServiceAccount", "azure-eus-cluster-acme-token-account")["inputs"]
    assert (account["metadata"]["name"], account["metadata"]["namespace"]) == ("cert-manager-acme-route53",
                                                                              "cert-manager")
    assert account["automountServiceAccountToken"] is False


def test_route53_credentials_go_through_the_zones_provider(prod: dict[str, Any]) -> None:
    oidc = _one(prod, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "azure-eus-cluster-acme-oidc")
    assert oidc["inputs"]["clientIdLists"] == ["sts.amazonaws.com"]
    assert oidc["propertyDependencies"]["url"] == [_urn(prod, CLUSTER)]  # the AKS cluster's OIDC issuer
    role = _one(prod, "aws:iam/role:Role", "azure-eus-cluster-acme-role")
    assert role["propertyDependencies"]["assumeRolePolicy"] == [oidc["urn"]]
    policy = _one(prod, "aws:iam/rolePolicy:RolePolicy", "azure-eus-cluster-acme-policy")
    assert policy["propertyDependencies"]["policy"] == [_urn(prod, "aws:route53/zone:Zone", "dns-zone")]
    zone = _one(prod, "aws:route53/zone:Zone", "dns-zone")
    for r in (oidc, role, policy):
        assert r["provider"] == zone["provider"] and r["provider"].endswith("::global-aws"), r["name"]


def test_route53_role_trusts_only_cert_managers_token_account() -> None:
    from components.dns.route53 import acme_trust_policy
    arn = "arn:aws:iam::123456789012:oidc-provider/eastus.oic.prod-aks.azure.com/tenant/issuer/"
    [statement] = json.loads(acme_trust_policy(arn, "cert-manager", "cert-manager-acme-route53"))["Statement"]
    assert statement["Principal"] == {"Federated": arn}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    host = "eastus.oic.prod-aks.azure.com/tenant/issuer/"  # IAM's name for the provider, trailing slash kept
    assert statement["Condition"] == {"StringEquals": {
        f"{host}:sub": "system:serviceaccount:cert-manager:cert-manager-acme-route53",
        f"{host}:aud": "sts.amazonaws.com"}}


def test_route53_role_may_change_only_acme_txt_records_of_the_zone() -> None:
    from components.dns.route53 import acme_policy
    statements = {s["Sid"]: s for s in json.loads(acme_policy("Z0123456789ABC"))["Statement"]}
    assert set(statements) == {"WaitForChanges", "AcmeChallengeRecordsOnly"}
    assert statements["WaitForChanges"]["Action"] == "route53:GetChange"
    assert statements["WaitForChanges"]["Resource"] == "arn:aws:route53:::change/*"
    change = statements["AcmeChallengeRecordsOnly"]
    assert change["Action"] == "route53:ChangeResourceRecordSets"
    assert change["Resource"] == "arn:aws:route53:::hostedzone/Z0123456789ABC"
    assert change["Condition"] == {
        "ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": ["_acme-challenge.*"]},
        "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                                      "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"]}}
    assert all(s["Effect"] == "Allow" for s in statements.values())


def test_azure_dns_zone_cluster_issuer_uses_a_federated_identity(plans: dict[str, dict[str, Any]]) -> None:
    plan = plans["staging"]
    [solver] = _one(plan, ISSUER)["inputs"]["spec"]["acme"]["solvers"]
    azure = solver["dns01"]["azureDNS"]
    assert azure["hostedZoneName"] == "models.example.com" and azure["environment"] == "AzurePublicCloud"
    assert azure["subscriptionID"] == ZERO
    identity = _one(plan, IDENTITY, "azure-eus-cluster-acme-identity")
    issuer = _one(plan, ISSUER)
    assert set(issuer["propertyDependencies"]["spec"]) == {identity["urn"], _urn(plan, GROUP, "global-rg")}
    credential = _one(plan, CREDENTIAL, "azure-eus-cluster-acme-federation")
    assert credential["inputs"]["subject"] == "system:serviceaccount:cert-manager:cert-manager"
    assert credential["inputs"]["audiences"] == ["api://AzureADTokenExchange"]
    assert credential["propertyDependencies"]["issuer"] == [_urn(plan, CLUSTER)]
    role = _one(plan, ROLE, "azure-eus-cluster-acme-dns-role")
    assert role["inputs"]["roleDefinitionId"].endswith(f"/roleDefinitions/{DNS_ZONE_CONTRIBUTOR}")
    assert role["inputs"]["principalType"] == "ServicePrincipal"
    assert role["propertyDependencies"]["principalId"] == [identity["urn"]]
    assert role["propertyDependencies"]["scope"] == [_urn(plan, GROUP, "global-rg")]  # ...the zone's id in its group
    zone = _one(plan, "azure-native:dns:Zone")
    for r in (identity, credential, role):
        assert r["provider"] == zone["provider"] and r["provider"].endswith("::global-azure"), r["name"]
    # cert-manager's pods get the identity through Azure workload identity; no Route 53 token account.
    values = _one(plan, RELEASE, CERT_MANAGER)["inputs"]["values"]
    assert values["podLabels"] == {"azure.workload.identity/use": "true"}
    assert set(values["serviceAccount"]["annotations"]) == {"azure.workload.identity/client-id"}
    assert identity["urn"] in _one(plan, RELEASE, CERT_MANAGER)["propertyDependencies"]["values"]
    assert of_type(plan, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding") == []


def test_certificate_covers_every_name_into_the_ingress_secret(plans: dict[str, dict[str, Any]]) -> None:
    for stack, names in (("prod", [CELL_NAME, GLOBAL_NAME]), ("staging", [CELL_NAME])):
        plan = plans[stack]
        certificate = _one(plan, CERTIFICATE)
        spec = certificate["inputs"]["spec"]
        assert spec["dnsNames"] == names, stack
        ingress = _one(plan, INGRESS)["inputs"]
        assert ingress["spec"]["tls"] == [{"hosts": names, "secretName": spec["secretName"]}]
        assert certificate["inputs"]["metadata"]["namespace"] == ingress["metadata"]["namespace"] == "serve-chat"
        issuer = _one(plan, ISSUER)
        assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer",
                                     "name": issuer["inputs"]["metadata"]["name"]}
        assert {issuer["urn"], _urn(plan, RELEASE, CERT_MANAGER)} <= set(certificate["dependencies"])


def test_ingress_uses_the_endpoints_class_after_its_controller_and_certificate(prod: dict[str, Any]) -> None:
    ingress = _one(prod, INGRESS)
    spec = ingress["inputs"]["spec"]
    assert spec["ingressClassName"] == _one(prod, NGINX)["inputs"]["spec"]["ingressClassName"]
    assert [rule["host"] for rule in spec["rules"]] == [CELL_NAME, GLOBAL_NAME]
    assert {_urn(prod, NGINX), _urn(prod, CERTIFICATE)} <= set(ingress["dependencies"])
    annotations = ingress["inputs"]["metadata"]["annotations"]
    # The explicit Certificate, not ingress-shim: no second Certificate fighting over the secret.
    assert not [a for a in annotations if a.startswith("cert-manager.io/")]
    service = _one(prod, "kubernetes:core/v1:Service", "azure-eus-chat-service")["inputs"]
    assert service["metadata"]["annotations"] == {}


def test_ingress_limits_each_client_and_keeps_long_streams(prod: dict[str, Any], spec: dict[str, Any]) -> None:
    annotations = _one(prod, INGRESS)["inputs"]["metadata"]["annotations"]
    nginx = "nginx.ingress.kubernetes.io/"
    assert spec["chat"].get("rate_limit_per_minute") is None  # the default: 600 a minute
    assert annotations[f"{nginx}limit-rps"] == "10"
    assert annotations[f"{nginx}limit-burst-multiplier"] == "5"
    assert annotations[f"{nginx}limit-connections"] == "32"
    assert annotations[f"{nginx}proxy-read-timeout"] == annotations[f"{nginx}proxy-send-timeout"] == "300"
    assert annotations[f"{nginx}proxy-buffering"] == "off"
    assert annotations[f"{nginx}proxy-body-size"] == "16m"


def test_rate_limit_per_client_is_configurable(plans: dict[str, dict[str, Any]]) -> None:
    annotations = _one(plans["staging"], INGRESS)["inputs"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "2"  # rate_limit_per_minute: 120


def test_rate_limits_are_never_looser_than_asked() -> None:
    from components.serving.azure import rate_limit_annotations
    nginx = "nginx.ingress.kubernetes.io/"
    assert rate_limit_annotations(600)[f"{nginx}limit-rps"] == "10"
    assert rate_limit_annotations(90)[f"{nginx}limit-rps"] == "1"
    slow = rate_limit_annotations(30)
    assert slow[f"{nginx}limit-rpm"] == "30" and f"{nginx}limit-rps" not in slow


def test_cell_name_is_an_a_record_to_the_entry_ip(prod: dict[str, Any]) -> None:
    [record] = [r for r in of_type(prod, "aws:route53/record:Record") if r["inputs"]["name"] == CELL_NAME]
    assert record["inputs"]["type"] == "A" and record["inputs"]["ttl"] == 60
    assert record["propertyDependencies"]["records"] == [_urn(prod, PIP, ENTRY_IP)]


def test_network_policy_admits_only_the_endpoints_nginx_and_the_scraper(prod: dict[str, Any]) -> None:
    [policy] = [p["inputs"] for p in of_type(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if p["inputs"]["metadata"]["namespace"] == "serve-chat"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule, scraper] = policy["spec"]["ingress"]
    prefix = _one(prod, NGINX)["inputs"]["spec"]["controllerNamePrefix"]
    assert rule["from"] == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "app-routing-system"}},
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "In",
                                              "values": [f"{prefix}-{n}" for n in range(6)]}]}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    # The second rule: managed Prometheus's scraper (the ama-metrics replica set in kube-system), on the
    # port the server exports its metrics on (vLLM: /metrics on its serving port), and nothing else.
    assert scraper["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                "podSelector": {"matchLabels": {"rsName": "ama-metrics"}}}]
    assert scraper["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_cluster_has_the_app_routing_add_on_without_its_default_controller(prod: dict[str, Any]) -> None:
    cluster = _one(prod, CLUSTER)
    assert cluster["inputs"]["ingressProfile"] == {
        "webAppRouting": {"enabled": True, "nginx": {"defaultIngressControllerType": "None"}}}
    assert "aiinfra:compute:KubernetesCluster" in [a["type"] for a in ancestors(prod, cluster)]


def test_entry_needs_a_zone_cert_manager_can_write_to() -> None:
    from components.dns import acme_dns01_problems, name_in_zone
    from components.serving.azure import entry_problems
    assert acme_dns01_problems("route53", "azure") == acme_dns01_problems("azure_dns", "azure") == []
    [problem] = acme_dns01_problems("cloud_dns", "azure")
    assert problem.render().startswith("aiinfra:dns.provider: got 'cloud_dns'; allowed with a cluster-mode endpoint "
                                       "on azure (cert-manager proving names with ACME DNS-01): route53 or azure_dns")

    def args(zone: Any, mode: str = "cluster") -> Any:
        return SimpleNamespace(options=SimpleNamespace(mode=mode, hostname=CELL_NAME), dns_zone=zone,
                               global_hostnames=(GLOBAL_NAME, "chat.example.org"))

    def zone(provider: str) -> Any:
        return SimpleNamespace(dns_provider=provider, zone_name="models.example.com",
                               covers=lambda name: name_in_zone(name, "models.example.com"))

    [missing] = entry_problems(args(None))
    assert missing.path == "ModelEndpointArgs.dns_zone" and missing.missing
    assert [p.received for p in entry_problems(args(zone("route53")))] == ["chat.example.org"]
    assert [p.received for p in entry_problems(args(zone("cloud_dns")))] == ["cloud_dns", "chat.example.org"]
    assert entry_problems(args(None, mode="managed")) == []


# --- Pure helpers ------------------------------------------------------------------------------

def test_storage_account_is_derived_from_the_container_id() -> None:
    container = ("/subscriptions/1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stabc123"
                 "/blobServices/default/containers/models")
    assert _account_id(container) == \
        "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stabc123"
    assert _account_name(container) == "stabc123"
    assert _container_name(container) == "models"
