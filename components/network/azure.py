"""Network on Azure: a VNet with one node subnet, NAT gateway egress and a network security group.

Children (role names): `vnet`, `nsg`, `nat-ip`, `nat`, `subnet`; entries add `<entry>-https-rule`.
The subnet is its own resource, never inline in the VNet, so subnets added later
(or by other tools) are not removed on the next update. The node subnet is the
first quarter of the VNet (a /18 of a /16, a /22 of a /20): AKS runs with Azure
CNI Overlay, so pods take no VNet addresses and a quarter holds thousands of
nodes, leaving the rest of the range for private endpoints or API server VNet
integration. Egress goes through a Standard NAT gateway with a static public
IP (zone-redundant where the region has zones), which the cluster uses as its
outbound type. Default outbound access is turned off, so nothing leaves the
subnet except through the NAT gateway.

The NSG declares no inline rules. Azure's default rules allow traffic within the
VNet (AllowVNetInBound, 65000) and from the load balancer's health probes
(AllowAzureLoadBalancerInBound, 65001: source `AzureLoadBalancer`, i.e.
168.63.129.16) and deny every other inbound flow, the Internet's included
(DenyAllInbound, 65500) (Azure docs, "Azure network security groups overview",
"Default security rules"). What the Internet may reach is added by each public
entry as a standalone rule (`allow_https_from_internet`): TCP 443 from `Internet` to
that entry's own public IP, nothing else. AKS opens ports for LoadBalancer Services
only on the NSG it manages itself (on the nodes' NICs), never on this subnet NSG, so
without such a rule the entry is unreachable. Standalone rules and no inline
`security_rules` on purpose: mixing both makes them delete each other
(pulumi-azure-native #3359; the SDK's NetworkSecurityGroup docs: "Do not mix inline
and standalone resource").

With `existing_subnet_ids` nothing is created: the one subnet id passes through
(it must already have egress, e.g. a NAT gateway or a firewall route).
"""

from __future__ import annotations

import hashlib
import ipaddress

import pulumi
import pulumi_azure_native as azure_native

from ..catalog.regions import AZURE_REGIONS_WITHOUT_ZONES
from ..common import Environment, InputError, Problem
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
                          zones=pulumi.Output.from_input(zones), security_group_id=nsg.id)


# --- Inbound rules of public entries -------------------------------------------------------------

HTTPS_RULE_PRIORITIES = range(1000, 4000)
"""Where entries' allow rules go (an NSG takes priorities 100-4096; lower wins; two rules of one
direction may not share one: "Azure network security groups overview", "Security rules")."""
_TAKEN: dict[int, dict[int, str]] = {}
"""Per NSG (by the id of its `security_group_id` Output), the priorities given out in this program."""


def _rule_priority(security_group_id: pulumi.Output[str], key: str) -> int:
    """A stable priority for `key`'s rule: from a hash of the key (so adding or reordering entries moves
    no other rule), the next free one on a clash with another entry of the same NSG in this program."""
    taken = _TAKEN.setdefault(id(security_group_id), {})
    span = len(HTTPS_RULE_PRIORITIES)
    start = int(hashlib.sha256(key.encode()).hexdigest(), 16) % span
    for step in range(span):
        priority = HTTPS_RULE_PRIORITIES[(start + step) % span]
        if taken.get(priority, key) == key:
            taken[priority] = key
            return priority
    raise InputError("network security group rules",
                     [Problem(key, None, "allowed: at most 3000 public entries per NSG")])


def _nsg_part(nsg_id: str, part: str) -> str:
    """`/subscriptions/s/resourceGroups/<rg>/providers/Microsoft.Network/networkSecurityGroups/<name>` ->
    the resource group (`resourceGroups`) or the name (`networkSecurityGroups`)."""
    pieces = nsg_id.split("/")
    lowered = [p.lower() for p in pieces]
    return pieces[lowered.index(part.lower()) + 1]


def allow_https_from_internet(owner: pulumi.Resource, name: str, network: NetworkOutputs,
                              destination_ip: pulumi.Input[str], environment: Environment,
                              depends_on: list[pulumi.Resource] | None = None) -> pulumi.Resource | None:
    """Admit TCP 443 from the Internet to one public entry, `destination_ip`, on the node subnet's NSG.

    The destination is the entry's public IP, not the nodes: Azure load balancer rules that AKS writes
    use floating IP (direct server return), so packets reach the nodes still addressed to the
    frontend IP, and the cloud provider's own NSG rules name that IP ("use the LoadBalancer IPs" unless
    floating IP is disabled: kubernetes-sigs/cloud-provider-azure pkg/provider/azure_loadbalancer.go,
    `reconcileSecurityGroup`). Only 443: the entry serves no plain HTTP. The load balancer's health
    probes come from `AzureLoadBalancer`, which the default rule AllowAzureLoadBalancerInBound admits.

    Returns None with an existing subnet (`existing_subnet_ids`): its NSG is its owner's to open.
    """
    nsg_id = network.security_group_id
    if nsg_id is None:
        return None
    priority = _rule_priority(nsg_id, name)
    return azure_native.network.SecurityRule(
        f"{name}-https-rule",
        resource_group_name=nsg_id.apply(lambda i: _nsg_part(i, "resourceGroups")),
        network_security_group_name=nsg_id.apply(lambda i: _nsg_part(i, "networkSecurityGroups")),
        security_rule_name=f"allow-https-{name}"[:80],
        description=f"HTTPS from the Internet to the public entry {name}",
        priority=priority,
        direction=azure_native.network.SecurityRuleDirection.INBOUND,
        access=azure_native.network.SecurityRuleAccess.ALLOW,
        protocol=azure_native.network.SecurityRuleProtocol.TCP,
        source_address_prefix="Internet",
        source_port_range="*",
        destination_address_prefix=destination_ip,
        destination_port_range="443",
        opts=environment.child(owner, depends_on=depends_on or []))
