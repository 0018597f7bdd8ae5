"""KubernetesCluster: a private, encrypted, audited cluster on EKS, AKS or GKE.

The front door validates, installs the environment's tags, hands over to the
per-cloud builder (`aws.py`, `azure.py`, `gcp.py`) and builds the
`pulumi_kubernetes.Provider` that on-cluster resources use.
"""

from __future__ import annotations

import re
from typing import Callable

import pulumi
import pulumi_kubernetes as k8s

from ..catalog.gpus import SYSTEM_MACHINES, CatalogError, system_machine
from ..catalog.regions import CLOUDS, Cloud, PerCloud
from ..common import Problem, raise_if_any
from ..common.dispatch import choice_problems, unknown
from .args import ClusterHandle, ClusterOptions, ClusterOutputs, KubernetesClusterArgs

ClusterBuilder = Callable[[pulumi.Resource, str, KubernetesClusterArgs], ClusterOutputs]

_SECRETS_KEY_FORMS: PerCloud[tuple[re.Pattern[str], str]] = {
    "aws": (re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$"),
            "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)"),
    "azure": (re.compile(r"^https://[A-Za-z0-9-]+\.vault\.azure\.net/keys/[A-Za-z0-9-]+/[0-9a-f]{32}$"),
              "a versioned Key Vault key id (https://<vault>.vault.azure.net/keys/<name>/<version>)"),
    "gcp": (re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$"),
            "a Cloud KMS key name (projects/<p>/locations/<region>/keyRings/<r>/cryptoKeys/<k>)"),
}

_KEY_REGION: PerCloud[Callable[[str], str] | None] = {
    "aws": lambda arn: arn.split(":")[3],
    "azure": None,  # Key Vault keys are not regional
    "gcp": lambda name: name.split("/")[3],
}
"""The region a well-formed key identifier names; EKS and GKE need the key in the cluster's region."""

_NODES_BRING_DEVICE_PLUGIN: PerCloud[bool] = {"aws": False, "azure": False, "gcp": True}
"""Whether the cloud's GPU nodes run the NVIDIA device plugin themselves: GKE's do; EKS's AL2023
NVIDIA AMI and AKS's driver install bring drivers only, so the cluster installs the plugin."""


def cluster_problems(cloud: Cloud, environment: str, options: ClusterOptions, region: str | None = None) -> list[Problem]:
    """Rules that need the cloud and environment; paths are relative to the options."""
    problems: list[Problem] = []
    machine = options.system_pool.machine_type
    if machine is not None:
        try:
            system_machine(cloud, machine)
        except CatalogError:
            allowed = ", ".join(m.name for m in SYSTEM_MACHINES if m.cloud == cloud)
            problems.append(Problem("system_pool.machine_type", machine,
                                    f"allowed: a {cloud} system machine type from the catalog: {allowed}"))
    if options.secrets_key_id is not None:
        pattern, allowed = _SECRETS_KEY_FORMS[cloud]
        key = options.secrets_key_id
        key_region = _KEY_REGION[cloud]
        if not pattern.match(key):
            problems.append(Problem("secrets_key_id", key, f"allowed: {allowed}"))
        elif region is not None and key_region is not None and key_region(key) != region:
            problems.append(Problem("secrets_key_id", key, f"allowed: a key in the cluster's region {region!r}"))
    if options.public_endpoint and environment != "dev":
        problems.append(Problem("public_endpoint", True,
                                f"allowed: false in {environment}; only dev may expose the API server "
                                "(and only to public_access_cidrs)"))
    if options.public_endpoint and not options.public_access_cidrs:
        problems.append(Problem("public_access_cidrs", [],
                                "allowed: at least one CIDR when public_endpoint is true; the API server is never open to the world"))
    if options.public_access_cidrs and not options.public_endpoint:
        problems.append(Problem("public_access_cidrs", options.public_access_cidrs,
                                "allowed: only with public_endpoint: true"))
    return problems


class KubernetesCluster(pulumi.ComponentResource):
    """A managed Kubernetes cluster with secure defaults on every cloud.

    Private API endpoint (dev may open it to listed CIDRs), secrets envelope
    encryption with a created key (rotation on) unless one is given, control-plane
    audit logs, workload identity, a pinned version, a multi-zone on-demand system
    pool, deletion protection in prod.

    Outputs: `cluster_name`, `endpoint`, `oidc_issuer`, `kubeconfig` (secret),
    and `provider`, a `pulumi_kubernetes.Provider` for on-cluster resources.
    """

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    logical_name: str
    """The name the cluster was created with; its children's names start with it."""

    def __init__(self, name: str, args: KubernetesClusterArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_any(f"invalid KubernetesCluster {name!r}",
                     choice_problems("KubernetesClusterArgs.cloud", args.cloud, CLOUDS))
        problems = [p.under("KubernetesClusterArgs.options")
                    for p in cluster_problems(args.cloud, args.environment.name, args.options, args.region)]
        if args.cloud == "azure" and args.resource_group_name is None:
            problems.append(Problem("KubernetesClusterArgs.resource_group_name", None, "required on Azure", missing=True))
        if args.cloud == "gcp" and not args.project:
            problems.append(Problem("KubernetesClusterArgs.project", None, "required on GCP", missing=True))
        if args.cloud == "gcp" and not (args.network.pods_range_name and args.network.services_range_name):
            problems.append(Problem(
                "KubernetesClusterArgs.network", "a network without pods and services ranges",
                "allowed on GCP: a Network built for GCP (one subnetwork with named pods and services ranges)"))
        raise_if_any(f"invalid KubernetesCluster {name!r}", problems)
        build = _builder(args.cloud)
        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:compute:KubernetesCluster", name, None, opts)
        self.args = args
        self.logical_name = name
        out = build(self, name, args)
        # Annotated here, not on the class: the SDK evaluates class annotations at run time, and the
        # per-cloud handle types are imported for type checking only.
        self.handle: ClusterHandle = out.handle
        """The cloud's own facts about the cluster (EksHandle, AksHandle or GkeHandle)."""
        self.stateful = out.stateful
        self.cluster_name = out.name
        self.endpoint = out.endpoint
        self.oidc_issuer = out.oidc_issuer
        self.kubeconfig = pulumi.Output.secret(out.kubeconfig)
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self))
        self._device_plugin: pulumi.ComponentResource | None = None
        self.register_outputs({"cluster_name": self.cluster_name, "endpoint": self.endpoint,
                               "oidc_issuer": self.oidc_issuer, "kubeconfig": self.kubeconfig,
                               "cloud": args.cloud, "region": args.region, "version": args.options.version})

    def ensure_device_plugin(self) -> None:
        """Install the NVIDIA device plugin once, on clouds whose nodes do not bring it (EKS, AKS)."""
        if self._device_plugin is None and not _NODES_BRING_DEVICE_PLUGIN[self.args.cloud]:
            from .device_plugin import NvidiaDevicePlugin
            self._device_plugin = NvidiaDevicePlugin(
                f"{self.logical_name}-nvidia-device-plugin", provider=self.provider,
                opts=pulumi.ResourceOptions(parent=self))


def _builder(cloud: Cloud) -> ClusterBuilder:
    """The per-cloud cluster builder, chosen before anything is registered."""
    match cloud:
        case "aws":
            from . import aws
            return aws.build_cluster
        case "azure":
            from . import azure
            return azure.build_cluster
        case "gcp":
            from . import gcp
            return gcp.build_cluster
        case _:
            unknown(cloud, "KubernetesClusterArgs.cloud", CLOUDS)
