"""ImageCache on Azure: an Azure Container Registry with an artifact cache rule per upstream registry.

Children (role names): `registry` (the ACR); per upstream `cache-<prefix>` (a cache rule
`<prefix>/*` => `<upstream>/*`); per upstream with credentials `creds-kv` (a Key Vault of its own,
made once), `creds-<prefix>-username` and `creds-<prefix>-token` (its secrets), `creds-<prefix>` (an
ACR credential set with a system-assigned identity) and `creds-<prefix>-reader` (that identity's Key
Vault Secrets User on the vault); `kubelet-pull` (AcrPull on the registry for the cluster's kubelet
identity, the identity nodes pull images with).

Choices, and why:
* SKU Standard: artifact cache is available in the Basic, Standard and Premium tiers (Azure docs,
  "Optimize image pulls with artifact cache in Azure Container Registry", MicrosoftDocs/azure-docs
  articles/container-registry/artifact-cache-overview.md, 2025-05-12); Standard includes 100 GiB of
  storage and more throughput than Basic, enough for the model servers' multi-GB images. Premium's
  extras (private endpoints, geo-replication, customer-managed keys) are not used: the cell's nodes
  reach registries over the public endpoint through the NAT gateway, and artifact cache does not
  support registries encrypted with a customer-managed key (same page, earlier revisions: "Artifact
  cache feature doesn't support Customer managed key (CMK) enabled registries").
* Admin user off, anonymous pull off: nodes pull with the kubelet identity's AcrPull only. Public
  network access stays on, as for the cell's other services (no private endpoints are set up).
* Registry-level wildcard rules, one per upstream under a prefix of its own (`docker-hub/*` =>
  `docker.io/*`, Azure docs "Wildcard support for artifact cache in Azure Container Registry",
  repository-level wildcard): the cached reference keeps the upstream's path, tag and digest.
* Credentials: a credential set names two Key Vault secrets (user name and token) by URI and reads
  them with its own system-assigned identity, which needs Key Vault Secrets User on the vault
  (Azure docs, "Enable artifact cache with authentication - Azure CLI"). The secrets are written
  through ARM (control plane), like the library's other Key Vault secrets.
"""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_azure_native as azure_native

from ..common import InputError, Problem
from ..common.azure_keyvault import key_vault
from ..common.naming import compact_name
from .args import DOCKER_HUB, CacheBuilt, ImageCacheArgs, Upstream

cr = azure_native.containerregistry

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
"""Built-in role AcrPull (Azure docs, "Azure built-in roles for Containers")."""
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
"""Built-in role Key Vault Secrets User (Azure docs, "Azure built-in roles for Security")."""

_SOURCE = ("Azure docs, 'Optimize image pulls with artifact cache in Azure Container Registry', Upstream "
           "support (MicrosoftDocs/azure-docs articles/container-registry/artifact-cache-overview.md, 2025-05-12)")

UPSTREAMS: Mapping[str, Upstream] = {
    DOCKER_HUB: Upstream(DOCKER_HUB, True, f"{_SOURCE}: Docker Hub supports authenticated pulls only; "
                                           "'To source content from Docker Hub, you must generate a credential set'"),
    "mcr.microsoft.com": Upstream("mcr.microsoft.com", False, f"{_SOURCE}: Microsoft Artifact Registry, "
                                                              "unauthenticated pulls only"),
    "public.ecr.aws": Upstream("public.ecr.aws", False, f"{_SOURCE}: AWS ECR Public Gallery, unauthenticated pulls only"),
    "ghcr.io": Upstream("ghcr.io", False, f"{_SOURCE}: GitHub Container Registry, authenticated and unauthenticated"),
    "quay.io": Upstream("quay.io", False, f"{_SOURCE}: Quay, authenticated and unauthenticated"),
    "registry.k8s.io": Upstream("registry.k8s.io", False, f"{_SOURCE}: registry.k8s.io, authenticated and "
                                                          "unauthenticated"),
    "gcr.io": Upstream("gcr.io", False, f"{_SOURCE}: legacy Google Container Registry, authenticated and "
                                        "unauthenticated"),
}
"""The upstreams ACR's artifact cache pulls through. nvcr.io is not one (it left the table in 2025)."""

PREFIXES: Mapping[str, str] = {
    DOCKER_HUB: "docker-hub",
    "mcr.microsoft.com": "mcr",
    "public.ecr.aws": "ecr-public",
    "ghcr.io": "ghcr",
    "quay.io": "quay",
    "registry.k8s.io": "k8s",
    "gcr.io": "gcr",
}
"""The repository namespace each upstream's images appear under in the registry."""

CREDENTIAL_NAME = "Credential1"
"""The one credential name a credential set takes (azure-native containerregistry `CredentialName`)."""


def _role(subscription_id: pulumi.Input[str], role_id: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("/subscriptions/", subscription_id,
                                "/providers/Microsoft.Authorization/roleDefinitions/", role_id)


def build(parent: pulumi.Resource, name: str, args: ImageCacheArgs) -> CacheBuilt:
    """An ACR (Standard, admin user off) with a cache rule per upstream, credential sets where given,
    and AcrPull for the cluster's kubelet identity."""
    group = args.resource_group_name
    if group is None:
        raise InputError(f"invalid ImageCache {name!r}", [
            Problem("ImageCacheArgs.resource_group_name", None, "required on Azure", missing=True)])
    env = args.environment
    client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    registry_name = compact_name(name, max_length=50, prefix="acr")
    registry = cr.Registry(
        f"{name}-registry",
        registry_name=registry_name,
        resource_group_name=group,
        location=args.region,
        sku={"name": cr.SkuName.STANDARD},
        admin_user_enabled=False,
        anonymous_pull_enabled=False,
        public_network_access=cr.PublicNetworkAccess.ENABLED,
        opts=env.child(parent))

    ready: list[pulumi.Resource] = []
    vault: azure_native.keyvault.Vault | None = None
    prefixes: dict[str, str] = {}
    for host in args.upstreams:
        prefix = PREFIXES[host]
        prefixes[host] = prefix
        credential_set_id: pulumi.Input[str] | None = None
        after: list[pulumi.Resource] = []
        credential = args.credentials.get(host)
        if credential is not None:
            if vault is None:
                vault = key_vault(parent, f"{name}-creds", env, group, args.region, client.tenant_id)
            secrets = {
                part: azure_native.keyvault.Secret(
                    f"{name}-creds-{prefix}-{part}",
                    secret_name=f"{prefix}-{part}",
                    vault_name=vault.name,
                    resource_group_name=group,
                    properties={"value": pulumi.Output.secret(value), "content_type": "text/plain"},
                    opts=env.child(parent))
                for part, value in (("username", credential.username), ("token", credential.token))}
            credential_set = cr.CredentialSet(
                f"{name}-creds-{prefix}",
                credential_set_name=f"{prefix}-creds",
                registry_name=registry_name,
                resource_group_name=group,
                login_server=host,
                identity={"type": cr.ResourceIdentityType.SYSTEM_ASSIGNED},
                auth_credentials=[{
                    "name": CREDENTIAL_NAME,
                    # Versionless URIs: a rotated token is read without a change here.
                    "username_secret_identifier": secrets["username"].properties.secret_uri,
                    "password_secret_identifier": secrets["token"].properties.secret_uri,
                }],
                opts=env.child(parent, depends_on=[registry]))
            principal = credential_set.identity.apply(lambda i: (i.principal_id or "") if i is not None else "")
            reader = azure_native.authorization.RoleAssignment(
                f"{name}-creds-{prefix}-reader",
                principal_id=principal,
                principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
                role_definition_id=_role(client.subscription_id, KEY_VAULT_SECRETS_USER),
                scope=vault.id,
                opts=env.child(parent))
            credential_set_id = credential_set.id
            after = [reader]
        rule = cr.CacheRule(
            f"{name}-cache-{prefix}",
            cache_rule_name=f"{prefix}-cache",
            registry_name=registry_name,
            resource_group_name=group,
            source_repository=f"{host}/*",
            target_repository=f"{prefix}/*",
            credential_set_resource_id=credential_set_id,
            # The registry by name (known in the plan, for preflight trace's image hop) and by dependency.
            opts=env.child(parent, depends_on=[registry, *after]))
        ready.append(rule)

    if args.cluster is not None:
        from ..compute.azure import AksHandle
        handle = args.cluster.handle
        if not isinstance(handle, AksHandle):
            raise TypeError(f"ImageCache {name!r} on Azure needs an AKS cluster, got {type(handle).__name__}")
        # The kubelet identity AKS creates (identityProfile.kubeletidentity): the identity nodes pull with.
        kubelet = handle.cluster.identity_profile.apply(
            lambda p: (p["kubeletidentity"].object_id or "") if p and "kubeletidentity" in p else "")
        ready.append(azure_native.authorization.RoleAssignment(
            f"{name}-kubelet-pull",
            principal_id=kubelet,
            principal_type=azure_native.authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=_role(client.subscription_id, ACR_PULL),
            scope=registry.id,
            opts=env.child(parent)))
    # The login server is `<registry name>.azurecr.io` (lowercase) when no domain name label scope is set
    # (ACR docs, "Container registry DNS name"); written from the name so every pod's image is known in
    # the plan (preflight trace's image hop), not only after the registry exists.
    host = pulumi.Output.from_input(f"{registry_name}.azurecr.io")
    return CacheBuilt(host=host, prefixes=prefixes, ready=ready)  # pods wait for `ready` (the rules, AcrPull)
