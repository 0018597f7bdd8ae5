"""ModelEndpoint: serve a model behind an autoscaled, health-checked endpoint in a cell.

Two modes behind one front door:
- `managed`: the cloud's serving service (SageMaker on AWS, Azure ML managed online
  endpoints on Azure, Vertex AI on GCP for Model Garden / Hugging Face models);
- `cluster`: hardened Kubernetes workloads on the cell's cluster (`workload.py`),
  with the cloud's workload identity for read access to the model's bucket prefix
  and a load-balanced HTTPS entry for global traffic.
"""

from __future__ import annotations

import pulumi

from ..catalog.gpus import gpu_offer_problem
from ..catalog.regions import CLOUD_TITLES, CLOUDS, Cloud
from ..common import Problem, raise_if_any
from ..common.dispatch import choice_problems, unknown
from .args import (ENGINES, METRICS, MODES, RATE_LIMITED_ENTRY, WORKLOADS, EndpointOptions, ModelEndpointArgs, Mode,
                   Workload)
from .server import server_problems
from .workload import EndpointBuilder, cluster_builder


def auth_problems(options: EndpointOptions, environment: str) -> list[Problem]:
    """Public entries authenticate: `auth: none` is refused in prod (anyone could spend the GPUs)."""
    if options.mode == "cluster" and options.auth == "none" and environment == "prod":
        return [Problem("auth", "none", "allowed: api_key in prod; an entry without authentication lets anyone "
                                        "who reaches it spend the GPUs")]
    return []


def prod_image_problems(options: EndpointOptions, environment: str) -> list[Problem]:
    """In prod a cluster-mode serving image is named by digest: a tag can be moved to other bytes upstream,
    and every cell's cache must serve the same bytes."""
    from ..images import digest_problem
    image = options.model.image
    if options.mode != "cluster" or environment != "prod" or image is None or (bad := digest_problem(image)) is None:
        return []
    return [Problem("model.image", image, bad)]


def endpoint_problems(cloud: Cloud, region: str, options: EndpointOptions, has_cluster: bool,
                      pool_gpus: dict[str, str]) -> list[Problem]:
    """Rules that need the cell, the serving service's included; paths are relative to the endpoint
    options. The spec's validation and the front door both call this, so a stack reports these with
    their config key paths before anything is registered.

    `pool_gpus` maps the cell's GPU pool names to their GPU.
    """
    problems: list[Problem] = []
    acc, model = options.accelerator, options.model
    if acc.gpu is not None and (bad := gpu_offer_problem(cloud, acc.gpu, acc.count)) is not None:
        problems.append(Problem("accelerator.gpu", acc.gpu, bad))
    garden = model.model_garden or model.hugging_face
    if garden and not (cloud == "gcp" and options.mode == "managed"):
        problems.append(Problem("model.model_garden" if model.model_garden else "model.hugging_face", garden,
                                "allowed: only for managed endpoints on GCP (Vertex AI Model Garden deployments)"))
    if options.mode == "managed" and cloud == "gcp" and not garden:
        problems.append(Problem(
            "mode", "managed",
            "allowed: on GCP, managed mode serves Model Garden or Hugging Face models only "
            "(set model.model_garden or model.hugging_face); no Pulumi resource uploads and deploys a "
            "custom container to Vertex AI (terraform-provider-google #15303), so use mode: cluster "
            "to serve a custom image on GKE"))
    if model.image is None and not garden:
        problems.append(Problem("model.image", None, "required: a pinned serving image", missing=True))
    match options.mode:
        case "cluster":
            problems += _cluster_mode_problems(options, has_cluster, pool_gpus)
            problems += server_problems(options)
            if "rate_limit_per_minute" in options.model_fields_set and not RATE_LIMITED_ENTRY[cloud]:
                problems.append(Problem("rate_limit_per_minute", options.rate_limit_per_minute,
                                        f"allowed: unset on {CLOUD_TITLES[cloud]}, whose entry does not enforce "
                                        "a per-client rate limit yet"))
        case "managed":
            for key in ("engine", "workload", "size_gb", "served_name", "args", "metrics"):
                owner = options.model if key in ("size_gb", "served_name", "args", "metrics") else options
                if key in owner.model_fields_set:
                    where = f"model.{key}" if owner is options.model else key
                    problems.append(Problem(where, getattr(owner, key), "allowed: only in cluster mode (the "
                                            "managed service runs its own server)"))
            if options.scaling.metric == "queue":
                problems.append(Problem("scaling.metric", "queue", "allowed: concurrency or invocations in managed "
                                        "mode (the services publish no queue metric to scale on)"))
            problems += _managed_service_problems(cloud, region, options)
        case _:
            unknown(options.mode, "EndpointOptions.mode", MODES)
    return problems


def _cluster_mode_problems(options: EndpointOptions, has_cluster: bool, pool_gpus: dict[str, str]) -> list[Problem]:
    problems: list[Problem] = []
    acc = options.accelerator
    if acc.instance_type is not None:
        problems.append(Problem("accelerator.instance_type", acc.instance_type,
                                "allowed: only in managed mode; in cluster mode the GPU pool decides the machine"))
    if not has_cluster:
        problems.append(Problem("mode", "cluster", "allowed: only in a cell with a `cluster` section"))
    elif options.gpu_pool is not None and options.gpu_pool not in pool_gpus:
        problems.append(Problem("gpu_pool", options.gpu_pool,
                                f"allowed: one of the cell's GPU pools: {', '.join(pool_gpus) or 'none'}"))
    elif options.gpu_pool is None and acc.gpu is not None and acc.gpu not in pool_gpus.values():
        problems.append(Problem("accelerator.gpu", acc.gpu,
                                f"allowed: a GPU one of the cell's pools has ({', '.join(sorted(set(pool_gpus.values()))) or 'no pools'}), "
                                "or name the pool in gpu_pool"))
    if options.hostname is None:
        problems.append(Problem("hostname", None, "required in cluster mode: the public HTTPS name of the entry",
                                missing=True))
    return problems


def _managed_service_problems(cloud: Cloud, region: str, options: EndpointOptions) -> list[Problem]:
    """The limits of the cloud's serving service (SageMaker, Azure ML, Vertex AI) beyond the catalog's."""
    match cloud:
        case "aws":
            from .aws import sagemaker_problems
            return sagemaker_problems(options, region)
        case "azure":
            return []
        case "gcp":
            if not (options.model.model_garden or options.model.hugging_face):
                return []  # reported by endpoint_problems: Vertex AI serves Model Garden models only
            from .gcp import vertex_problems
            return vertex_problems(options)
        case _:
            unknown(cloud, "ModelEndpointArgs.cloud", CLOUDS)


def argument_problems(args: ModelEndpointArgs) -> list[Problem]:
    """What each cloud needs beyond the options (a Cell always passes these)."""
    problems: list[Problem] = []
    if args.cloud in ("aws", "azure") and args.store is None:
        problems.append(Problem("ModelEndpointArgs.store", None,
                                f"required on {CLOUD_TITLES[args.cloud]}: the ObjectStore holding "
                                "the model (access is granted to its prefix or container only)", missing=True))
    return problems + _cloud_argument_problems(args)


def _cloud_argument_problems(args: ModelEndpointArgs) -> list[Problem]:
    """Each cloud's own needs: its entry's zone and names (`entry_problems`), an Azure resource group,
    a GCP project."""
    cloud = args.cloud
    match cloud:
        case "aws":
            from .aws import entry_problems as aws_entry_problems
            return aws_entry_problems(args)
        case "azure":
            from .azure import entry_problems as azure_entry_problems
            missing = ([Problem("ModelEndpointArgs.resource_group_name", None, "required on Azure", missing=True)]
                       if args.resource_group_name is None else [])
            return [*missing, *azure_entry_problems(args)]
        case "gcp":
            from .gcp import endpoint_project, entry_problems
            missing = ([] if endpoint_project(args) else
                       [Problem("ModelEndpointArgs.project", None,
                                "required on GCP unless the endpoint runs on a GKE cluster", missing=True)])
            return [*missing, *entry_problems(args)]
        case _:
            unknown(cloud, "ModelEndpointArgs.cloud", CLOUDS)


class ModelEndpoint(pulumi.ComponentResource):
    """A model behind an autoscaled, health-checked endpoint.

    Outputs: `url`, `health_url`, `entry_hostname` (cluster mode: the public HTTPS entry
    global traffic points at), `mode`, `min_replicas`, `max_replicas`, `gpu`, `gpus_per_replica`.
    """

    url: pulumi.Output[str]
    health_url: pulumi.Output[str]

    def __init__(self, name: str, args: ModelEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        options = args.options
        raise_if_any(f"invalid ModelEndpoint {name!r}", [
            *choice_problems("ModelEndpointArgs.cloud", args.cloud, CLOUDS),
            *choice_problems("ModelEndpointArgs.options.mode", options.mode, MODES),
            *choice_problems("ModelEndpointArgs.options.engine", options.engine, ENGINES),
            *choice_problems("ModelEndpointArgs.options.workload", options.workload, WORKLOADS),
            *choice_problems("ModelEndpointArgs.options.scaling.metric", options.scaling.metric, METRICS)])
        pools = {args.gpu_pool.options.name: args.gpu_pool.options.gpu} if args.gpu_pool else {}
        problems = argument_problems(args) + [
            p.under("ModelEndpointArgs.options")
            for p in endpoint_problems(args.cloud, args.region, options, args.cluster is not None, pools)]
        if options.mode == "cluster" and args.gpu_pool is None:
            problems.append(Problem("ModelEndpointArgs.gpu_pool", None, "required in cluster mode", missing=True))
        problems += [p.under("ModelEndpointArgs.options") for p in auth_problems(options, args.environment.name)]
        problems += [p.under("ModelEndpointArgs.options")
                     for p in prod_image_problems(options, args.environment.name)]
        problems += _pipeline_problems(args)
        if options.mode == "cluster" and options.auth == "api_key" and args.api_key is None:
            problems.append(Problem("ModelEndpointArgs.api_key", None,
                                    "required with auth api_key: the key the model server enforces", missing=True))
        if args.cluster is not None and args.cluster.args.cloud != args.cloud:
            problems.append(Problem("ModelEndpointArgs.cluster", f"a KubernetesCluster on {args.cluster.args.cloud}",
                                    f"allowed: a KubernetesCluster on {args.cloud}"))
        raise_if_any(f"invalid ModelEndpoint {name!r}", problems)
        build = _builder(options.mode, args.cloud, options.workload)
        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:serving:ModelEndpoint", name, None, opts)
        self.options = options
        out = build(self, name, args)
        self.url = out.url
        self.health_url = out.health_url
        self.entry_hostname = out.entry_hostname
        self.entry_ip = out.entry_ip
        self.api_key_secret = out.api_key_secret
        self.cold_start_seconds = out.cold_start_seconds
        self.register_outputs({
            "cold_start_seconds": out.cold_start_seconds,
            "api_key_secret": out.api_key_secret, "auth": options.auth if options.mode == "cluster" else None,
            "url": out.url, "health_url": out.health_url, "entry_hostname": out.entry_hostname,
            "entry_ip": out.entry_ip,
            "mode": options.mode, "min_replicas": options.min_replicas, "max_replicas": options.max_replicas,
            "gpu": options.accelerator.gpu, "gpus_per_replica": options.accelerator.count,
            "health_path": options.model.health_path,
        })


def _pipeline_problems(args: ModelEndpointArgs) -> list[Problem]:
    """What a cluster-mode endpoint needs around it: the cluster's metrics pipeline (it scales on the
    server's own metrics), and in prod the cell's image cache and an alert channel of its cloud."""
    problems: list[Problem] = []
    prod = args.environment.name == "prod"
    if args.options.mode == "cluster" and args.metrics is None:
        problems.append(Problem("ModelEndpointArgs.metrics", None, "required in cluster mode: the cluster's "
                                "ClusterMetrics, whose managed Prometheus KEDA reads the server's load from",
                                missing=True))
    if args.options.mode == "cluster" and prod and args.image_cache is None:
        problems.append(Problem("ModelEndpointArgs.image_cache", None, "required in prod: pods pull through the "
                                "cell's own cache, not from the upstream registry", missing=True))
    if prod and args.alerts is None:
        problems.append(Problem("ModelEndpointArgs.alerts", None, "required in prod: an AlertChannel of the "
                                "endpoint's cloud and region for its alarms", missing=True))
    if args.alerts is not None and (args.alerts.cloud, args.alerts.region) != (args.cloud, args.region):
        problems.append(Problem("ModelEndpointArgs.alerts", f"a channel in {args.alerts.cloud} {args.alerts.region}",
                                f"allowed: a channel in {args.cloud} {args.region} (alarms notify in their region)"))
    if args.image_cache is not None and args.options.model.image and not args.image_cache.covers(args.options.model.image):
        problems.append(Problem("ModelEndpointArgs.options.model.image", args.options.model.image,
                                "allowed: an image from one of the image cache's upstreams"))
    return problems


def _builder(mode: Mode, cloud: Cloud, workload: Workload) -> EndpointBuilder:
    """The builder for the endpoint's mode and cloud (and workload, in cluster mode), chosen before
    anything is registered."""
    match mode:
        case "cluster":
            return cluster_builder(cloud, workload)
        case "managed":
            return _managed_builder(cloud)
        case _:
            unknown(mode, "EndpointOptions.mode", MODES)


def _managed_builder(cloud: Cloud) -> EndpointBuilder:
    match cloud:
        case "aws":
            from . import aws
            return aws.build_managed
        case "azure":
            from . import azure
            return azure.build_managed
        case "gcp":
            from . import gcp
            return gcp.build_managed
        case _:
            unknown(cloud, "ModelEndpointArgs.cloud", CLOUDS)
