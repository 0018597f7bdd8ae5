"""Issue 15 on AWS, from offline plans: the image cache (ECR pull-through), the model loader, the metrics
pipeline (AMP, its managed scraper, KEDA, DCGM exporter), the alert channel (SNS) and every alert that
names it, and a SageMaker instance-type change that deregisters autoscaling before the endpoint's update.

The plans are of a scratch copy of the program with only the AWS cell of the shipped prod stack (with its
alerts, image credentials and secrets, its DNS zone and global traffic), so they depend on the AWS
implementation alone.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.catalog.charts import DCGM_EXPORTER, KEDA
from components.catalog.images import AWS_MODEL_LOADER
from components.images.aws import RULES, UPSTREAMS
from components.metrics import KEDA_AUTHENTICATION, SCRAPE_LABEL
from components.metrics.aws import QUERY_ACTIONS
from tests.conftest import REPO, ScratchProject, by_urn, every, of_type, plan_json, run_preflight

ACCOUNT = "123456789012"  # what the offline planner answers for aws.get_caller_identity
REGION = "us-east-1"
CACHE_HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
CELL = "aws-use1"

RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
WORKSPACE = "aws:amp/workspace:Workspace"
SCRAPER = "aws:amp/scraper:Scraper"
ALERT_MANAGER = "aws:amp/alertManagerDefinition:AlertManagerDefinition"
RULE_GROUP = "aws:amp/ruleGroupNamespace:RuleGroupNamespace"
RELEASE = "kubernetes:helm.sh/v3:Release"
TRIGGER_AUTH = "kubernetes:keda.sh/v1alpha1:ClusterTriggerAuthentication"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PARAMETER = "aws:ssm/parameter:Parameter"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"


def aws_prod() -> dict[str, Any]:
    """The shipped prod stack with only its AWS cell (backups kept: the failed-job alert is tested)."""
    shipped = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    config = {key: shipped[key] for key in ("aiinfra:environment", "aiinfra:tags", "aiinfra:dns", "aiinfra:traffic",
                                            "aiinfra:alerts", "aiinfra:images", "aiinfra:secrets", "aiinfra:backup")
              if key in shipped}
    config["aiinfra:cells"] = [c for c in shipped["aiinfra:cells"] if c["cloud"] == "aws"]
    assert len(config["aiinfra:cells"]) == 1
    return config


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("issue15-aws")
    ScratchProject(root).write_stack("prod", aws_prod())
    return plan_json("prod", project=root)


def _named(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in plan["resources"] if r["name"] == name]
    return found


def _statements(text: str) -> list[dict[str, Any]]:
    doc = json.loads(text)
    assert doc["Version"] == "2012-10-17"
    return doc["Statement"]


def _topic_arn(plan: dict[str, Any], channel: str) -> str:
    topic = _named(plan, f"{channel}-topic")
    return f"arn:aws:sns:{topic['inputs']['region']}:{ACCOUNT}:{topic['inputs']['name']}"


# --- image cache ---------------------------------------------------------------------------------

def test_a_cache_rule_per_upstream_with_the_credentials_ecr_reads(plan: dict[str, Any]) -> None:
    rules = {r["inputs"]["upstreamRegistryUrl"]: r for r in every(plan, RULE)}
    # The cell pulls vLLM from Docker Hub and the AWS CLI from ECR Public: one rule each, nothing else.
    assert set(rules) == {"registry-1.docker.io", "public.ecr.aws"}
    hub, public = rules["registry-1.docker.io"], rules["public.ecr.aws"]
    assert hub["inputs"]["ecrRepositoryPrefix"] == RULES["docker.io"].prefix == "docker-hub"
    assert public["inputs"]["ecrRepositoryPrefix"] == "ecr-public" and "credentialArn" not in public["inputs"]
    assert UPSTREAMS["docker.io"].needs_credentials and not UPSTREAMS["public.ecr.aws"].needs_credentials

    [secret] = [s for s in every(plan, SECRET) if s["inputs"]["name"].startswith("ecr-pullthroughcache/")]
    assert secret["urn"] in hub["propertyDependencies"]["credentialArn"]
    # KMS-encrypted with a key of its own, whose policy lets the account decrypt through Secrets Manager only.
    [key_urn] = secret["propertyDependencies"]["kmsKeyId"]
    assert by_urn(plan)[key_urn]["type"] == KEY
    [version] = [v for v in every(plan, SECRET_VERSION) if secret["urn"] in v["propertyDependencies"]["secretId"]]
    assert version["inputs"]["secretString"] == "<secret>"
    [key_policy] = [p for p in every(plan, KEY_POLICY) if key_urn in p["propertyDependencies"]["keyId"]]
    decrypt = [s for s in _statements(key_policy["inputs"]["policy"]) if s["Sid"] == "DecryptThroughSecretsManager"]
    assert decrypt[0]["Condition"]["StringEquals"] == {"kms:CallerAccount": ACCOUNT,
                                                       "kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    # Each rule's repositories follow a creation template of the same prefix, encrypted with KMS.
    templates = {t["inputs"]["prefix"]: t for t in every(plan, TEMPLATE)}
    assert set(templates) == {"docker-hub", "ecr-public"}
    for template in templates.values():
        assert template["inputs"]["appliedFors"] == ["PULL_THROUGH_CACHE"]
        assert template["inputs"]["encryptionConfigurations"] == [{"encryptionType": "KMS"}]


def test_the_nodes_can_pull_through_the_cache(plan: dict[str, Any]) -> None:
    node_role = _named(plan, f"{CELL}-cluster-node-role")
    grant = _named(plan, f"{CELL}-images-node-pull-through")
    assert grant["propertyDependencies"]["role"] == [node_role["urn"]]
    [statement] = _statements(grant["inputs"]["policy"])
    assert statement["Action"] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    assert statement["Resource"] == [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/docker-hub/*",
                                     f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/ecr-public/*"]
    # Plain pulls come from the managed read-only policy the node role already holds.
    assert any(a["inputs"]["policyArn"].endswith("/AmazonEC2ContainerRegistryReadOnly")
               and a["propertyDependencies"]["role"] == [node_role["urn"]] for a in every(plan, ATTACHMENT))


def test_every_serving_pod_image_is_on_the_cache_host(plan: dict[str, Any]) -> None:
    [deployment] = every(plan, DEPLOYMENT)
    spec = deployment["inputs"]["spec"]["template"]["spec"]
    images = [c["image"] for c in spec["initContainers"] + spec["containers"]]
    assert images and all(i.startswith(f"{CACHE_HOST}/") for i in images), images
    # The catalogued loader, through the ECR Public rule, tag and digest kept (prod pins every image).
    assert AWS_MODEL_LOADER.image.startswith("public.ecr.aws/aws-cli/aws-cli:2.") and "@sha256:" in AWS_MODEL_LOADER.image
    assert f"{CACHE_HOST}/ecr-public/{AWS_MODEL_LOADER.image.split('/', 1)[1]}" in images
    # The pods wait for the rules and the nodes' grant.
    waits = set(deployment["dependencies"])
    assert _named(plan, f"{CELL}-images-docker-hub-rule")["urn"] in waits
    assert _named(plan, f"{CELL}-images-node-pull-through")["urn"] in waits


# --- model loader --------------------------------------------------------------------------------

def test_the_init_container_copies_exactly_the_cells_prefix_as_the_pod_identity(plan: dict[str, Any]) -> None:
    [deployment] = every(plan, DEPLOYMENT)
    spec = deployment["inputs"]["spec"]["template"]["spec"]
    [loader] = spec["initContainers"]
    bucket = next(b["inputs"]["bucket"] for b in of_type(plan, "aws:s3/bucket:Bucket")
                  if b["name"] == f"{CELL}-store-bucket")
    prefix = next(e for e in aws_prod()["aiinfra:cells"][0]["endpoints"] if e["name"] == "chat")["model"]["artifact_path"]
    assert loader["command"] == ["aws", "s3", "sync", f"s3://{bucket}/{prefix}", "/models/model",
                                 "--no-progress", "--only-show-errors"]
    env = {e["name"]: e["value"] for e in loader["env"]}
    assert env["AWS_REGION"] == REGION and env["HOME"] == "/tmp"
    context = loader["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["runAsUser"] == 10001
    assert loader["resources"]["requests"] == loader["resources"]["limits"]
    assert {m["mountPath"] for m in loader["volumeMounts"]} == {"/models", "/tmp"}
    # No token automount; the Pod Identity association of the pod's service account brings the credentials,
    # and its role reads exactly this prefix.
    assert spec["automountServiceAccountToken"] is False
    [association] = [a for a in every(plan, ASSOCIATION) if a["inputs"]["namespace"] == "serve-chat"]
    assert association["inputs"]["serviceAccount"] == spec["serviceAccountName"]
    read = _named(plan, f"{CELL}-chat-pod-read-policy")
    assert read["propertyDependencies"]["role"] == association["propertyDependencies"]["roleArn"]
    resources = [r for s in _statements(read["inputs"]["policy"]) for r in s["Resource"]]
    assert f"arn:aws:s3:::{bucket}/{prefix}*" in resources


# --- alert channel -------------------------------------------------------------------------------

def test_the_alert_channel_is_an_encrypted_sns_topic_with_its_subscriptions(plan: dict[str, Any]) -> None:
    alerts = aws_prod()["aiinfra:alerts"]
    topic = _named(plan, f"{CELL}-alerts-topic")
    [key_urn] = topic["propertyDependencies"]["kmsMasterKeyId"]
    assert by_urn(plan)[key_urn]["type"] == KEY and key_urn.endswith(f"{CELL}-alerts-key")
    [key_policy] = [p for p in every(plan, KEY_POLICY) if key_urn in p["propertyDependencies"]["keyId"]]
    [publishers] = [s for s in _statements(key_policy["inputs"]["policy"]) if s["Sid"] == "PublishersEncrypt"]
    assert set(publishers["Principal"]["Service"]) == {"cloudwatch.amazonaws.com", "events.amazonaws.com",
                                                       "aps.amazonaws.com"}
    assert publishers["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}

    [policy] = [p for p in every(plan, TOPIC_POLICY) if p["name"] == f"{CELL}-alerts-topic-policy"]
    [publish, deny] = _statements(policy["inputs"]["policy"])
    assert publish["Resource"] == _topic_arn(plan, f"{CELL}-alerts") and publish["Action"] == "sns:Publish"
    assert set(publish["Principal"]["Service"]) == set(publishers["Principal"]["Service"])
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    subscriptions = [s for s in every(plan, SUBSCRIPTION) if topic["urn"] in s["propertyDependencies"]["topic"]]
    assert sorted((s["inputs"]["protocol"], s["inputs"]["endpoint"]) for s in subscriptions) == sorted(
        [("email", e) for e in alerts["emails"]] + [("https", alerts["webhook_url"])])


# --- metrics pipeline ----------------------------------------------------------------------------

def test_scraper_workspace_keda_and_trigger_authentication(plan: dict[str, Any]) -> None:
    [workspace] = every(plan, WORKSPACE)
    [scraper] = every(plan, SCRAPER)
    eks = _named(plan, f"{CELL}-cluster-eks")
    assert scraper["propertyDependencies"]["destination"] == [workspace["urn"]]
    private = {s["urn"] for s in of_type(plan, "aws:ec2/subnet:Subnet") if "-private-" in s["name"]}
    assert set(scraper["propertyDependencies"]["source"]) == {eks["urn"], *private}
    config = yaml.safe_load(scraper["inputs"]["scrapeConfiguration"])
    pods = next(j for j in config["scrape_configs"] if j["job_name"] == "aiinfra-pods")
    assert pods["kubernetes_sd_configs"] == [{"role": "pod"}]
    relabel = pods["relabel_configs"]
    assert relabel[0] == {"source_labels": ["__meta_kubernetes_pod_label_aiinfra_io_metrics"], "action": "keep",
                          "regex": "true"}
    assert SCRAPE_LABEL == "aiinfra.io/metrics"
    assert {"target_label": "cluster", "replacement": eks["inputs"]["name"]} in relabel
    assert any(r.get("target_label") == "__metrics_path__" for r in relabel)

    releases = {r["inputs"]["chart"]: r for r in every(plan, RELEASE)}
    assert releases[KEDA.name]["inputs"]["version"] == KEDA.version
    [auth] = every(plan, TRIGGER_AUTH)
    assert auth["inputs"]["metadata"]["name"] == KEDA_AUTHENTICATION
    assert auth["inputs"]["spec"] == {"podIdentity": {"provider": "aws"}}
    [keda_identity] = [a for a in every(plan, ASSOCIATION) if a["inputs"]["namespace"] == "keda"]
    assert keda_identity["inputs"]["serviceAccount"] == "keda-operator"
    query = _named(plan, f"{CELL}-metrics-keda-query-policy")
    assert query["propertyDependencies"]["policy"] == [workspace["urn"]]
    assert keda_identity["urn"] in releases[KEDA.name]["dependencies"]
    assert QUERY_ACTIONS == ["aps:QueryMetrics", "aps:GetLabels", "aps:GetSeries", "aps:GetMetricMetadata"]

    [scaled] = every(plan, SCALED_OBJECT)
    [trigger] = scaled["inputs"]["spec"]["triggers"]
    assert trigger["metadata"]["awsRegion"] == REGION
    assert trigger["authenticationRef"] == {"name": KEDA_AUTHENTICATION, "kind": "ClusterTriggerAuthentication"}
    assert {auth["urn"], releases[KEDA.name]["urn"]} <= set(scaled["dependencies"])
    assert workspace["urn"] in scaled["propertyDependencies"]["spec"]


def test_dcgm_exporter_on_gpu_nodes_scraped_like_the_server(plan: dict[str, Any]) -> None:
    dcgm = next(r for r in every(plan, RELEASE) if r["inputs"]["chart"] == DCGM_EXPORTER.name)
    values = dcgm["inputs"]["values"]
    assert dcgm["inputs"]["version"] == DCGM_EXPORTER.version
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]
    assert values["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert values["podLabels"] == {SCRAPE_LABEL: "true"}
    assert values["podAnnotations"]["prometheus.io/port"] == "9400"
    assert values["serviceMonitor"] == {"enabled": False}


def test_the_network_policy_admits_the_scrapers_subnets(plan: dict[str, Any]) -> None:
    [policy] = [p for p in every(plan, NETPOL) if p["inputs"]["metadata"]["namespace"] == "serve-chat"]
    private = [s for s in of_type(plan, "aws:ec2/subnet:Subnet") if "-private-" in s["name"]]
    scraper_rule = policy["inputs"]["spec"]["ingress"][1]
    assert len(scraper_rule["from"]) == len(private) == 3
    assert all(set(peer) == {"ipBlock"} for peer in scraper_rule["from"])


# --- alerts --------------------------------------------------------------------------------------

def test_every_alert_names_the_channel(plan: dict[str, Any]) -> None:
    cell_topic = _topic_arn(plan, f"{CELL}-alerts")
    global_topic = _topic_arn(plan, "global-alerts")
    # SageMaker rollback alarms (the managed endpoint's 5xx among them).
    for alarm in ("embed-alarm-5xx", "embed-alarm-latency"):
        assert _named(plan, f"{CELL}-{alarm}")["inputs"]["alarmActions"] == [cell_topic]
    # Route 53 health check of the AWS backend, in us-east-1 where Route 53 publishes its metrics.
    [check] = [a for a in every(plan, ALARM) if a["inputs"].get("namespace") == "AWS/Route53"]
    assert check["inputs"]["metricName"] == "HealthCheckStatus" and check["inputs"]["region"] == "us-east-1"
    assert check["inputs"]["alarmActions"] == [global_topic]
    # A failed backup or copy job.
    rule = _named(plan, f"{CELL}-backup-alert-failed-job")
    pattern = json.loads(rule["inputs"]["eventPattern"])
    assert pattern["source"] == ["aws.backup"] and "FAILED" in pattern["detail"]["state"]
    [target] = [t for t in every(plan, EVENT_TARGET) if rule["urn"] in t["propertyDependencies"]["rule"]]
    assert target["inputs"]["arn"] == cell_topic
    # Prometheus rules (GPU pool at its maximum for 15 minutes; cluster-mode 5xx) go through the
    # workspace's alert manager to the cell's topic.
    [manager] = every(plan, ALERT_MANAGER)
    definition = yaml.safe_load(yaml.safe_load(manager["inputs"]["definition"])["alertmanager_config"])
    assert [c["topic_arn"] for c in definition["receivers"][0]["sns_configs"]] == [cell_topic]
    groups = {g["name"]: g for g in every(plan, RULE_GROUP)}
    pool = yaml.safe_load(groups[f"{CELL}-gpu-l4-alert-at-max"]["inputs"]["data"])["groups"][0]["rules"][0]
    assert pool["for"] == "900s" and pool["expr"].endswith(">= 4") and 'pool="l4"' in pool["expr"]
    assert f"{CELL}-chat-alert-5xx" in groups
    for group in groups.values():
        assert manager["urn"] in group["dependencies"]


# --- SageMaker: an instance-type change -----------------------------------------------------------

def test_the_scaling_target_hangs_on_an_instance_type_marker(plan: dict[str, Any]) -> None:
    marker = _named(plan, f"{CELL}-embed-scaling-instance-type")
    assert marker["type"] == PARAMETER and marker["options"]["deleteBeforeReplace"] is True
    assert marker["inputs"]["name"].endswith("/scaling-instance-type/ml.g6.xlarge")
    endpoint = _named(plan, f"{CELL}-embed-endpoint")
    assert marker["urn"] in endpoint["dependencies"]  # the endpoint updates after the marker's replacement
    target = _named(plan, f"{CELL}-embed-scaling-target")
    # resourceId is computed from the marker: replacing the marker replaces the target first.
    assert set(target["propertyDependencies"]["resourceId"]) == {endpoint["urn"], marker["urn"]}
    role_policy = _named(plan, f"{CELL}-embed-read-policy")
    metrics = [s for s in _statements(role_policy["inputs"]["policy"]) if s["Sid"] == "EndpointMetrics"]
    assert metrics == [{"Sid": "EndpointMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"],
                        "Resource": "*", "Condition": {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}}}]


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True)


def test_preflight_diff_shows_an_instance_type_change_replacing_the_marker(tmp_path: Path) -> None:
    project = ScratchProject(tmp_path)
    config = aws_prod()
    project.write_stack("prod", config)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    embed = next(e for e in config["aiinfra:cells"][0]["endpoints"] if e["name"] == "embed")
    embed["accelerator"] = {"instance_type": "ml.g5.xlarge"}
    project.write_stack("prod", config)
    out = tmp_path / "diff.json"
    proc = run_preflight("diff", "prod", "--cwd", tmp_path, "--base", "HEAD", "--json", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    changed = {c["name"]: c for c in json.loads(out.read_text())["changed"]}
    marker = changed[f"{CELL}-embed-scaling-instance-type"]
    assert marker["op"] == "replace"
    assert any(c["path"] == "name" and c["replaces"] for c in marker["changes"])
    config_change = changed[f"{CELL}-embed-endpoint-config"]
    assert config_change["op"] == "replace"  # endpoint configurations are immutable: a new one
    assert any(c["path"] == "productionVariants[0].instanceType" and c["replaces"] for c in config_change["changes"])
    # The scaling target hangs on the marker (its resource id is computed from it): deregistered with it,
    # before the endpoint moves to the new instance type, and registered again after.
    target = changed[f"{CELL}-embed-scaling-target"]
    assert target["op"] == "replace", target
    assert any(c["path"] == "resourceId" and c["replaces"] for c in target["changes"]), target
    # The endpoint is never replaced (its URL and alarms keep their name): it only moves to the new
    # configuration, whose name is unknown offline in both plans.
    assert changed.get(f"{CELL}-embed-endpoint", {"op": "none"})["op"] != "replace"
