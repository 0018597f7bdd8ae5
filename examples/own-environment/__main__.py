"""Your own environment, composed from aiinfra components directly.

No environment spec and no `deploy()`: this program picks the components it
wants (an object store, a network, a Kubernetes cluster and a GPU pool on AWS),
wires them together itself and exports what it needs. The components still
validate their inputs, tag every resource and apply their secure defaults.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import Environment, ObjectStore, ObjectStoreArgs, ObjectStoreOptions
from components.compute import (
    ClusterOptions,
    GpuNodePool,
    GpuNodePoolArgs,
    GpuPoolOptions,
    KubernetesCluster,
    KubernetesClusterArgs,
    SystemPoolOptions,
)
from components.network import Network, NetworkArgs, NetworkOptions

config = pulumi.Config()
region = pulumi.Config("aws").require("region")

# Name, tags and protection for everything below; `dev` is not protected.
environment = Environment(
    name=pulumi.get_stack(),
    tags={"owner": config.require("owner"), "cost-center": config.require("costCenter")},
)

# One explicit provider, handed to every component (and so to all of their children).
provider = aws.Provider("aws", region=region)
opts = pulumi.ResourceOptions(providers=[provider])

store = ObjectStore(
    "models",
    ObjectStoreArgs(cloud="aws", region=region, environment=environment,
                    options=ObjectStoreOptions(noncurrent_version_days=14)),
    opts=opts,
)

network = Network(
    "network",
    NetworkArgs(cloud="aws", region=region, environment=environment,
                options=NetworkOptions(cidr="10.50.0.0/16", zones=2, single_nat_gateway=True)),
    opts=opts,
)

cluster = KubernetesCluster(
    "cluster",
    KubernetesClusterArgs(cloud="aws", region=region, environment=environment, network=network.outputs,
                          options=ClusterOptions(version="1.33",
                                                 system_pool=SystemPoolOptions(min_nodes=2, max_nodes=3))),
    opts=opts,
)

gpu_pool = GpuNodePool(
    "gpu",
    GpuNodePoolArgs(cluster=cluster, environment=environment,
                    options=GpuPoolOptions(name="gpu", gpu=config.get("gpu") or "l4", gpus_per_node=1,
                                           min_nodes=0, max_nodes=config.get_int("gpuMaxNodes") or 2,
                                           spot=True)),
    opts=opts,
)

pulumi.export("bucket_url", store.url)
pulumi.export("cluster_name", cluster.cluster_name)
pulumi.export("kubeconfig", cluster.kubeconfig)  # secret
pulumi.export("gpu_machine_type", gpu_pool.machine.name)
# `preflight cost` reads `targets.monthly_budget_usd` from the stack outputs of any project.
budget = config.get_float("monthlyBudgetUsd")
pulumi.export("targets", {"monthly_budget_usd": budget} if budget else {})
