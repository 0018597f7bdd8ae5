"""Network on AWS: a VPC with private and public subnets per zone, NAT egress and flow logs.

Layout of the VPC CIDR (a /16 to /20), fixed so that subnets never move when
options change:

* The CIDR is split into four quarters. Quarters 1-3 are the private subnets,
  one per zone (a /18 each from a /16): EKS's VPC CNI gives every pod a VPC
  address, so the private subnets get almost all of the space.
* The fourth quarter holds the public subnets, one per zone, each
  `min(prefix + 8, 26)` long (a /24 from a /16, never smaller than a /26 so a
  load balancer always fits). Only NAT gateways and internet-facing load
  balancers live there; the rest of the quarter stays free for later use.

Private subnets carry `kubernetes.io/role/internal-elb=1`, public subnets
`kubernetes.io/role/elb=1`, so the AWS Load Balancer Controller finds them.
No subnet maps public IPs on launch. Egress goes through NAT gateways: one per
zone (egress survives a zone loss) or a single one (cheaper) when
`single_nat_gateway` resolves true (default: true in dev only). The VPC's
default security group is emptied (nothing can use it by accident) and all
traffic is recorded by VPC flow logs in CloudWatch Logs.

Children (role names): `vpc`, `default-sg`, `igw`, `public-<az>`, `private-<az>`,
`public-rt`, `public-default-route`, `public-rta-<az>`, `nat-eip-<n>`, `nat-<n>`,
`private-rt-<az>`, `private-default-route-<az>`, `private-rta-<az>`,
`flow-logs`, `flow-logs-role`, `flow-logs-policy`, `flow-logs-group`
(`<az>` is az1, az2, az3 in zone order).
"""

from __future__ import annotations

import ipaddress
import json

import pulumi
import pulumi_aws as aws

from .args import NetworkArgs, NetworkOutputs
from ..common.aws_iam import trust_policy

PRIVATE_SUBNET_TAGS = {"kubernetes.io/role/internal-elb": "1"}
"""Where the AWS Load Balancer Controller puts internal load balancers."""
PUBLIC_SUBNET_TAGS = {"kubernetes.io/role/elb": "1"}
"""Where the AWS Load Balancer Controller puts internet-facing load balancers."""


def subnet_cidrs(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(private, public) subnet CIDRs, one of each per zone; see the module docstring for the layout."""
    net = ipaddress.ip_network(cidr, strict=True)
    quarters = list(net.subnets(prefixlen_diff=2))
    private = [str(q) for q in quarters[:zones]]
    public_prefix = min(net.prefixlen + 8, 26)
    public = [str(s) for s, _ in zip(quarters[3].subnets(new_prefix=public_prefix), range(zones))]
    return private, public


def single_nat(args: NetworkArgs) -> bool:
    """The resolved `single_nat_gateway`: the option if set, else true in dev only."""
    chosen = args.options.single_nat_gateway
    return args.environment.name == "dev" if chosen is None else chosen


def _flow_logs(parent: pulumi.Resource, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc) -> None:
    """All accepted and rejected traffic of the VPC to CloudWatch Logs, kept 365 days in prod, 30 elsewhere.

    The log group is audit evidence, so it is stateful (protected and retained in prod)."""
    env, region = args.environment, args.region
    group = aws.cloudwatch.LogGroup(
        f"{name}-flow-logs-group", retention_in_days=env.log_retention_days, region=region,
        opts=env.child(parent, stateful=True))
    role = aws.iam.Role(
        f"{name}-flow-logs-role",
        description=f"VPC flow logs of {name} to CloudWatch Logs",
        assume_role_policy=trust_policy("vpc-flow-logs.amazonaws.com"),
        opts=env.child(parent))
    policy = aws.iam.RolePolicy(
        f"{name}-flow-logs-policy", role=role.id,
        policy=group.arn.apply(lambda arn: json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow",
                           "Action": ["logs:CreateLogStream", "logs:PutLogEvents",
                                      "logs:DescribeLogGroups", "logs:DescribeLogStreams"],
                           "Resource": [arn, f"{arn}:*"]}]})),
        opts=env.child(parent))
    aws.ec2.FlowLog(
        f"{name}-flow-logs", vpc_id=vpc.id, traffic_type="ALL",
        log_destination_type="cloud-watch-logs", log_destination=group.arn, iam_role_arn=role.arn,
        region=region, opts=env.child(parent, depends_on=[policy]))


def build(parent: pulumi.Resource, name: str, args: NetworkArgs) -> NetworkOutputs:
    options, env, region = args.options, args.environment, args.region
    if options.existing_subnet_ids is not None:
        # Existing subnets: create nothing. EKS derives the VPC from the subnets; zones are unknown here.
        return NetworkOutputs(
            network_id=pulumi.Output.from_input(""),
            private_subnet_ids=[pulumi.Output.from_input(s) for s in options.existing_subnet_ids],
            zones=pulumi.Output.from_input([]))

    # Regular zones only (no Local or Wavelength Zones: EKS and most GPU types are not there).
    available = aws.get_availability_zones_output(
        state="available", region=region,
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        opts=pulumi.InvokeOutputOptions(parent=parent))
    zone_names = available.names.apply(lambda names: list(names[:options.zones]))
    labels = [f"az{i + 1}" for i in range(options.zones)]
    private_cidrs, public_cidrs = subnet_cidrs(options.cidr, options.zones)

    vpc = aws.ec2.Vpc(
        f"{name}-vpc", cidr_block=options.cidr, enable_dns_support=True, enable_dns_hostnames=True,
        region=region, tags={"Name": name}, opts=env.child(parent))
    # Take over the default security group with no rules: nothing can use it by accident.
    aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, region=region, opts=env.child(parent))
    igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, region=region,
                                  tags={"Name": name}, opts=env.child(parent))

    public: list[aws.ec2.Subnet] = []
    private: list[aws.ec2.Subnet] = []
    for i, label in enumerate(labels):
        zone = zone_names.apply(lambda names, i=i: names[i])
        public.append(aws.ec2.Subnet(
            f"{name}-public-{label}", vpc_id=vpc.id, cidr_block=public_cidrs[i], availability_zone=zone,
            map_public_ip_on_launch=False, region=region,
            tags={"Name": f"{name}-public-{label}", **PUBLIC_SUBNET_TAGS}, opts=env.child(parent)))
        private.append(aws.ec2.Subnet(
            f"{name}-private-{label}", vpc_id=vpc.id, cidr_block=private_cidrs[i], availability_zone=zone,
            map_public_ip_on_launch=False, region=region,
            tags={"Name": f"{name}-private-{label}", **PRIVATE_SUBNET_TAGS}, opts=env.child(parent)))

    public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, region=region,
                                   tags={"Name": f"{name}-public"}, opts=env.child(parent))
    aws.ec2.Route(f"{name}-public-default-route", route_table_id=public_rt.id,
                  destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, region=region,
                  opts=env.child(parent))
    for label, subnet in zip(labels, public):
        aws.ec2.RouteTableAssociation(f"{name}-public-rta-{label}", subnet_id=subnet.id,
                                      route_table_id=public_rt.id, region=region, opts=env.child(parent))

    nats: list[aws.ec2.NatGateway] = []
    for n in range(1 if single_nat(args) else options.zones):
        # The gateway needs the internet gateway attached before it can route.
        eip = aws.ec2.Eip(f"{name}-nat-eip-{n + 1}", domain="vpc", region=region,
                          tags={"Name": f"{name}-nat-{n + 1}"}, opts=env.child(parent, depends_on=[igw]))
        nats.append(aws.ec2.NatGateway(
            f"{name}-nat-{n + 1}", allocation_id=eip.id, subnet_id=public[n].id, region=region,
            tags={"Name": f"{name}-nat-{n + 1}"}, opts=env.child(parent, depends_on=[igw])))

    for i, (label, subnet) in enumerate(zip(labels, private)):
        # One route table per zone even with a single NAT: going per-zone later only changes routes.
        rt = aws.ec2.RouteTable(f"{name}-private-rt-{label}", vpc_id=vpc.id, region=region,
                                tags={"Name": f"{name}-private-{label}"}, opts=env.child(parent))
        aws.ec2.Route(f"{name}-private-default-route-{label}", route_table_id=rt.id,
                      destination_cidr_block="0.0.0.0/0", nat_gateway_id=nats[i % len(nats)].id,
                      region=region, opts=env.child(parent))
        aws.ec2.RouteTableAssociation(f"{name}-private-rta-{label}", subnet_id=subnet.id,
                                      route_table_id=rt.id, region=region, opts=env.child(parent))

    _flow_logs(parent, name, args, vpc)
    return NetworkOutputs(network_id=vpc.id, private_subnet_ids=[s.id for s in private], zones=zone_names)
