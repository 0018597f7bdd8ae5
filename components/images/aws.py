"""ImageCache on AWS: ECR pull-through cache rules in the cell's region, one per upstream registry.

Children (role names): `<prefix>-rule` per upstream; for an upstream that needs credentials a
`credentials-key` (once) and `<prefix>-credentials` with its `<prefix>-credentials-value`;
`<prefix>-template` (a repository creation template per prefix); `node-pull-through` (the nodes'
right to import through the cache).

Facts, and their sources:
* Upstreams ECR caches, and which need credentials (ECR user guide, "Sync an upstream registry with an
  Amazon ECR private registry"): ECR Public, the Kubernetes registry and Quay without; Docker Hub,
  GitHub Container Registry and GitLab Container Registry only with a Secrets Manager secret. NVIDIA's
  nvcr.io is not among them: images from there (the DCGM exporter, the device plugin) still come from
  the Internet, as does the NVIDIA driver the AL2023 NVIDIA AMI carries (in the AMI, so no pull).
* The upstream URLs are the API's spellings (CreatePullThroughCacheRule `upstreamRegistryUrl`: Docker
  Hub is `registry-1.docker.io`); images appear at `<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/
  <upstream path>` (ECR user guide, "Pulling an image with a pull through cache rule"; Docker Hub
  official images keep their `library/` part, as `parse_image` writes them).
* The credentials secret's name starts with `ecr-pullthroughcache/`, it lives in the rule's account and
  region, and holds `{"username": ..., "accessToken": ...}` (ECR user guide, "Storing your upstream
  repository credentials in an AWS Secrets Manager secret"). ECR reads it through its service-linked
  role AWSServiceRoleForECRPullThroughCache; the key lets any principal of the account decrypt through
  Secrets Manager only (`kms:ViaService`, `kms:CallerAccount`), the statement the AWS-managed
  `aws/secretsmanager` key has, so the service-linked role needs no named grant (it does not exist
  before the first rule).
* A first pull through the cache creates the repository and imports the image as the puller: the
  nodes need `ecr:BatchImportUpstreamImage` and `ecr:CreateRepository` (ECR user guide, "IAM
  permissions required to sync an upstream registry with an Amazon ECR private registry"); the node
  role's AmazonEC2ContainerRegistryReadOnly covers the pulls, so the inline policy adds only these two,
  on the prefixes' repositories. EKS GPU pools join with the cluster's one node role
  (compute/aws.py `build_gpu_pool`), so one grant covers every node.
* Repositories created through a rule follow a repository creation template with the same prefix
  (ECR user guide, "Templates to control repositories created during a pull through cache, create on
  push, or replication action"): KMS encryption (the `aws/ecr` key, which needs no custom role) and
  mutable tags (the cache mirrors upstream tags, which move; prod pins images by digest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_aws as aws

from ..common.aws_arn import partition
from ..common.aws_kms import customer_key
from ..common.naming import global_name
from ..compute.aws import EksHandle
from .args import DOCKER_HUB, CacheBuilt, ImageCacheArgs, Upstream

_SOURCE = 'ECR user guide, "Sync an upstream registry with an Amazon ECR private registry", checked 2026-12-08'

UPSTREAMS: Mapping[str, Upstream] = {
    DOCKER_HUB: Upstream(DOCKER_HUB, True, _SOURCE),
    "ghcr.io": Upstream("ghcr.io", True, _SOURCE),
    "registry.gitlab.com": Upstream("registry.gitlab.com", True, _SOURCE),
    "public.ecr.aws": Upstream("public.ecr.aws", False, _SOURCE),
    "quay.io": Upstream("quay.io", False, _SOURCE),
    "registry.k8s.io": Upstream("registry.k8s.io", False, _SOURCE),
}
"""The upstream registries an ECR pull-through cache serves, by the host images name."""


@dataclass(frozen=True)
class _Rule:
    url: str
    """CreatePullThroughCacheRule `upstreamRegistryUrl`."""
    prefix: str
    """`ecrRepositoryPrefix`: the console's default namespace for this upstream."""


RULES: Mapping[str, _Rule] = {
    DOCKER_HUB: _Rule("registry-1.docker.io", "docker-hub"),
    "ghcr.io": _Rule("ghcr.io", "github"),
    "registry.gitlab.com": _Rule("registry.gitlab.com", "gitlab"),
    "public.ecr.aws": _Rule("public.ecr.aws", "ecr-public"),
    "quay.io": _Rule("quay.io", "quay"),
    "registry.k8s.io": _Rule("registry.k8s.io", "kubernetes"),
}
"""Per upstream host: the URL ECR pulls from and the repository prefix its images appear under."""

SECRET_PREFIX = "ecr-pullthroughcache/"
"""Secrets Manager names ECR's pull-through cache reads credentials from."""


def secret_key_policy(account: str, region: str) -> str:
    """The account administers the key; its principals decrypt only through Secrets Manager."""
    part = partition(region)
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:{part}:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "DecryptThroughSecretsManager", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                        "kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}},
    ]})


def import_policy(account: str, region: str, prefixes: list[str]) -> str:
    """What a node needs beyond a plain pull to pull an image through the cache the first time."""
    part = partition(region)
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "PullThroughCache", "Effect": "Allow",
         "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
         "Resource": [f"arn:{part}:ecr:{region}:{account}:repository/{p}/*" for p in prefixes]},
    ]})


def registry_host(account: str, region: str) -> str:
    suffix = "amazonaws.com.cn" if partition(region) == "aws-cn" else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"


def build(parent: pulumi.Resource, name: str, args: ImageCacheArgs) -> CacheBuilt:
    """A rule per upstream (credentials where given or needed), a creation template per prefix, and the
    cluster's node role allowed to import through the rules."""
    env, region = args.environment, args.region
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id
    ready: list[pulumi.Resource] = []
    prefixes: dict[str, pulumi.Output[str] | str] = {}
    key: aws.kms.Key | None = None
    key_policy: aws.kms.KeyPolicy | None = None
    for host in args.upstreams:
        rule = RULES[host]  # the front door refused hosts outside UPSTREAMS
        credential_arn: pulumi.Output[str] | None = None
        credential = args.credentials.get(host)
        if credential is not None:
            if key is None:
                key = customer_key(f"{name}-credentials-key",
                                   f"Encrypts the upstream registry credentials of image cache {name}", region,
                                   env.child(parent, stateful=True))
                key_policy = aws.kms.KeyPolicy(f"{name}-credentials-key-policy", key_id=key.key_id,
                                               policy=account.apply(lambda a: secret_key_policy(a, region)),
                                               opts=env.child(parent))
            secret = aws.secretsmanager.Secret(
                f"{name}-{rule.prefix}-credentials",
                name=SECRET_PREFIX + global_name(f"{name}-{rule.prefix}", max_length=200),
                description=f"{host} credentials of the ECR pull-through cache rule {rule.prefix}",
                kms_key_id=key.arn, recovery_window_in_days=30 if env.is_prod else 7, region=region,
                opts=env.child(parent, stateful=True, depends_on=[key_policy] if key_policy else []))
            value = aws.secretsmanager.SecretVersion(
                f"{name}-{rule.prefix}-credentials-value", secret_id=secret.id,
                secret_string=pulumi.Output.secret(credential.token.apply(
                    lambda token, user=credential.username: json.dumps({"username": user, "accessToken": token}))),
                region=region, opts=env.child(parent))
            credential_arn = pulumi.Output.all(secret.arn, value.id).apply(lambda a: a[0])
        template = aws.ecr.RepositoryCreationTemplate(
            f"{name}-{rule.prefix}-template",
            prefix=rule.prefix,
            description=f"Repositories the pull-through cache creates for {host}",
            applied_fors=["PULL_THROUGH_CACHE"],
            image_tag_mutability="MUTABLE",
            encryption_configurations=[{"encryption_type": "KMS"}],
            region=region, opts=env.child(parent))
        cache_rule = aws.ecr.PullThroughCacheRule(
            f"{name}-{rule.prefix}-rule",
            ecr_repository_prefix=rule.prefix,
            upstream_registry_url=rule.url,
            credential_arn=credential_arn,
            region=region, opts=env.child(parent, depends_on=[template]))
        ready += [cache_rule, template]
        prefixes[host] = rule.prefix

    if args.cluster is not None:
        handle = args.cluster.handle
        if not isinstance(handle, EksHandle):
            raise TypeError(f"ImageCache {name!r} on AWS needs an EKS cluster, got handle {type(handle).__name__}")
        role_name = handle.node_role_arn.apply(lambda arn: arn.split("/")[-1])
        names = [RULES[h].prefix for h in args.upstreams]
        ready.append(aws.iam.RolePolicy(
            f"{name}-node-pull-through", role=role_name,
            policy=account.apply(lambda a: import_policy(a, region, names)), opts=env.child(parent)))
    host_name = account.apply(lambda a: registry_host(a, region))
    return CacheBuilt(host=host_name, prefixes=prefixes, ready=ready)
