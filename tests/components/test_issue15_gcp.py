"""Issue 15 on GCP, from offline plans: the image cache, the model loader, the metrics pipeline and the alerts.

The plans are of a scratch copy of the program with only the GCP cell of the shipped prod stack (its
environment, tags, alerts, image credentials, secrets and backup settings), with the DNS zone and global
traffic moved to Cloud DNS so the global health check's alerts are on GCP too. Nothing here depends on
the AWS or Azure implementations.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from components.alerts.gcp import EMAIL_TYPE, WEBHOOK_TYPE
from components.compute.gcp import INSTANCE_GROUP_SIZE, instance_group_names, pool_size_filter
from components.images.args import parse_image
from components.images.gcp import READER, SECRET_ACCESSOR, UPSTREAMS
from components.metrics.args import KEDA_AUTHENTICATION
from components.metrics.gcp import COLLECTOR_LABELS, GMP_NAMESPACE, MONITORING_VIEWER, query_url
from components.serving.gcp import vertex_responses_filter
from components.traffic.cloud_dns import unhealthy_log_filter
from tests.conftest import REPO, ScratchProject, every, of_type, plan_json

CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
REPOSITORY_MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
SECRET_MEMBER = "gcp:secretmanager/secretIamMember:SecretIamMember"
ACCOUNT = "gcp:serviceaccount/account:Account"
ACCOUNT_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
HEALTH_CHECK = "gcp:compute/healthCheck:HealthCheck"
RELEASE = "kubernetes:helm.sh/v3:Release"
TRIGGER_AUTH = "kubernetes:keda.sh/v1alpha1:ClusterTriggerAuthentication"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
POD_MONITORING = "kubernetes:monitoring.googleapis.com/v1:PodMonitoring"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PROJECT = "acme-aiinfra-prod"
REGION = "us-central1"


def _gcp_only() -> dict[str, Any]:
    """The shipped prod stack's GCP cell with its environment-wide settings; zone and traffic on Cloud DNS."""
    shipped = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    config = {key: shipped[key] for key in ("aiinfra:environment", "aiinfra:tags", "aiinfra:alerts",
                                            "aiinfra:images", "aiinfra:secrets", "aiinfra:backup")}
    config["aiinfra:cells"] = [c for c in shipped["aiinfra:cells"] if c["cloud"] == "gcp"]
    assert len(config["aiinfra:cells"]) == 1
    config["aiinfra:dns"] = {**shipped["aiinfra:dns"], "provider": "cloud_dns"}
    traffic = {**shipped["aiinfra:traffic"], "provider": "cloud_dns"}
    traffic["health_check"] = {**traffic["health_check"], "interval_seconds": 30}  # Cloud DNS: at least 30 s
    config["aiinfra:traffic"] = traffic
    return config


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("gcp-issue15")
    project = ScratchProject(root)
    project.write_stack("prod", _gcp_only())
    return plan_json("prod", project=root)


@pytest.fixture(scope="module")
def cell() -> dict[str, Any]:
    [found] = _gcp_only()["aiinfra:cells"]
    return found


def _named(plan: dict[str, Any], type_token: str, name: str) -> dict[str, Any]:
    [found] = [r for r in of_type(plan, type_token) if r["name"] == name]
    return found


def _channel_urns(plan: dict[str, Any], channel: str) -> set[str]:
    return {r["urn"] for r in of_type(plan, CHANNEL) if r["name"].startswith(f"{channel}-")}


def _names_channels(policy: dict[str, Any], urns: set[str]) -> bool:
    """The policy's `notificationChannels` come from exactly these channels (one entry each)."""
    return (set(policy["propertyDependencies"]["notificationChannels"]) == urns
            and len(policy["inputs"]["notificationChannels"]) == len(urns))


# --- 1. Alert channel ---------------------------------------------------------------------------------

def test_a_notification_channel_per_email_and_one_for_the_webhook(plan: dict[str, Any]) -> None:
    shipped = _gcp_only()["aiinfra:alerts"]
    channels = [r for r in every(plan, CHANNEL) if r["name"].startswith("gcp-usc1-alerts-")]
    emails = sorted(c["inputs"]["labels"]["email_address"] for c in channels if c["inputs"]["type"] == EMAIL_TYPE)
    webhooks = [c["inputs"]["labels"]["url"] for c in channels if c["inputs"]["type"] == WEBHOOK_TYPE]
    assert emails == sorted(shipped["emails"])
    assert webhooks == [shipped["webhook_url"]]
    assert len(channels) == len(emails) + len(webhooks)
    for c in channels:
        assert c["inputs"]["enabled"] is True and c["inputs"]["project"] == PROJECT
        assert c["inputs"]["userLabels"]["environment"] == "prod"


def test_notification_channel_labels_hold_only_the_types_configuration(plan: dict[str, Any]) -> None:
    for c in every(plan, CHANNEL):
        assert set(c["inputs"]["labels"]) == ({"email_address"} if c["inputs"]["type"] == EMAIL_TYPE else {"url"})


# --- 2. Image cache -----------------------------------------------------------------------------------

def test_a_remote_repository_per_upstream_with_docker_hub_credentials(plan: dict[str, Any]) -> None:
    [repo] = every(plan, REPOSITORY)
    inputs = repo["inputs"]
    assert (inputs["format"], inputs["mode"], inputs["location"], inputs["project"]) == \
        ("DOCKER", "REMOTE_REPOSITORY", REGION, PROJECT)
    remote = inputs["remoteRepositoryConfig"]
    assert remote["dockerRepository"] == {"publicRepository": "DOCKER_HUB"}
    credentials = remote["upstreamCredentials"]["usernamePasswordCredentials"]
    assert credentials["username"] == _gcp_only()["aiinfra:images"]["credentials"]["docker.io"]["username"]
    # The password is the version of the cache's own secret, which the Artifact Registry agent may read.
    [version] = [v for v in every(plan, SECRET_VERSION) if v["name"] == "gcp-usc1-images-docker-hub-token-version"]
    assert repo["propertyDependencies"]["remoteRepositoryConfig"] == [version["urn"]] or \
        version["urn"] in repo["propertyDependencies"]["remoteRepositoryConfig"]
    [secret] = [s for s in every(plan, SECRET) if s["name"] == "gcp-usc1-images-docker-hub-token"]
    assert secret["inputs"]["replication"] == {"userManaged": {"replicas": [{"location": REGION}]}}
    [access] = every(plan, SECRET_MEMBER)
    assert access["inputs"]["role"] == SECRET_ACCESSOR
    assert access["inputs"]["secretId"] == secret["inputs"]["secretId"]
    assert re.fullmatch(r"serviceAccount:service-\d+@gcp-sa-artifactregistry\.iam\.gserviceaccount\.com",
                        access["inputs"]["member"])
    assert access["urn"] in repo["dependencies"]


def test_every_pod_image_is_on_the_cache_host(plan: dict[str, Any]) -> None:
    [repo] = every(plan, REPOSITORY)
    prefix = f"{REGION}-docker.pkg.dev/{PROJECT}/{repo['inputs']['repositoryId']}/"
    [deployment] = every(plan, DEPLOYMENT)
    spec = deployment["inputs"]["spec"]["template"]["spec"]
    images = [c["image"] for c in [*spec["initContainers"], *spec["containers"]]]
    assert images and all(i.startswith(prefix) for i in images), images
    assert set(UPSTREAMS) >= {parse_image(i[len(prefix):]).registry for i in images}


def test_the_node_service_account_reads_the_cache(plan: dict[str, Any]) -> None:
    [repo] = every(plan, REPOSITORY)
    [member] = every(plan, REPOSITORY_MEMBER)
    assert member["inputs"]["role"] == READER
    assert repo["urn"] in member["propertyDependencies"]["repository"]
    [nodes] = [a for a in every(plan, ACCOUNT) if a["name"] == "gcp-usc1-cluster-nodes"]
    assert member["propertyDependencies"]["member"] == [nodes["urn"]]


# --- 3. Model loader ----------------------------------------------------------------------------------

def test_the_init_container_copies_exactly_the_cells_prefix(plan: dict[str, Any], cell: dict[str, Any]) -> None:
    [deployment] = every(plan, DEPLOYMENT)
    spec = deployment["inputs"]["spec"]["template"]["spec"]
    [loader] = spec["initContainers"]
    [bucket] = every(plan, "gcp:storage/bucket:Bucket")
    [chat] = [e for e in cell["endpoints"] if e["name"] == "chat"]
    source = f"gs://{bucket['inputs']['name']}/{chat['model']['artifact_path']}"
    assert loader["command"][:2] == ["/bin/sh", "-c"]
    assert "gcloud storage rsync --recursive \"$1\" \"$2\"" in loader["command"][2]
    assert loader["args"] == [source, "/models/model"]
    env = {e["name"]: e["value"] for e in loader["env"]}
    assert env["CLOUDSDK_CONFIG"].startswith("/tmp/") and env["HOME"] == "/tmp"
    assert loader["securityContext"]["readOnlyRootFilesystem"] is True
    assert loader["resources"]["requests"] == loader["resources"]["limits"]
    assert spec["automountServiceAccountToken"] is False  # Workload Identity answers from the metadata server


# --- 4. Metrics ---------------------------------------------------------------------------------------

def test_the_cluster_runs_managed_prometheus_and_managed_dcgm(plan: dict[str, Any]) -> None:
    [cluster] = every(plan, CLUSTER)
    monitoring = cluster["inputs"]["monitoringConfig"]
    assert monitoring["managedPrometheus"] == {"enabled": True}
    assert "DCGM" in monitoring["enableComponents"]
    gpu_pools = [p for p in every(plan, NODE_POOL) if p["inputs"]["nodeConfig"].get("guestAccelerators")]
    for pool in gpu_pools:  # managed DCGM needs GKE's own driver installation
        [accelerator] = pool["inputs"]["nodeConfig"]["guestAccelerators"]
        assert accelerator["gpuDriverInstallationConfig"]["gpuDriverVersion"] == "LATEST"
    assert gpu_pools


def test_a_pod_monitoring_scrapes_the_endpoints_pods(plan: dict[str, Any]) -> None:
    [monitoring] = every(plan, POD_MONITORING)
    [deployment] = every(plan, DEPLOYMENT)
    template = deployment["inputs"]["spec"]["template"]
    assert monitoring["inputs"]["metadata"]["namespace"] == deployment["inputs"]["metadata"]["namespace"]
    selector = monitoring["inputs"]["spec"]["selector"]["matchLabels"]
    assert selector.items() <= template["metadata"]["labels"].items()
    [endpoint] = monitoring["inputs"]["spec"]["endpoints"]
    ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
    assert endpoint["port"] in ports
    assert endpoint["path"] == template["metadata"]["annotations"]["prometheus.io/path"]


def test_the_network_policy_admits_the_managed_collectors(plan: dict[str, Any]) -> None:
    [policy] = every(plan, NETPOL)
    peers = [p for rule in policy["inputs"]["spec"]["ingress"] for p in rule["from"]]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": GMP_NAMESPACE}},
            "podSelector": {"matchLabels": COLLECTOR_LABELS}} in peers


def test_keda_reads_managed_prometheus_with_workload_identity(plan: dict[str, Any]) -> None:
    [release] = [r for r in every(plan, RELEASE) if r["inputs"]["chart"] == "keda"]
    values = release["inputs"]["values"]
    assert values["podIdentity"]["gcp"]["enabled"] is True
    # The private cluster's control plane reaches pods on 443 and 10250 only.
    assert values["service"]["portHttpsTarget"] == 10250 and values["webhooks"]["port"] == "10250"
    [keda] = [a for a in every(plan, ACCOUNT) if a["name"] == "gcp-usc1-metrics-keda-reader"]
    assert release["propertyDependencies"]["values"] == [keda["urn"]]
    [viewer] = [m for m in every(plan, PROJECT_MEMBER) if m["name"] == "gcp-usc1-metrics-keda-reader-viewer"]
    assert (viewer["inputs"]["role"], viewer["inputs"]["project"]) == (MONITORING_VIEWER, PROJECT)
    assert viewer["propertyDependencies"]["member"] == [keda["urn"]]
    [binding] = [m for m in every(plan, ACCOUNT_MEMBER) if m["name"] == "gcp-usc1-metrics-keda-reader-workload-identity"]
    assert binding["inputs"]["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[keda/keda-operator]"
    assert binding["inputs"]["role"] == "roles/iam.workloadIdentityUser"
    [auth] = every(plan, TRIGGER_AUTH)
    assert auth["inputs"]["metadata"]["name"] == KEDA_AUTHENTICATION
    assert auth["inputs"]["spec"] == {"podIdentity": {"provider": "gcp"}}
    [scaled] = every(plan, SCALED_OBJECT)
    [trigger] = scaled["inputs"]["spec"]["triggers"]
    assert trigger["metadata"]["serverAddress"] == query_url(PROJECT)
    assert trigger["authenticationRef"] == {"name": KEDA_AUTHENTICATION, "kind": "ClusterTriggerAuthentication"}
    [cluster] = every(plan, CLUSTER)
    assert f'cluster="{cluster["inputs"]["name"]}"' in trigger["metadata"]["query"]
    assert {release["urn"], auth["urn"]} <= set(scaled["dependencies"])


# --- 5. Alerts ----------------------------------------------------------------------------------------

def _policy(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return _named(plan, POLICY, name)


def test_the_gpu_pool_at_its_maximum_for_15_minutes_alerts_the_channels(plan: dict[str, Any], cell: dict[str, Any]) -> None:
    policy = _policy(plan, "gcp-usc1-gpu-l4-alert-at-max")
    [condition] = policy["inputs"]["conditions"]
    threshold = condition["conditionThreshold"]
    [pool] = cell["gpu_pools"]
    assert threshold["duration"] == "900s"
    assert (threshold["comparison"], threshold["thresholdValue"]) == ("COMPARISON_GT", pool["max_nodes"] - 0.5)
    assert threshold["aggregations"] == [{"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_MEAN",
                                          "crossSeriesReducer": "REDUCE_SUM"}]
    [gpu_pool] = [p for p in every(plan, NODE_POOL) if p["name"] == "gcp-usc1-gpu-l4-pool"]
    assert threshold["filter"] == "<unknown>" and gpu_pool["urn"] in policy["propertyDependencies"]["conditions"]
    assert _names_channels(policy, _channel_urns(plan, "gcp-usc1-alerts"))


def test_pool_size_filter_names_exactly_the_pools_instance_groups() -> None:
    urls = ["https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-b/instanceGroups/gke-c-l4-1a-grp",
            "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a/instanceGroups/gke-c-l4-2b-grp"]
    assert pool_size_filter(instance_group_names(urls)) == (
        f'metric.type="{INSTANCE_GROUP_SIZE}" AND resource.type="instance_group" AND '
        'resource.labels.instance_group_name = one_of("gke-c-l4-1a-grp", "gke-c-l4-2b-grp")')


def test_each_backup_plan_failing_alerts_the_channels(plan: dict[str, Any]) -> None:
    plans = {p["inputs"]["name"]: p["inputs"]["location"] for p in every(plan, "gcp:gkebackup/backupPlan:BackupPlan")}
    policies = [p for p in every(plan, POLICY) if p["name"].endswith("-alert-failed")]
    assert len(policies) == len(plans) == 2
    seen = set()
    for policy in policies:
        [condition] = policy["inputs"]["conditions"]
        found = re.search(r'backup_plan_id="([^"]+)" AND resource.labels.location="([^"]+)"',
                          condition["conditionThreshold"]["filter"])
        assert found is not None and plans[found.group(1)] == found.group(2)
        assert 'metric.labels.state="FAILED"' in condition["conditionThreshold"]["filter"]
        seen.add(found.group(1))
        assert _names_channels(policy, _channel_urns(plan, "gcp-usc1-alerts"))
    assert seen == set(plans)


def test_the_cluster_endpoint_5xx_rate_alerts_the_channels_through_promql(plan: dict[str, Any]) -> None:
    policy = _policy(plan, "gcp-usc1-chat-alert-5xx")
    [condition] = policy["inputs"]["conditions"]
    promql = condition["conditionPrometheusQueryLanguage"]
    [cluster] = every(plan, CLUSTER)
    assert f'cluster="{cluster["inputs"]["name"]}"' in promql["query"] and 'namespace="serve-chat"' in promql["query"]
    assert promql["query"].endswith("> 0.05") and promql["duration"] == "300s"
    assert _names_channels(policy, _channel_urns(plan, "gcp-usc1-alerts"))


def test_the_managed_endpoint_5xx_ratio_alerts_the_channels(plan: dict[str, Any]) -> None:
    policy = _policy(plan, "gcp-usc1-gemma-alert-5xx")
    [condition] = policy["inputs"]["conditions"]
    threshold = condition["conditionThreshold"]
    assert (threshold["comparison"], threshold["thresholdValue"], threshold["duration"]) == ("COMPARISON_GT", 0.05, "300s")
    [vertex] = every(plan, "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment")
    assert vertex["urn"] in policy["propertyDependencies"]["conditions"]
    assert _names_channels(policy, _channel_urns(plan, "gcp-usc1-alerts"))
    assert vertex_responses_filter("42", "5xx").endswith('resource.labels.endpoint_id="42" AND '
                                                         'metric.labels.response_code="5xx"')


def test_a_failing_global_health_check_alerts_the_global_channels(plan: dict[str, Any]) -> None:
    [check] = every(plan, HEALTH_CHECK)
    assert check["inputs"]["logConfig"] == {"enable": True}
    policies = [p for p in every(plan, POLICY) if "-alert-gcp-usc1" in p["name"]]
    assert len(policies) == 1
    [policy] = policies
    [condition] = policy["inputs"]["conditions"]
    assert "conditionMatchedLog" in condition
    assert policy["inputs"]["alertStrategy"]["notificationRateLimit"] == {"period": "300s"}
    assert _names_channels(policy, _channel_urns(plan, "global-alerts"))
    assert unhealthy_log_filter("203.0.113.7").endswith('jsonPayload.healthCheckProbeResult.targetIp="203.0.113.7"')


def test_every_alert_policy_names_a_channel(plan: dict[str, Any]) -> None:
    for policy in every(plan, POLICY):
        deps = set(policy["propertyDependencies"]["notificationChannels"])
        assert deps and deps <= {c["urn"] for c in of_type(plan, CHANNEL)}, policy["name"]
