"""DnsZone on Azure DNS: a public zone, records as `azure_native.dns.RecordSet` (names relative to the zone)."""

from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_azure_native as azure_native

from ..common.azure_identity import federated_identity
from .acme import AcmeClient, AcmeDns01
from .args import DnsZoneArgs, RecordType
from .built import ZoneBuilt


def create_zone(parent: pulumi.Resource, name: str, args: DnsZoneArgs) -> ZoneBuilt:
    options, env = args.options, args.environment
    assert args.resource_group_name is not None  # checked by DnsZone
    if options.zone_id is not None:
        return ZoneBuilt(ref=options.zone_id, resource_group_name=args.resource_group_name)
    zone = azure_native.dns.Zone(f"{name}-zone", zone_name=options.zone, resource_group_name=args.resource_group_name,
                                 location="global", zone_type=azure_native.dns.ZoneType.PUBLIC,
                                 opts=env.child(parent, stateful=True))
    return ZoneBuilt(ref=zone.name, name_servers=zone.name_servers, stateful=[zone],
                     resource_group_name=args.resource_group_name)


def record(zone_ref: pulumi.Input[str], zone: str, resource_group_name: pulumi.Input[str], role: str,
           fqdn: pulumi.Input[str], type_: RecordType, values: pulumi.Input[Sequence[pulumi.Input[str]]], ttl: int,
           opts: pulumi.ResourceOptions) -> pulumi.Resource:
    suffix = f".{zone.rstrip('.')}"
    relative = pulumi.Output.from_input(fqdn).apply(
        lambda f: "@" if f.rstrip(".") == zone.rstrip(".") else f.rstrip(".")[: -len(suffix)])
    listed = pulumi.Output.from_input(values)
    extra: dict[str, pulumi.Input[object]] = {}
    match type_:
        case "A":
            extra["a_records"] = listed.apply(lambda vs: [{"ipv4_address": v} for v in vs])
        case "CNAME":
            extra["cname_record"] = listed.apply(lambda vs: {"cname": vs[0]})
        case "TXT":
            extra["txt_records"] = listed.apply(lambda vs: [{"value": [v]} for v in vs])
    return azure_native.dns.RecordSet(role, zone_name=zone_ref, resource_group_name=resource_group_name,
                                      relative_record_set_name=relative, record_type=type_, ttl=ttl,
                                      opts=opts, **extra)  # type: ignore[arg-type]


# --- ACME DNS-01 credentials for cert-manager -----------------------------------------------------

DNS_ZONE_CONTRIBUTOR = "befefa01-2a29-4197-83a8-272ff33ce314"
"""Built-in role "DNS Zone Contributor": manage a zone's record sets, not who may access them (Azure
built-in roles, Networking). Azure RBAC scopes it no lower than the zone: no per-record or per-type scope."""
WORKLOAD_IDENTITY_LABEL = "azure.workload.identity/use"
WORKLOAD_IDENTITY_CLIENT_ID = "azure.workload.identity/client-id"


def _zone_id(subscription_id: pulumi.Input[str], resource_group_name: pulumi.Input[str],
             zone_name: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("/subscriptions/", subscription_id, "/resourceGroups/", resource_group_name,
                                "/providers/Microsoft.Network/dnszones/", zone_name)


def acme_dns01(zone_name: str, resource_group_name: pulumi.Input[str], client: AcmeClient,
               owner: pulumi.Resource, opts: pulumi.ResourceOptions) -> AcmeDns01:
    """A user-assigned identity, federated to cert-manager's ServiceAccount, that may change this zone.

    cert-manager's AzureDNS solver with Azure workload identity (cert-manager >= 1.11): its controller
    pods carry the label `azure.workload.identity/use: "true"`, so AKS's webhook projects a token and
    sets AZURE_* variables; `managedIdentity.clientID` names the identity explicitly (cert-manager docs,
    "AzureDNS", "Managed Identity Using AAD Workload Identity"; fields in pkg/apis/acme/v1/types_issuer.go
    `ACMEIssuerDNS01ProviderAzureDNS`, `AzureManagedIdentity`). The identity lives beside the zone, in
    the cluster's region; its federated credential trusts the cluster's issuer for one subject,
    `system:serviceaccount:<namespace>:<service account>`.
    """
    name = client.name
    config = azure_native.authorization.get_client_config_output(
        opts=pulumi.InvokeOutputOptions(parent=owner, provider=opts.provider))
    federated = federated_identity(f"{name}-acme-identity", f"{name}-acme-federation",
                                   resource_group_name=resource_group_name, location=client.region,
                                   issuer=client.issuer_url, namespace=client.namespace,
                                   service_account=client.service_account, opts=opts)
    identity, credential = federated.identity, federated.credential
    role = azure_native.authorization.RoleAssignment(
        f"{name}-acme-dns-role",
        principal_id=identity.principal_id,
        principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=pulumi.Output.concat("/subscriptions/", config.subscription_id,
                                                "/providers/Microsoft.Authorization/roleDefinitions/",
                                                DNS_ZONE_CONTRIBUTOR),
        scope=_zone_id(config.subscription_id, resource_group_name, zone_name),
        opts=opts)
    solver = {"azureDNS": {
        "subscriptionID": config.subscription_id,
        "resourceGroupName": resource_group_name,
        "hostedZoneName": zone_name,
        "environment": "AzurePublicCloud",
        "managedIdentity": {"clientID": identity.client_id},
    }}
    return AcmeDns01(solver=solver, pod_labels={WORKLOAD_IDENTITY_LABEL: "true"},
                     service_account_annotations={WORKLOAD_IDENTITY_CLIENT_ID: identity.client_id},
                     depends_on=[credential, role])
