"""Exhaustive dispatch (components/common/dispatch.py): every choice by cloud, DNS provider, routing
policy, serving mode, engine or metric refuses a value it has no implementation for with an
InputError naming the value and the allowed ones, before anything is registered; and every table
and selector covers every member of its Literal."""

from __future__ import annotations

import importlib
import pkgutil
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, get_args

import pytest

import components
from components.backup import plan as backup_plan
from components.backup.schedule import schedule_for
from components.catalog import gpus, regions
from components.catalog.gpus import cluster_fee_usd_per_hour
from components.catalog.regions import CLOUDS, Cloud, PerCloud
from components.cell import _foundation
from components.common.dispatch import InputError, Unsupported
from components.alerts import channel as alert_channel
from components.catalog import coldstart, images as catalog_images
from components.catalog.coldstart import PerServer
from components.compute import cluster as compute_cluster, gpu_pool as compute_gpu_pool
from components.images import cache as image_cache
from components.metrics import cluster_metrics
from components.deployment import _dns_cloud, _traffic_cloud
from components.dns import DNS_PROVIDERS
from components.network import network as network_front
from components.serving import args as serving_args, endpoint as serving_endpoint, workload
from components.catalog import engines
from components.catalog.engines import ENGINE_NAMES, PerEngine
from components.serving.args import (ENGINES, MANAGED_METRICS, METRICS, MODES, WORKLOADS, PerManagedMetric,
                                     PerMetric)
from components.spec.model import AwsCell, AzureCell, EnvironmentSpec, GcpCell
from components.storage import object_store
from components.traffic import args as traffic_args, endpoint as traffic_endpoint
from components.traffic.args import POLICIES, PROVIDERS, PerPolicy, PerProvider
from preflight.runtime import ProgramError, plan_stack

# --- refusals before anything is registered --------------------------------------------------

PRELUDE = '''
from types import SimpleNamespace
from typing import Literal

import pulumi
from components import Environment, ObjectStore, ObjectStoreArgs
from components.backup import BackupOptions, BackupPlan, BackupPlanArgs
from components.cell import Cell
from components.compute import (ClusterOptions, GpuNodePool, GpuNodePoolArgs, GpuPoolOptions, KubernetesCluster,
                                KubernetesClusterArgs)
from components.deployment import deploy
from components.network import Network, NetworkArgs, NetworkOptions, NetworkOutputs
from components.serving import EndpointOptions, ModelEndpoint, ModelEndpointArgs
from components.spec.model import EnvironmentSpec, _CellBase
from components.storage import ObjectStoreOptions
from components.traffic import Backend, GlobalEndpoint, GlobalEndpointArgs, TrafficOptions

env = Environment("dev", {"owner": "ml-platform", "cost-center": "cc-1"})
network = NetworkOutputs(network_id=pulumi.Output.from_input("n"),
                         private_subnet_ids=[pulumi.Output.from_input("s")],
                         zones=pulumi.Output.from_input(["z"]))
managed = EndpointOptions.model_validate({
    "name": "chat", "mode": "managed", "accelerator": {"gpu": "l4"},
    "model": {"artifact_path": "m/", "image": "acme.example.com/server:1.2.3"}})
traffic = TrafficOptions(hostname="chat.models.example.com", zone="models.example.com")
backends = [Backend(name="aws-use1", cloud="aws", region="us-east-1", hostname="aws.models.example.com",
                    ip="203.0.113.10"),
            Backend(name="azure-eus", cloud="azure", region="eastus", hostname="azure.models.example.com",
                    ip="203.0.113.20")]


def global_endpoint(**changes):
    options = traffic.model_copy(update=changes)
    GlobalEndpoint("global", GlobalEndpointArgs(options=options, backends=backends, environment=env,
                                                resource_group_name="rg", project="proj-123"))
'''

UNKNOWN_VALUES: dict[str, tuple[str, list[str]]] = {
    "KubernetesCluster cloud": ('''
        KubernetesCluster("k", KubernetesClusterArgs(cloud="oci", region="us-ashburn-1", environment=env,
                                                     network=network, options=ClusterOptions(version="1.33")))
    ''', ["KubernetesClusterArgs.cloud: got 'oci'; allowed: aws, azure or gcp"]),
    "GpuNodePool cloud (from its cluster)": ('''
        cluster = SimpleNamespace(args=SimpleNamespace(cloud="oci"))
        GpuNodePool("p", GpuNodePoolArgs(cluster=cluster, environment=env,
                                         options=GpuPoolOptions(name="l4", gpu="l4", max_nodes=2)))
    ''', ["GpuNodePoolArgs.cluster.args.cloud: got 'oci'; allowed: aws, azure or gcp"]),
    "ModelEndpoint cloud": ('''
        ModelEndpoint("e", ModelEndpointArgs(cloud="oci", region="r", environment=env, options=managed,
                                             bucket_name="b", bucket_url="s3://b"))
    ''', ["ModelEndpointArgs.cloud: got 'oci'; allowed: aws, azure or gcp"]),
    "ModelEndpoint mode": ('''
        ModelEndpoint("e", ModelEndpointArgs(cloud="aws", region="us-east-1", environment=env,
                                             options=managed.model_copy(update={"mode": "serverless"}),
                                             bucket_name="b", bucket_url="s3://b"))
    ''', ["ModelEndpointArgs.options.mode: got 'serverless'; allowed: managed or cluster"]),
    "ModelEndpoint engine": ('''
        ModelEndpoint("e", ModelEndpointArgs(cloud="aws", region="us-east-1", environment=env,
                                             options=managed.model_copy(update={"engine": "triton"}),
                                             bucket_name="b", bucket_url="s3://b"))
    ''', ["ModelEndpointArgs.options.engine: got 'triton'; allowed: vllm, tgi or custom"]),
    "ModelEndpoint workload": ('''
        ModelEndpoint("e", ModelEndpointArgs(cloud="aws", region="us-east-1", environment=env,
                                             options=managed.model_copy(update={"workload": "statefulset"}),
                                             bucket_name="b", bucket_url="s3://b"))
    ''', ["ModelEndpointArgs.options.workload: got 'statefulset'; allowed: deployment or kserve"]),
    "ModelEndpoint scaling metric": ('''
        scaling = managed.scaling.model_copy(update={"metric": "gpu"})
        ModelEndpoint("e", ModelEndpointArgs(cloud="aws", region="us-east-1", environment=env,
                                             options=managed.model_copy(update={"scaling": scaling}),
                                             bucket_name="b", bucket_url="s3://b"))
    ''', ["ModelEndpointArgs.options.scaling.metric: got 'gpu'; allowed: invocations, concurrency or queue"]),
    "Cell of an unknown cloud": ('''
        class OciCell(_CellBase):
            cloud: Literal["oci"] = "oci"
        Cell(OciCell.model_construct(name="oci-ash1", region="us-ashburn-1"), env)
    ''', ["Cell spec.cloud: got 'oci'; allowed: aws, azure or gcp"]),
    "Network cloud": ('''
        Network("n", NetworkArgs(cloud="oci", region="r", environment=env, options=NetworkOptions()))
    ''', ["NetworkArgs.cloud: got 'oci'; allowed: aws, azure or gcp"]),
    "ObjectStore cloud": ('''
        ObjectStore("s", ObjectStoreArgs(cloud="oci", region="r", environment=env, options=ObjectStoreOptions()))
    ''', ["ObjectStoreArgs.cloud: got 'oci'; allowed: aws, azure or gcp"]),
    "BackupPlan cloud": ('''
        BackupPlan("b", BackupPlanArgs(cloud="oci", region="r", environment=env, cell_name="c",
                                       options=BackupOptions(rpo_minutes=60, retention_days=7)))
    ''', ["BackupPlanArgs.cloud: got 'oci'; allowed: aws, azure or gcp"]),
    "GlobalEndpoint DNS provider": ('''
        global_endpoint(provider="ns1")
    ''', ["GlobalEndpointArgs.options.provider: got 'ns1'; allowed: route53, traffic_manager or cloud_dns"]),
    "GlobalEndpoint routing policy": ('''
        global_endpoint(policy="anycast")
    ''', ["GlobalEndpointArgs.options.policy: got 'anycast'; allowed: round_robin, weighted, random, failover, "
          "latency or geo"]),
    "GlobalEndpoint backend cloud": ('''
        backends.append(Backend(name="oci-ash1", cloud="oci", region="us-ashburn-1", hostname="oci.example.com"))
        global_endpoint()
    ''', ["GlobalEndpointArgs.backends[2].cloud: got 'oci'; allowed: aws, azure or gcp"]),
    "deploy: the global endpoint's DNS provider": ('''
        spec = EnvironmentSpec.model_validate({
            "environment": "dev", "tags": {"owner": "ml-platform", "cost-center": "cc-1"},
            "cells": [{"name": "aws-use1", "cloud": "aws", "region": "us-east-1"}],
            "traffic": {"hostname": "chat.models.example.com", "zone": "models.example.com"}})
        deploy(spec.model_copy(update={"traffic": spec.traffic.model_copy(update={"provider": "ns1"})}))
    ''', ["aiinfra:traffic.provider: got 'ns1'; allowed: route53, traffic_manager or cloud_dns"]),
}


def _refused(tmp_path: Path, program: str) -> ProgramError:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: dispatch\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(PRELUDE + textwrap.dedent(program))
    with pytest.raises(ProgramError) as failure:
        plan_stack(tmp_path, "dev")
    assert failure.value.expected, failure.value  # an InputError (a RunError): a message, no traceback
    assert isinstance(failure.value.original, InputError), repr(failure.value.original)
    assert failure.value.registered == 0, failure.value
    return failure.value


@pytest.mark.parametrize("program,expected", UNKNOWN_VALUES.values(), ids=list(UNKNOWN_VALUES))
def test_a_value_outside_its_literal_is_refused_before_anything_is_registered(
        tmp_path: Path, program: str, expected: list[str]) -> None:
    message = str(_refused(tmp_path, program))
    for fragment in expected:
        assert fragment in message, (fragment, message)


# A member added to a Literal (and so to the front door's list) without a branch in the dispatcher:
# the case. The selector's `unknown` refuses it before the component registers anything.
NEW_MEMBERS: dict[str, tuple[ModuleType, str, str, str]] = {
    "KubernetesCluster: a new cloud": (compute_cluster, "CLOUDS", "oci", '''
        KubernetesCluster("k", KubernetesClusterArgs(cloud="oci", region="r", environment=env,
                                                     network=network, options=ClusterOptions(version="1.33")))
    '''),
    "ModelEndpoint: a new mode": (serving_endpoint, "MODES", "serverless", '''
        ModelEndpoint("e", ModelEndpointArgs(cloud="aws", region="us-east-1", environment=env,
                                             options=managed.model_copy(update={"mode": "serverless"}),
                                             bucket_name="b", bucket_url="s3://b"))
    '''),
    "Network: a new cloud": (network_front, "CLOUDS", "oci", '''
        Network("n", NetworkArgs(cloud="oci", region="r", environment=env, options=NetworkOptions()))
    '''),
    "Route 53: a new routing policy": (traffic_endpoint, "POLICIES", "anycast", '''
        global_endpoint(policy="anycast")
    '''),
    "Traffic Manager: a new routing policy": (traffic_endpoint, "POLICIES", "anycast", '''
        global_endpoint(policy="anycast", provider="traffic_manager")
    '''),
    "Cloud DNS: a new routing policy": (traffic_endpoint, "POLICIES", "anycast", '''
        global_endpoint(policy="anycast", provider="cloud_dns")
    '''),
}


@pytest.mark.parametrize("module,members,member,program", NEW_MEMBERS.values(), ids=list(NEW_MEMBERS))
def test_a_member_without_a_branch_is_refused_before_anything_is_registered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: ModuleType, members: str, member: str,
        program: str) -> None:
    monkeypatch.setattr(module, members, (*getattr(module, members), member))
    message = str(_refused(tmp_path, program))
    assert "no implementation for" in message and repr(member) in message, message


# --- completeness: every table and every selector covers its Literal --------------------------

LITERALS: list[tuple[type, Any, tuple[str, ...]]] = [
    (PerCloud, regions.Cloud, CLOUDS),
    (PerProvider, traffic_args.Provider, PROVIDERS),
    (PerPolicy, traffic_args.Policy, POLICIES),
    (PerMetric, serving_args.Metric, METRICS),
    (PerManagedMetric, serving_args.ManagedMetric, MANAGED_METRICS),
    (PerEngine, engines.EngineName, ENGINE_NAMES),
    (PerServer, serving_args.Engine, ENGINES),
]


@pytest.mark.parametrize("table_type,literal,members", LITERALS, ids=lambda x: getattr(x, "__name__", ""))
def test_table_types_and_member_lists_match_their_literal(table_type: type, literal: Any,
                                                           members: tuple[str, ...]) -> None:
    assert set(table_type.__required_keys__) == set(get_args(literal))  # type: ignore[attr-defined]
    assert members == get_args(literal)


def test_mode_and_engine_lists_match_their_literal() -> None:
    assert MODES == get_args(serving_args.Mode) and ENGINES == get_args(serving_args.Engine)
    assert WORKLOADS == get_args(serving_args.Workload)


def _tables() -> list[tuple[str, dict[str, Any], type]]:
    """Every module-level table annotated with a Per<Literal> type anywhere in components/."""
    kinds = {t.__name__: t for t, _, _ in LITERALS}
    found = []
    for info in pkgutil.walk_packages(components.__path__, "components."):
        module = importlib.import_module(info.name)
        for name, annotation in vars(module).get("__annotations__", {}).items():
            kind = str(annotation).split("[", 1)[0]
            if kind in kinds:
                found.append((f"{info.name}.{name}", getattr(module, name), kinds[kind]))
    return found


def test_every_table_has_every_member() -> None:
    tables = _tables()
    names = {name for name, _, _ in tables}
    # The discovery finds the tables this change introduced (and any added later).
    assert {"components.catalog.regions.REGIONS", "components.traffic.traffic_manager.ROUTING_METHODS",
            "components.compute.cluster._SECRETS_KEY_FORMS", "components.serving.aws.PREDEFINED_METRICS",
            "components.traffic.args.PROBE_SPREAD_INTERVALS"} <= names, names
    for name, table, kind in tables:
        assert set(table) == set(kind.__required_keys__), name  # type: ignore[attr-defined]


NOT_YET_TYPED = {"components.spec.load.CELL_MODELS"}
"""Tables keyed by a Literal's members that are not Per<Literal> tables yet (spec/load.py is being
changed elsewhere; it looks cell models up by the cloud tag of a validation error)."""


def test_no_untyped_table_is_keyed_by_a_literals_members() -> None:
    """A dict keyed by clouds, providers, policies, modes, engines or metrics must be a Per<Literal>
    table (or a match), so pyright sees a missing member."""
    typed = {id(table) for _, table, _ in _tables()}
    member_sets = [set(CLOUDS), set(PROVIDERS), set(POLICIES), set(METRICS), set(MODES), set(ENGINES),
                   set(WORKLOADS)]
    untyped = []
    for info in pkgutil.walk_packages(components.__path__, "components."):
        for name, value in vars(importlib.import_module(info.name)).items():
            if (isinstance(value, dict) and len(value) >= 2 and id(value) not in typed
                    and any(set(value) <= members for members in member_sets)):
                untyped.append(f"{info.name}.{name}")
    assert set(untyped) <= NOT_YET_TYPED, untyped


def _cell(cloud: Cloud) -> AwsCell | AzureCell | GcpCell:
    match cloud:
        case "aws":
            return AwsCell(name="aws-use1", region="us-east-1")
        case "azure":
            return AzureCell(name="azure-eus", region="eastus")
        case "gcp":
            return GcpCell(name="gcp-usc1", region="us-central1", project="proj-123")


SELECTORS: dict[str, Callable[[Cloud], object]] = {
    "compute.cluster._builder": compute_cluster._builder,
    "compute.gpu_pool._builder": compute_gpu_pool._builder,
    "serving.endpoint._managed_builder": serving_endpoint._managed_builder,
    "serving.workload.cluster_serving": workload.cluster_serving,
    "images.cache._cloud": image_cache._cloud,
    "metrics.cluster_metrics._builder": cluster_metrics._builder,
    "alerts.channel._builder": alert_channel._builder,
    "catalog.images.model_loader": catalog_images.model_loader,
    "catalog.coldstart.node_ready_seconds": lambda cloud: coldstart.NODE_READY_SECONDS[cloud],
    "network.network._builder": network_front._builder,
    "storage.object_store._builder": object_store._builder,
    "backup.plan._builder": backup_plan._builder,
    "backup.schedule.schedule_for": lambda cloud: schedule_for(cloud, 60),
    "catalog.gpus.cluster_fee_usd_per_hour": cluster_fee_usd_per_hour,
    "cell._foundation": lambda cloud: _foundation(_cell(cloud)),
}


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("selector", SELECTORS.values(), ids=list(SELECTORS))
def test_every_cloud_selector_covers_every_cloud(selector: Callable[[Cloud], object], cloud: Cloud) -> None:
    assert selector(cloud) is not None


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", WORKLOADS)
def test_the_endpoint_selector_covers_every_mode_cloud_and_workload(mode: Any, cloud: Cloud, kind: Any) -> None:
    assert callable(serving_endpoint._builder(mode, cloud, kind))
    assert callable(workload._workload_objects(kind))


UNSUPPORTED = {("cloud_dns", "latency")}
"""Combinations a provider rejects by design (`unsupported`), and traffic_problems reports first."""


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_dns_provider_has_a_builder_for_every_policy(provider: Any, policy: Any) -> None:
    if (provider, policy) in UNSUPPORTED:
        with pytest.raises(Unsupported):
            traffic_endpoint._builder(provider, policy)
    else:
        assert callable(traffic_endpoint._builder(provider, policy))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_global_endpoints_home_covers_every_provider(provider: Any) -> None:
    assert _traffic_cloud(provider) in ("aws", "azure", "gcp")


@pytest.mark.parametrize("provider", DNS_PROVIDERS)
def test_the_zones_home_covers_every_dns_provider(provider: Any) -> None:
    assert _dns_cloud(provider) in ("aws", "azure", "gcp")


def test_an_unknown_dns_provider_is_refused() -> None:
    with pytest.raises(InputError, match=r"aiinfra:dns.provider: got 'ns1'; allowed: route53, cloud_dns or azure_dns"):
        _dns_cloud("ns1")  # type: ignore[arg-type]


def test_the_selectors_name_the_value_and_the_allowed_ones() -> None:
    with pytest.raises(InputError, match=r"KubernetesClusterArgs.cloud: got 'oci'; allowed: aws, azure or gcp"):
        compute_cluster._builder("oci")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"TrafficOptions.policy: got 'anycast'; allowed: round_robin, .* or geo"):
        traffic_endpoint._builder("traffic_manager", "anycast")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"EndpointOptions.workload: got 'statefulset'; allowed: deployment or kserve"):
        workload._workload_objects("statefulset")  # type: ignore[arg-type]


def test_catalog_rows_cover_every_cloud() -> None:
    assert {m.cloud for m in gpus.GPU_MACHINES} == set(CLOUDS)
    assert {m.cloud for m in gpus.SYSTEM_MACHINES} == set(CLOUDS)


@pytest.mark.parametrize("metric", MANAGED_METRICS)
def test_azure_ml_autoscaling_covers_every_metric(metric: Any) -> None:
    from types import SimpleNamespace

    from components.serving.args import Scaling
    from components.serving.azure import _request_settings
    scaling = Scaling(metric=metric, target=3)
    settings = _request_settings(SimpleNamespace(options=SimpleNamespace(scaling=scaling)))  # type: ignore[arg-type]
    assert settings.request_timeout  # built for every metric; concurrency also caps requests per instance
    if metric == "concurrency":
        assert settings.max_concurrent_requests_per_instance == 3
