"""A user-assigned identity that one Kubernetes ServiceAccount federates to: Azure workload identity.

The cluster's OIDC issuer signs the ServiceAccount's projected token; the federated credential trusts
that issuer for exactly one subject, `system:serviceaccount:<namespace>:<name>`, with the audience
Azure AD's token exchange expects (Azure/azure-workload-identity docs, "Federated identity
credential"). Used by every workload the library runs on AKS under its own identity: model servers,
KEDA, cert-manager's DNS-01 solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

TOKEN_AUDIENCE = "api://AzureADTokenExchange"
"""The audience of the projected token Azure AD exchanges for an access token."""


@dataclass(frozen=True)
class FederatedIdentity:
    identity: azure_native.managedidentity.UserAssignedIdentity
    credential: azure_native.managedidentity.FederatedIdentityCredential


def federated_identity(identity_name: str, credential_name: str, *, resource_group_name: pulumi.Input[str],
                       location: str, issuer: pulumi.Input[str], namespace: str, service_account: str,
                       opts: pulumi.ResourceOptions) -> FederatedIdentity:
    """The identity (resource `identity_name`) and its credential (resource `credential_name`) trusting
    `issuer` for `namespace/service_account` only."""
    identity = azure_native.managedidentity.UserAssignedIdentity(
        identity_name, resource_group_name=resource_group_name, location=location, opts=opts)
    credential = azure_native.managedidentity.FederatedIdentityCredential(
        credential_name,
        resource_group_name=resource_group_name,
        resource_name_=identity.name,
        federated_identity_credential_resource_name=f"{namespace}-{service_account}",
        issuer=issuer,
        subject=f"system:serviceaccount:{namespace}:{service_account}",
        audiences=[TOKEN_AUDIENCE],
        opts=opts)
    return FederatedIdentity(identity, credential)
