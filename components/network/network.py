"""Network: the private network a cell's cluster runs in, on AWS, Azure or GCP.

Creates a VPC / VNet / VPC network with private subnets across zones and the
NAT egress a private cluster needs, unless existing subnets are given (then it
creates nothing and passes them through).
"""

from __future__ import annotations

from typing import Callable

import pulumi

from ..catalog.regions import CLOUDS, Cloud
from ..common import Problem, raise_if_any
from ..common.dispatch import choice_problems, unknown
from . import aws, azure, gcp
from .args import NetworkArgs, NetworkOptions, NetworkOutputs

NetworkBuilder = Callable[[pulumi.Resource, str, NetworkArgs], NetworkOutputs]


def _builder(cloud: Cloud) -> NetworkBuilder:
    """The per-cloud network builder, chosen before anything is registered."""
    match cloud:
        case "aws":
            return aws.build
        case "azure":
            return azure.build
        case "gcp":
            return gcp.build
        case _:
            unknown(cloud, "NetworkArgs.cloud", CLOUDS)


def network_problems(cloud: str, options: NetworkOptions) -> list[Problem]:
    """Rules that need the cloud; paths are relative to the options."""
    problems: list[Problem] = []
    subnets = options.existing_subnet_ids
    if subnets is not None:
        if cloud == "aws" and len(subnets) < 2:
            problems.append(Problem("existing_subnet_ids", subnets,
                                    "allowed: at least 2 private subnet ids in different zones"))
        if cloud in ("azure", "gcp") and len(subnets) != 1:
            problems.append(Problem("existing_subnet_ids", subnets, "allowed: exactly one subnet"))
        if cloud == "gcp" and not (options.pods_range_name and options.services_range_name):
            problems.append(Problem("pods_range_name", options.pods_range_name,
                                    "required with existing_subnet_ids on GCP, with services_range_name",
                                    missing=options.pods_range_name is None))
    elif options.pods_range_name or options.services_range_name:
        problems.append(Problem("pods_range_name", options.pods_range_name,
                                "allowed: only with existing_subnet_ids (created networks name their own ranges)"))
    if cloud == "gcp" and subnets is None and not options.cidr.endswith("/16"):
        problems.append(Problem("cidr", options.cidr,
                                "allowed: a /16 on GCP; the node, pod and service ranges are carved from it"))
    if cloud != "aws" and options.single_nat_gateway is not None:
        problems.append(Problem("single_nat_gateway", options.single_nat_gateway,
                                "allowed: only on AWS (Azure and GCP NAT is regional)"))
    return problems


class Network(pulumi.ComponentResource):
    """A private network with NAT egress, or existing subnets passed through.

    Outputs: `network_id`, `private_subnet_ids`, `zones` (see NetworkOutputs).
    """

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_any(f"invalid Network {name!r}", choice_problems("NetworkArgs.cloud", args.cloud, CLOUDS))
        raise_if_any(f"invalid Network {name!r}",
                     [p.under("NetworkArgs.options") for p in network_problems(args.cloud, args.options)])
        build = _builder(args.cloud)
        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:network:Network", name, None, opts)
        self.outputs: NetworkOutputs = build(self, name, args)
        self.register_outputs({"network_id": self.outputs.network_id,
                               "private_subnet_ids": self.outputs.private_subnet_ids,
                               "zones": self.outputs.zones})
