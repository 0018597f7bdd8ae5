"""DnsZone on Route 53: a public hosted zone, records as `aws.route53.Record`."""

from __future__ import annotations

import json
from typing import Sequence

import pulumi
import pulumi_aws as aws

from .acme import ACME_CHALLENGE_LABEL, AcmeClient, AcmeDns01
from .args import DnsZoneArgs, RecordType
from .built import ZoneBuilt


def create_zone(parent: pulumi.Resource, name: str, args: DnsZoneArgs) -> ZoneBuilt:
    options, env = args.options, args.environment
    if options.zone_id is not None:
        return ZoneBuilt(ref=options.zone_id)
    zone = aws.route53.Zone(f"{name}-zone", name=options.zone, force_destroy=False,
                            comment=f"The {env.name} environment's public names",
                            opts=env.child(parent, stateful=True))
    return ZoneBuilt(ref=zone.zone_id, name_servers=zone.name_servers, stateful=[zone])


def record(zone_ref: pulumi.Input[str], role: str, fqdn: pulumi.Input[str], type_: RecordType,
           values: pulumi.Input[Sequence[pulumi.Input[str]]], ttl: int, allow_overwrite: bool,
           opts: pulumi.ResourceOptions) -> pulumi.Resource:
    return aws.route53.Record(role, zone_id=zone_ref, name=fqdn, type=type_, ttl=ttl, records=values,
                              allow_overwrite=allow_overwrite or None, opts=opts)


# --- ACME DNS-01 credentials for cert-manager -----------------------------------------------------

ROUTE53_REGION = "us-east-1"
"""Route 53 is global; its API (and the STS call before it) is signed for us-east-1 in the `aws`
partition (AWS General Reference, "Amazon Route 53 endpoints and quotas"). cert-manager's `region`
field is that hint: without it, and without AWS_REGION in its pod (none outside AWS), it logs
"Region not found" (cert-manager pkg/issuer/acme/dns/route53/session.go)."""
TOKEN_AUDIENCE = "sts.amazonaws.com"
"""The audience cert-manager puts in the service-account token it sends to STS when
`serviceAccountRef.audiences` is unset (cert-manager pkg/issuer/acme/dns/dns.go: `audiences :=
[]string{"sts.amazonaws.com"}`); the OIDC provider lists it as its client id."""
TOKEN_SERVICE_ACCOUNT = "cert-manager-acme-route53"
"""The ServiceAccount (in cert-manager's namespace) whose tokens cert-manager exchanges for the role."""


def _oidc_host(provider_arn: str) -> str:
    """`arn:aws:iam::<account>:oidc-provider/<host/path>` -> `<host/path>`: the prefix of the provider's
    condition keys (`<host/path>:sub`, `<host/path>:aud`), taken from the ARN so it is exactly IAM's name
    for the provider, trailing slash included (AKS issuer URLs end in `/`, and IAM keeps it)."""
    return provider_arn.split(":oidc-provider/", 1)[1]


def acme_trust_policy(provider_arn: str, namespace: str, service_account: str) -> str:
    """Only tokens the cluster issued for `namespace/service_account`, with STS as audience, may assume the role."""
    host = _oidc_host(provider_arn)
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                       f"{host}:aud": TOKEN_AUDIENCE}},
    }]})


def acme_policy(zone_id: str) -> str:
    """What cert-manager's Route 53 solver calls, and nothing more.

    With `hostedZoneID` set, the solver calls only ChangeResourceRecordSets (UPSERT to present a
    challenge, DELETE to clean it up) and GetChange (waiting for INSYNC); it skips
    ListHostedZonesByName, which it needs only to look the zone up by name (cert-manager
    pkg/issuer/acme/dns/route53/route53.go `changeRecord`, `getHostedZoneID`; the route53.md docs:
    "The route53:ListHostedZonesByName statement can be removed if you specify the (optional)
    hostedZoneID"). Record changes are limited to this zone, to TXT records, to names
    `_acme-challenge.*` and to UPSERT/DELETE with the condition keys
    `route53:ChangeResourceRecordSetsNormalizedRecordNames` (lowercase, no trailing dot),
    `...RecordTypes` and `...Actions` (Route 53 Developer Guide, "Using IAM policy conditions for
    fine-grained access control"). `ForAllValues`: every change in a batch must match.
    """
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "WaitForChanges", "Effect": "Allow", "Action": "route53:GetChange",
         "Resource": "arn:aws:route53:::change/*"},
        {"Sid": "AcmeChallengeRecordsOnly", "Effect": "Allow", "Action": "route53:ChangeResourceRecordSets",
         "Resource": f"arn:aws:route53:::hostedzone/{zone_id}",
         "Condition": {
             "ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsNormalizedRecordNames":
                                         [f"{ACME_CHALLENGE_LABEL}.*"]},
             "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                                           "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"]},
         }},
    ]})


def acme_dns01(zone_ref: pulumi.Input[str], client: AcmeClient, opts: pulumi.ResourceOptions) -> AcmeDns01:
    """An IAM OIDC provider for the cluster's issuer and a role cert-manager assumes with a token of its
    own ServiceAccount (`auth.kubernetes.serviceAccountRef`, added in cert-manager 1.15: release notes
    "Update the Route53 provider to support fetching credentials using AssumeRoleWithWebIdentity",
    cert-manager#6878; fields in pkg/apis/acme/v1/types_issuer.go `Route53Auth`,
    `Route53KubernetesAuth`, `ServiceAccountRef`). Works from any cluster: nothing AWS runs in it.

    The OIDC provider has no thumbprint: IAM then fetches the issuer's top intermediate CA thumbprint
    itself (pulumi_aws iam.OpenIdConnectProvider `thumbprint_lists`). One provider per issuer URL and
    account: a cluster whose issuer is already registered (an EKS cluster with IRSA) cannot use this.
    """
    name = client.name
    oidc = aws.iam.OpenIdConnectProvider(
        f"{name}-acme-oidc", url=client.issuer_url, client_id_lists=[TOKEN_AUDIENCE], opts=opts)
    role = aws.iam.Role(
        f"{name}-acme-role",
        description=f"cert-manager of {name}: ACME DNS-01 challenges in one Route 53 zone",
        assume_role_policy=oidc.arn.apply(
            lambda arn: acme_trust_policy(arn, client.namespace, TOKEN_SERVICE_ACCOUNT)),
        max_session_duration=3600,
        opts=opts)
    policy = aws.iam.RolePolicy(
        f"{name}-acme-policy", role=role.id,
        policy=pulumi.Output.from_input(zone_ref).apply(acme_policy), opts=opts)
    solver = {"route53": {
        "region": ROUTE53_REGION,
        "hostedZoneID": zone_ref,
        "role": role.arn,
        "auth": {"kubernetes": {"serviceAccountRef": {"name": TOKEN_SERVICE_ACCOUNT}}},
    }}
    return AcmeDns01(solver=solver, token_service_account=TOKEN_SERVICE_ACCOUNT, depends_on=[role, policy])
