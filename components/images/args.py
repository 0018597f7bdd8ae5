"""Arguments and shared shapes of ImageCache: a pull-through cache of container images per cell."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from ..catalog.regions import Cloud
from ..common import Environment

if TYPE_CHECKING:
    from ..compute import KubernetesCluster

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: `registry/path[:tag][@digest]` (Docker Hub implied when the first
    part is not a host; `library/` implied for a one-part Docker Hub path)."""

    registry: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def pinned(self) -> str:
        """`:tag@digest`, `:tag` or `@digest`: how the reference names one image."""
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return f"{self.registry}/{self.path}{self.pinned}"


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def parse_image(image: str) -> ImageRef:
    """Split an image reference the way container runtimes do (distribution/reference): the first
    path component is a registry host when it contains '.' or ':' or is 'localhost'."""
    rest, digest = (image.split("@", 1)[0], image.split("@", 1)[1]) if "@" in image else (image, None)
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    if registry in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return ImageRef(registry=registry, path=path, tag=tag, digest=digest)


def digest_problem(image: str) -> str | None:
    """None when the reference names its image by digest (`@sha256:<64 hex>`)."""
    ref = parse_image(image)
    if ref.digest is None:
        return "allowed: an image pinned by digest in prod, e.g. repo/server:1.2.3@sha256:<64 hex digits>"
    if not _DIGEST.match(ref.digest):
        return "allowed: a digest of the form sha256:<64 lowercase hex digits>"
    return None


@dataclass(frozen=True)
class Upstream:
    """What a cloud's pull-through cache does with one upstream registry (a fact with its source)."""

    registry: str
    """The upstream's host as images name it (`docker.io`, `ghcr.io`, `nvcr.io`, ...)."""
    needs_credentials: bool
    """Whether the cache can pull from it only with the user's credentials."""
    source: str
    """Where this is documented."""


class RegistryCredential(BaseModel):
    """A user's credentials for one upstream registry (the spec's `aiinfra:images.credentials.<host>`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1, max_length=256)
    """The account's user name (not a secret)."""
    token_secret: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    """The name of the `aiinfra:secrets` entry holding its access token (a Docker Hub personal access
    token, a GitHub token with read:packages, ...)."""


class ImagesOptions(BaseModel):
    """The spec's `aiinfra:images`: credentials for upstream registries the cells' caches pull from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    credentials: dict[str, RegistryCredential] = {}
    """Per upstream registry host. Required for an upstream whose cache needs them (ECR's pull-through
    cache for Docker Hub and GitHub, for one). Default: none."""


@dataclass(frozen=True)
class Credential:
    """A resolved credential: the user name and the token as a Pulumi secret."""

    username: str
    token: pulumi.Output[str]


@dataclass(frozen=True)
class ImageCacheArgs:
    """Arguments of ImageCache."""

    cloud: Cloud
    """The cell's cloud."""
    region: str
    """The cell's region: the cache lives there, next to the nodes that pull."""
    environment: Environment
    """Name, tags and protection."""
    upstreams: tuple[str, ...]
    """Registry hosts the cell's images come from (`docker.io`, `ghcr.io`, ...); each gets a cache rule."""
    credentials: Mapping[str, Credential] = field(default_factory=dict)
    """Per upstream host, where the cache needs or takes credentials."""
    cluster: "KubernetesCluster | None" = None
    """The cell's cluster, whose nodes get pull access to the cache (and, where the cloud requires it
    for a first pull through the cache, the right to import)."""
    resource_group_name: pulumi.Input[str] | None = None
    """Azure: the cell's resource group."""
    project: str | None = None
    """GCP: the cell's project."""


@dataclass(frozen=True)
class CacheBuilt:
    """What a cloud's builder returns."""

    host: pulumi.Output[str]
    """The cache's registry host (`<account>.dkr.ecr.<region>.amazonaws.com`, `<name>.azurecr.io`,
    `<region>-docker.pkg.dev`)."""
    prefixes: Mapping[str, pulumi.Output[str] | str]
    """Per upstream host, the path under `host` its images appear at (`docker-hub`, `<project>/<repo>`)."""
    ready: list[pulumi.Resource]
    """What a pod pulling through the cache must wait for (rules, grants)."""
