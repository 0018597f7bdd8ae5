"""KubernetesCluster and GpuNodePool on AWS: EKS with managed node groups.

Cluster children (role names): `cluster-role`, `cluster-policy`, `node-role`,
`node-policy-worker`, `node-policy-ecr`, `node-policy-cni`, `secrets-key` and
`secrets-key-alias` (unless `secrets_key_id` is given), `log-group`, `eks`,
`system-launch-template`, `system-nodes`, `pod-identity`, `oidc`.

GPU pool children: `launch-template`, `nodes`, and `ca-*` autoscaling group
tags (cluster-autoscaler discovery and scale-from-zero node templates); with an
alert channel, `alert-at-max` (an alert rule in the cluster's Amazon Managed
Service for Prometheus workspace: the pool at its maximum for 15 minutes).

Installed on demand (once per cluster, by the first cluster-mode endpoint that
needs an `alb` Ingress): the AWS Load Balancer Controller, as cluster children
`lb-controller-role`, `lb-controller-policy`, `lb-controller-identity` (EKS Pod
Identity) and `lb-controller` (its pinned Helm chart); see
`install_load_balancer_controller`.

Every node, system or GPU, is launched from a launch template that requires
IMDSv2 with a hop limit of 1 (pods cannot reach the node's instance role; they
use EKS Pod Identity or IRSA), encrypts its gp3 root volume, gets no public IP
and carries the cluster's tags plus its pool name on the instance, its volumes
and its network interfaces (EKS does not copy node group tags there, and cost
reports need them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml

from ..catalog.charts import AWS_LOAD_BALANCER_CONTROLLER, Chart
from ..catalog.gpus import MachineType, system_machine
from ..common import Environment
from ..common.aws_arn import managed_policy_arn, partition
from ..common.aws_iam import POD_IDENTITY_TRUST, trust_policy
from ..common.aws_kms import customer_key
from .args import POOL_LABEL, ClusterOutputs, GpuNodePoolArgs, KubernetesClusterArgs, Taint

if TYPE_CHECKING:
    from .cluster import KubernetesCluster

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
"""Every control-plane log type EKS offers: audit and authenticator logs are what incident response needs."""

EKS_TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE",
                     "NoExecute": "NO_EXECUTE"}
"""Kubernetes taint effect -> the EKS node group API's spelling."""

SYSTEM_ROOT_GIB = 50
"""Root volume of system nodes: add-on images only."""
GPU_ROOT_GIB = 200
"""Root volume of GPU nodes: CUDA/inference images run to tens of GiB, and image pulls need room twice."""

_NODE_POLICIES = {
    "worker": "AmazonEKSWorkerNodePolicy",
    "ecr": "AmazonEC2ContainerRegistryReadOnly",
    "cni": "AmazonEKS_CNI_Policy",
}


@dataclass(frozen=True)
class EksHandle:
    """What GPU pools need from the cluster they join."""

    cluster: aws.eks.Cluster
    cluster_name: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    subnet_ids: list[pulumi.Output[str]]
    region: str
    node_security_group_id: pulumi.Output[str | None]
    """The cluster security group EKS creates; every node joins it (control plane <-> node traffic)."""
    node_dependencies: list[pulumi.Resource]
    """The node role's policy attachments: node groups must be created after and deleted before them."""
    pod_identity_addon: aws.eks.Addon
    """The Pod Identity agent: `aws.eks.PodIdentityAssociation`s should depend on it."""
    oidc_provider: aws.iam.OpenIdConnectProvider
    """The IRSA OIDC provider (its `arn` and `url` go into IRSA role trust policies)."""


def eks_cluster_name(name: str) -> str:
    """`<stack>-<name>`: deterministic (the log group is named after it), at most 100 allowed characters."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{pulumi.get_stack()}-{name}")
    return stem.lstrip("-_")[:100].rstrip("-_")


def _service_role(parent: pulumi.Resource, name: str, env: Environment, service: str,
                  description: str) -> aws.iam.Role:
    return aws.iam.Role(
        name, description=description,
        assume_role_policy=trust_policy(service),
        opts=env.child(parent))


def _instance_tags(cluster: aws.eks.Cluster, cluster_name: pulumi.Input[str], pool: str) -> pulumi.Output[dict[str, str]]:
    """The cluster's tags (environment, cell, owner, cost-center...) plus the pool, for instances and volumes."""
    def merge(args: list[Any]) -> dict[str, str]:
        tags: Mapping[str, str] | None = args[0]
        return {**(tags or {}), "Name": f"{args[1]}-{pool}", POOL_LABEL: pool}
    return pulumi.Output.all(cluster.tags, cluster_name).apply(merge)


def _launch_template(parent: pulumi.Resource, name: str, env: Environment, region: str, *, root_gib: int,
                     security_group_id: pulumi.Output[str | None],
                     instance_tags: pulumi.Output[dict[str, str]]) -> aws.ec2.LaunchTemplate:
    """IMDSv2 only with hop limit 1, encrypted gp3 root volume, no public IP, tagged instances and volumes.

    The network interface lists the cluster security group explicitly: EKS adds it only when a
    template names no security groups, and a template's interface must carry its groups itself.
    """
    tagged = ("instance", "volume", "network-interface")
    return aws.ec2.LaunchTemplate(
        f"{name}-launch-template",
        description=f"Nodes of {name}",
        update_default_version=True,
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                          "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"},
        block_device_mappings=[{
            "device_name": "/dev/xvda",  # the root device of the AL2023 EKS AMIs
            "ebs": {"volume_size": root_gib, "volume_type": "gp3", "encrypted": "true",
                    "delete_on_termination": "true"},
        }],
        network_interfaces=[{
            "device_index": 0, "associate_public_ip_address": "false", "delete_on_termination": "true",
            "security_groups": security_group_id.apply(lambda sg: [sg] if sg else []),
        }],
        tag_specifications=[{"resource_type": kind, "tags": instance_tags} for kind in tagged],
        region=region,
        opts=env.child(parent))


def _kubeconfig(args: list[Any], region: str) -> str:
    endpoint, ca_data, cluster_name = args
    user = f"{cluster_name}-aws"
    return yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name,
                      "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
        "users": [{"name": user, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region],
            "interactiveMode": "Never",
        }}}],
    }, sort_keys=False)


def _oidc_issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity] | None) -> str:
    oidcs = identities[0].oidcs if identities else None
    return (oidcs[0].issuer or "") if oidcs else ""


def _eks_taint(taint: Taint) -> aws.eks.NodeGroupTaintArgsDict:
    """An EKS taint; `value` left unset, not null, when empty (nulls do not survive a transform)."""
    result: aws.eks.NodeGroupTaintArgsDict = {"key": taint.key, "effect": EKS_TAINT_EFFECTS[taint.effect]}
    if taint.value:
        result["value"] = taint.value
    return result


def build_cluster(parent: pulumi.Resource, name: str, args: KubernetesClusterArgs) -> ClusterOutputs:
    """An EKS cluster: private endpoint (dev may open it to listed CIDRs), secrets encrypted with a
    rotating KMS key, all control-plane logs kept 365 days in prod (30 elsewhere), API-only access
    entries, Pod Identity agent and an IRSA OIDC provider, and an on-demand system node group across
    the private subnets. Deletion protection in prod; cluster, key and log group are stateful."""
    options, env, region = args.options, args.environment, args.region
    system = system_machine("aws", args.options.system_pool.machine_type)  # the front door checked it
    cluster_name = eks_cluster_name(name)
    subnet_ids = args.network.private_subnet_ids
    cluster_role = _service_role(parent, f"{name}-cluster-role", env, "eks.amazonaws.com",
                                 f"EKS control plane of {cluster_name}")
    cluster_policy = aws.iam.RolePolicyAttachment(
        f"{name}-cluster-policy", role=cluster_role.name,
        policy_arn=managed_policy_arn(region, "AmazonEKSClusterPolicy"), opts=env.child(parent))
    node_role = _service_role(parent, f"{name}-node-role", env, "ec2.amazonaws.com",
                              f"Nodes of EKS cluster {cluster_name}")
    node_policies: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(f"{name}-node-policy-{role}", role=node_role.name,
                                     policy_arn=managed_policy_arn(region, policy), opts=env.child(parent))
        for role, policy in _NODE_POLICIES.items()]

    key_arn: pulumi.Input[str]
    key: aws.kms.Key | None = None
    if options.secrets_key_id is None:
        key = customer_key(f"{name}-secrets-key",
                           f"Envelope encryption of Kubernetes secrets of EKS cluster {cluster_name}", region,
                           env.child(parent, stateful=True))
        aws.kms.Alias(f"{name}-secrets-key-alias", name=f"alias/eks/{cluster_name}", target_key_id=key.key_id,
                      region=region, opts=env.child(parent))
        key_arn = key.arn
    else:
        key_arn = options.secrets_key_id

    # Created before the cluster so EKS does not create it itself with infinite retention.
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-log-group", name=f"/aws/eks/{cluster_name}/cluster",
        retention_in_days=env.log_retention_days, region=region,
        opts=env.child(parent, stateful=True))

    vpc_config: aws.eks.ClusterVpcConfigArgsDict = {
        "subnet_ids": subnet_ids,
        "endpoint_private_access": True,
        "endpoint_public_access": options.public_endpoint,
    }
    if options.public_endpoint:  # unset, not null, when private: nulls do not survive a transform
        vpc_config["public_access_cidrs"] = options.public_access_cidrs
    cluster = aws.eks.Cluster(
        f"{name}-eks",
        name=cluster_name,
        version=options.version,
        role_arn=cluster_role.arn,
        vpc_config=vpc_config,
        encryption_config={"resources": ["secrets"], "provider": {"key_arn": key_arn}},
        enabled_cluster_log_types=LOG_TYPES,
        access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
        deletion_protection=env.is_prod,
        region=region,
        opts=env.child(parent, stateful=True, depends_on=[log_group, cluster_policy]))
    stateful: list[pulumi.Resource] = [*([key] if key else []), cluster, log_group]

    node_sg = cluster.vpc_config.apply(lambda v: v.cluster_security_group_id)

    template = _launch_template(parent, f"{name}-system", env, region, root_gib=SYSTEM_ROOT_GIB,
                                security_group_id=node_sg,
                                instance_tags=_instance_tags(cluster, cluster.name, "system"))
    pool = options.system_pool
    system_nodes = aws.eks.NodeGroup(
        f"{name}-system-nodes",
        cluster_name=cluster.name,
        node_role_arn=node_role.arn,
        subnet_ids=subnet_ids,
        ami_type="AL2023_x86_64_STANDARD",
        capacity_type="ON_DEMAND",
        instance_types=[system.name],
        scaling_config={"min_size": pool.min_nodes, "max_size": pool.max_nodes, "desired_size": pool.min_nodes},
        update_config={"max_unavailable": 1},
        labels={POOL_LABEL: "system"},
        launch_template={"id": template.id, "version": template.latest_version.apply(str)},
        region=region,
        opts=env.child(parent, depends_on=node_policies, ignore_changes=["scalingConfig.desiredSize"]))

    # Workload identity: the Pod Identity agent (a DaemonSet, so after the first nodes) and IRSA's OIDC provider.
    pod_identity = aws.eks.Addon(
        f"{name}-pod-identity", cluster_name=cluster.name, addon_name="eks-pod-identity-agent",
        resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", region=region,
        opts=env.child(parent, depends_on=[system_nodes]))
    # NetworkPolicy enforcement: the VPC CNI ignores NetworkPolicy objects unless told to enforce them.
    aws.eks.Addon(
        f"{name}-vpc-cni", cluster_name=cluster.name, addon_name="vpc-cni",
        configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
        resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", region=region,
        opts=env.child(parent))
    issuer = cluster.identities.apply(_oidc_issuer)
    oidc = aws.iam.OpenIdConnectProvider(
        f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], opts=env.child(parent))
    handle = EksHandle(cluster=cluster, cluster_name=cluster.name, node_role_arn=node_role.arn,
                       subnet_ids=list(subnet_ids), region=region, node_security_group_id=node_sg,
                       node_dependencies=node_policies, pod_identity_addon=pod_identity, oidc_provider=oidc)

    ca_data = cluster.certificate_authority.apply(lambda ca: ca.data or "")
    kubeconfig = pulumi.Output.all(cluster.endpoint, ca_data, cluster.name).apply(
        lambda a: _kubeconfig(a, region))
    return ClusterOutputs(name=cluster.name, endpoint=cluster.endpoint, oidc_issuer=issuer,
                          kubeconfig=kubeconfig, handle=handle, stateful=stateful)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def autoscaler_tags(options_labels: Mapping[str, str], taints: Sequence[tuple[str, str, str]],
                    gpu_count: int, capacity_type: str) -> list[tuple[str, str, str]]:
    """(role, key, value) of the cluster-autoscaler node-template tags for a pool's ASG.

    With min 0 there is no node to look at, so the autoscaler reads labels, taints and
    resources of the node it would create from these tags (scale from zero).
    """
    prefix = "k8s.io/cluster-autoscaler/node-template"
    labels = {**options_labels, "eks.amazonaws.com/capacityType": capacity_type}
    tags = [(f"label-{_slug(k)}", f"{prefix}/label/{k}", v) for k, v in labels.items()]
    tags += [(f"taint-{_slug(k)}", f"{prefix}/taint/{k}", f"{v}:{effect}") for k, v, effect in taints]
    tags.append(("gpu", f"{prefix}/resources/nvidia.com/gpu", str(gpu_count)))
    return tags


def _asg_name(resources: Sequence[aws.eks.outputs.NodeGroupResource] | None) -> str:
    groups = resources[0].autoscaling_groups if resources else None
    return (groups[0].name or "") if groups else ""


def build_gpu_pool(parent: pulumi.Resource, name: str, args: GpuNodePoolArgs, machine: MachineType) -> pulumi.Output[str]:
    """A managed node group on the NVIDIA AL2023 AMI (drivers included; the device plugin comes from the
    front door), tainted and labelled for GPUs, scaling from `min_nodes` (0 allowed) to `max_nodes`.
    Its autoscaling group carries the cluster-autoscaler tags, so it can scale up from zero."""
    handle = args.cluster.handle
    if not isinstance(handle, EksHandle):
        raise TypeError(f"GpuNodePool {name!r} on AWS needs an EKS cluster, got handle {type(handle).__name__}")
    options, env, region = args.options, args.environment, handle.region
    capacity = "SPOT" if options.spot else "ON_DEMAND"
    labels = options.node_labels()
    taints = options.node_taints()

    template = _launch_template(parent, name, env, region, root_gib=GPU_ROOT_GIB,
                                security_group_id=handle.node_security_group_id,
                                instance_tags=_instance_tags(handle.cluster, handle.cluster_name, options.name))
    nodes = aws.eks.NodeGroup(
        f"{name}-nodes",
        cluster_name=handle.cluster_name,
        node_role_arn=handle.node_role_arn,
        subnet_ids=handle.subnet_ids,
        ami_type="AL2023_x86_64_NVIDIA",
        capacity_type=capacity,
        instance_types=[machine.name],
        scaling_config={"min_size": options.min_nodes, "max_size": options.max_nodes,
                        "desired_size": options.min_nodes},
        update_config={"max_unavailable": 1},
        labels=labels,
        taints=[_eks_taint(t) for t in taints],
        launch_template={"id": template.id, "version": template.latest_version.apply(str)},
        region=region,
        # The autoscaler owns the desired size once the pool exists; updates must not reset it.
        opts=env.child(parent, depends_on=handle.node_dependencies, ignore_changes=["scalingConfig.desiredSize"]))

    # EKS does not copy node group labels/taints to its autoscaling group (containers-roadmap #724).
    asg = nodes.resources.apply(_asg_name)
    tags: list[tuple[str, pulumi.Input[str], str]] = [
        ("enabled", "k8s.io/cluster-autoscaler/enabled", "true"),
        ("owner", handle.cluster_name.apply(lambda c: f"k8s.io/cluster-autoscaler/{c}"), "owned"),
    ]
    tags += autoscaler_tags(labels, [(t.key, t.value, t.effect) for t in taints], machine.gpu_count, capacity)
    seen: set[str] = set()
    for role, key, value in tags:
        unique = role if role not in seen else f"{role}-{len(seen)}"
        seen.add(unique)
        aws.autoscaling.Tag(
            f"{name}-ca-{unique}", autoscaling_group_name=asg,
            tag={"key": key, "value": value, "propagate_at_launch": False},
            region=region, opts=env.child(parent))
    _pool_at_max_alert(parent, name, args, handle)
    return nodes.node_group_name


POOL_AT_MAX_SECONDS = 900
"""How long a GPU pool may sit at its maximum node count before someone is told: 15 minutes."""


def _pool_at_max_alert(parent: pulumi.Resource, name: str, args: GpuNodePoolArgs, handle: EksHandle) -> None:
    """An alert rule in the cluster's managed Prometheus: the pool has had `max_nodes` nodes for 15 minutes.

    Not a CloudWatch alarm: EKS creates the pool's autoscaling group, and its group metrics
    (GroupInServiceInstances) exist only once metrics collection is enabled on the group, which no
    resource of the provider does for a group it does not own. The cluster's scraper counts the
    pool's nodes instead (metrics/aws.py, job `aiinfra-nodes`: `kubelet_node_name` by `pool`)."""
    if args.alerts is None:
        return
    from ..metrics.aws import pool_at_max_query
    from ..metrics.args import AlertRuleRequest
    assert args.metrics is not None  # the front door requires it with alerts (POOL_ALERT_NEEDS_METRICS)
    options = args.options
    expression = handle.cluster_name.apply(lambda c: pool_at_max_query(c, options.name, options.max_nodes))
    args.metrics.alert(AlertRuleRequest(
        parent=parent, name=f"{name}-alert-at-max",
        title=f"GPU pool {options.name} of {handle.region}: at its maximum of {options.max_nodes} nodes "
              f"for {POOL_AT_MAX_SECONDS // 60} minutes (demand it cannot meet)",
        expression=expression, for_seconds=POOL_AT_MAX_SECONDS, channel=args.alerts))


# --- AWS Load Balancer Controller ------------------------------------------------------------

LB_CONTROLLER_CHART: Chart = AWS_LOAD_BALANCER_CONTROLLER
"""The pinned chart (components/catalog/charts.py). Bump deliberately, together with LB_CONTROLLER_IAM_POLICY."""
LB_CONTROLLER_NAMESPACE = "kube-system"
LB_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
ALB_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
"""TLS 1.3 and 1.2 only: the controller's default for HTTPS listeners, and what serving Ingresses ask for."""

LB_CONTROLLER_IAM_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:GetCoipPoolUsage",
                "ec2:DescribeCoipPools",
                "ec2:GetSecurityGroupsForVpc",
                "ec2:DescribeIpamPools",
                "ec2:DescribeRouteTables",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeCapacityReservation",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "cognito-idp:DescribeUserPoolClient",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "iam:ListServerCertificates",
                "iam:GetServerCertificate",
                "waf-regional:GetWebACL",
                "waf-regional:GetWebACLForResource",
                "waf-regional:AssociateWebACL",
                "waf-regional:DisassociateWebACL",
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
                "shield:GetSubscriptionState",
                "shield:DescribeProtection",
                "shield:CreateProtection",
                "shield:DeleteProtection",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateSecurityGroup"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": "arn:aws:ec2:*:*:security-group/*",
            "Condition": {
                "StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"},
                "Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"},
            },
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
            "Resource": "arn:aws:ec2:*:*:security-group/*",
            "Condition": {
                "Null": {
                    "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                    "aws:ResourceTag/elbv2.k8s.aws/cluster": "false",
                },
            },
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ],
            "Resource": "*",
            "Condition": {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}},
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
            "Resource": "*",
            "Condition": {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}},
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": [
                "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
            ],
            "Condition": {
                "Null": {
                    "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                    "aws:ResourceTag/elbv2.k8s.aws/cluster": "false",
                },
            },
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": [
                "arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*",
                "arn:aws:elasticloadbalancing:*:*:listener/app/*/*/*",
                "arn:aws:elasticloadbalancing:*:*:listener-rule/net/*/*/*",
                "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*",
            ],
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:ModifyCapacityReservation",
                "elasticloadbalancing:ModifyIpPools",
            ],
            "Resource": "*",
            "Condition": {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}},
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags"],
            "Resource": [
                "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
            ],
            "Condition": {
                "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
                "Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"},
            },
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            "Resource": "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:SetWebAcl",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:SetRulePriorities",
            ],
            "Resource": "*",
        },
    ],
}
"""The controller's published IAM policy (docs/install/iam_policy.json of kubernetes-sigs/aws-load-balancer-controller
v2.14.x), unchanged: mutations are conditioned on the `elbv2.k8s.aws/cluster` tag the controller puts on what it
creates. Only the partition is rewritten outside the `aws` partition (upstream ships separate cn/us-gov copies)."""

def lb_controller_policy(region: str) -> str:
    """LB_CONTROLLER_IAM_POLICY as JSON, with ARNs in the region's partition."""
    text = json.dumps(LB_CONTROLLER_IAM_POLICY)
    part = partition(region)
    return text if part == "aws" else text.replace('"arn:aws:', f'"arn:{part}:')


@dataclass(frozen=True)
class LoadBalancerController:
    """The AWS Load Balancer Controller of one EKS cluster (IngressClass `alb`)."""

    release: k8s.helm.v3.Release
    role: aws.iam.Role
    association: aws.eks.PodIdentityAssociation
    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    """Primary IPv4 CIDR of the cluster's VPC: the addresses its ALBs (target type ip) reach pods from."""


_LB_CONTROLLERS: dict[int, tuple[EksHandle, LoadBalancerController]] = {}
"""One controller per cluster, keyed by the id of the cluster's EksHandle (kept alive here, so ids are not reused)."""


def install_load_balancer_controller(cluster: "KubernetesCluster", handle: EksHandle) -> LoadBalancerController:
    """The AWS Load Balancer Controller on `cluster`, installed the first time it is asked for.

    An IAM role with the controller's published policy bound to `kube-system/aws-load-balancer-controller`
    through EKS Pod Identity, and the pinned Helm chart through the cluster's provider. Region and VPC are
    given explicitly: nodes allow a single IMDS hop, so the controller could not discover them. The
    Service mutating webhook is off (serving uses ClusterIP Services only; with it on, every Service
    creation in the cluster fails while the controller is down). ALBs, target groups and security groups
    the controller creates carry the cluster's tags (`defaultTags`). Children of the cluster component.

    Every `alb` Ingress must depend on `release`: the chart's Ingress validating webhook fails closed,
    and only the running controller deletes an Ingress's ALB and finalizer (serving/aws.py `entry`).
    """
    found = _LB_CONTROLLERS.get(id(handle))
    if found is not None:
        return found[1]
    name = cluster.logical_name
    env, region = cluster.args.environment, handle.region
    role = aws.iam.Role(
        f"{name}-lb-controller-role",
        description=f"AWS Load Balancer Controller of EKS cluster {name}",
        assume_role_policy=POD_IDENTITY_TRUST,
        opts=env.child(cluster))
    policy = aws.iam.RolePolicy(f"{name}-lb-controller-policy", role=role.id, policy=lb_controller_policy(region),
                                opts=env.child(cluster))
    association = aws.eks.PodIdentityAssociation(
        f"{name}-lb-controller-identity",
        cluster_name=handle.cluster_name, namespace=LB_CONTROLLER_NAMESPACE,
        service_account=LB_CONTROLLER_SERVICE_ACCOUNT, role_arn=role.arn, region=region,
        opts=env.child(cluster, depends_on=[handle.pod_identity_addon, policy]))
    vpc_id = handle.cluster.vpc_config.apply(lambda v: v.vpc_id or "")
    vpc = aws.ec2.get_vpc_output(id=vpc_id, region=region, opts=pulumi.InvokeOutputOptions(parent=cluster))
    tags = handle.cluster.tags.apply(lambda t: dict(t or {}))
    release = k8s.helm.v3.Release(
        f"{name}-lb-controller",
        name="aws-load-balancer-controller",
        namespace=LB_CONTROLLER_NAMESPACE,
        chart=LB_CONTROLLER_CHART.name,
        version=LB_CONTROLLER_CHART.version,
        repository_opts={"repo": LB_CONTROLLER_CHART.repo},
        values={
            "clusterName": handle.cluster_name,
            "region": region,
            "vpcId": vpc_id,
            "serviceAccount": {"create": True, "name": LB_CONTROLLER_SERVICE_ACCOUNT},
            "replicaCount": 2,
            "podDisruptionBudget": {"maxUnavailable": 1},
            "nodeSelector": {POOL_LABEL: "system"},
            "enableServiceMutatorWebhook": False,
            "defaultSSLPolicy": ALB_SSL_POLICY,
            "defaultTags": tags,
        },
        atomic=True,
        cleanup_on_fail=True,
        max_history=10,
        timeout=600,
        opts=pulumi.ResourceOptions(parent=cluster, provider=cluster.provider, depends_on=[association]))
    controller = LoadBalancerController(release=release, role=role, association=association, vpc_id=vpc_id,
                                        vpc_cidr=vpc.cidr_block)
    _LB_CONTROLLERS[id(handle)] = (handle, controller)
    return controller
