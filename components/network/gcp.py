"""Network on GCP: a custom-mode VPC network, one regional subnetwork with GKE ranges, Cloud NAT.

Children (role names): `vpc`, `subnet`, `router`, `nat`. With
`existing_subnet_ids` nothing is created: the subnetwork and its named
secondary ranges are passed through (its network is read with one lookup).

Address layout of the /16 (e.g. 10.31.0.0/16), carved with `ipaddress`:

    nodes     first /20 of the lower /17   10.31.0.0/20     4,096 node IPs
    services  second /20 of the lower /17  10.31.16.0/20    4,096 ClusterIPs (GKE's default size)
    (free)    rest of the lower /17        10.31.32.0-10.31.127.255, for later subnets
                                           (proxy-only, PSC endpoints, more node ranges)
    pods      the upper /17                10.31.128.0/17   32,768 pod IPs

GKE gives every node a pod block twice its max pods per node; the cluster sets
64 pods per node (a /25), so the pod range holds 256 nodes.

Names are deterministic (`global_name`): a VPC name shows up in firewall rules,
peering and routes, and a known name makes it checkable in an offline plan.
The subnetwork logs flows (5 s aggregation, half of flows sampled, all
metadata) and has Private Google Access, so private nodes reach Google APIs
without NAT. Cloud NAT gives the private nodes egress (image pulls from public
registries): automatically allocated addresses, only for this subnetwork (all
its ranges), errors logged.
"""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_gcp as gcp

from ..common.naming import global_name
from .args import NetworkArgs, NetworkOutputs

PODS_RANGE = "pods"
SERVICES_RANGE = "services"


def address_plan(cidr: str) -> dict[str, str]:
    """Nodes, services and pods ranges carved from a /16 (see the module docstring)."""
    network = ipaddress.ip_network(cidr, strict=True)
    if not isinstance(network, ipaddress.IPv4Network) or network.prefixlen != 16:
        raise ValueError(f"GCP networks are carved from an IPv4 /16; got {cidr}")
    lower, upper = network.subnets(new_prefix=17)
    quarter = lower.subnets(new_prefix=20)
    nodes, services = next(quarter), next(quarter)
    return {"nodes": str(nodes), SERVICES_RANGE: str(services), PODS_RANGE: str(upper)}


def build(parent: pulumi.Resource, name: str, args: NetworkArgs) -> NetworkOutputs:
    env = args.environment
    opts = args.options
    if opts.existing_subnet_ids:
        subnet_link = opts.existing_subnet_ids[0]
        existing = gcp.compute.get_subnetwork_output(self_link=subnet_link,
                                                     opts=pulumi.InvokeOutputOptions(parent=parent))
        return NetworkOutputs(
            network_id=existing.network,
            private_subnet_ids=[pulumi.Output.from_input(subnet_link)],
            zones=pulumi.Output.from_input([]),
            pods_range_name=opts.pods_range_name,
            services_range_name=opts.services_range_name)

    ranges = address_plan(opts.cidr)
    network = gcp.compute.Network(
        f"{name}-vpc",
        name=global_name(name),
        project=args.project,
        auto_create_subnetworks=False,
        routing_mode="REGIONAL",
        opts=env.child(parent))
    subnet = gcp.compute.Subnetwork(
        f"{name}-subnet",
        name=global_name(f"{name}-nodes"),
        project=args.project,
        region=args.region,
        network=network.id,
        ip_cidr_range=ranges["nodes"],
        secondary_ip_ranges=[
            {"range_name": PODS_RANGE, "ip_cidr_range": ranges[PODS_RANGE]},
            {"range_name": SERVICES_RANGE, "ip_cidr_range": ranges[SERVICES_RANGE]},
        ],
        private_ip_google_access=True,
        log_config={"aggregation_interval": "INTERVAL_5_SEC", "flow_sampling": 0.5,
                    "metadata": "INCLUDE_ALL_METADATA"},
        opts=env.child(parent))
    router = gcp.compute.Router(
        f"{name}-router",
        name=global_name(f"{name}-router"),
        project=args.project,
        region=args.region,
        network=network.id,
        opts=env.child(parent))
    gcp.compute.RouterNat(
        f"{name}-nat",
        name=global_name(f"{name}-nat"),
        project=args.project,
        region=args.region,
        router=router.name,
        nat_ip_allocate_option="AUTO_ONLY",
        source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
        subnetworks=[{"name": subnet.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
        log_config={"enable": True, "filter": "ERRORS_ONLY"},
        opts=env.child(parent))
    return NetworkOutputs(
        network_id=network.self_link,
        private_subnet_ids=[subnet.self_link],
        zones=pulumi.Output.from_input([]),
        pods_range_name=PODS_RANGE,
        services_range_name=SERVICES_RANGE)
