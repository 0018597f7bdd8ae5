"""ACME DNS-01 for the environment's zone: what cert-manager needs to prove names in it.

A certificate authority speaking ACME (Let's Encrypt) asks for a TXT record at
`_acme-challenge.<name>` before it signs a certificate for `<name>` (RFC 8555 section 8.4).
cert-manager writes that record through its DNS-01 solver for the zone's provider; the
solver needs credentials, and this module's callers (DnsZone.acme_dns01) create them
through the zone's own cloud provider, limited to this zone, for one Kubernetes service
account, with no static secret anywhere:

- `route53`: an IAM OIDC provider for the cluster's service-account issuer and an IAM role
  it may assume (AssumeRoleWithWebIdentity) only for cert-manager's token service account;
  the role may change only TXT records named `_acme-challenge.*` in this hosted zone.
- `azure_dns`: a user-assigned identity federated to cert-manager's service account,
  DNS Zone Contributor on this zone only (Azure RBAC has no per-record scope).
- `cloud_dns`: refused for now (see `acme_dns01_problems`).

Facts and sources are with each provider's `acme_dns01` (dns/route53.py, dns/azure_dns.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from ..catalog.regions import Cloud
from ..common import Problem
from .args import DnsProvider

ACME_CHALLENGE_LABEL = "_acme-challenge"
"""The label under which ACME DNS-01 challenges are answered (RFC 8555 section 8.4)."""


@dataclass(frozen=True)
class AcmeClient:
    """Who answers the challenges: cert-manager in one Kubernetes cluster."""

    cluster_cloud: Cloud
    """The cloud the cluster runs on (its identity federates from there)."""
    issuer_url: pulumi.Input[str]
    """The cluster's service-account token issuer (its OIDC issuer URL, as in the tokens' `iss`)."""
    namespace: str
    """cert-manager's namespace (for a ClusterIssuer, also where it requests tokens)."""
    service_account: str
    """cert-manager controller's ServiceAccount."""
    region: str
    """The cluster's region: where a created identity lives when the zone's cloud asks for one."""
    name: str
    """A prefix for the resources created (unique in the program, e.g. the cluster's name)."""


@dataclass(frozen=True)
class AcmeDns01:
    """What a cert-manager ClusterIssuer needs to solve DNS-01 in the zone."""

    solver: dict[str, Any]
    """The solver's `dns01` block (cert-manager.io/v1 ACMEChallengeSolverDNS01, camelCase keys)."""
    pod_labels: dict[str, str] = field(default_factory=dict)
    """Labels cert-manager's controller pods need (Azure workload identity's webhook selects on one)."""
    service_account_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Annotations cert-manager's controller ServiceAccount needs."""
    token_service_account: str | None = None
    """A ServiceAccount in cert-manager's namespace whose tokens cert-manager exchanges for cloud
    credentials (`serviceAccountRef`): the caller creates it and lets cert-manager's own account
    request its tokens (`create` on `serviceaccounts/token` for that name only)."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """Cloud resources the solver's credentials need before cert-manager uses them."""


def acme_dns01_problems(provider: DnsProvider, cluster_cloud: Cloud) -> list[Problem]:
    """Zones whose DNS-01 credentials this library cannot give cert-manager (on `cluster_cloud`) yet.

    Cloud DNS is refused: federating a cluster outside GCP to Google needs a workload identity
    pool and provider, the zone's IAM for the pool's principal, and an external-account
    credential file plus a projected token mounted into cert-manager, none of which is built
    or tested here (no stack pairs an Azure cell with a Cloud DNS zone; GKE entries get their
    certificates from Certificate Manager, not cert-manager). A clear refusal beats a
    certificate that is never issued.
    """
    if provider == "cloud_dns":
        return [Problem("aiinfra:dns.provider", provider,
                        f"allowed with a cluster-mode endpoint on {cluster_cloud} (cert-manager proving names with "
                        "ACME DNS-01): route53 or azure_dns; Cloud DNS credentials for cert-manager are not built yet")]
    return []
