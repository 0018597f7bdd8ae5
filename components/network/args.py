"""Arguments and shared shapes of Network, used by the front door and the per-cloud builders."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..catalog.regions import Cloud
from ..common import Environment


class NetworkOptions(BaseModel):
    """The `network` section of a cell: a private network for the cluster, or existing subnets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cidr: str = "10.0.0.0/16"
    """Address space of the created network (IPv4, /16 to /20). Default 10.0.0.0/16; give each
    cell its own range if cells will ever be peered."""

    zones: int = Field(default=3, ge=2, le=3)
    """Availability zones to spread private subnets (and the system pool) over. Default 3;
    at least 2 so that losing a zone keeps the cluster up."""

    single_nat_gateway: bool | None = None
    """AWS: one NAT gateway for all zones instead of one per zone. Default: True in dev (cheap),
    False elsewhere (egress survives a zone loss)."""

    existing_subnet_ids: list[str] | None = None
    """Use these subnets instead of creating a network. AWS: private subnet ids, one per zone
    (at least 2); Azure: one subnet resource id; GCP: one subnetwork self link (then
    `pods_range_name` and `services_range_name` are required). Default: create a network."""

    pods_range_name: str | None = None
    """GCP with existing subnets: the subnetwork's secondary range for pods."""

    services_range_name: str | None = None
    """GCP with existing subnets: the subnetwork's secondary range for services."""

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ValueError("allowed: an IPv4 network in CIDR form such as 10.0.0.0/16") from None
        if net.version != 4 or not 16 <= net.prefixlen <= 20 or not net.is_private:
            raise ValueError("allowed: a private IPv4 range from /16 to /20 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
        return value


@dataclass(frozen=True)
class NetworkArgs:
    """Arguments of Network."""

    cloud: Cloud
    """`aws`, `azure` or `gcp`; the provider passed in `opts` must match."""
    region: str
    """Region of the network."""
    environment: Environment
    """Name, tags and protection of the environment."""
    options: NetworkOptions = field(default_factory=NetworkOptions)
    """CIDR, zones, NAT and existing subnets; see NetworkOptions."""
    resource_group_name: pulumi.Input[str] | None = None
    """Azure only: the resource group to create the VNet in (required on Azure)."""
    project: str | None = None
    """GCP only: the project of the network. Default: the provider's project."""


@dataclass(frozen=True)
class NetworkOutputs:
    """What every per-cloud builder returns, and what clusters consume."""

    network_id: pulumi.Output[str]
    """VPC id, VNet id or VPC network self link."""
    private_subnet_ids: list[pulumi.Output[str]]
    """AWS: one private subnet per zone; Azure: the node subnet id; GCP: the subnetwork self link."""
    zones: pulumi.Output[list[str]]
    """Zone names the subnets span (AWS: e.g. us-east-1a; Azure: "1", "2", "3"; GCP: empty, regional)."""
    pods_range_name: str | None = None
    """GCP: secondary range for pods."""
    services_range_name: str | None = None
    """GCP: secondary range for services."""
    security_group_id: pulumi.Output[str] | None = None
    """Azure: the node subnet's network security group, where entries add their inbound rules (None
    with `existing_subnet_ids`: the subnet's owner admits the entries' traffic)."""
