"""ImageCache on GCP: an Artifact Registry remote repository per upstream registry, in the cell's region.

Children (role names), per upstream (`<key>` = `docker-hub`, `ghcr`):
* `<key>`: a Docker-format repository in mode `REMOTE_REPOSITORY` at `<region>-docker.pkg.dev`. The
  first pull of an image fetches it from the upstream and caches it; later pulls (every other node,
  every scale-out) are served from the region. Pods name `<region>-docker.pkg.dev/<project>/<repo>/
  <upstream path>`: for Docker Hub the path keeps the `library/` namespace of official images
  (`images.parse_image` adds it), as the Docker registry API the repository proxies names them.
* `<key>-nodes`: `roles/artifactregistry.reader` on the repository for the cluster's node service
  account (compute/gcp.py), which is how GKE nodes pull (the kubelet uses the node's identity). The
  node account also holds the role on the project (compute/gcp.py NODE_ROLES); the grant here keeps
  the cache usable when that project-wide role is narrowed.
* With credentials for the upstream (`args.credentials[host]`): `<key>-token` (a Secret Manager secret
  in the cell's region, user-managed replication like components/secrets/gcp.py) with its version
  `<key>-token-version`, and `<key>-token-agent`: `roles/secretmanager.secretAccessor` on that secret
  for the Artifact Registry service agent `service-<project number>@gcp-sa-artifactregistry.iam.
  gserviceaccount.com`, which reads it when it pulls from the upstream (Artifact Registry docs,
  "Configure authentication to remote repository upstreams": grant the service agent the Secret
  Manager Secret Accessor role on the secret). The repository names the version in
  `remote_repository_config.upstream_credentials.username_password_credentials`.

Choices, and why:
* Docker Hub through the preset upstream (`docker_repository.public_repository: DOCKER_HUB`); GitHub
  Container Registry, a preset upstream too (Artifact Registry docs, "Create remote repositories":
  external sources Docker Hub and GitHub Container Registry (ghcr.io)), through `common_repository.uri`:
  `docker_repository.custom_repository` is deprecated in pulumi-gcp 10.2 ("please use
  commonRepository instead").
* Credentials are optional for both: Artifact Registry pulls public images anonymously, and a Docker
  Hub account only raises the upstream's rate limit (Artifact Registry docs, "Authenticate remote
  repositories for Docker Hub upstream sources"). With many cells scaling out at once, give them.
* Encryption: Google-managed keys, like the cell's bucket and secrets (storage/gcp.py,
  secrets/gcp.py); a remote repository's content is a cache of public images.
* No cleanup policy: a cached image that a running Deployment names must stay pullable; Artifact
  Registry re-fetches a deleted one from the upstream, which is what the cache exists to avoid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_gcp as gcp

from ..common.naming import global_name
from .args import DOCKER_HUB, CacheBuilt, Credential, ImageCacheArgs, Upstream

GHCR = "ghcr.io"

UPSTREAMS: Mapping[str, Upstream] = {
    DOCKER_HUB: Upstream(DOCKER_HUB, needs_credentials=False,
                         source="Artifact Registry docs, 'Authenticate remote repositories for Docker Hub upstream "
                                "sources': public images need no authentication, credentials raise the rate limit"),
    GHCR: Upstream(GHCR, needs_credentials=False,
                   source="Artifact Registry docs, 'Create remote repositories': GitHub Container Registry (ghcr.io) "
                          "is an external upstream; public packages pull anonymously"),
}
"""The upstream registries a cell's Artifact Registry remote repositories pull through."""

READER = "roles/artifactregistry.reader"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"


@dataclass(frozen=True)
class _Remote:
    """How one upstream is written in `remote_repository_config`, and the repository's role name."""

    key: str
    config: gcp.artifactregistry.RepositoryRemoteRepositoryConfigArgsDict


def _remote(host: str) -> _Remote:
    if host == DOCKER_HUB:
        return _Remote("docker-hub", {"description": "Docker Hub",
                                      "docker_repository": {"public_repository": "DOCKER_HUB"}})
    if host == GHCR:
        return _Remote("ghcr", {"description": "GitHub Container Registry",
                                "common_repository": {"uri": "https://ghcr.io"}})
    # cache_problems refused every other host before anything was registered.
    raise ValueError(f"ImageCache on GCP: {host} is not an upstream ({', '.join(sorted(UPSTREAMS))})")


def artifact_registry_agent(project_number: str) -> str:
    """The Artifact Registry service agent of a project (it reads upstream credentials)."""
    return f"serviceAccount:service-{project_number}@gcp-sa-artifactregistry.iam.gserviceaccount.com"


def _credentials(parent: pulumi.Resource, name: str, args: ImageCacheArgs, project: str, key: str,
                 credential: Credential,
                 number: pulumi.Output[str]) -> tuple[gcp.artifactregistry.RepositoryRemoteRepositoryConfigUpstreamCredentialsArgsDict,
                                                      pulumi.Resource]:
    """The token in Secret Manager, readable by the Artifact Registry service agent only."""
    env = args.environment
    secret = gcp.secretmanager.Secret(
        f"{name}-{key}-token",
        secret_id=global_name(f"{name}-{key}-token", max_length=255),
        project=project,
        replication={"user_managed": {"replicas": [{"location": args.region}]}},
        opts=env.child(parent, stateful=True))
    version = gcp.secretmanager.SecretVersion(
        f"{name}-{key}-token-version",
        secret=secret.id,
        secret_data=pulumi.Output.secret(credential.token),
        opts=env.child(parent))
    access = gcp.secretmanager.SecretIamMember(
        f"{name}-{key}-token-agent",
        project=project,
        secret_id=secret.secret_id,
        role=SECRET_ACCESSOR,
        member=number.apply(artifact_registry_agent),
        opts=env.child(parent))
    return ({"username_password_credentials": {"username": credential.username,
                                               "password_secret_version": version.name}}, access)


def build(parent: pulumi.Resource, name: str, args: ImageCacheArgs) -> CacheBuilt:
    """A remote repository per upstream and pull access for the cluster's nodes; see the module docstring."""
    from ..compute.gcp import GkeHandle

    env = args.environment
    handle = args.cluster.handle if args.cluster is not None else None
    project = args.project or (handle.project if isinstance(handle, GkeHandle) else None)
    if project is None:
        raise ValueError(f"ImageCache {name!r}: GCP needs the cell's project (ImageCacheArgs.project)")
    number = gcp.organizations.get_project_output(
        project_id=project, opts=pulumi.InvokeOutputOptions(parent=parent)).number
    prefixes: dict[str, pulumi.Output[str] | str] = {}
    ready: list[pulumi.Resource] = []
    for host in args.upstreams:
        remote = _remote(host)
        config = remote.config.copy()
        waits: list[pulumi.Resource] = []
        credential = args.credentials.get(host)
        if credential is not None:
            upstream_credentials, access = _credentials(parent, name, args, project, remote.key, credential, number)
            config["upstream_credentials"] = upstream_credentials
            waits.append(access)
        repository_id = global_name(f"{name}-{remote.key}")
        repository = gcp.artifactregistry.Repository(
            f"{name}-{remote.key}",
            project=project,
            location=args.region,
            repository_id=repository_id,
            format="DOCKER",
            mode="REMOTE_REPOSITORY",
            description=f"Pull-through cache of {host} for the cell's cluster in {args.region}",
            remote_repository_config=config,
            opts=env.child(parent, depends_on=waits))
        ready.append(repository)
        if isinstance(handle, GkeHandle):
            ready.append(gcp.artifactregistry.RepositoryIamMember(
                f"{name}-{remote.key}-nodes",
                project=project,
                location=args.region,
                repository=repository.name,
                role=READER,
                member=handle.node_service_account.apply(lambda email: f"serviceAccount:{email}"),
                opts=env.child(parent)))
        prefixes[host] = f"{project}/{repository_id}"
    return CacheBuilt(host=pulumi.Output.from_input(f"{args.region}-docker.pkg.dev"), prefixes=prefixes, ready=ready)
