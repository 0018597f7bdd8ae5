"""Kubernetes control planes: EKS, AKS, GKE."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from .common import (
    Resource,
    Setting,
    Stack,
    UNKNOWN,
    as_list,
    environment_setting,
    label_of,
    need,
    resource_environment,
    resource_policy,
    stack_policy,
)

EKS = "aws:eks/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
GKE = "gcp:container/cluster:Cluster"
CLUSTERS = (EKS, AKS, GKE)
EKS_ADDON = "aws:eks/addon:Addon"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"

AKS_AUDIT_CATEGORIES = ("kube-audit", "kube-audit-admin")
AKS_AUDIT_GROUPS = ("audit", "allLogs")

PUBLIC_ENDPOINT_ENVIRONMENTS = environment_setting(
    "allowed_environments", ["dev"],
    "Environments (the `environment` tag, else the stack name) whose clusters may keep a public API endpoint.")


def check_private_endpoint(cluster: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    environment = resource_environment(cluster)
    if environment in config["allowed_environments"]:
        return
    where = f" in environment '{environment}'" if environment else ""
    if cluster.type == EKS:
        public = cluster.get("vpcConfig", "endpointPublicAccess")
        if need(public, "vpcConfig.endpointPublicAccess") is not False:
            yield f"Set vpcConfig.endpointPublicAccess to false on {label_of(cluster)}{where}."
    elif cluster.type == AKS:
        private = cluster.get("apiServerAccessProfile", "enablePrivateCluster")
        if need(private, "apiServerAccessProfile.enablePrivateCluster") is not True:
            yield f"Set apiServerAccessProfile.enablePrivateCluster to true on {label_of(cluster)}{where}."
    elif cluster.type == GKE:
        private = cluster.get("privateClusterConfig", "enablePrivateEndpoint")
        dns_era_public = cluster.get("controlPlaneEndpointsConfig", "ipEndpointsConfig", "enablePublicEndpoint")
        if dns_era_public is False:
            return
        if need(private, "privateClusterConfig.enablePrivateEndpoint") is not True:
            yield f"Set privateClusterConfig.enablePrivateEndpoint to true on {label_of(cluster)}{where}."


def check_secrets_encryption(cluster: Resource, _config: Mapping[str, Any]) -> Iterator[str]:
    if cluster.type == EKS:
        configs = as_list(need(cluster.get("encryptionConfig"), "encryptionConfig"))
        ok = any(isinstance(c, dict) and "secrets" in as_list(c.get("resources")) and
                 (c.get("provider") or {}).get("keyArn") not in (None, "") for c in configs)
        if not ok:
            yield (f"Set encryptionConfig on {label_of(cluster)} with resources [secrets] and a KMS key in "
                   f"provider.keyArn.")
    elif cluster.type == AKS:
        enabled = cluster.get("securityProfile", "azureKeyVaultKms", "enabled")
        if need(enabled, "securityProfile.azureKeyVaultKms.enabled") is not True:
            yield f"Enable securityProfile.azureKeyVaultKms with a Key Vault key on {label_of(cluster)}."
    elif cluster.type == GKE:
        state = cluster.get("databaseEncryption", "state")
        if need(state, "databaseEncryption.state") != "ENCRYPTED":
            yield (f"Set databaseEncryption.state to ENCRYPTED with a Cloud KMS key in databaseEncryption.keyName "
                   f"on {label_of(cluster)}.")


def _aks_audit_setting(setting: Resource) -> bool:
    for entry in as_list(setting.get("logs")):
        if not isinstance(entry, dict) or entry.get("enabled") is False:
            continue
        if entry.get("category") in AKS_AUDIT_CATEGORIES or entry.get("categoryGroup") in AKS_AUDIT_GROUPS:
            return True
        if UNKNOWN in (entry.get("category"), entry.get("categoryGroup")):
            return True
    return False


def check_audit_logs(stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for cluster in stack.of_type(EKS):
        types = cluster.get("enabledClusterLogTypes")
        if types is not UNKNOWN and "audit" not in as_list(types):
            yield f"Add audit to enabledClusterLogTypes on {label_of(cluster)}.", cluster.urn
    for cluster in stack.of_type(GKE):
        components = cluster.get("loggingConfig", "enableComponents")
        if components is not UNKNOWN and "APISERVER" not in as_list(components):
            yield f"Add APISERVER to loggingConfig.enableComponents on {label_of(cluster)}.", cluster.urn
    settings = stack.of_type(DIAGNOSTIC_SETTING)
    for cluster in stack.of_type(AKS):
        name = cluster.get("resourceName")
        suffix = f"/managedclusters/{name.lower()}" if isinstance(name, str) else None
        targeting = [s for s in settings if s.depends_on(cluster.urn, "resourceUri")
                     or (suffix is not None and isinstance(s.get("resourceUri"), str)
                         and s.get("resourceUri").lower().endswith(suffix))]
        if not any(_aks_audit_setting(s) for s in targeting):
            yield (f"Add an azure-native.monitor.DiagnosticSetting on {label_of(cluster)} that enables the "
                   f"kube-audit log category.", cluster.urn)


def check_workload_identity(stack: Stack, _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for cluster in stack.of_type(EKS):
        name = cluster.get("name")
        addons = [a for a in stack.of_type(EKS_ADDON)
                  if a.get("addonName") in ("eks-pod-identity-agent", UNKNOWN)
                  and (a.depends_on(cluster.urn, "clusterName") or (isinstance(name, str) and a.get("clusterName") == name))]
        providers = [p for p in stack.of_type(OIDC_PROVIDER) if p.depends_on(cluster.urn, "url")]
        if not addons and not providers:
            yield (f"Add the eks-pod-identity-agent addon or an IAM OIDC provider for {label_of(cluster)} so pods "
                   f"get workload identities.", cluster.urn)
    for cluster in stack.of_type(AKS):
        oidc = cluster.get("oidcIssuerProfile", "enabled")
        workload = cluster.get("securityProfile", "workloadIdentity", "enabled")
        if oidc not in (True, UNKNOWN) or workload not in (True, UNKNOWN):
            yield (f"Set oidcIssuerProfile.enabled and securityProfile.workloadIdentity.enabled to true on "
                   f"{label_of(cluster)}.", cluster.urn)
    for cluster in stack.of_type(GKE):
        pool = cluster.get("workloadIdentityConfig", "workloadPool")
        if pool is not UNKNOWN and not (isinstance(pool, str) and pool):
            yield (f"Set workloadIdentityConfig.workloadPool to '<project>.svc.id.goog' on {label_of(cluster)}.",
                   cluster.urn)


SETTINGS_PRIVATE: list[Setting] = [PUBLIC_ENDPOINT_ENVIRONMENTS]

POLICIES = [
    resource_policy("kubernetes-cluster-private-endpoint",
                    "Kubernetes clusters (EKS, AKS, GKE) must expose only a private API endpoint outside dev.",
                    CLUSTERS, check_private_endpoint, settings=SETTINGS_PRIVATE),
    resource_policy("kubernetes-cluster-secrets-encryption",
                    "Kubernetes clusters (EKS, AKS, GKE) must encrypt Secrets with a customer-managed key.",
                    CLUSTERS, check_secrets_encryption),
    stack_policy("kubernetes-cluster-audit-logs",
                 "Kubernetes clusters (EKS, AKS, GKE) must send API server audit logs to the cloud's log service.",
                 check_audit_logs),
    stack_policy("kubernetes-cluster-workload-identity",
                 "Kubernetes clusters (EKS, AKS, GKE) must enable workload identity for pods.",
                 check_workload_identity),
]
