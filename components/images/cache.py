"""ImageCache: each cell pulls its container images through a cache in its own cloud and region.

Nodes then pull from a registry next to them, through their cloud identity, instead of from Docker Hub
or GHCR through a few NAT addresses: no upstream rate limit when a failover scales the surviving cells
out, and an upstream outage does not stop a pod that the cache already holds. Per cloud
(`aws.py`: ECR pull-through cache rules; `azure.py`: ACR cache rules; `gcp.py`: Artifact Registry
remote repositories), behind one front door; `ref()` turns an upstream reference into the cached one.
"""

from __future__ import annotations

from typing import Callable, Mapping

import pulumi

from ..catalog.regions import CLOUDS, Cloud
from ..common import Problem, raise_if_any
from ..common.dispatch import choice_problems, unknown
from .args import CacheBuilt, Credential, ImageCacheArgs, Upstream, parse_image

CacheBuilder = Callable[[pulumi.Resource, str, ImageCacheArgs], CacheBuilt]


def _cloud(cloud: Cloud) -> tuple[CacheBuilder, Mapping[str, Upstream]]:
    """The cloud's builder and the upstream registries its cache supports."""
    match cloud:
        case "aws":
            from . import aws
            return aws.build, aws.UPSTREAMS
        case "azure":
            from . import azure
            return azure.build, azure.UPSTREAMS
        case "gcp":
            from . import gcp
            return gcp.build, gcp.UPSTREAMS
        case _:
            unknown(cloud, "ImageCacheArgs.cloud", CLOUDS)


def supported_upstreams(cloud: Cloud) -> Mapping[str, Upstream]:
    """The upstream registries `cloud`'s cache can pull through, with what each needs."""
    return _cloud(cloud)[1]


def upstream_problem(cloud: Cloud, host: str) -> str | None:
    """None when `cloud`'s cache can pull through registry `host`; else what is allowed."""
    supported = supported_upstreams(cloud)
    if host in supported:
        return None
    return f"allowed: an image from a registry the {cloud} cache pulls through: {', '.join(sorted(supported))}"


def cache_problems(cloud: Cloud, upstreams: tuple[str, ...], credentials: Mapping[str, object],
                   path: str = "ImageCacheArgs", upstreams_path: str | None = None) -> list[Problem]:
    """Every upstream must be one the cloud's cache supports (reported at `upstreams_path`, when given),
    with credentials where it needs them (at `<path>.credentials.<host>`)."""
    supported = supported_upstreams(cloud)
    problems: list[Problem] = []
    for host in upstreams:
        upstream = supported.get(host)
        if upstream is None:
            if upstreams_path is not None:
                problems.append(Problem(upstreams_path, host, upstream_problem(cloud, host) or ""))
        elif upstream.needs_credentials and host not in credentials:
            problems.append(Problem(f"{path}.credentials.{host}", None,
                                    f"required: the {cloud} cache pulls from {host} only with credentials "
                                    f"({upstream.source})", missing=True))
    return problems


class ImageCache(pulumi.ComponentResource):
    """A pull-through cache for the cell's upstream registries, and pull access for its cluster's nodes.

    Outputs: `host` (the cache's registry host)."""

    host: pulumi.Output[str]

    def __init__(self, name: str, args: ImageCacheArgs, opts: pulumi.ResourceOptions | None = None):
        problems = choice_problems("ImageCacheArgs.cloud", args.cloud, CLOUDS)
        raise_if_any(f"invalid ImageCache {name!r}", problems)
        raise_if_any(f"invalid ImageCache {name!r}", cache_problems(args.cloud, args.upstreams, args.credentials,
                                                                    upstreams_path="ImageCacheArgs.upstreams"))
        build, _ = _cloud(args.cloud)
        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:images:ImageCache", name, None, opts)
        built = build(self, name, args)
        self.host = built.host
        self._prefixes = dict(built.prefixes)
        self.ready = built.ready
        self.register_outputs({"host": built.host})

    def ref(self, image: str) -> pulumi.Output[str]:
        """The cached reference of an upstream `image`, same path, tag and digest."""
        parsed = parse_image(image)
        prefix = self._prefixes.get(parsed.registry)
        if prefix is None:
            raise ValueError(f"{image!r}: {parsed.registry} is not an upstream of this cache "
                             f"({', '.join(sorted(self._prefixes))})")
        return pulumi.Output.all(self.host, prefix).apply(
            lambda hp: f"{hp[0]}/{hp[1]}/{parsed.path}{parsed.pinned}")

    def covers(self, image: str) -> bool:
        """Whether `image` comes from one of this cache's upstreams."""
        return parse_image(image).registry in self._prefixes


__all__ = ["Credential", "ImageCache", "cache_problems", "supported_upstreams", "upstream_problem"]
