"""Network on Azure: a VNet with one node subnet, NAT gateway egress and a network security group.

Children (role names): `vnet`, `nsg`, `nat-ip`, `nat`, `subnet`.
The subnet is its own resource, never inline in the VNet, so subnets added later
(or by other tools) are not removed on the next update. The node subnet is the
first quarter of the VNet (a /18 of a /16, a /22 of a /20): AKS runs with Azure
CNI Overlay, so pods take no VNet addresses and a quarter holds thousands of
nodes, leaving the rest of the range for private endpoints or API server VNet
integration. Egress goes through a Standard NAT gateway with a static public
IP (zone-redundant where the region has zones), which the cluster uses as its
outbound type. Default outbound access is turned off, so nothing leaves the
subnet except through the NAT gateway. The NSG carries no rules of its own:
Azure's defaults allow traffic within the VNet and from the load balancer and
deny all other inbound traffic.

With `existing_subnet_ids` nothing is created: the one subnet id passes through
(it must already have egress, e.g. a NAT gateway or a firewall route).
"""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_azure_native as azure_native

from ..catalog.regions import AZURE_REGIONS_WITHOUT_ZONES
from ..common import InputError, Problem
from .args import NetworkArgs, NetworkOutputs

_ZONES = ("1", "2", "3")


def node_subnet_cidr(cidr: str) -> str:
    """The node subnet: the first quarter of the VNet range (e.g. 10.32.0.0/16 -> 10.32.0.0/18)."""
    net = ipaddress.ip_network(cidr, strict=True)
    return str(next(net.subnets(prefixlen_diff=2)))


def region_zones(region: str, count: int) -> list[str]:
    """The first `count` of zones "1", "2", "3", or none where the region has no zones."""
    return [] if region in AZURE_REGIONS_WITHOUT_ZONES else list(_ZONES[:count])


def build(parent: pulumi.Resource, name: str, args: NetworkArgs) -> NetworkOutputs:
    env = args.environment
    opts = args.options
    zones = region_zones(args.region, opts.zones)
    if opts.existing_subnet_ids is not None:
        subnet_id = opts.existing_subnet_ids[0]
        vnet_id = subnet_id.split("/subnets/")[0]
        return NetworkOutputs(network_id=pulumi.Output.from_input(vnet_id),
                              private_subnet_ids=[pulumi.Output.from_input(subnet_id)],
                              zones=pulumi.Output.from_input(zones))
    group_name = args.resource_group_name
    if group_name is None:
        raise InputError(f"invalid Network {name!r}", [Problem(
            "NetworkArgs.resource_group_name", None, "required on Azure to create a VNet", missing=True)])

    vnet = azure_native.network.VirtualNetwork(
        f"{name}-vnet",
        resource_group_name=group_name,
        location=args.region,
        address_space={"address_prefixes": [opts.cidr]},
        opts=env.child(parent))

    nsg = azure_native.network.NetworkSecurityGroup(
        f"{name}-nsg",
        resource_group_name=group_name,
        location=args.region,
        opts=env.child(parent))

    nat_ip = azure_native.network.PublicIPAddress(
        f"{name}-nat-ip",
        resource_group_name=group_name,
        location=args.region,
        sku={"name": azure_native.network.PublicIPAddressSkuName.STANDARD,
             "tier": azure_native.network.PublicIPAddressSkuTier.REGIONAL},
        public_ip_allocation_method=azure_native.network.IPAllocationMethod.STATIC,
        public_ip_address_version=azure_native.network.IPVersion.I_PV4,
        # Zone-redundant (all three zones; a public IP is in one zone or all of them): the
        # address survives a zone loss. A Standard NAT gateway itself is zonal (Azure picks
        # the zone), so egress is not zone-redundant; a StandardV2 NAT gateway would be.
        zones=region_zones(args.region, len(_ZONES)) or None,
        opts=env.child(parent))

    nat = azure_native.network.NatGateway(
        f"{name}-nat",
        resource_group_name=group_name,
        location=args.region,
        sku={"name": azure_native.network.NatGatewaySkuName.STANDARD},
        public_ip_addresses=[{"id": nat_ip.id}],
        idle_timeout_in_minutes=4,
        opts=env.child(parent))

    subnet = azure_native.network.Subnet(
        f"{name}-subnet",
        resource_group_name=group_name,
        virtual_network_name=vnet.name,
        address_prefix=node_subnet_cidr(opts.cidr),
        nat_gateway={"id": nat.id},
        network_security_group={"id": nsg.id},
        default_outbound_access=False,
        opts=env.child(parent))

    return NetworkOutputs(network_id=vnet.id, private_subnet_ids=[subnet.id],
                          zones=pulumi.Output.from_input(zones))
