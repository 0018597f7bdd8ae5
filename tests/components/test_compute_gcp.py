"""Network, KubernetesCluster and GpuNodePool on GCP, asserted from offline plans.

The shipped prod and staging stacks are planned with only their GCP cells (the
other clouds' cells are someone else's concern), plus a dev stack that uses an
existing subnetwork, a public endpoint and a given secrets key.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
import yaml

from components.compute.gcp import NODE_ROLES, _kubeconfig  # pyright: ignore[reportPrivateUsage]
from components.network.gcp import address_plan
from tests.conftest import REPO, ScratchProject, ancestors, by_urn, cell_of, every, of_type, plan_json

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
KEY = "gcp:kms/cryptoKey:CryptoKey"
RING = "gcp:kms/keyRing:KeyRing"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
ACCOUNT = "gcp:serviceaccount/account:Account"
NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
ROUTER = "gcp:compute/router:Router"
NAT = "gcp:compute/routerNat:RouterNat"
GPU_POOL_COMPONENT = "aiinfra:compute:GpuNodePool"
CLUSTER_COMPONENT = "aiinfra:compute:KubernetesCluster"
NETWORK_COMPONENT = "aiinfra:network:Network"

SHIELDED = {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}

DEV_KEY = "projects/acme-kms/locations/europe-west4/keyRings/shared/cryptoKeys/gke"
DEV_SUBNET = "projects/acme-host/regions/europe-west4/subnetworks/shared-gke"
DEV_CELL: dict[str, Any] = {
    "name": "gcp-euw4", "cloud": "gcp", "region": "europe-west4", "project": "acme-aiinfra-dev",
    "network": {"existing_subnet_ids": [DEV_SUBNET], "pods_range_name": "gke-pods",
                "services_range_name": "gke-services"},
    "cluster": {"version": "1.29", "public_endpoint": True, "public_access_cidrs": ["203.0.113.0/24"],
                "secrets_key_id": DEV_KEY},
    "gpu_pools": [{"name": "h100", "gpu": "h100", "gpus_per_node": 8, "max_nodes": 2, "spot": True,
                   "labels": {"team": "research"},
                   "taints": [{"key": "dedicated", "value": "training", "effect": "NoExecute"}]}],
}


def _gcp_only(stack: str) -> dict[str, Any]:
    config = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    # Compute only: endpoints add identities of their own (tests/components/test_serving_gcp.py covers them).
    config = {k: v for k, v in config.items() if k not in ("aiinfra:traffic", "aiinfra:backup", "aiinfra:targets")}
    config["aiinfra:cells"] = [{k: v for k, v in c.items() if k not in ("endpoints", "backup")}
                               for c in config["aiinfra:cells"] if c["cloud"] == "gcp"]
    assert len(config["aiinfra:cells"]) == 1, f"{stack}: expected one GCP cell"
    return config


@pytest.fixture(scope="module")
def stacks() -> dict[str, dict[str, Any]]:
    """The GCP cell of each shipped stack (prod, staging), as configured."""
    return {stack: _gcp_only(stack)["aiinfra:cells"][0] for stack in ("prod", "staging")}


@pytest.fixture(scope="module")
def gcp_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("gcp-project")
    project = ScratchProject(root)
    for stack in ("prod", "staging"):
        project.write_stack(stack, _gcp_only(stack))
    project.write_stack("dev", {
        "aiinfra:environment": "dev",
        "aiinfra:tags": {"owner": "ml-platform", "cost-center": "cc-1234"},
        "aiinfra:cells": [DEV_CELL],
    })
    return {stack: plan_json(stack, project=root, tmp=root) for stack in ("prod", "staging", "dev")}


def _one(plan: dict[str, Any], type_token: str) -> dict[str, Any]:
    found = of_type(plan, type_token)
    assert len(found) == 1, f"{type_token}: {len(found)}"
    return found[0]


def _under(plan: dict[str, Any], resource: dict[str, Any], type_token: str) -> bool:
    return any(a["type"] == type_token for a in ancestors(plan, resource))


def _system_pool(plan: dict[str, Any]) -> dict[str, Any]:
    [pool] = [p for p in of_type(plan, NODE_POOL) if not _under(plan, p, GPU_POOL_COMPONENT)]
    return pool


def _gpu_pool(plan: dict[str, Any]) -> dict[str, Any]:
    [pool] = [p for p in of_type(plan, NODE_POOL) if _under(plan, p, GPU_POOL_COMPONENT)]
    return pool


# --- Network -------------------------------------------------------------------------------

def test_address_plan_carves_nodes_services_and_pods_from_the_16() -> None:
    assert address_plan("10.31.0.0/16") == {
        "nodes": "10.31.0.0/20", "services": "10.31.16.0/20", "pods": "10.31.128.0/17"}
    ranges = [ipaddress.IPv4Network(r) for r in address_plan("192.168.0.0/16").values()]
    assert all(r.subnet_of(ipaddress.IPv4Network("192.168.0.0/16")) for r in ranges)
    assert not any(a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1:])
    with pytest.raises(ValueError):
        address_plan("10.0.0.0/20")


@pytest.mark.parametrize("stack,cidr", [("prod", "10.31.0.0/16"), ("staging", "10.21.0.0/16")])
def test_network_is_custom_mode_with_gke_ranges_flow_logs_and_private_google_access(
        gcp_plans: dict[str, Any], stacks: dict[str, Any], stack: str, cidr: str) -> None:
    plan = gcp_plans[stack]
    assert stacks[stack]["network"]["cidr"] == cidr
    network = _one(plan, NETWORK)["inputs"]
    assert network["autoCreateSubnetworks"] is False
    assert network["routingMode"] == "REGIONAL"
    assert network["project"] == stacks[stack]["project"]
    assert len(network["name"]) <= 63
    subnet = _one(plan, SUBNET)
    inputs = subnet["inputs"]
    assert inputs["region"] == stacks[stack]["region"]
    assert inputs["privateIpGoogleAccess"] is True
    assert inputs["logConfig"]["metadata"] == "INCLUDE_ALL_METADATA"
    assert 0 < inputs["logConfig"]["flowSampling"] <= 1
    assert _one(plan, NETWORK)["urn"] in subnet["propertyDependencies"]["network"]
    plan_ranges = address_plan(cidr)
    assert inputs["ipCidrRange"] == plan_ranges["nodes"]
    secondary = {r["rangeName"]: r["ipCidrRange"] for r in inputs["secondaryIpRanges"]}
    assert secondary == {"pods": plan_ranges["pods"], "services": plan_ranges["services"]}
    # The cluster uses exactly these secondary ranges.
    cluster = _one(plan, CLUSTER)
    assert cluster["inputs"]["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"}
    assert subnet["urn"] in cluster["propertyDependencies"]["subnetwork"]
    assert _one(plan, NETWORK)["urn"] in cluster["propertyDependencies"]["network"]


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_cloud_nat_gives_the_private_nodes_egress(gcp_plans: dict[str, Any], stacks: dict[str, Any],
                                                  stack: str) -> None:
    plan = gcp_plans[stack]
    router = _one(plan, ROUTER)
    nat = _one(plan, NAT)
    assert router["inputs"]["region"] == nat["inputs"]["region"] == stacks[stack]["region"]
    assert _one(plan, NETWORK)["urn"] in router["propertyDependencies"]["network"]
    inputs = nat["inputs"]
    assert inputs["router"] == router["inputs"]["name"]
    assert inputs["natIpAllocateOption"] == "AUTO_ONLY"
    assert inputs["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert [s["sourceIpRangesToNats"] for s in inputs["subnetworks"]] == [["ALL_IP_RANGES"]]
    assert _one(plan, SUBNET)["urn"] in nat["propertyDependencies"]["subnetworks"]
    assert inputs["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}


def test_existing_subnetwork_is_passed_through_and_nothing_is_created(gcp_plans: dict[str, Any]) -> None:
    plan = gcp_plans["dev"]
    for type_token in (NETWORK, SUBNET, ROUTER, NAT):
        assert not of_type(plan, type_token), type_token
    cluster = _one(plan, CLUSTER)["inputs"]
    assert cluster["subnetwork"] == DEV_SUBNET
    assert cluster["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "gke-pods", "servicesSecondaryRangeName": "gke-services"}
    assert "gcp:compute/getSubnetwork:getSubnetwork" in plan["offline"]["invokes"]


# --- Cluster -------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_cluster_is_private_with_no_client_certificate(gcp_plans: dict[str, Any], stack: str) -> None:
    inputs = _one(gcp_plans[stack], CLUSTER)["inputs"]
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert inputs["masterAuthorizedNetworksConfig"] == {"cidrBlocks": [], "gcpPublicCidrsAccessEnabled": False}
    assert inputs["masterAuth"]["clientCertificateConfig"]["issueClientCertificate"] is False
    assert inputs["removeDefaultNodePool"] is True


def test_public_endpoint_admits_only_the_listed_cidrs(gcp_plans: dict[str, Any]) -> None:
    inputs = _one(gcp_plans["dev"], CLUSTER)["inputs"]
    assert inputs["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": False}
    networks = inputs["masterAuthorizedNetworksConfig"]
    assert [b["cidrBlock"] for b in networks["cidrBlocks"]] == ["203.0.113.0/24"]
    assert networks["gcpPublicCidrsAccessEnabled"] is False


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_cluster_identity_version_logging_and_hardening(gcp_plans: dict[str, Any], stacks: dict[str, Any],
                                                       stack: str) -> None:
    cell = stacks[stack]
    inputs = _one(gcp_plans[stack], CLUSTER)["inputs"]
    assert inputs["location"] == cell["region"]  # regional control plane
    assert inputs["project"] == cell["project"]
    assert inputs["workloadIdentityConfig"] == {"workloadPool": f"{cell['project']}.svc.id.goog"}
    assert cell["cluster"]["version"] == "1.33"
    assert inputs["minMasterVersion"] == "1.33"
    assert inputs["releaseChannel"] == {"channel": "REGULAR"}
    components = inputs["loggingConfig"]["enableComponents"]
    assert {"APISERVER", "SYSTEM_COMPONENTS", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"} <= set(components)
    assert inputs["monitoringConfig"]["managedPrometheus"] == {"enabled": True}
    assert "DCGM" in inputs["monitoringConfig"]["enableComponents"]
    assert inputs["enableShieldedNodes"] is True
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    assert inputs["networkingMode"] == "VPC_NATIVE"
    assert len(inputs["name"]) <= 40 and inputs["name"].startswith(stack)
    # The transient default pool does not run as the Compute Engine default account either.
    assert inputs["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert inputs["resourceLabels"]["environment"] == stack


@pytest.mark.parametrize("stack", ["prod", "staging", "dev"])
def test_gateway_api_is_enabled_for_the_endpoints_gke_gateways(gcp_plans: dict[str, Any], stack: str) -> None:
    # GKE installs the Gateway API CRDs and its GatewayClasses (gke-l7-global-external-managed, which the
    # cluster-mode entries use) only with a Gateway API channel; the controller needs HTTP load balancing.
    inputs = _one(gcp_plans[stack], CLUSTER)["inputs"]
    assert inputs["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}
    assert inputs["addonsConfig"]["httpLoadBalancing"] == {"disabled": False}


@pytest.mark.parametrize("stack,protected", [("prod", True), ("staging", False)])
def test_deletion_protection_and_state_protection_in_prod_only(gcp_plans: dict[str, Any], stack: str,
                                                               protected: bool) -> None:
    plan = gcp_plans[stack]
    cluster = _one(plan, CLUSTER)
    assert cluster["inputs"]["deletionProtection"] is protected
    for resource in (cluster, _one(plan, KEY), _one(plan, RING)):
        assert bool(resource["options"]["protect"]) is protected, resource["name"]
        assert bool(resource["options"]["retainOnDelete"]) is protected, resource["name"]


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_secrets_are_encrypted_with_the_created_rotating_key(gcp_plans: dict[str, Any], stacks: dict[str, Any],
                                                            stack: str) -> None:
    plan = gcp_plans[stack]
    cluster = _one(plan, CLUSTER)
    key = _one(plan, KEY)
    ring = _one(plan, RING)
    assert cluster["inputs"]["databaseEncryption"]["state"] == "ENCRYPTED"
    assert cluster["propertyDependencies"]["databaseEncryption"] == [key["urn"]]
    assert key["inputs"]["rotationPeriod"] == "7776000s"
    assert key["inputs"]["purpose"] == "ENCRYPT_DECRYPT"
    assert ring["urn"] in key["propertyDependencies"]["keyRing"]
    assert ring["inputs"]["location"] == stacks[stack]["region"]  # GKE needs the key in the cluster's region
    member = _one(plan, KEY_MEMBER)
    assert member["inputs"]["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert member["inputs"]["member"] == \
        "serviceAccount:service-123456789012@container-engine-robot.iam.gserviceaccount.com"
    assert member["propertyDependencies"]["cryptoKeyId"] == [key["urn"]]
    assert member["urn"] in cluster["dependencies"]  # the agent can use the key before GKE tries


def test_given_secrets_key_is_used_and_none_is_created(gcp_plans: dict[str, Any]) -> None:
    plan = gcp_plans["dev"]
    assert not of_type(plan, KEY) and not of_type(plan, RING)
    assert _one(plan, CLUSTER)["inputs"]["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": DEV_KEY}
    assert _one(plan, KEY_MEMBER)["inputs"]["cryptoKeyId"] == DEV_KEY
    # 1.29 has no DCGM metrics; dev is not protected.
    assert "DCGM" not in _one(plan, CLUSTER)["inputs"]["monitoringConfig"]["enableComponents"]
    assert _one(plan, CLUSTER)["inputs"]["deletionProtection"] is False


def test_secrets_key_in_another_region_is_rejected(scratch: ScratchProject) -> None:
    cell = {**DEV_CELL, "cluster": {**DEV_CELL["cluster"],
                                    "secrets_key_id": DEV_KEY.replace("europe-west4", "us-central1")}}
    scratch.write_stack("dev", {"aiinfra:environment": "dev",
                                "aiinfra:tags": {"owner": "ml-platform", "cost-center": "cc-1234"},
                                "aiinfra:cells": [cell]})
    proc = scratch.plan("dev")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "aiinfra:cells[0].cluster.secrets_key_id" in proc.stderr + proc.stdout
    assert "europe-west4" in proc.stderr + proc.stdout
    assert "0 resources were registered before the error" in proc.stderr


def test_cluster_outputs_oidc_issuer_and_secret_kubeconfig(gcp_plans: dict[str, Any],
                                                         stacks: dict[str, Any]) -> None:
    plan = gcp_plans["prod"]
    [component] = of_type(plan, CLUSTER_COMPONENT)
    cluster_name = _one(plan, CLUSTER)["inputs"]["name"]
    cell = stacks["prod"]
    assert component["outputs"]["cluster_name"] == cluster_name
    assert component["outputs"]["oidc_issuer"] == (
        f"https://container.googleapis.com/v1/projects/{cell['project']}/locations/{cell['region']}"
        f"/clusters/{cluster_name}")
    assert component["outputs"]["kubeconfig"] == "<secret>"



def test_kubeconfig_uses_the_gke_exec_plugin_and_no_static_credentials() -> None:
    config = yaml.safe_load(_kubeconfig("gke_p_r_c", "10.31.0.2", "Q0E="))
    [cluster] = config["clusters"]
    assert cluster["cluster"] == {"server": "https://10.31.0.2", "certificate-authority-data": "Q0E="}
    [user] = config["users"]
    assert set(user["user"]) == {"exec"}  # no token, no client certificate, no password
    assert user["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert config["current-context"] == "gke_p_r_c"

# --- Node identity -------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["prod", "staging", "dev"])
def test_node_service_account_holds_only_the_node_roles(gcp_plans: dict[str, Any], stack: str) -> None:
    plan = gcp_plans[stack]
    # The cluster's node account (KEDA's reader, under ClusterMetrics, is another: test_issue15_gcp.py).
    [account] = [a for a in of_type(plan, ACCOUNT) if _under(plan, a, CLUSTER_COMPONENT)]
    assert 6 <= len(account["inputs"]["accountId"]) <= 30
    members = [m for m in of_type(plan, PROJECT_MEMBER) if _under(plan, m, CLUSTER_COMPONENT)]
    assert sorted(m["inputs"]["role"] for m in members) == sorted(NODE_ROLES)
    assert set(NODE_ROLES) == {
        "roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer", "roles/artifactregistry.reader"}
    for member in members:
        assert member["propertyDependencies"]["member"] == [account["urn"]]
    # Every node pool (and the cluster's transient default pool) runs as that account, with
    # the cloud-platform scope, after its roles are granted.
    for pool in every(plan, NODE_POOL):
        config = pool["inputs"]["nodeConfig"]
        assert account["urn"] in pool["propertyDependencies"]["nodeConfig"]
        assert config["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
        assert {m["urn"] for m in members} <= set(pool["dependencies"])
    cluster = _one(plan, CLUSTER)
    assert account["urn"] in cluster["propertyDependencies"]["nodeConfig"]


# --- Node pools ----------------------------------------------------------------------------

@pytest.mark.parametrize("stack,minimum,maximum", [("prod", 3, 6), ("staging", 2, 4)])
def test_system_pool_is_on_demand_cpu_only_and_hardened(gcp_plans: dict[str, Any], stacks: dict[str, Any],
                                                        stack: str, minimum: int, maximum: int) -> None:
    plan = gcp_plans[stack]
    pool = _system_pool(plan)
    inputs = pool["inputs"]
    config = inputs["nodeConfig"]
    assert _under(plan, pool, CLUSTER_COMPONENT)
    assert inputs["cluster"] == _one(plan, CLUSTER)["inputs"]["name"]
    assert inputs["location"] == stacks[stack]["region"]
    assert "guestAccelerators" not in config
    assert not config.get("spot") and not config.get("preemptible")
    assert config["machineType"] == "e2-standard-4"
    assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert config["shieldedInstanceConfig"] == SHIELDED
    assert config["labels"] == {"aiinfra.io/pool": "system"}
    assert config["diskType"] == "pd-balanced"
    assert "taints" not in config
    assert inputs["autoscaling"] == {"totalMinNodeCount": minimum, "totalMaxNodeCount": maximum,
                                     "locationPolicy": "BALANCED"}
    assert inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
    assert "version" not in inputs  # follows the cluster
    assert pool["options"]["ignoreChanges"] == ["initialNodeCount"]


@pytest.mark.parametrize("stack,minimum,maximum,spot", [("prod", 2, 4, False), ("staging", 0, 2, True)])
def test_gpu_pool_has_l4_with_driver_taint_labels_and_autoscaling(
        gcp_plans: dict[str, Any], stacks: dict[str, Any], stack: str, minimum: int, maximum: int,
        spot: bool) -> None:
    plan = gcp_plans[stack]
    [options] = stacks[stack]["gpu_pools"]
    assert (options["min_nodes"], options["max_nodes"], options.get("spot", False)) == (minimum, maximum, spot)
    pool = _gpu_pool(plan)
    inputs = pool["inputs"]
    config = inputs["nodeConfig"]
    assert _under(plan, pool, CLUSTER_COMPONENT)
    assert inputs["cluster"] == _one(plan, CLUSTER)["inputs"]["name"]
    assert inputs["location"] == stacks[stack]["region"]
    assert config["machineType"] == "g2-standard-4"
    assert config["guestAccelerators"] == [{
        "type": "nvidia-l4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}]
    assert config["taints"] == [GPU_TAINT]
    assert config["labels"] == {"aiinfra.io/pool": "l4", "aiinfra.io/gpu": "l4", "nvidia.com/gpu.present": "true"}
    assert config["spot"] is spot
    assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert config["shieldedInstanceConfig"] == SHIELDED
    assert config["diskSizeGb"] >= 100
    assert inputs["autoscaling"] == {"totalMinNodeCount": minimum, "totalMaxNodeCount": maximum,
                                     "locationPolicy": "ANY"}
    assert inputs["initialNodeCount"] <= minimum
    assert inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
    assert pool["options"]["ignoreChanges"] == ["initialNodeCount"]
    # GKE brings the device plugin: none is installed on GCP.
    assert not of_type(plan, "aiinfra:compute:NvidiaDevicePlugin")


def test_gpu_pool_extra_taints_and_labels_map_to_gke(gcp_plans: dict[str, Any]) -> None:
    config = _gpu_pool(gcp_plans["dev"])["inputs"]["nodeConfig"]
    assert config["machineType"] == "a3-highgpu-8g"
    assert config["guestAccelerators"][0]["type"] == "nvidia-h100-80gb"
    assert config["guestAccelerators"][0]["count"] == 8
    assert config["taints"] == [GPU_TAINT, {"key": "dedicated", "value": "training", "effect": "NO_EXECUTE"}]
    assert config["labels"]["team"] == "research"
    assert config["labels"]["aiinfra.io/gpu"] == "h100"
    assert config["spot"] is True


# --- Structure -----------------------------------------------------------------------------

_COMPONENT_OF = {
    NETWORK: NETWORK_COMPONENT, SUBNET: NETWORK_COMPONENT, ROUTER: NETWORK_COMPONENT, NAT: NETWORK_COMPONENT,
    CLUSTER: CLUSTER_COMPONENT, NODE_POOL: CLUSTER_COMPONENT, KEY: CLUSTER_COMPONENT, RING: CLUSTER_COMPONENT,
    KEY_MEMBER: CLUSTER_COMPONENT, PROJECT_MEMBER: CLUSTER_COMPONENT, ACCOUNT: CLUSTER_COMPONENT,
}
METRICS_COMPONENT = "aiinfra:metrics:ClusterMetrics"
_ALSO_UNDER = {PROJECT_MEMBER: METRICS_COMPONENT, ACCOUNT: METRICS_COMPONENT}
"""KEDA's Google service account and its monitoring.viewer grant belong to the cluster's ClusterMetrics."""


@pytest.mark.parametrize("stack", ["prod", "staging", "dev"])
def test_every_resource_is_parented_under_its_cells_component(gcp_plans: dict[str, Any], stacks: dict[str, Any],
                                                              stack: str) -> None:
    plan = gcp_plans[stack]
    cell = DEV_CELL["name"] if stack == "dev" else stacks[stack]["name"]
    index = by_urn(plan)
    seen: set[str] = set()
    for resource in plan["resources"]:
        if resource["type"] not in _COMPONENT_OF:
            continue
        seen.add(resource["type"])
        assert cell_of(plan, resource) == cell, resource["urn"]
        owners = {_COMPONENT_OF[resource["type"]], _ALSO_UNDER.get(resource["type"], "")} - {""}
        assert any(_under(plan, resource, owner) for owner in owners), resource["urn"]
        parent = index[resource["parent"]]
        assert parent["type"].startswith("aiinfra:"), resource["urn"]  # directly under a component
        # Through the cell's GCP provider, never a default provider.
        assert resource["provider"].split("::")[-1] == f"{cell}-gcp", resource["urn"]
    expected = set(_COMPONENT_OF) if stack != "dev" else set(_COMPONENT_OF) - {NETWORK, SUBNET, ROUTER, NAT, KEY, RING}
    assert seen == expected

