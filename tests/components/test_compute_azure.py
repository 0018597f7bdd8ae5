"""Network, KubernetesCluster and GpuNodePool on Azure, asserted from offline plans of scratch stacks.

`prod` is the Azure cell of the shipped prod stack; `dev` opens the API server to one
range and runs a spot T4 pool from zero in two zones; `staging` brings its own subnet
and Key Vault key, so nothing of either is created.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from components.catalog.gpus import GPU_MACHINES
from components.compute.azure import AKS_AAD_SERVER_ID, _exec_kubeconfig  # pyright: ignore[reportPrivateUsage]
from components.network.azure import node_subnet_cidr, region_zones
from tests.conftest import REPO, ScratchProject, ancestors, by_urn, cell_of, every, of_type, plan_json

CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
ROLE = "azure-native:authorization:RoleAssignment"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
EXISTING_SUBNET = ("/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-net/providers/"
                   "Microsoft.Network/virtualNetworks/vnet-shared/subnets/aks-nodes")
EXISTING_KEY = "https://kv-shared-keys.vault.azure.net/keys/aks-kms/0123456789abcdef0123456789abcdef"
GPU_SIZES = {m.name for m in GPU_MACHINES if m.cloud == "azure"}


def _prod_config() -> dict[str, Any]:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    cells = [c for c in config["aiinfra:cells"] if c["cloud"] == "azure"]
    assert [c["name"] for c in cells] == ["azure-eus"]
    # Compute only: the cell's endpoints add vaults, identities and roles of their own
    # (tests/components/test_serving_azure.py covers them).
    cells = [{k: v for k, v in c.items() if k not in ("endpoints", "backup")} for c in cells]
    # prod requires an alert channel (the GPU pool at its maximum alerts it); the image credentials and
    # the secret they name come along as shipped.
    return {"aiinfra:environment": config["aiinfra:environment"], "aiinfra:tags": config["aiinfra:tags"],
            "aiinfra:cells": cells,
            **{key: config[key] for key in ("aiinfra:alerts", "aiinfra:images", "aiinfra:secrets")}}


def _dev_config(prod: dict[str, Any]) -> dict[str, Any]:
    cell = {
        "name": "azure-eus", "cloud": "azure", "region": "eastus",
        "network": {"cidr": "10.12.0.0/20", "zones": 2},
        "cluster": {"version": "1.33", "public_endpoint": True, "public_access_cidrs": ["203.0.113.0/24"],
                    "system_pool": {"min_nodes": 2, "max_nodes": 3}},
        "gpu_pools": [{"name": "t4spot", "gpu": "t4", "min_nodes": 0, "max_nodes": 2, "spot": True,
                       "labels": {"team": "research"},
                       "taints": [{"key": "research-only", "value": "yes", "effect": "NoExecute"}]}],
    }
    return {"aiinfra:environment": "dev", "aiinfra:tags": prod["aiinfra:tags"], "aiinfra:cells": [cell]}


def _staging_config(prod: dict[str, Any]) -> dict[str, Any]:
    cell = copy.deepcopy(prod["aiinfra:cells"][0])
    cell["network"] = {"existing_subnet_ids": [EXISTING_SUBNET]}
    cell["cluster"]["secrets_key_id"] = EXISTING_KEY
    return {"aiinfra:environment": "staging", "aiinfra:tags": prod["aiinfra:tags"], "aiinfra:cells": [cell]}


@pytest.fixture(scope="module")
def azure_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root: Path = tmp_path_factory.mktemp("azure-scratch")
    project = ScratchProject(root)
    prod = _prod_config()
    project.write_stack("prod", prod)
    project.write_stack("dev", _dev_config(prod))
    project.write_stack("staging", _staging_config(prod))
    return {stack: plan_json(stack, project=root) for stack in ("prod", "dev", "staging")}


def _one(plan: dict[str, Any], type_token: str) -> dict[str, Any]:
    found = of_type(plan, type_token)
    assert len(found) == 1, f"{type_token}: {len(found)}"
    return found[0]


def _named(plan: dict[str, Any], type_token: str, name: str) -> dict[str, Any]:
    [found] = [r for r in of_type(plan, type_token) if r["name"] == name]
    return found


# --- API server access -------------------------------------------------------------------

def test_prod_api_server_is_private(azure_plans: dict[str, Any]) -> None:
    access = _one(azure_plans["prod"], CLUSTER)["inputs"]["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is True
    assert access["enablePrivateClusterPublicFQDN"] is False
    assert not access.get("authorizedIPRanges")


def test_dev_api_server_is_public_only_to_the_listed_ranges(azure_plans: dict[str, Any]) -> None:
    access = _one(azure_plans["dev"], CLUSTER)["inputs"]["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is False
    assert access["authorizedIPRanges"] == ["203.0.113.0/24"]


# --- Secrets encryption ------------------------------------------------------------------

def test_secrets_are_encrypted_with_a_created_rotating_key(azure_plans: dict[str, Any]) -> None:
    plan = azure_plans["prod"]
    cluster = _one(plan, CLUSTER)
    kms = cluster["inputs"]["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True
    assert kms["keyVaultNetworkAccess"] == "Public"
    key = _one(plan, KEY)
    # The key id the cluster uses comes from the created key (its versioned URI).
    assert key["urn"] in cluster["propertyDependencies"]["securityProfile"]
    props = key["inputs"]["properties"]
    assert (props["kty"], props["keySize"]) == ("RSA", 2048)
    policy = props["rotationPolicy"]
    rotate = [a for a in policy["lifetimeActions"] if a["action"]["type"] == "rotate"]
    assert rotate == [{"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P180D"}}]
    assert policy["attributes"]["expiryTime"] == "P2Y"
    vault = _one(plan, VAULT)
    assert vault["urn"] in key["propertyDependencies"]["vaultName"]


def test_vault_has_purge_protection_rbac_and_a_compact_global_name(azure_plans: dict[str, Any]) -> None:
    vault = _one(azure_plans["prod"], VAULT)["inputs"]
    props = vault["properties"]
    assert props["enablePurgeProtection"] is True
    assert props["enableRbacAuthorization"] is True
    assert props["enableSoftDelete"] is True
    assert props["softDeleteRetentionInDays"] == 90
    assert props["sku"] == {"family": "A", "name": "standard"}
    assert props["tenantId"] == "00000000-0000-0000-0000-000000000000"  # from getClientConfig
    name = vault["vaultName"]
    assert name.startswith("kvazureeuscluster") and len(name) <= 24 and name.isalnum()


def test_control_plane_identity_gets_network_and_crypto_roles_before_the_cluster(azure_plans: dict[str, Any]) -> None:
    plan = azure_plans["prod"]
    cluster = _one(plan, CLUSTER)
    # The cluster's own identity; the cell's metrics pipeline has another (KEDA's, to read its Prometheus).
    identity = _named(plan, "azure-native:managedidentity:UserAssignedIdentity", "azure-eus-cluster-identity")
    assert cluster["inputs"]["identity"]["type"] == "UserAssigned"
    assert identity["urn"] in cluster["propertyDependencies"]["identity"]
    network_role = _named(plan, ROLE, "azure-eus-cluster-network-role")
    crypto_role = _named(plan, ROLE, "azure-eus-cluster-kms-role")
    assert network_role["inputs"]["roleDefinitionId"].endswith(f"/roleDefinitions/{NETWORK_CONTRIBUTOR}")
    assert crypto_role["inputs"]["roleDefinitionId"].endswith(f"/roleDefinitions/{KEY_VAULT_CRYPTO_USER}")
    for role in (network_role, crypto_role):
        assert role["inputs"]["principalType"] == "ServicePrincipal"
        assert identity["urn"] in role["propertyDependencies"]["principalId"]
        assert role["urn"] in cluster["dependencies"]
    subnet = _one(plan, "azure-native:network:Subnet")
    assert network_role["propertyDependencies"]["scope"] == [subnet["urn"]]
    assert crypto_role["propertyDependencies"]["scope"] == [_one(plan, VAULT)["urn"]]


def test_a_given_key_and_subnet_are_used_and_nothing_is_created_for_them(azure_plans: dict[str, Any]) -> None:
    plan = azure_plans["staging"]
    assert not of_type(plan, VAULT) and not of_type(plan, KEY)
    assert not [r for r in plan["resources"] if r["type"].startswith("azure-native:network:")]
    cluster = _one(plan, CLUSTER)["inputs"]
    assert cluster["securityProfile"]["azureKeyVaultKms"]["keyId"] == EXISTING_KEY
    assert cluster["agentPoolProfiles"][0]["vnetSubnetID"] == EXISTING_SUBNET
    assert _one(plan, POOL)["inputs"]["vnetSubnetID"] == EXISTING_SUBNET
    assert _named(plan, ROLE, "azure-eus-cluster-network-role")["inputs"]["scope"] == EXISTING_SUBNET
    assert cluster["sku"] == {"name": "Base", "tier": "Standard"}


# --- Audit logs, identity, auth ----------------------------------------------------------

def test_control_plane_audit_logs_go_to_log_analytics(azure_plans: dict[str, Any]) -> None:
    plan = azure_plans["prod"]
    setting = _one(plan, "azure-native:monitor:DiagnosticSetting")
    logs = {entry["category"]: entry["enabled"] for entry in setting["inputs"]["logs"]}
    assert logs["kube-audit"] is True and logs["kube-audit-admin"] is True
    assert logs["kube-apiserver"] is True and logs["guard"] is True
    assert setting["propertyDependencies"]["resourceUri"] == [_one(plan, CLUSTER)["urn"]]
    workspace = _one(plan, "azure-native:operationalinsights:Workspace")
    assert setting["propertyDependencies"]["workspaceId"] == [workspace["urn"]]
    assert workspace["inputs"]["retentionInDays"] == 365
    dev_workspace = _one(azure_plans["dev"], "azure-native:operationalinsights:Workspace")
    assert dev_workspace["inputs"]["retentionInDays"] == 30


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_oidc_workload_identity_and_entra_only_auth(azure_plans: dict[str, Any], stack: str) -> None:
    cluster = _one(azure_plans[stack], CLUSTER)["inputs"]
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert cluster["disableLocalAccounts"] is True
    assert cluster["aadProfile"]["managed"] is True and cluster["aadProfile"]["enableAzureRBAC"] is True
    assert cluster["kubernetesVersion"] == "1.33"
    assert cluster["resourceName"] == f"{stack}-azure-eus-cluster"
    assert cluster["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    network = cluster["networkProfile"]
    assert (network["networkPlugin"], network["networkPluginMode"], network["networkPolicy"]) == \
        ("azure", "overlay", "cilium")
    assert network["outboundType"] == "userAssignedNATGateway"


@pytest.mark.parametrize("stack,tier", [("prod", "Standard"), ("dev", "Free")])
def test_sku_tier_by_environment(azure_plans: dict[str, Any], stack: str, tier: str) -> None:
    assert _one(azure_plans[stack], CLUSTER)["inputs"]["sku"] == {"name": "Base", "tier": tier}


# --- Node pools --------------------------------------------------------------------------

@pytest.mark.parametrize("stack,zones,counts", [("prod", ["1", "2", "3"], (3, 6)), ("dev", ["1", "2"], (2, 3))])
def test_only_the_system_pool_is_inline(azure_plans: dict[str, Any], stack: str, zones: list[str],
                                        counts: tuple[int, int]) -> None:
    plan = azure_plans[stack]
    cluster = _one(plan, CLUSTER)
    [system] = cluster["inputs"]["agentPoolProfiles"]
    assert system["mode"] == "System"
    assert system.get("scaleSetPriority") != "Spot"
    assert system["availabilityZones"] == zones
    assert system["vmSize"] == "Standard_D4s_v5" and system["vmSize"] not in GPU_SIZES
    assert (system["minCount"], system["maxCount"], system["count"]) == (counts[0], counts[1], counts[0])
    assert system["enableAutoScaling"] is True
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert system["nodeLabels"] == {"aiinfra.io/pool": "system"}
    assert "agentPoolProfiles[0].count" in cluster["options"]["ignoreChanges"]


def test_prod_gpu_pool_is_an_on_demand_user_agent_pool(azure_plans: dict[str, Any]) -> None:
    plan = azure_plans["prod"]
    pool = _one(plan, POOL)
    inputs = pool["inputs"]
    assert inputs["mode"] == "User"
    assert inputs["agentPoolName"] == "t4"
    assert inputs["vmSize"] == "Standard_NC4as_T4_v3"
    assert (inputs["minCount"], inputs["maxCount"], inputs["count"]) == (2, 4, 2)
    assert inputs["enableAutoScaling"] is True
    assert inputs["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert inputs["nodeLabels"] == {"aiinfra.io/pool": "t4", "aiinfra.io/gpu": "t4", "nvidia.com/gpu.present": "true"}
    assert inputs["gpuProfile"] == {"driver": "Install"}
    assert inputs["scaleSetPriority"] == "Regular"
    assert "scaleSetEvictionPolicy" not in inputs and "spotMaxPrice" not in inputs
    assert inputs["upgradeSettings"] == {"maxSurge": "1"}
    assert pool["options"]["ignoreChanges"] == ["count"]
    assert pool["propertyDependencies"]["resourceName"] == [_one(plan, CLUSTER)["urn"]]
    assert pool["propertyDependencies"]["vnetSubnetID"] == [_one(plan, "azure-native:network:Subnet")["urn"]]


def test_dev_gpu_pool_is_spot_from_zero(azure_plans: dict[str, Any]) -> None:
    inputs = _one(azure_plans["dev"], POOL)["inputs"]
    assert inputs["mode"] == "User"
    assert inputs["vmSize"] == "Standard_NC4as_T4_v3"
    assert (inputs["minCount"], inputs["maxCount"], inputs["count"]) == (0, 2, 0)
    assert inputs["scaleSetPriority"] == "Spot"
    assert inputs["scaleSetEvictionPolicy"] == "Delete"
    assert inputs["spotMaxPrice"] == -1
    assert "upgradeSettings" not in inputs  # AKS rejects max surge on spot pools
    assert inputs["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule", "research-only=yes:NoExecute",
                                    "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"]
    assert inputs["nodeLabels"] == {"team": "research", "aiinfra.io/pool": "t4spot", "aiinfra.io/gpu": "t4",
                                    "nvidia.com/gpu.present": "true"}
    assert inputs["gpuProfile"] == {"driver": "Install"}


# --- Protection --------------------------------------------------------------------------

def test_cluster_vault_key_and_workspace_are_protected_in_prod_only(azure_plans: dict[str, Any]) -> None:
    stateful = (CLUSTER, VAULT, KEY, "azure-native:operationalinsights:Workspace")
    for type_token in stateful:
        prod = _one(azure_plans["prod"], type_token)["options"]
        assert (prod["protect"], prod["retainOnDelete"]) == (True, True), type_token
        dev = _one(azure_plans["dev"], type_token)["options"]
        assert not dev["protect"] and not dev["retainOnDelete"], type_token
    for type_token in (POOL, ROLE, "azure-native:network:Subnet"):
        for r in every(azure_plans["prod"], type_token):
            assert not r["options"]["protect"], r["name"]


# --- Network -----------------------------------------------------------------------------

def test_subnet_egresses_through_the_nat_gateway_behind_an_nsg(azure_plans: dict[str, Any]) -> None:
    plan = azure_plans["prod"]
    vnet = _one(plan, "azure-native:network:VirtualNetwork")
    assert vnet["inputs"]["addressSpace"] == {"addressPrefixes": ["10.32.0.0/16"]}
    assert not vnet["inputs"].get("subnets")
    subnet = _one(plan, "azure-native:network:Subnet")
    nat = _one(plan, "azure-native:network:NatGateway")
    nsg = _one(plan, "azure-native:network:NetworkSecurityGroup")
    ip = _one(plan, "azure-native:network:PublicIPAddress")
    assert subnet["inputs"]["addressPrefix"] == "10.32.0.0/18"
    assert subnet["inputs"]["defaultOutboundAccess"] is False
    assert subnet["propertyDependencies"]["natGateway"] == [nat["urn"]]
    assert subnet["propertyDependencies"]["networkSecurityGroup"] == [nsg["urn"]]
    assert subnet["propertyDependencies"]["virtualNetworkName"] == [vnet["urn"]]
    assert not nsg["inputs"].get("securityRules")
    assert nat["inputs"]["sku"] == {"name": "Standard"}
    assert nat["propertyDependencies"]["publicIpAddresses"] == [ip["urn"]]
    assert ip["inputs"]["sku"] == {"name": "Standard", "tier": "Regional"}
    assert ip["inputs"]["publicIPAllocationMethod"] == "Static"
    assert ip["inputs"]["zones"] == ["1", "2", "3"]
    cluster = _one(plan, CLUSTER)
    assert cluster["propertyDependencies"]["agentPoolProfiles"].count(subnet["urn"]) == 1


def test_an_existing_subnets_nsg_is_left_to_its_owner() -> None:
    """Entries add their HTTPS rule to the NSG the Network created; a brought subnet's NSG is not ours."""
    from components.common import Environment
    from components.network.args import NetworkOutputs
    from components.network.azure import allow_https_from_internet
    brought = NetworkOutputs(network_id=None, private_subnet_ids=[], zones=None)  # type: ignore[arg-type]
    assert brought.security_group_id is None
    assert allow_https_from_internet(None, "cell-chat", brought, "203.0.113.10",  # type: ignore[arg-type]
                                     Environment(name="dev", tags={})) is None


def test_dev_two_zone_network_keeps_a_zone_redundant_ip(azure_plans: dict[str, Any]) -> None:
    plan = azure_plans["dev"]
    assert _one(plan, "azure-native:network:Subnet")["inputs"]["addressPrefix"] == "10.12.0.0/22"
    assert _one(plan, "azure-native:network:PublicIPAddress")["inputs"]["zones"] == ["1", "2", "3"]


# --- Structure ---------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["prod", "dev", "staging"])
def test_every_resource_is_parented_under_the_cells_components(azure_plans: dict[str, Any], stack: str) -> None:
    plan = azure_plans[stack]
    cluster, metrics, pool_owner = ("aiinfra:compute:KubernetesCluster", "aiinfra:metrics:ClusterMetrics",
                                    "aiinfra:compute:GpuNodePool")
    action_group, at_max = "azure-native:monitor:ActionGroup", "azure-native:alertsmanagement:PrometheusRuleGroup"
    # Each type (prefix) and the components allowed to own it; the longest matching prefix decides. The cell's
    # metrics pipeline (Azure Monitor workspace, its data collection, KEDA's identity and reader role) sits
    # beside the cluster; the alert channel owns the action group; a pool owns its at-max alert.
    owners: dict[str, set[str]] = {
        "azure-native:network:": {"aiinfra:network:Network"},
        CLUSTER: {cluster},
        VAULT: {cluster},
        KEY: {cluster},
        ROLE: {cluster, metrics},
        "azure-native:monitor:": {cluster, metrics},
        action_group: {"aiinfra:alerts:AlertChannel"},
        "azure-native:operationalinsights:": {cluster},
        "azure-native:managedidentity:": {cluster, metrics},
        POOL: {pool_owner},
        at_max: {pool_owner},
    }
    index = by_urn(plan)
    seen: set[tuple[str, str]] = set()
    for r in plan["resources"]:
        matching = [prefix for prefix in owners if r["type"].startswith(prefix)]
        if not matching:
            continue
        prefix = max(matching, key=len)
        owner = index[r["parent"]]["type"]
        assert owner in owners[prefix], r["urn"]
        seen.add((prefix, owner))
        assert cell_of(plan, r) == "azure-eus", r["urn"]
        # Through the cell's Azure provider, never a default provider.
        assert r["provider"] and r["provider"].endswith("::azure-eus-azure"), r["urn"]
        if owner == pool_owner:
            assert cluster in [a["type"] for a in ancestors(plan, r)]
    expected = {(prefix, owner) for prefix, allowed in owners.items() for owner in allowed}
    if stack == "staging":  # its own subnet and key: no network, vault or key is created
        expected -= {(p, o) for p, o in expected if p in ("azure-native:network:", VAULT, KEY)}
    if stack != "prod":  # only prod names an alert channel here, so only prod has the channel and pool alerts
        expected -= {(action_group, "aiinfra:alerts:AlertChannel"), (at_max, pool_owner)}
    assert seen == expected, sorted(expected ^ seen)


# --- Pure helpers ------------------------------------------------------------------------

def test_node_subnet_is_the_first_quarter_of_the_range() -> None:
    assert node_subnet_cidr("10.0.0.0/16") == "10.0.0.0/18"
    assert node_subnet_cidr("172.16.16.0/20") == "172.16.16.0/22"
    assert region_zones("eastus", 2) == ["1", "2"]
    assert region_zones("westus", 3) == []


def test_kubeconfig_keeps_the_ca_and_logs_in_with_the_azure_cli() -> None:
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://x.privatelink.eastus.azmk8s.io:443",
                                               "certificate-authority-data": "Q0FEQVRB"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin",
            "args": ["get-token", "--login", "devicecode", "--server-id", AKS_AAD_SERVER_ID,
                     "--client-id", "80faf920-1908-4b52-b5ef-a8e7bedfc67a"]}}}],
    }
    value = base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()
    result = SimpleNamespace(kubeconfigs=[SimpleNamespace(name="clusterUser", value=value)])
    out = yaml.safe_load(_exec_kubeconfig(result))
    assert out["clusters"][0]["cluster"]["certificate-authority-data"] == "Q0FEQVRB"
    assert out["clusters"][0]["cluster"]["server"].startswith("https://")
    exec_ = out["users"][0]["user"]["exec"]
    assert exec_["command"] == "kubelogin"
    assert exec_["args"] == ["get-token", "--login", "azurecli", "--server-id", AKS_AAD_SERVER_ID]
    assert "token" not in out["users"][0]["user"] and "client-key-data" not in out["users"][0]["user"]


@pytest.mark.parametrize("result", [None, SimpleNamespace(kubeconfigs=None), SimpleNamespace(kubeconfigs=[])])
def test_kubeconfig_is_empty_when_the_credentials_invoke_returns_nothing(result: Any) -> None:
    assert _exec_kubeconfig(result) == ""


def test_an_unversioned_secrets_key_id_is_rejected_with_its_path(scratch: ScratchProject) -> None:
    config = _staging_config(_prod_config())
    config["aiinfra:cells"][0]["cluster"]["secrets_key_id"] = "https://kv-shared-keys.vault.azure.net/keys/aks-kms"
    scratch.write_stack("staging", config)
    proc = scratch.plan("staging")
    assert proc.returncode == 2
    output = proc.stdout + proc.stderr
    # The spec rejects it before anything is registered, with the config key path.
    assert "aiinfra:cells[0].cluster.secrets_key_id" in output
    assert "versioned Key Vault key id" in output
    assert "0 resources were registered before the error" in output
