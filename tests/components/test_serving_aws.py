"""ModelEndpoint on AWS (SageMaker managed endpoints; Pod Identity and ALB for cluster mode), from offline plans.

The shipped prod stack also holds Azure and GCP cells; these tests plan a scratch copy of the
program with only the AWS cell of the shipped prod and dev stacks (same environment, tags and
endpoints; no global traffic or backups), so they depend on the AWS implementation alone. A third, synthetic stack covers what
the shipped stacks do not use: two cluster-mode endpoints on one cluster, and a managed endpoint
on an explicit instance type without local storage, scaling on concurrency, with two replicas.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

import pytest
import yaml

from components.catalog.gpus import gpu_machines, offered_gpus
from components.catalog.charts import AWS_LOAD_BALANCER_CONTROLLER
from components.compute.aws import LB_CONTROLLER_IAM_POLICY, lb_controller_policy
from components.serving.args import ModelEndpointArgs
from components.serving.aws import (entry_problems, has_local_storage, key_statements, prefix_read_statements,
                                    scaling_marker_name)
from components.serving.aws_entry import access_log_policy
from components.serving.endpoint import argument_problems
from tests.components.entry_args import FakeZone, cluster_args
from tests.conftest import REPO, ScratchProject, ancestors, base_config, by_urn, every, of_type, plan_json

MODEL = "aws:sagemaker/model:Model"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
KEY = "aws:kms/key:Key"
RELEASE = "kubernetes:helm.sh/v3:Release"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PARAMETER = "aws:ssm/parameter:Parameter"
ENDPOINT_COMPONENT = "aiinfra:serving:ModelEndpoint"
CLUSTER_COMPONENT = "aiinfra:compute:KubernetesCluster"
REGION = "us-east-1"

VARIANT_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/embedder:1.2.3"


def _aws_only(stack: str) -> dict[str, Any]:
    """The shipped stack's environment, tags, zone, global traffic (when it has some), alert channel
    (prod requires one), image credentials and the secrets they name, and AWS cell (endpoints
    included); nothing else (backups and targets name other cells or have tests of their
    own). The global name then has one backend: the AWS cell."""
    shipped = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    config = {key: shipped[key] for key in ("aiinfra:environment", "aiinfra:tags", "aiinfra:dns", "aiinfra:traffic",
                                            "aiinfra:alerts", "aiinfra:images", "aiinfra:secrets")
              if key in shipped}
    config["aiinfra:cells"] = [{k: v for k, v in c.items() if k != "backup"}
                               for c in shipped["aiinfra:cells"] if c["cloud"] == "aws"]
    assert len(config["aiinfra:cells"]) == 1
    return config


def _variant_config() -> dict[str, Any]:
    config = _aws_only("dev")
    cell = config["aiinfra:cells"][0]
    chat = cell["endpoints"][0]
    cell["endpoints"] = [
        chat,
        {**chat, "name": "chat2", "hostname": "chat2.dev.models.example.com", "rate_limit_per_minute": 120,
         "model": {**chat["model"], "artifact_path": "models/chat-2/v1/"}},
        {"name": "embed", "mode": "managed",
         "model": {"artifact_path": "models/embed/v2/", "image": VARIANT_IMAGE, "port": 8080, "health_path": "/ping"},
         "accelerator": {"instance_type": "ml.p3.2xlarge"},
         "min_replicas": 2, "max_replicas": 4, "scaling": {"metric": "concurrency", "target": 4}},
    ]
    return config


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Plans of the AWS cells of the shipped prod and dev stacks, plus `variant`."""
    root = tmp_path_factory.mktemp("aws-serving")
    project = ScratchProject(root)
    for stack in ("dev", "prod"):
        project.write_stack(stack, _aws_only(stack))
    project.write_stack("variant", _variant_config())
    return {stack: plan_json(stack, project=root) for stack in ("dev", "prod", "variant")}


def _endpoint_component(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in of_type(plan, ENDPOINT_COMPONENT) if r["name"] == name]
    return found


def _under(plan: dict[str, Any], type_token: str, component: str) -> list[dict[str, Any]]:
    """Resources of a type whose ancestors include the named component."""
    return [r for r in of_type(plan, type_token) if any(a["name"] == component for a in ancestors(plan, r))]


def _one_under(plan: dict[str, Any], type_token: str, component: str) -> dict[str, Any]:
    found = _under(plan, type_token, component)
    assert len(found) == 1, (type_token, component, [r["name"] for r in found])
    return found[0]


def _named(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in plan["resources"] if r["name"] == name]
    return found


def _bucket_arn(plan: dict[str, Any]) -> str:
    [bucket] = [b for b in of_type(plan, "aws:s3/bucket:Bucket") if b["name"] == "aws-use1-store-bucket"]
    return f"arn:aws:s3:::{bucket['inputs']['bucket']}"


def _store_key_urn(plan: dict[str, Any]) -> str:
    [key] = [k for k in of_type(plan, KEY) if k["name"].endswith("-store-key")]
    return key["urn"]


def _statements(policy_text: str) -> list[dict[str, Any]]:
    doc = json.loads(policy_text)
    assert doc["Version"] == "2012-10-17"
    return doc["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_prefix_statements(statements: list[dict[str, Any]], bucket_arn: str, prefix: str) -> list[dict[str, Any]]:
    """Assert the S3 statements grant exactly: get under the prefix, list the prefix. Returns the others."""
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
    assert len(s3) == 2, s3
    by_action = {tuple(_as_list(s["Action"])): s for s in s3}
    get = by_action[("s3:GetObject",)]
    assert get["Effect"] == "Allow" and _as_list(get["Resource"]) == [f"{bucket_arn}/{prefix}*"]
    assert "Condition" not in get
    lst = by_action[("s3:ListBucket",)]
    assert _as_list(lst["Resource"]) == [bucket_arn]
    assert lst["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
    return [s for s in statements if s not in s3]


def _role_policies(plan: dict[str, Any], role: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in of_type(plan, ROLE_POLICY) if p["propertyDependencies"].get("role") == [role["urn"]]]


# --- SageMaker ------------------------------------------------------------------------------

def test_prod_embed_is_a_sagemaker_endpoint_on_the_catalog_machine(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    config = _one_under(plan, CONFIG, "aws-use1-embed")
    [variant] = config["inputs"]["productionVariants"]
    assert variant["variantName"] == "primary"
    assert variant["instanceType"] == "ml.g6.xlarge"  # catalog l4 x1 -> g6.xlarge
    assert variant["initialInstanceCount"] == 1
    assert variant["containerStartupHealthCheckTimeoutInSeconds"] >= 300
    assert variant["modelDataDownloadTimeoutInSeconds"] >= 600
    model = _one_under(plan, MODEL, "aws-use1-embed")
    assert variant["modelName"] == "<unknown>"
    assert config["propertyDependencies"]["productionVariants"] == [model["urn"]]
    container = model["inputs"]["primaryContainer"]
    assert container["image"].startswith("763104351884.dkr.ecr.us-east-1.amazonaws.com/")
    [source] = container["modelDataSource"]["s3DataSources"]
    bucket = _bucket_arn(plan).removeprefix("arn:aws:s3:::")
    assert source == {"s3Uri": f"s3://{bucket}/models/embed-small/v1/", "s3DataType": "S3Prefix",
                      "compressionType": "None"}
    assert container["environment"]["PORT"] == "8080"
    assert model["inputs"]["enableNetworkIsolation"] is True
    # Only these cluster-mode resources are for chat; the SageMaker ones are the embed endpoint's.
    assert not _under(plan, MODEL, "aws-use1-chat")


def test_model_and_endpoint_config_are_auto_named_and_the_endpoint_is_not(plans: dict[str, Any]) -> None:
    for stack in ("prod", "variant"):
        plan = plans[stack]
        for type_token in (MODEL, CONFIG):
            for r in every(plan, type_token):
                assert "name" not in r["inputs"] and "namePrefix" not in r["inputs"], r["urn"]
        for endpoint in every(plan, ENDPOINT):
            config = _one_under(plan, CONFIG, endpoint["parent"].rsplit("::", 1)[-1])
            assert endpoint["propertyDependencies"]["endpointConfigName"] == [config["urn"]]
            # A fixed, stack-unique name: its URL and alarms need it before the endpoint exists.
            assert re.fullmatch(rf"{stack}-aws-use1-embed-[0-9a-f]{{6}}", endpoint["inputs"]["name"]), endpoint["inputs"]


def test_autoscaling_target_and_target_tracking_policy(plans: dict[str, Any]) -> None:
    cases = {"prod": (1, 3, "SageMakerVariantInvocationsPerInstance", 600),
             "variant": (2, 4, "SageMakerVariantConcurrentRequestsPerModelHighResolution", 4)}
    for stack, (low, high, metric, target_value) in cases.items():
        plan = plans[stack]
        endpoint = _one_under(plan, ENDPOINT, "aws-use1-embed")
        target = _one_under(plan, TARGET, "aws-use1-embed")
        inputs = target["inputs"]
        assert inputs["serviceNamespace"] == "sagemaker"
        assert inputs["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
        assert inputs["resourceId"] == f"endpoint/{endpoint['inputs']['name']}/variant/primary"
        # Created after the endpoint, and replaced with the instance-type marker: a change of instance type
        # deregisters the target before the endpoint's update (SageMaker refuses it for a scaling target).
        marker = _one_under(plan, PARAMETER, "aws-use1-embed")
        assert set(target["propertyDependencies"]["resourceId"]) == {endpoint["urn"], marker["urn"]}
        [variant] = _one_under(plan, CONFIG, "aws-use1-embed")["inputs"]["productionVariants"]
        assert marker["inputs"]["name"] == scaling_marker_name(endpoint["inputs"]["name"], variant["instanceType"])
        assert marker["options"]["deleteBeforeReplace"] is True
        assert marker["urn"] in endpoint["dependencies"]
        assert (inputs["minCapacity"], inputs["maxCapacity"]) == (low, high)
        policy = _one_under(plan, POLICY, "aws-use1-embed")
        p = policy["inputs"]
        assert p["policyType"] == "TargetTrackingScaling"
        assert (p["serviceNamespace"], p["scalableDimension"], p["resourceId"]) == (
            inputs["serviceNamespace"], inputs["scalableDimension"], inputs["resourceId"])
        tracking = p["targetTrackingScalingPolicyConfiguration"]
        assert tracking["predefinedMetricSpecification"] == {"predefinedMetricType": metric}
        assert tracking["targetValue"] == target_value
        assert tracking["scaleInCooldown"] > tracking["scaleOutCooldown"] > 0


def test_blue_green_updates_roll_back_on_the_endpoints_alarms(plans: dict[str, Any]) -> None:
    for stack, routing in (("prod", "ALL_AT_ONCE"), ("variant", "CANARY")):
        plan = plans[stack]
        endpoint = _one_under(plan, ENDPOINT, "aws-use1-embed")
        name = endpoint["inputs"]["name"]
        deployment = endpoint["inputs"]["deploymentConfig"]
        blue_green = deployment["blueGreenUpdatePolicy"]
        traffic = blue_green["trafficRoutingConfiguration"]
        assert traffic["type"] == routing and traffic["waitIntervalInSeconds"] > 0
        if routing == "CANARY":
            assert traffic["canarySize"] == {"type": "INSTANCE_COUNT", "value": 1}
        assert blue_green["terminationWaitInSeconds"] > 0
        assert "rollingUpdatePolicy" not in deployment
        alarms = _under(plan, ALARM, "aws-use1-embed")
        assert {a["inputs"]["metricName"] for a in alarms} == {"Invocation5XXErrors", "ModelLatency"}
        rollback = {a["alarmName"] for a in deployment["autoRollbackConfiguration"]["alarms"]}
        assert rollback == {a["inputs"]["name"] for a in alarms}
        assert sorted(endpoint["propertyDependencies"]["deploymentConfig"]) == sorted(a["urn"] for a in alarms)
        for alarm in alarms:
            assert alarm["inputs"]["namespace"] == "AWS/SageMaker"
            assert alarm["inputs"]["dimensions"] == {"EndpointName": name, "VariantName": "primary"}
            assert alarm["inputs"]["region"] == REGION


def test_endpoint_volume_key_only_where_sagemaker_accepts_one(plans: dict[str, Any]) -> None:
    # prod: ml.g6.xlarge has local NVMe storage; SageMaker rejects a KMS key for it.
    prod = plans["prod"]
    config = _one_under(prod, CONFIG, "aws-use1-embed")
    assert config["inputs"].get("kmsKeyArn") is None
    assert not _under(prod, KEY, "aws-use1-embed")
    # variant: ml.p3.2xlarge is EBS-only: a created, rotating key encrypts its volume.
    plan = plans["variant"]
    config = _one_under(plan, CONFIG, "aws-use1-embed")
    key = _one_under(plan, KEY, "aws-use1-embed")
    assert key["inputs"]["enableKeyRotation"] is True
    assert config["propertyDependencies"]["kmsKeyArn"] == [key["urn"]]
    assert config["inputs"]["kmsKeyArn"] == "<unknown>"


@pytest.mark.parametrize("gpu", offered_gpus("aws"))
def test_every_catalog_gpu_machine_has_local_storage(gpu: str) -> None:
    for machine in gpu_machines("aws", gpu):
        assert has_local_storage(f"ml.{machine.name}"), machine.name


@pytest.mark.parametrize("instance_type,local", [
    ("ml.p3.2xlarge", False), ("ml.m5.xlarge", False), ("ml.inf2.xlarge", False), ("ml.c7i.large", False),
    ("ml.m5d.large", True), ("ml.g4dn.xlarge", True), ("ml.p4de.24xlarge", True), ("ml.g6e.xlarge", True),
])
def test_local_storage_rule(instance_type: str, local: bool) -> None:
    assert has_local_storage(instance_type) is local


def test_execution_role_reads_only_the_prefix_and_the_store_key(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    role = _one_under(plan, ROLE, "aws-use1-embed")
    [trust] = _statements(role["inputs"]["assumeRolePolicy"])
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    model = _one_under(plan, MODEL, "aws-use1-embed")
    assert model["propertyDependencies"]["executionRoleArn"] == [role["urn"]]
    assert not [a for a in of_type(plan, ATTACHMENT) if a["propertyDependencies"].get("role") == [role["urn"]]]
    policies = {p["name"].removeprefix("aws-use1-embed-"): p for p in _role_policies(plan, role)}
    assert set(policies) == {"read-policy", "key-policy"}

    endpoint_name = _one_under(plan, ENDPOINT, "aws-use1-embed")["inputs"]["name"]
    rest = _check_prefix_statements(_statements(policies["read-policy"]["inputs"]["policy"]), _bucket_arn(plan),
                                    "models/embed-small/v1/")
    actions = {a: _as_list(s["Resource"]) for s in rest for a in _as_list(s["Action"])}
    # Container metrics: PutMetricData takes no resource, so only into SageMaker's own namespaces.
    [metrics] = [s for s in rest if "cloudwatch:PutMetricData" in _as_list(s["Action"])]
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}}
    assert all("Condition" not in s for s in rest if s is not metrics)
    group = f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/sagemaker/Endpoints/{endpoint_name}"
    repository = f"arn:aws:ecr:{REGION}:763104351884:repository/huggingface-pytorch-tgi-inference"
    assert actions == {
        "ecr:GetAuthorizationToken": ["*"],
        "ecr:BatchGetImage": [repository], "ecr:GetDownloadUrlForLayer": [repository],
        "ecr:BatchCheckLayerAvailability": [repository],
        "logs:CreateLogGroup": [group, f"{group}:*"], "logs:CreateLogStream": [group, f"{group}:*"],
        "logs:PutLogEvents": [group, f"{group}:*"], "logs:DescribeLogStreams": [group, f"{group}:*"],
        "cloudwatch:PutMetricData": ["*"],
    }
    assert all(s["Effect"] == "Allow" for s in rest)
    # The key policy is computed from the store's key alone (its ARN is unknown until the key exists).
    assert policies["key-policy"]["propertyDependencies"]["policy"] == [_store_key_urn(plan)]
    [log_group] = [g for g in _under(plan, "aws:cloudwatch/logGroup:LogGroup", "aws-use1-embed")]
    assert log_group["inputs"]["name"] == f"/aws/sagemaker/Endpoints/{endpoint_name}"
    assert log_group["inputs"]["retentionInDays"] == 365 and log_group["options"]["protect"]


def test_key_statement_is_decrypt_through_s3_only() -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:key/abc"
    assert key_statements(arn, "us-east-1") == [{
        "Sid": "DecryptModelObjects", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [arn],
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]
    rest = _check_prefix_statements(prefix_read_statements("arn:aws:s3:::b", "m/v1/"), "arn:aws:s3:::b", "m/v1/")
    assert rest == []


def test_managed_endpoint_outputs_the_sigv4_runtime_url(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    name = _one_under(plan, ENDPOINT, "aws-use1-embed")["inputs"]["name"]
    out = _endpoint_component(plan, "aws-use1-embed")["outputs"]
    url = f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/{name}/invocations"
    assert out["mode"] == "managed" and out["url"] == url and out["health_url"] == url
    assert out.get("entry_hostname") is None  # None outputs are left out of the plan


def test_every_sagemaker_resource_is_regional_and_uses_the_cells_provider(plans: dict[str, Any]) -> None:
    for stack in ("prod", "variant"):
        plan = plans[stack]
        component = _endpoint_component(plan, "aws-use1-embed")
        children = [r for r in plan["resources"] if r["parent"] == component["urn"]]
        assert len(children) >= 11
        for r in children:
            assert r["name"].startswith("aws-use1-embed-"), r["name"]
            assert r["provider"].endswith("::aws-use1-aws"), r["urn"]
            if not r["type"].startswith("aws:iam/"):
                assert r["inputs"]["region"] == REGION, r["urn"]


@pytest.mark.parametrize("model,fragments", [
    ({"artifact_path": "m/", "image": "docker.io/vllm/vllm-openai:v0.11.0", "port": 8000, "health_path": "/health"},
     ["aiinfra:cells[0].endpoints[0].model.image: got 'docker.io/vllm/vllm-openai:v0.11.0'", "ECR image",
      "aiinfra:cells[0].endpoints[0].model.port: got 8000", "8080",
      "aiinfra:cells[0].endpoints[0].model.health_path: got '/health'", "/ping", "(3 problems)"]),
    ({"artifact_path": "m/", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/server:1", "port": 8080,
      "health_path": "/ping"},
     ["aiinfra:cells[0].endpoints[0].model.image", "endpoint's region 'us-east-1'"]),
])
def test_bad_sagemaker_inputs_are_reported_with_their_paths(scratch: ScratchProject, model: dict[str, Any],
                                                            fragments: list[str]) -> None:
    endpoint = {"name": "embed", "mode": "managed", "model": model, "accelerator": {"gpu": "l4"}}
    cell = {"name": "aws-use1", "cloud": "aws", "region": REGION, "endpoints": [endpoint]}
    scratch.write_stack("dev", base_config(**{"aiinfra:cells": [cell]}))
    proc = scratch.plan("dev")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2
    for fragment in fragments:
        assert fragment in output, (fragment, output)
    assert "Traceback" not in output
    assert "0 resources were registered before the error" in output


# --- cluster mode ---------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pods_get_a_pod_identity_role_reading_only_the_prefix(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    association = _one_under(plan, ASSOCIATION, "aws-use1-chat")
    role = _one_under(plan, ROLE, "aws-use1-chat")
    [cluster] = of_type(plan, "aws:eks/cluster:Cluster")
    [addon] = [a for a in of_type(plan, "aws:eks/addon:Addon") if a["inputs"]["addonName"] == "eks-pod-identity-agent"]
    inputs = association["inputs"]
    assert (inputs["namespace"], inputs["serviceAccount"]) == ("serve-chat", "chat")
    assert inputs["clusterName"] == cluster["inputs"]["name"] and inputs["region"] == REGION
    assert association["propertyDependencies"]["roleArn"] == [role["urn"]]
    assert addon["urn"] in association["dependencies"]
    [trust] = _statements(role["inputs"]["assumeRolePolicy"])
    assert trust == {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                     "Action": ["sts:AssumeRole", "sts:TagSession"]}
    policies = {p["name"].removeprefix("aws-use1-chat-"): p for p in _role_policies(plan, role)}
    assert set(policies) == {"pod-read-policy", "pod-key-policy"}
    assert _check_prefix_statements(_statements(policies["pod-read-policy"]["inputs"]["policy"]),
                                    _bucket_arn(plan), "models/chat-7b/v3/") == []
    assert policies["pod-key-policy"]["propertyDependencies"]["policy"] == [_store_key_urn(plan)]
    # The association waits for both grants, and the Deployment for the association.
    assert {p["urn"] for p in policies.values()} <= set(association["dependencies"])
    [deployment] = _under(plan, "kubernetes:apps/v1:Deployment", "aws-use1-chat")
    assert association["urn"] in deployment["dependencies"]
    [sa] = _under(plan, "kubernetes:core/v1:ServiceAccount", "aws-use1-chat")
    assert set(sa["inputs"]["metadata"]["annotations"]) == {"aiinfra.io/pod-identity-role"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_ingress_is_an_internet_facing_https_only_alb(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    ingress = _one_under(plan, INGRESS, "aws-use1-chat")
    spec, annotations = ingress["inputs"]["spec"], ingress["inputs"]["metadata"]["annotations"]
    assert spec["ingressClassName"] == "alb"
    a = {k.removeprefix("alb.ingress.kubernetes.io/"): v for k, v in annotations.items()}
    assert set(annotations) == {f"alb.ingress.kubernetes.io/{k}" for k in a}
    assert a["scheme"] == "internet-facing" and a["target-type"] == "ip"
    assert json.loads(a["listen-ports"]) == [{"HTTPS": 443}]
    assert a["ssl-policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert (a["healthcheck-path"], a["healthcheck-protocol"], a["success-codes"]) == ("/health", "HTTP", "200")
    assert a["backend-protocol"] == "HTTP"
    assert "ssl-redirect" not in a  # no HTTP listener at all
    # Every name the entry serves, routed and under TLS (the certificate comes from certificate-arn).
    hosts = _hostnames(stack)
    assert [r["host"] for r in spec["rules"]] == hosts and spec["tls"] == [{"hosts": hosts}]
    service = _one_under(plan, "kubernetes:core/v1:Service", "aws-use1-chat")
    assert not service["inputs"]["metadata"].get("annotations")


# --- the entry: certificate, logs, WAF, ordering, static address ------------------------------

GLOBAL_NAMES = {"dev": [], "prod": ["chat.models.example.com"]}
CELL_NAMES = {"dev": "aws-use1.dev.models.example.com", "prod": "aws-use1.models.example.com"}
ALB = "alb.ingress.kubernetes.io"


def _hostnames(stack: str) -> list[str]:
    return [CELL_NAMES[stack], *GLOBAL_NAMES[stack]]


def _annotation(ingress: dict[str, Any], key: str) -> Any:
    return ingress["inputs"]["metadata"]["annotations"][f"{ALB}/{key}"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_certificate_covers_the_cell_and_global_names_and_is_validated_in_the_zone(plans: dict[str, Any],
                                                                                  stack: str) -> None:
    plan = plans[stack]
    cert = _one_under(plan, "aws:acm/certificate:Certificate", "aws-use1-chat")
    inputs = cert["inputs"]
    assert inputs["domainName"] == CELL_NAMES[stack] and inputs["validationMethod"] == "DNS"
    assert inputs.get("subjectAlternativeNames", []) == GLOBAL_NAMES[stack]
    assert inputs["region"] == REGION
    # One CNAME per name, in the environment's zone, from the certificate's validation options; only the
    # global names (shared by the account's AWS cells) overwrite an existing record.
    [zone] = of_type(plan, "aws:route53/zone:Zone")
    records = [r for r in _under(plan, "aws:route53/record:Record", "aws-use1-chat") if "-validation-" in r["name"]]
    assert sorted(r["name"] for r in records) == sorted(
        f"aws-use1-chat-validation-{h.replace('.', '-')}" for h in _hostnames(stack))
    for record in records:
        i = record["inputs"]
        assert i["type"] == "CNAME" and i["name"] == "<unknown>" and i["records"] == ["<unknown>"]
        assert record["propertyDependencies"]["name"] == [cert["urn"]]
        assert record["propertyDependencies"]["records"] == [cert["urn"]]
        assert record["propertyDependencies"]["zoneId"] == [zone["urn"]]
        is_global = record["name"] != f"aws-use1-chat-validation-{CELL_NAMES[stack].replace('.', '-')}"
        assert i.get("allowOverwrite", False) is is_global, record["name"]
    validation = _one_under(plan, "aws:acm/certificateValidation:CertificateValidation", "aws-use1-chat")
    assert validation["propertyDependencies"]["certificateArn"] == [cert["urn"]]
    assert {r["urn"] for r in records} <= set(validation["dependencies"])
    # The ALB references only the validated (ISSUED) certificate.
    ingress = _one_under(plan, INGRESS, "aws-use1-chat")
    assert _annotation(ingress, "certificate-arn") == "<unknown>"
    assert validation["urn"] in ingress["propertyDependencies"]["metadata"]
    assert cert["urn"] not in ingress["propertyDependencies"]["metadata"]


@pytest.mark.parametrize("stack", ["dev", "prod", "variant"])
def test_ingress_is_created_after_and_deleted_before_the_controller(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    [release] = _releases(plan)
    for ingress in of_type(plan, INGRESS):
        assert release["urn"] in ingress["dependencies"], ingress["name"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_access_logs_go_to_an_sse_s3_bucket_elb_may_write_to(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    [bucket] = [b for b in of_type(plan, "aws:s3/bucket:Bucket") if b["name"] == "aws-use1-chat-access-logs"]
    name = bucket["inputs"]["bucket"]
    assert re.fullmatch(rf"{stack}-aws-use1-chat-access-logs-[0-9a-f]{{6}}", name)
    assert bucket["inputs"]["region"] == REGION
    prod = stack == "prod"
    assert bool(bucket["options"]["protect"]) is prod and bool(bucket["options"]["retainOnDelete"]) is prod
    assert bucket["inputs"]["forceDestroy"] is not prod

    def companion(type_token: str) -> dict[str, Any]:
        [found] = [r for r in of_type(plan, type_token) if r["propertyDependencies"].get("bucket") == [bucket["urn"]]]
        return found

    sse = companion("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    [rule] = sse["inputs"]["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}  # ALB logs: SSE-S3 only
    block = companion("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["inputs"]
    assert all(block[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    assert companion("aws:s3/bucketOwnershipControls:BucketOwnershipControls")["inputs"]["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"}
    assert companion("aws:s3/bucketVersioning:BucketVersioning")["inputs"]["versioningConfiguration"] == {
        "status": "Enabled"}
    rules = {r["id"]: r for r in companion(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["inputs"]["rules"]}
    assert rules["expire-logs"]["expiration"] == {"days": 365 if prod else 30}
    policy = companion("aws:s3/bucketPolicy:BucketPolicy")
    statements = {s["Sid"]: s for s in _statements(policy["inputs"]["policy"])}
    logs = f"arn:aws:s3:::{name}/alb/AWSLogs/123456789012/*"  # the account preflight answers offline
    assert statements["ElbLogDeliveryAccount"]["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}
    assert statements["ElbLogDeliveryService"]["Principal"] == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    for sid in ("ElbLogDeliveryAccount", "ElbLogDeliveryService"):
        s = statements[sid]
        assert (s["Effect"], s["Action"], s["Resource"]) == ("Allow", "s3:PutObject", logs)
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # The ALB logs there, and the Ingress waits for the policy (ELB checks it when logging is switched on).
    ingress = _one_under(plan, INGRESS, "aws-use1-chat")
    attributes = dict(kv.split("=", 1) for kv in _annotation(ingress, "load-balancer-attributes").split(","))
    assert attributes["access_logs.s3.enabled"] == "true" and attributes["access_logs.s3.bucket"] == name
    assert attributes["access_logs.s3.prefix"] == "alb"
    assert attributes["idle_timeout.timeout_seconds"] == "300"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert policy["urn"] in ingress["propertyDependencies"]["metadata"]


@pytest.mark.parametrize("stack,endpoint,limit", [("prod", "aws-use1-chat", 600), ("variant", "aws-use1-chat2", 120)])
def test_waf_limits_each_client_ip_and_counts_the_common_rule_set(plans: dict[str, Any], stack: str, endpoint: str,
                                                                   limit: int) -> None:
    plan = plans[stack]
    acl = _one_under(plan, "aws:wafv2/webAcl:WebAcl", endpoint)
    inputs = acl["inputs"]
    assert (inputs["scope"], inputs["region"], inputs["defaultAction"]) == ("REGIONAL", REGION, {"allow": {}})
    rules = {r["name"]: r for r in inputs["rules"]}
    rate = rules["rate-limit-per-client-ip"]
    assert rate["statement"]["rateBasedStatement"] == {"limit": limit, "aggregateKeyType": "IP",
                                                       "evaluationWindowSec": 60}
    assert rate["action"] == {"block": {"customResponse": {"responseCode": 429}}}
    common = rules["aws-common-rule-set"]
    assert common["statement"]["managedRuleGroupStatement"] == {"vendorName": "AWS",
                                                                "name": "AWSManagedRulesCommonRuleSet"}
    assert common["overrideAction"] == {"count": {}}
    assert rate["priority"] < common["priority"]
    ingress = _one_under(plan, INGRESS, endpoint)
    assert _annotation(ingress, "wafv2-acl-arn") == "<unknown>"
    assert acl["urn"] in ingress["propertyDependencies"]["metadata"]


def test_controller_may_associate_the_web_acl() -> None:
    granted = {a for s in LB_CONTROLLER_IAM_POLICY["Statement"] for a in _as_list(s["Action"])
               if s["Effect"] == "Allow" and "Condition" not in s}
    assert {"wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
            "elasticloadbalancing:SetWebAcl"} <= granted


@pytest.mark.parametrize("stack", ["dev", "prod", "variant"])
def test_a_global_accelerator_gives_the_entry_static_addresses(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    endpoints = ["aws-use1-chat", "aws-use1-chat2"] if stack == "variant" else ["aws-use1-chat"]
    lb_names = set()
    for endpoint in endpoints:
        ingress = _one_under(plan, INGRESS, endpoint)
        lb_name = _annotation(ingress, "load-balancer-name")
        assert re.fullmatch(r"[a-z0-9-]{1,32}", lb_name) and not lb_name.startswith("internal-")
        lb_names.add(lb_name)
        accelerator = _one_under(plan, "aws:globalaccelerator/accelerator:Accelerator", endpoint)
        assert accelerator["inputs"]["ipAddressType"] == "IPV4" and accelerator["inputs"]["enabled"] is True
        listener = _one_under(plan, "aws:globalaccelerator/listener:Listener", endpoint)
        assert listener["propertyDependencies"]["acceleratorArn"] == [accelerator["urn"]]
        assert listener["inputs"]["protocol"] == "TCP"
        assert listener["inputs"]["portRanges"] == [{"fromPort": 443, "toPort": 443}]
        group = _one_under(plan, "aws:globalaccelerator/endpointGroup:EndpointGroup", endpoint)
        assert group["inputs"]["endpointGroupRegion"] == REGION
        assert group["propertyDependencies"]["listenerArn"] == [listener["urn"]]
        [config] = group["inputs"]["endpointConfigurations"]
        # The ALB the Ingress makes, found by its name once the Ingress exists; client IPs preserved so
        # the WAF rate limit sees clients, not the accelerator.
        assert config["endpointId"] == "<unknown>" and config["clientIpPreservationEnabled"] is True
        assert group["propertyDependencies"]["endpointConfigurations"] == [ingress["urn"]]
        assert ingress["urn"] in group["dependencies"]
        # The cell's name: an A record to the accelerator's static address, which the endpoint exports.
        [record] = [r for r in _under(plan, "aws:route53/record:Record", endpoint) if r["name"].endswith("-entry-record")]
        assert record["inputs"]["type"] == "A" and record["inputs"]["ttl"] == 60
        assert record["propertyDependencies"]["records"] == [accelerator["urn"]]
        assert _endpoint_component(plan, endpoint)["outputs"]["entry_ip"] == "<unknown>"
    assert len(lb_names) == len(endpoints)  # ALB names are unique per account and region


def test_global_health_check_probes_the_accelerator_with_the_global_name(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    accelerator = _one_under(plan, "aws:globalaccelerator/accelerator:Accelerator", "aws-use1-chat")
    [check] = [c for c in of_type(plan, "aws:route53/healthCheck:HealthCheck") if c["name"] == "global-check-aws-use1"]
    assert check["inputs"]["fqdn"] == "chat.models.example.com"  # Host and SNI: the global name
    assert check["inputs"]["ipAddress"] == "<unknown>"
    assert check["propertyDependencies"]["ipAddress"] == [accelerator["urn"]]
    assert check["inputs"]["type"] == "HTTPS" and check["inputs"]["enableSni"] is True
    [answer] = [r for r in of_type(plan, "aws:route53/record:Record") if r["name"] == "global-record-aws-use1"]
    assert answer["inputs"]["type"] == "A" and answer["propertyDependencies"]["records"] == [accelerator["urn"]]


def _cluster_args(**changes: Any) -> ModelEndpointArgs:
    return cluster_args("aws", "aws-use1.models.example.com", **changes)


def test_an_aws_cluster_entry_without_a_zone_is_refused_naming_the_argument() -> None:
    [problem] = entry_problems(_cluster_args())
    assert problem.path == "ModelEndpointArgs.dns_zone" and problem.missing and "ACM" in problem.allowed
    # The front door reports it with everything else, before registering anything.
    assert problem in argument_problems(_cluster_args())
    zone = cast(Any, FakeZone())
    assert entry_problems(_cluster_args(dns_zone=zone, global_hostnames=("chat.models.example.com",))) == []
    [outside] = entry_problems(_cluster_args(dns_zone=zone, global_hostnames=("chat.example.org",)))
    assert (outside.path, outside.received) == ("ModelEndpointArgs.global_hostnames", "chat.example.org")
    many = tuple(f"n{i}.models.example.com" for i in range(10))
    [too_many] = entry_problems(_cluster_args(dns_zone=zone, global_hostnames=many))
    assert "10 names per certificate" in too_many.allowed
    managed = _cluster_args().options.model_copy(update={"mode": "managed"})
    assert entry_problems(_cluster_args(options=managed)) == []


def test_access_log_policy_uses_the_regions_elb_account_or_the_service() -> None:
    old = {s["Sid"]: s for s in json.loads(access_log_policy("b", "eu-west-1", "111122223333"))["Statement"]}
    assert old["ElbLogDeliveryAccount"]["Principal"] == {"AWS": "arn:aws:iam::156460612806:root"}
    assert old["ElbLogDeliveryAccount"]["Resource"] == "arn:aws:s3:::b/alb/AWSLogs/111122223333/*"
    new = {s["Sid"]: s for s in json.loads(access_log_policy("b", "ap-southeast-5", "111122223333"))["Statement"]}
    assert "ElbLogDeliveryAccount" not in new
    assert new["ElbLogDeliveryService"]["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_network_policy_admits_only_the_vpc(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    policy = _one_under(plan, NETPOL, "aws-use1-chat")
    entry, scraper = policy["inputs"]["spec"]["ingress"]
    # The entry's path: one peer, an ipBlock of the VPC's CIDR (looked up from the cluster's VPC, so unknown
    # offline).
    assert entry["from"] == [{"ipBlock": {"cidr": "<unknown>"}}]
    assert entry["ports"] == [{"protocol": "TCP", "port": 8000}]
    # The metrics scraper: the CIDR of each subnet its ENIs are in (the cell's private subnets, looked up,
    # so unknown offline), on the same port (it serves /metrics); nothing else.
    [amp_scraper] = of_type(plan, "aws:amp/scraper:Scraper")
    private = [r["urn"] for r in of_type(plan, "aws:ec2/subnet:Subnet") if "-private-" in r["name"]]
    subnet_ids = amp_scraper["inputs"]["source"]["eks"]["subnetIds"]
    assert len(subnet_ids) == len(private) >= 2
    assert set(private) <= set(amp_scraper["propertyDependencies"]["source"])
    assert scraper["from"] == [{"ipBlock": {"cidr": "<unknown>"}}] * len(subnet_ids)
    assert scraper["ports"] == entry["ports"]


def _releases(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The load balancer controller's Helm releases (the cell's metrics add KEDA and the DCGM exporter)."""
    return [r for r in of_type(plan, RELEASE) if r["inputs"]["chart"] == AWS_LOAD_BALANCER_CONTROLLER.name]


@pytest.mark.parametrize("stack", ["dev", "prod", "variant"])
def test_load_balancer_controller_is_installed_once_per_cluster_and_pinned(plans: dict[str, Any],
                                                                           stack: str) -> None:
    plan = plans[stack]
    index = by_urn(plan)
    assert len(of_type(plan, INGRESS)) == (2 if stack == "variant" else 1)
    [release] = _releases(plan)
    [cluster_component] = of_type(plan, CLUSTER_COMPONENT)
    [cluster] = of_type(plan, "aws:eks/cluster:Cluster")
    [k8s_provider] = [r for r in plan["resources"] if r["type"] == "pulumi:providers:kubernetes"]
    assert release["parent"] == cluster_component["urn"] and release["provider"] == k8s_provider["urn"]
    inputs = release["inputs"]
    assert inputs["chart"] == "aws-load-balancer-controller"
    assert inputs["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", inputs["version"]) and inputs["version"] == AWS_LOAD_BALANCER_CONTROLLER.version
    assert (inputs["name"], inputs["namespace"]) == ("aws-load-balancer-controller", "kube-system")
    values = inputs["values"]
    assert values["clusterName"] == cluster["inputs"]["name"] and values["region"] == REGION
    assert "vpcId" in values  # from the cluster's VPC config: nodes allow pods no IMDS hop to discover it
    assert values["serviceAccount"] == {"create": True, "name": "aws-load-balancer-controller"}
    assert values["enableServiceMutatorWebhook"] is False
    assert values["defaultTags"]["cost-center"] == "cc-1234" and values["defaultTags"]["cell"] == "aws-use1"
    # Its identity: kube-system/aws-load-balancer-controller through Pod Identity, created first.
    [association] = [a for a in of_type(plan, ASSOCIATION) if a["parent"] == cluster_component["urn"]]
    assert (association["inputs"]["namespace"], association["inputs"]["serviceAccount"]) == (
        "kube-system", "aws-load-balancer-controller")
    assert association["urn"] in release["dependencies"]
    role = index[association["propertyDependencies"]["roleArn"][0]]
    [trust] = _statements(role["inputs"]["assumeRolePolicy"])
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    [policy] = _role_policies(plan, role)
    assert json.loads(policy["inputs"]["policy"]) == LB_CONTROLLER_IAM_POLICY


def test_cluster_mode_endpoints_each_get_their_own_identity_but_share_the_controller(plans: dict[str, Any]) -> None:
    plan = plans["variant"]
    model_associations = [a for a in of_type(plan, ASSOCIATION) if a["inputs"]["namespace"].startswith("serve-")]
    assert sorted((a["inputs"]["namespace"], a["inputs"]["serviceAccount"]) for a in model_associations) == [
        ("serve-chat", "chat"), ("serve-chat2", "chat2")]
    assert len(_releases(plan)) == 1
    chat2 = _one_under(plan, ROLE, "aws-use1-chat2")
    [read] = [p for p in _role_policies(plan, chat2) if p["name"].endswith("-pod-read-policy")]
    _check_prefix_statements(_statements(read["inputs"]["policy"]), _bucket_arn(plan), "models/chat-2/v1/")


def test_controller_policy_is_the_published_one_and_conditions_its_mutations() -> None:
    statements = LB_CONTROLLER_IAM_POLICY["Statement"]
    actions = [a for s in statements for a in _as_list(s["Action"])]
    assert not [a for a in actions if "*" in a]  # no wildcard actions
    for action in ("elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer",
                   "ec2:DeleteSecurityGroup", "iam:CreateServiceLinkedRole"):
        granting = [s for s in statements if action in _as_list(s["Action"])]
        assert granting and all("Condition" in s for s in granting), action
    assert '"arn:aws-cn:' in lb_controller_policy("cn-north-1") and '"arn:aws:' not in lb_controller_policy("cn-north-1")
    assert json.loads(lb_controller_policy("us-east-1")) == LB_CONTROLLER_IAM_POLICY
