"""EKS, its GPU node groups and its VPC, asserted from offline plans of the shipped stacks' AWS cells.

The shipped prod and staging stacks also hold Azure and GCP cells; these tests plan a scratch
copy of the program with only the AWS cell of each shipped stack (same environment and tags,
model endpoints left out), so they depend on the AWS network and compute implementation alone. A third, synthetic stack covers the options the
shipped stacks do not use (existing subnets, a given secrets key, extra labels and taints).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
import yaml

from components.compute.aws import _kubeconfig, autoscaler_tags, eks_cluster_name
from components.network.aws import subnet_cidrs
from tests.conftest import REPO, ScratchProject, ancestors, by_urn, every, of_type, plan_json

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG_TAG = "aws:autoscaling/tag:Tag"
SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
GPU_POOL = "aiinfra:compute:GpuNodePool"
CA = "k8s.io/cluster-autoscaler"

EXISTING_SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]
GIVEN_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def _aws_only(stack: str) -> dict[str, Any]:
    """The shipped stack's config with only its AWS cell, without its model endpoints (serving has tests of its own)."""
    config = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    # Compute only: no global traffic (it names the other clouds' cells), no backups, no zone (no entries).
    config = {k: v for k, v in config.items()
              if k not in ("aiinfra:traffic", "aiinfra:backup", "aiinfra:targets", "aiinfra:dns")}
    config["aiinfra:cells"] = [{k: v for k, v in c.items() if k not in ("endpoints", "backup")}
                               for c in config["aiinfra:cells"] if c["cloud"] == "aws"]
    assert len(config["aiinfra:cells"]) == 1
    return config


def _variant_config() -> dict[str, Any]:
    config = _aws_only("dev")
    cell = config["aiinfra:cells"][0]
    cell["network"] = {"existing_subnet_ids": EXISTING_SUBNETS}
    cell["cluster"] = {"version": "1.33", "secrets_key_id": GIVEN_KEY}
    cell["gpu_pools"] = [{"name": "a10g", "gpu": "a10g", "gpus_per_node": 4, "max_nodes": 2,
                          "labels": {"team": "research"},
                          "taints": [{"key": "dedicated", "value": "research", "effect": "PreferNoSchedule"},
                                     {"key": "batch", "effect": "NoExecute"}]}]
    return config


@pytest.fixture(scope="module")
def aws_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Plans of the AWS cells of the shipped dev, staging and prod stacks, plus `variant`."""
    root = tmp_path_factory.mktemp("aws-cells")
    project = ScratchProject(root)
    for stack in ("dev", "staging", "prod"):
        project.write_stack(stack, _aws_only(stack))
    project.write_stack("variant", _variant_config())
    return {stack: plan_json(stack, project=root) for stack in ("dev", "staging", "prod", "variant")}


def _one(plan: dict[str, Any], type_token: str) -> dict[str, Any]:
    found = of_type(plan, type_token)
    assert len(found) == 1, f"{type_token}: {len(found)}"
    return found[0]


def _named(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in plan["resources"] if r["name"] == name]
    return found


def _cell(plan: dict[str, Any]) -> dict[str, Any]:
    return _one(plan, "aiinfra:index:Cell")


def _in_gpu_pool(plan: dict[str, Any], resource: dict[str, Any]) -> bool:
    return any(a["type"] == GPU_POOL for a in ancestors(plan, resource))


def _gpu_node_groups(plan: dict[str, Any]) -> list[dict[str, Any]]:
    groups = [g for g in of_type(plan, NODE_GROUP) if _in_gpu_pool(plan, g)]
    assert groups
    return groups


def _system_node_group(plan: dict[str, Any]) -> dict[str, Any]:
    [group] = [g for g in of_type(plan, NODE_GROUP) if not _in_gpu_pool(plan, g)]
    return group


# --- Cluster ------------------------------------------------------------------------------

def test_prod_endpoint_is_private_only(aws_plans: dict[str, Any]) -> None:
    vpc = _one(aws_plans["prod"], CLUSTER)["inputs"]["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert not vpc.get("publicAccessCidrs")


def test_dev_endpoint_is_public_only_to_the_listed_cidr(aws_plans: dict[str, Any]) -> None:
    vpc = _one(aws_plans["dev"], CLUSTER)["inputs"]["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_secrets_are_encrypted_with_a_created_rotating_key(aws_plans: dict[str, Any], stack: str) -> None:
    plan = aws_plans[stack]
    cluster = _one(plan, CLUSTER)
    encryption = cluster["inputs"]["encryptionConfig"]
    assert encryption["resources"] == ["secrets"]
    keys = {k["urn"]: k for k in of_type(plan, "aws:kms/key:Key")}
    [key_urn] = [u for u in cluster["propertyDependencies"]["encryptionConfig"] if u in keys]
    key = keys[key_urn]
    assert key["inputs"]["enableKeyRotation"] is True
    assert key["parent"] == cluster["parent"], "the key belongs to the cluster component, not the store"
    assert bool(key["options"]["protect"]) is (stack == "prod")


def test_given_secrets_key_is_used_and_none_is_created(aws_plans: dict[str, Any]) -> None:
    plan = aws_plans["variant"]
    cluster = _one(plan, CLUSTER)
    assert cluster["inputs"]["encryptionConfig"]["provider"]["keyArn"] == GIVEN_KEY
    cluster_component = cluster["parent"]
    assert not [k for k in of_type(plan, "aws:kms/key:Key") if k["parent"] == cluster_component]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_all_five_control_plane_log_types_into_a_retained_log_group(aws_plans: dict[str, Any], stack: str) -> None:
    plan = aws_plans[stack]
    cluster = _one(plan, CLUSTER)
    assert sorted(cluster["inputs"]["enabledClusterLogTypes"]) == sorted(
        ["api", "audit", "authenticator", "controllerManager", "scheduler"])
    [group] = [g for g in of_type(plan, "aws:cloudwatch/logGroup:LogGroup")
               if g["inputs"].get("name") == f"/aws/eks/{cluster['inputs']['name']}/cluster"]
    assert group["inputs"]["retentionInDays"] == (365 if stack == "prod" else 30)
    assert group["urn"] in cluster["dependencies"], "the log group must exist before EKS creates its own"
    assert cluster["inputs"]["name"] == f"{stack}-aws-use1-cluster"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_workload_identity_pod_identity_agent_and_oidc_provider(aws_plans: dict[str, Any], stack: str) -> None:
    plan = aws_plans[stack]
    cluster = _one(plan, CLUSTER)
    addons = {a["inputs"]["addonName"]: a for a in of_type(plan, "aws:eks/addon:Addon")}
    assert set(addons) == {"eks-pod-identity-agent", "vpc-cni"}
    assert all(a["inputs"]["clusterName"] == cluster["inputs"]["name"] for a in addons.values())
    # NetworkPolicies are enforced only when the VPC CNI is told to.
    assert json.loads(addons["vpc-cni"]["inputs"]["configurationValues"]) == {"enableNetworkPolicy": "true"}
    oidc = _one(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc["inputs"]["clientIdLists"] == ["sts.amazonaws.com"]
    assert oidc["propertyDependencies"]["url"] == [cluster["urn"]]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_version_pinned_and_access_by_api_entries(aws_plans: dict[str, Any], stack: str) -> None:
    inputs = _one(aws_plans[stack], CLUSTER)["inputs"]
    assert inputs["version"] == "1.33"
    assert inputs["accessConfig"]["authenticationMode"] == "API"


@pytest.mark.parametrize("stack,protected", [("dev", False), ("staging", False), ("prod", True)])
def test_deletion_protection_and_protect_only_in_prod(aws_plans: dict[str, Any], stack: str, protected: bool) -> None:
    cluster = _one(aws_plans[stack], CLUSTER)
    assert bool(cluster["inputs"].get("deletionProtection")) is protected
    assert bool(cluster["options"]["protect"]) is protected
    assert bool(cluster["options"]["retainOnDelete"]) is protected


def _role_policies(plan: dict[str, Any], role_urn: str) -> set[str]:
    return {a["inputs"]["policyArn"] for a in of_type(plan, ATTACHMENT)
            if role_urn in a["propertyDependencies"]["role"]}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cluster_role_has_only_the_cluster_policy_and_node_role_the_three_node_policies(
        aws_plans: dict[str, Any], stack: str) -> None:
    plan = aws_plans[stack]
    cluster = _one(plan, CLUSTER)
    [cluster_role] = cluster["propertyDependencies"]["roleArn"]
    trust = json.loads(by_urn(plan)[cluster_role]["inputs"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "eks.amazonaws.com"}
    assert _role_policies(plan, cluster_role) == {"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}
    node_roles = {u for g in of_type(plan, NODE_GROUP) for u in g["propertyDependencies"]["nodeRoleArn"]}
    assert len(node_roles) == 1 and cluster_role not in node_roles
    assert _role_policies(plan, node_roles.pop()) == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    }


# --- Launch templates and node groups -----------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "variant"])
def test_every_launch_template_requires_imdsv2_encrypts_root_and_has_no_public_ip(
        aws_plans: dict[str, Any], stack: str) -> None:
    plan = aws_plans[stack]
    templates = of_type(plan, LAUNCH_TEMPLATE)
    assert len(templates) == len(of_type(plan, NODE_GROUP)) >= 2
    for lt in templates:
        inputs = lt["inputs"]
        meta = inputs["metadataOptions"]
        assert (meta["httpTokens"], meta["httpPutResponseHopLimit"], meta["httpEndpoint"]) == ("required", 1, "enabled")
        [root] = inputs["blockDeviceMappings"]
        assert root["deviceName"] == "/dev/xvda"
        assert root["ebs"]["encrypted"] == "true" and root["ebs"]["volumeType"] == "gp3"
        assert [n["associatePublicIpAddress"] for n in inputs["networkInterfaces"]] == ["false"]
        instance_tags = next(t["tags"] for t in inputs["tagSpecifications"] if t["resourceType"] == "instance")
        assert instance_tags["cost-center"] == "cc-1234" and instance_tags["cell"] == _cell(plan)["name"]
    # Every node group launches from one of them.
    lt_urns = {lt["urn"] for lt in templates}
    for group in every(plan, NODE_GROUP):
        assert set(group["propertyDependencies"]["launchTemplate"]) & lt_urns, group["name"]
        assert "diskSize" not in group["inputs"]


@pytest.mark.parametrize("stack,machine,capacity,minimum,maximum", [
    ("dev", "g4dn.xlarge", "SPOT", 0, 2),
    ("staging", "g6.xlarge", "SPOT", 0, 2),
    ("prod", "g6.xlarge", "ON_DEMAND", 2, 4),
])
def test_gpu_node_group(aws_plans: dict[str, Any], stack: str, machine: str, capacity: str,
                        minimum: int, maximum: int) -> None:
    [group] = _gpu_node_groups(aws_plans[stack])
    inputs = group["inputs"]
    assert inputs["amiType"] == "AL2023_x86_64_NVIDIA"
    assert inputs["instanceTypes"] == [machine]
    assert inputs["capacityType"] == capacity
    assert inputs["scalingConfig"] == {"minSize": minimum, "maxSize": maximum, "desiredSize": minimum}
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in inputs["taints"]
    assert inputs["labels"]["nvidia.com/gpu.present"] == "true"
    assert "scalingConfig.desiredSize" in group["options"]["ignoreChanges"]
    lt = by_urn(aws_plans[stack])[group["propertyDependencies"]["launchTemplate"][0]]
    assert lt["inputs"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] >= 100


def test_every_gpu_node_group_carries_the_gpu_taint(aws_plans: dict[str, Any]) -> None:
    for stack, plan in aws_plans.items():
        for group in _gpu_node_groups(plan):
            assert group["inputs"]["taints"][0] == {"key": "nvidia.com/gpu", "value": "present",
                                                    "effect": "NO_SCHEDULE"}, stack


@pytest.mark.parametrize("stack,minimum,maximum", [("dev", 2, 3), ("staging", 2, 4), ("prod", 3, 6)])
def test_system_node_group_is_on_demand_cpu_without_gpu_taint(aws_plans: dict[str, Any], stack: str,
                                                               minimum: int, maximum: int) -> None:
    plan = aws_plans[stack]
    inputs = _system_node_group(plan)["inputs"]
    assert inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert inputs["capacityType"] == "ON_DEMAND"
    assert inputs["instanceTypes"] == ["m6i.xlarge"]
    assert not inputs.get("taints")
    assert inputs["labels"] == {"aiinfra.io/pool": "system"}
    assert inputs["scalingConfig"] == {"minSize": minimum, "maxSize": maximum, "desiredSize": minimum}
    assert "scalingConfig.desiredSize" in _system_node_group(plan)["options"]["ignoreChanges"]
    # Spread over every private subnet of the cell.
    private = {s["urn"] for s in of_type(plan, SUBNET) if "kubernetes.io/role/internal-elb" in s["inputs"]["tags"]}
    assert set(_system_node_group(plan)["propertyDependencies"]["subnetIds"]) == private


def _ca_tags(plan: dict[str, Any], group: dict[str, Any]) -> dict[str, str]:
    tags = [t for t in of_type(plan, ASG_TAG) if t["parent"] == group["parent"]]
    for t in tags:
        assert t["inputs"]["tag"]["propagateAtLaunch"] is False
        assert group["urn"] in t["propertyDependencies"]["autoscalingGroupName"]
    return {t["inputs"]["tag"]["key"]: t["inputs"]["tag"]["value"] for t in tags}


def test_dev_gpu_pool_scales_from_zero_with_autoscaler_node_template_tags(aws_plans: dict[str, Any]) -> None:
    plan = aws_plans["dev"]
    [group] = _gpu_node_groups(plan)
    assert group["inputs"]["scalingConfig"]["minSize"] == 0
    assert _ca_tags(plan, group) == {
        f"{CA}/enabled": "true",
        f"{CA}/dev-aws-use1-cluster": "owned",
        f"{CA}/node-template/label/aiinfra.io/pool": "t4spot",
        f"{CA}/node-template/label/aiinfra.io/gpu": "t4",
        f"{CA}/node-template/label/nvidia.com/gpu.present": "true",
        f"{CA}/node-template/label/eks.amazonaws.com/capacityType": "SPOT",
        f"{CA}/node-template/taint/nvidia.com/gpu": "present:NoSchedule",
        f"{CA}/node-template/resources/nvidia.com/gpu": "1",
    }


def test_extra_labels_and_taints_reach_eks_and_the_autoscaler(aws_plans: dict[str, Any]) -> None:
    plan = aws_plans["variant"]
    [group] = _gpu_node_groups(plan)
    inputs = group["inputs"]
    assert inputs["instanceTypes"] == ["g5.12xlarge"]
    assert inputs["capacityType"] == "ON_DEMAND"
    assert inputs["labels"]["team"] == "research"
    assert inputs["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"},
        {"key": "dedicated", "value": "research", "effect": "PREFER_NO_SCHEDULE"},
        {"key": "batch", "effect": "NO_EXECUTE"},  # no value: unset, not null
    ]
    tags = _ca_tags(plan, group)
    assert tags[f"{CA}/node-template/label/team"] == "research"
    assert tags[f"{CA}/node-template/taint/dedicated"] == "research:PreferNoSchedule"
    assert tags[f"{CA}/node-template/taint/batch"] == ":NoExecute"
    assert tags[f"{CA}/node-template/resources/nvidia.com/gpu"] == "4"


# --- Network ------------------------------------------------------------------------------

@pytest.mark.parametrize("stack,zones,nats,cidr", [
    ("dev", 2, 1, "10.10.0.0/16"), ("staging", 3, 3, "10.20.0.0/16"), ("prod", 3, 3, "10.30.0.0/16")])
def test_subnets_span_the_zones_and_nat_gateways(aws_plans: dict[str, Any], stack: str, zones: int, nats: int,
                                                 cidr: str) -> None:
    plan = aws_plans[stack]
    region = _one(plan, CLUSTER)["inputs"]["region"]
    vpc = _one(plan, "aws:ec2/vpc:Vpc")["inputs"]
    assert (vpc["cidrBlock"], vpc["enableDnsSupport"], vpc["enableDnsHostnames"]) == (cidr, True, True)
    subnets = of_type(plan, SUBNET)
    private = [s for s in subnets if s["inputs"]["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    public = [s for s in subnets if s["inputs"]["tags"].get("kubernetes.io/role/elb") == "1"]
    assert len(private) == len(public) == zones and len(subnets) == 2 * zones
    assert sorted(s["inputs"]["availabilityZone"] for s in private) == [f"{region}{z}" for z in "abc"[:zones]]
    assert all(s["inputs"]["mapPublicIpOnLaunch"] is False for s in subnets)
    networks = [ipaddress.ip_network(s["inputs"]["cidrBlock"]) for s in subnets]
    assert all(n.subnet_of(ipaddress.ip_network(cidr)) for n in networks)  # type: ignore[arg-type]
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1:])
    # NAT gateways: one per zone, or one in dev; each in a public subnet.
    gateways = of_type(plan, NAT)
    assert len(gateways) == nats
    public_urns = {s["urn"] for s in public}
    assert all(set(g["propertyDependencies"]["subnetId"]) <= public_urns for g in gateways)
    # The cluster runs in exactly the private subnets.
    assert set(_one(plan, CLUSTER)["propertyDependencies"]["vpcConfig"]) >= {s["urn"] for s in private}
    assert not set(_one(plan, CLUSTER)["propertyDependencies"]["vpcConfig"]) & public_urns


def test_private_subnets_route_to_a_nat_gateway_and_public_to_the_internet(aws_plans: dict[str, Any]) -> None:
    plan = aws_plans["prod"]
    routes = of_type(plan, "aws:ec2/route:Route")
    nat_urns = {g["urn"] for g in of_type(plan, NAT)}
    via_nat = [r for r in routes if r["propertyDependencies"].get("natGatewayId")]
    assert len(via_nat) == 3 and all(r["inputs"]["destinationCidrBlock"] == "0.0.0.0/0" for r in via_nat)
    assert {u for r in via_nat for u in r["propertyDependencies"]["natGatewayId"]} == nat_urns
    igw = _one(plan, "aws:ec2/internetGateway:InternetGateway")
    assert [r for r in routes if igw["urn"] in r["propertyDependencies"].get("gatewayId", [])]


def test_vpc_flow_logs_and_locked_default_security_group(aws_plans: dict[str, Any]) -> None:
    plan = aws_plans["prod"]
    flow = _one(plan, "aws:ec2/flowLog:FlowLog")["inputs"]
    assert flow["trafficType"] == "ALL" and flow["logDestinationType"] == "cloud-watch-logs"
    sg = _one(plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")["inputs"]
    assert not sg.get("ingress") and not sg.get("egress")


def test_existing_subnets_create_no_network(aws_plans: dict[str, Any]) -> None:
    plan = aws_plans["variant"]
    assert not [r for r in plan["resources"] if r["type"].startswith("aws:ec2/") and r["type"] != LAUNCH_TEMPLATE]
    assert _one(plan, CLUSTER)["inputs"]["vpcConfig"]["subnetIds"] == EXISTING_SUBNETS
    for group in every(plan, NODE_GROUP):
        assert group["inputs"]["subnetIds"] == EXISTING_SUBNETS


# --- Structure ----------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "variant"])
def test_every_resource_of_the_cell_is_under_its_components(aws_plans: dict[str, Any], stack: str) -> None:
    plan = aws_plans[stack]
    index = by_urn(plan)
    components = {"aiinfra:storage:ObjectStore", "aiinfra:network:Network", "aiinfra:compute:KubernetesCluster",
                  "aiinfra:metrics:ClusterMetrics", "aiinfra:images:ImageCache", "aiinfra:alerts:AlertChannel"}
    cell = _cell(plan)
    # The cell's own components: the metrics pipeline always (KEDA, the scraper, DCGM), the alert channel
    # where the stack names one (staging, prod); no image cache, as no workload (endpoint) is planned here.
    expected = components - {"aiinfra:images:ImageCache", "aiinfra:alerts:AlertChannel"}
    if stack in ("staging", "prod"):
        expected.add("aiinfra:alerts:AlertChannel")
    children = {r["type"] for r in plan["resources"] if r.get("parent") == cell["urn"] and not r["custom"]}
    assert children == expected, children
    for r in plan["resources"]:
        if r["type"] in ("pulumi:pulumi:Stack", "aiinfra:index:Cell", *components) or r["type"].startswith("pulumi:providers:"):
            continue
        chain = ancestors(plan, r)
        assert chain and chain[-2]["type"] == "aiinfra:index:Cell", r["urn"]  # [-1] is the stack
        assert any(a["type"] in components for a in chain), r["urn"]
        if r["custom"] and r["type"].startswith("aws:"):
            owner = index[r["parent"]]
            assert r["name"].startswith(f"{owner['name']}-"), r["name"]
            assert r["provider"] and r["provider"].endswith(f"::{cell['name']}-aws"), r["urn"]


def test_stateful_eks_resources_are_protected_in_prod_only(aws_plans: dict[str, Any]) -> None:
    for stack in ("dev", "prod"):
        plan = aws_plans[stack]
        log_group = next(g for g in of_type(plan, "aws:cloudwatch/logGroup:LogGroup")
                         if g["inputs"]["name"].startswith("/aws/eks/"))
        for r in (_one(plan, CLUSTER), log_group):
            assert bool(r["options"]["protect"]) is (stack == "prod"), r["urn"]
        for r in every(plan, NODE_GROUP) + of_type(plan, LAUNCH_TEMPLATE):
            assert not r["options"]["protect"], r["urn"]


def test_flow_logs_are_kept_and_protected_in_prod(aws_plans: dict[str, Any]) -> None:
    for stack in ("dev", "prod"):
        plan = aws_plans[stack]
        flow = _one(plan, "aws:ec2/flowLog:FlowLog")
        [group] = [by_urn(plan)[u] for u in flow["propertyDependencies"]["logDestination"]]
        assert group["inputs"]["retentionInDays"] == (365 if stack == "prod" else 30)
        assert bool(group["options"]["protect"]) is (stack == "prod")


def test_bad_aws_inputs_are_reported_with_their_paths(scratch: ScratchProject) -> None:
    config = _aws_only("dev")
    cluster = config["aiinfra:cells"][0]["cluster"]
    cluster["system_pool"]["machine_type"] = "m7g.large"
    cluster["secrets_key_id"] = "my-key"
    scratch.write_stack("dev", config)
    proc = scratch.plan("dev")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2
    assert "2 problems" in output and "0 resources were registered before the error" in output
    assert "aiinfra:cells[0].cluster.system_pool.machine_type: got 'm7g.large'" in output and "m6i.xlarge" in output
    assert "secrets_key_id: got 'my-key'" in output and "KMS key ARN" in output
    assert "Traceback" not in output


# --- Pure helpers -------------------------------------------------------------------------

@pytest.mark.parametrize("cidr,zones,private_prefix,public_prefix", [
    ("10.0.0.0/16", 3, 18, 24), ("10.0.0.0/16", 2, 18, 24), ("172.16.0.0/18", 3, 20, 26), ("192.168.0.0/20", 3, 22, 26)])
def test_subnet_layout(cidr: str, zones: int, private_prefix: int, public_prefix: int) -> None:
    private, public = subnet_cidrs(cidr, zones)
    assert len(private) == len(public) == zones
    nets = [ipaddress.ip_network(c) for c in private + public]
    assert [n.prefixlen for n in nets] == [private_prefix] * zones + [public_prefix] * zones
    parent = ipaddress.ip_network(cidr)
    assert all(n.subnet_of(parent) for n in nets)  # type: ignore[arg-type]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


def test_kubeconfig_uses_the_exec_plugin_and_no_static_credentials() -> None:
    text = _kubeconfig(["https://example.eks.amazonaws.com", "Q0E=", "prod-aws-use1-cluster"], "us-east-1")
    config = yaml.safe_load(text)
    assert config["clusters"][0]["cluster"] == {"server": "https://example.eks.amazonaws.com",
                                                "certificate-authority-data": "Q0E="}
    [user] = config["users"]
    exec_ = user["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["command"] == "aws"
    assert exec_["args"] == ["eks", "get-token", "--cluster-name", "prod-aws-use1-cluster", "--region", "us-east-1"]
    assert set(user["user"]) == {"exec"}
    assert config["current-context"] == "prod-aws-use1-cluster"


def test_autoscaler_tags_map_every_label_and_taint() -> None:
    tags = {key: value for _, key, value in autoscaler_tags(
        {"a.io/x": "1"}, [("nvidia.com/gpu", "present", "NoSchedule")], 8, "ON_DEMAND")}
    assert tags == {
        f"{CA}/node-template/label/a.io/x": "1",
        f"{CA}/node-template/label/eks.amazonaws.com/capacityType": "ON_DEMAND",
        f"{CA}/node-template/taint/nvidia.com/gpu": "present:NoSchedule",
        f"{CA}/node-template/resources/nvidia.com/gpu": "8",
    }


def test_cluster_name_is_stack_scoped_and_valid() -> None:
    name = eks_cluster_name("x" * 120)
    assert len(name) <= 100 and name[0].isalnum() and name[-1].isalnum()
