"""Issue 15 on Azure, from an offline plan: the image cache (ACR cache rules), the model loader, managed
Prometheus with the KEDA add-on and the DCGM exporter, the action group, and every alert naming it.

The plan is of a scratch copy of the program whose stack holds only the Azure cell of the shipped prod
stack (its endpoints, backup, alerts, image credentials and secrets), with global traffic on Azure
Traffic Manager instead of Route 53 (so the health-check alert is Azure's too). It depends on the Azure
implementation alone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.catalog.charts import DCGM_EXPORTER
from components.compute.azure import at_max_query
from components.images.azure import ACR_PULL, KEY_VAULT_SECRETS_USER, PREFIXES, UPSTREAMS
from components.metrics import KEDA_AUTHENTICATION
from components.metrics.azure import MONITORING_DATA_READER
from components.serving.azure import blob_location, loader_script
from tests.conftest import REPO, ScratchProject, by_urn, every, of_type, plan_json

CACHE_RULE = "azure-native:containerregistry:CacheRule"
CREDENTIAL_SET = "azure-native:containerregistry:CredentialSet"
REGISTRY = "azure-native:containerregistry:Registry"
ROLE = "azure-native:authorization:RoleAssignment"
SECRET = "azure-native:keyvault:Secret"
VAULT = "azure-native:keyvault:Vault"
CLUSTER = "azure-native:containerservice:ManagedCluster"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
WORKSPACE = "azure-native:monitor:AzureMonitorWorkspace"
DCE = "azure-native:monitor:DataCollectionEndpoint"
DCR = "azure-native:monitor:DataCollectionRule"
DCRA = "azure-native:monitor:DataCollectionRuleAssociation"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
RULE_GROUP = "azure-native:alertsmanagement:PrometheusRuleGroup"
PROCESSING_RULE = "azure-native:alertsmanagement:AlertProcessingRuleByName"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
FEDERATED = "azure-native:managedidentity:FederatedIdentityCredential"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
POD_MONITOR = "kubernetes:azmonitoring.coreos.com/v1:PodMonitor"
TRIGGER_AUTH = "kubernetes:keda.sh/v1alpha1:ClusterTriggerAuthentication"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
RELEASE = "kubernetes:helm.sh/v3:Release"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _azure_only() -> dict[str, Any]:
    shipped = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    config = {key: shipped[key] for key in ("aiinfra:environment", "aiinfra:tags", "aiinfra:dns", "aiinfra:traffic",
                                            "aiinfra:alerts", "aiinfra:images", "aiinfra:secrets", "aiinfra:backup")
              if key in shipped}
    config["aiinfra:cells"] = [c for c in shipped["aiinfra:cells"] if c["cloud"] == "azure"]
    assert len(config["aiinfra:cells"]) == 1
    config["aiinfra:traffic"] = {**config["aiinfra:traffic"], "provider": "traffic_manager"}
    return config


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("azure-issue15")
    ScratchProject(root).write_stack("prod", _azure_only())
    return plan_json("prod", project=root)


@pytest.fixture(scope="module")
def cell() -> dict[str, Any]:
    return _azure_only()["aiinfra:cells"][0]


def _one(plan: dict[str, Any], type_token: str, suffix: str = "") -> dict[str, Any]:
    found = [r for r in of_type(plan, type_token) if r["name"].endswith(suffix)]
    assert len(found) == 1, (type_token, suffix, [r["name"] for r in found])
    return found[0]


def _urn(plan: dict[str, Any], type_token: str, suffix: str = "") -> str:
    return _one(plan, type_token, suffix)["urn"]


def _deps(resource: dict[str, Any], prop: str) -> list[str]:
    return resource["propertyDependencies"].get(prop, [])


# --- image cache ------------------------------------------------------------------------------------

def test_a_cache_rule_per_upstream_of_the_cell(plan: dict[str, Any], cell: dict[str, Any]) -> None:
    """chat's vLLM image comes from Docker Hub, the model loader from MCR: one wildcard rule each."""
    rules = {r["inputs"]["sourceRepository"]: r["inputs"]["targetRepository"] for r in every(plan, CACHE_RULE)}
    assert rules == {"docker.io/*": f"{PREFIXES['docker.io']}/*",
                     "mcr.microsoft.com/*": f"{PREFIXES['mcr.microsoft.com']}/*"}
    registry = _one(plan, REGISTRY)["inputs"]
    assert registry["adminUserEnabled"] is False and registry["anonymousPullEnabled"] is False
    assert registry["sku"] == {"name": "Standard"}


def test_docker_hub_pulls_through_a_credential_set_from_key_vault(plan: dict[str, Any]) -> None:
    assert UPSTREAMS["docker.io"].needs_credentials and not UPSTREAMS["mcr.microsoft.com"].needs_credentials
    credential_set = _one(plan, CREDENTIAL_SET)
    inputs = credential_set["inputs"]
    assert inputs["loginServer"] == "docker.io"
    assert inputs["identity"] == {"type": "SystemAssigned"}
    [credential] = inputs["authCredentials"]
    assert credential["name"] == "Credential1"
    secrets = {r["urn"] for r in of_type(plan, SECRET) if "-images-creds-" in r["name"]}
    assert len(secrets) == 2 and set(_deps(credential_set, "authCredentials")) == secrets
    docker = next(r for r in of_type(plan, CACHE_RULE) if r["inputs"]["sourceRepository"] == "docker.io/*")
    assert _deps(docker, "credentialSetResourceId") == [credential_set["urn"]]
    mcr = next(r for r in of_type(plan, CACHE_RULE) if r["inputs"]["sourceRepository"] == "mcr.microsoft.com/*")
    assert "credentialSetResourceId" not in mcr["inputs"]
    # The credential set's own identity reads the two secrets: Key Vault Secrets User on their vault.
    [reader] = [r for r in of_type(plan, ROLE) if r["inputs"]["roleDefinitionId"].endswith(KEY_VAULT_SECRETS_USER)]
    assert _deps(reader, "principalId") == [credential_set["urn"]]
    assert _deps(reader, "scope") == [_urn(plan, VAULT, "-images-creds-kv")]
    assert reader["urn"] in docker["dependencies"]


def test_the_kubelet_identity_pulls_from_the_registry(plan: dict[str, Any]) -> None:
    [pull] = [r for r in of_type(plan, ROLE) if r["inputs"]["roleDefinitionId"].endswith(ACR_PULL)]
    assert _deps(pull, "principalId") == [_urn(plan, CLUSTER)]
    assert _deps(pull, "scope") == [_urn(plan, REGISTRY)]


# --- model loader -----------------------------------------------------------------------------------

def test_the_init_container_copies_exactly_the_cells_prefix_with_workload_identity(
        plan: dict[str, Any], cell: dict[str, Any]) -> None:
    chat = next(e for e in cell["endpoints"] if e["name"] == "chat")
    deployment = _one(plan, DEPLOYMENT)
    template = deployment["inputs"]["spec"]["template"]
    spec = template["spec"]
    [loader] = spec["initContainers"]
    script = loader["args"][0]
    assert f"--pattern '{chat['model']['artifact_path']}*'" in script
    assert script.count("--pattern") == 1
    assert "--auth-mode login" in script and '--federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")"' in script
    env = {e["name"]: e.get("value") for e in loader["env"]}
    assert env["HOME"] == "/tmp" and env["AZURE_CONFIG_DIR"].startswith("/tmp/")
    assert loader["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in loader["volumeMounts"]} == {"/models", "/tmp"}
    assert loader["resources"]["requests"] == loader["resources"]["limits"]
    # The identity webhook acts on this label; the pod's own token stays unmounted.
    assert template["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert spec["automountServiceAccountToken"] is False
    # The image host and the store URL are known in the plan (from the names the stack sets), so the
    # Deployment waits for the cache explicitly: its rules (and, through them, the registry).
    account = next(r for r in every(plan, STORAGE_ACCOUNT) if r["name"].endswith("-store-account"))
    assert env["MODEL_SOURCE"] == (f"https://{account['inputs']['accountName']}.blob.core.windows.net/"
                                   f"models/{chat['model']['artifact_path']}")
    rules = {r["urn"] for r in every(plan, "azure-native:containerregistry:CacheRule")}
    assert rules and rules <= set(deployment["dependencies"])
    registry = _one(plan, REGISTRY)
    assert all(registry["urn"] in r["dependencies"] for r in every(plan, "azure-native:containerregistry:CacheRule"))
    assert spec["containers"][0]["image"].startswith(f"{registry['inputs']['registryName']}.azurecr.io/docker-hub/")


def test_the_loader_takes_the_account_and_container_from_the_store_url() -> None:
    url = "https://stcell123.blob.core.windows.net/models/models/chat-7b/v3/"
    assert blob_location(url) == ("stcell123", "models", "models/chat-7b/v3/")
    with pytest.raises(ValueError):
        blob_location("https://stcell123.blob.core.windows.net/models/no-trailing-slash")
    script = loader_script("models/chat-7b/v3/", "/models/model")
    assert "find '/models/model/.download/models/chat-7b/v3' -mindepth 1 -maxdepth 1" in script


# --- alert channel -----------------------------------------------------------------------------------

def test_the_action_group_reaches_every_address_and_the_webhook(plan: dict[str, Any]) -> None:
    alerts = _azure_only()["aiinfra:alerts"]
    groups = every(plan, ACTION_GROUP)
    assert {g["name"] for g in groups} == {"azure-eus-alerts-action-group", "global-alerts-action-group"}
    for group in groups:
        inputs = group["inputs"]
        assert inputs["location"] == "Global" and len(inputs["groupShortName"]) <= 12
        assert [(r["emailAddress"], r["useCommonAlertSchema"]) for r in inputs["emailReceivers"]] == \
            [(e, True) for e in alerts["emails"]]
        assert [(r["serviceUri"], r["useCommonAlertSchema"]) for r in inputs["webhookReceivers"]] == \
            [(alerts["webhook_url"], True)]


# --- metrics pipeline --------------------------------------------------------------------------------

def test_managed_prometheus_collects_from_the_cluster_into_the_workspace(plan: dict[str, Any]) -> None:
    assert _one(plan, CLUSTER)["inputs"]["azureMonitorProfile"] == {"metrics": {"enabled": True}}
    workspace = _urn(plan, WORKSPACE)
    rule = _one(plan, DCR)
    inputs = rule["inputs"]
    assert inputs["dataSources"]["prometheusForwarder"][0]["streams"] == ["Microsoft-PrometheusMetrics"]
    [account] = inputs["destinations"]["monitoringAccounts"]
    assert _deps(rule, "destinations") == [workspace]
    assert inputs["dataFlows"] == [{"streams": ["Microsoft-PrometheusMetrics"], "destinations": [account["name"]]}]
    assert _deps(rule, "dataCollectionEndpointId") == [_urn(plan, DCE)]
    association = _one(plan, DCRA)
    assert _deps(association, "resourceUri") == [_urn(plan, CLUSTER)]
    assert _deps(association, "dataCollectionRuleId") == [rule["urn"]]


def test_the_endpoints_pods_are_scraped_and_the_scraper_admitted(plan: dict[str, Any]) -> None:
    monitor = _one(plan, POD_MONITOR, "-chat-pod-monitor")["inputs"]
    assert monitor["metadata"]["namespace"] == "serve-chat"
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "chat"
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http"
    policy = _one(plan, NETPOL, "-chat-network-policy")["inputs"]["spec"]
    peers = [p for rule in policy["ingress"] for p in rule["from"]]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"rsName": "ama-metrics"}}} in peers


def test_the_keda_add_on_reads_the_workspace_with_its_own_identity(plan: dict[str, Any]) -> None:
    assert _one(plan, CLUSTER)["inputs"]["workloadAutoScalerProfile"] == {"keda": {"enabled": True}}
    identity = _urn(plan, IDENTITY, "-metrics-keda-identity")
    federated = _one(plan, FEDERATED, "-metrics-keda-federated-credential")["inputs"]
    assert federated["subject"] == "system:serviceaccount:kube-system:keda-operator"
    assert federated["audiences"] == ["api://AzureADTokenExchange"]
    [reader] = [r for r in of_type(plan, ROLE) if r["inputs"]["roleDefinitionId"].endswith(MONITORING_DATA_READER)]
    assert _deps(reader, "principalId") == [identity] and _deps(reader, "scope") == [_urn(plan, WORKSPACE)]
    authentication = _one(plan, TRIGGER_AUTH)
    assert authentication["inputs"]["metadata"]["name"] == KEDA_AUTHENTICATION
    assert authentication["inputs"]["spec"]["podIdentity"]["provider"] == "azure-workload"
    assert identity in _deps(authentication, "spec")
    scaled = _one(plan, SCALED_OBJECT)
    assert _urn(plan, WORKSPACE) in _deps(scaled, "spec")
    assert authentication["urn"] in scaled["dependencies"]


def test_dcgm_exporter_runs_on_gpu_nodes_and_is_scraped(plan: dict[str, Any]) -> None:
    release = _one(plan, RELEASE, "-metrics-dcgm")["inputs"]
    assert (release["chart"], release["version"]) == (DCGM_EXPORTER.name, DCGM_EXPORTER.version)
    values = release["values"]
    assert values["serviceMonitor"] == {"enabled": False}
    assert values["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {t["key"] for t in values["tolerations"]} == {"nvidia.com/gpu", "kubernetes.azure.com/scalesetpriority"}
    monitor = _one(plan, POD_MONITOR, "-metrics-dcgm-monitor")["inputs"]
    assert monitor["metadata"]["namespace"] == release["namespace"]
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "dcgm-exporter"


# --- alerts ------------------------------------------------------------------------------------------

def test_every_alert_exists_and_names_the_action_group(plan: dict[str, Any]) -> None:
    groups = {g["urn"] for g in every(plan, ACTION_GROUP)}
    cell_group = _urn(plan, ACTION_GROUP, "azure-eus-alerts-action-group")
    expected = {
        # (type, name): the property that names the action group
        (RULE_GROUP, "azure-eus-gpu-t4-alert-at-max"): "rules",
        (RULE_GROUP, "azure-eus-chat-alert-5xx"): "rules",
        (METRIC_ALERT, "azure-eus-embed-alert-5xx"): "actions",
        (PROCESSING_RULE, "azure-eus-backup-job-failure-alerts"): "properties",
        (METRIC_ALERT, "global-alert-azure-eus"): "actions",
    }
    index = {(r["type"], r["name"]): r for r in plan["resources"]}
    for (kind, name), prop in expected.items():
        assert (kind, name) in index, f"missing alert {name}"
        named = [u for u in _deps(index[(kind, name)], prop) if u in groups]
        assert named, f"{name} names no action group"
        if not name.startswith("global-"):
            assert named == [cell_group], name
    pool_rule = index[(RULE_GROUP, "azure-eus-gpu-t4-alert-at-max")]["inputs"]["rules"][0]
    assert pool_rule["for"] == "PT15M"
    traffic = index[(METRIC_ALERT, "global-alert-azure-eus")]["inputs"]["criteria"]
    [criterion] = traffic["allOf"]
    assert criterion["metricName"] == "ProbeAgentCurrentEndpointStateByProfileResourceId"
    assert criterion["dimensions"] == [{"name": "EndpointName", "operator": "Include", "values": ["azure-eus"]}]
    endpoint = index[(METRIC_ALERT, "azure-eus-embed-alert-5xx")]["inputs"]["criteria"]["allOf"][0]
    assert endpoint["dimensions"] == [{"name": "statusCodeClass", "operator": "Include", "values": ["5xx"]}]
    vault = _one(plan, "azure-native:dataprotection:BackupVault")["inputs"]["properties"]
    assert vault["monitoringSettings"] == {"azureMonitorAlertSettings": {"alertsForAllJobFailures": "Enabled"}}


def test_the_pool_rule_counts_only_that_pools_nodes() -> None:
    # The cluster's own Azure Monitor workspace holds only its series: no `cluster` label to depend on.
    assert at_max_query("t4", 4) == 'count(kube_node_info{node=~"aks-t4-.*"}) >= 4'


def test_the_plan_is_json(plan: dict[str, Any]) -> None:
    """Sanity: the fixture is a plan of the Azure cell only."""
    assert json.dumps(plan) and all(not r["type"].startswith(("aws:eks", "gcp:")) for r in plan["resources"])
    assert by_urn(plan)
