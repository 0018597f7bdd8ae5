"""The image hop: where the serving pod's images come from.

Every image of the pod (init containers included) is either on a pull-through cache of the stack
(an ECR pull-through cache rule, an Artifact Registry remote repository, an ACR cache rule) in the
workload cluster's region, or pulled from outside the cell (Docker Hub, GHCR, ... through the
cluster's NAT): that still serves, so the hop holds and says so; the stack policy
`serving-images-from-cell-cache` refuses it in prod. The hop breaks when an image names a cache
host of the stack under a path no rule of that cache serves: the pull fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import kinds
from .index import UNKNOWN, Index, Resource, known_str
from .registry import Step, Walk, add_hop, broken, ok, register, unknown
from .workload import POD_SOURCES, PodTemplate, template_of

HOP = "image"
add_hop(HOP, after="auth")

_ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")
_AR_HOST = re.compile(r"^(?P<region>[a-z0-9-]+)-docker\.pkg\.dev$")
_ACR_HOST = re.compile(r"^(?P<registry>[a-z0-9]+)\.azurecr\.io$")


@dataclass(frozen=True)
class ImageName:
    host: str
    path: str
    """Repository path, without tag or digest."""


def parse(image: str) -> ImageName:
    """Split like container runtimes do: the first component is a host when it has '.' or ':' or is
    localhost; otherwise Docker Hub."""
    rest = image.split("@", 1)[0]
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest = rest[: len(rest) - len(last)] + last.split(":", 1)[0]
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        return ImageName(first, remainder)
    return ImageName("docker.io", rest if "/" in rest else f"library/{rest}")


@dataclass(frozen=True)
class Cache:
    """One pull-through rule of the stack: images at host/prefix/... come through it."""

    resource: Resource
    host: re.Pattern[str]
    prefix: str
    """Path prefix under the host ('' for none); `exact` when the rule names one repository."""
    exact: bool
    region: str | None
    fact: str


def _provider_input(index: Index, r: Resource, key: str) -> str | None:
    provider = index.get(r.provider)
    return known_str(provider.get(key)) if provider is not None else None


def caches(index: Index) -> list[Cache]:
    if "image.caches" in index.memo:
        return index.memo["image.caches"]
    found: list[Cache] = []
    for r in index.of_type(kinds.ECR_PULL_THROUGH):
        prefix = known_str(r.get("ecrRepositoryPrefix"))
        region = _provider_input(index, r, "region")
        if prefix:
            host = rf"\d{{12}}\.dkr\.ecr\.{re.escape(region) if region else '[a-z0-9-]+'}\.amazonaws\.com"
            found.append(Cache(r, re.compile(f"^{host}$"), prefix, False, region, "ecr-pull-through-cache"))
    for r in index.of_type(kinds.ARTIFACT_REGISTRY_REPOSITORY):
        if r.get("mode") != "REMOTE_REPOSITORY" or r.get("format") not in ("DOCKER", "docker"):
            continue
        location, repo = known_str(r.get("location")), known_str(r.get("repositoryId"))
        project = known_str(r.get("project")) or _provider_input(index, r, "project")
        if location and repo and project:
            found.append(Cache(r, re.compile(f"^{re.escape(location)}-docker\\.pkg\\.dev$"), f"{project}/{repo}",
                               False, location, "artifact-registry-remote"))
    for r in index.of_type(*kinds.ACR_CACHE_RULE):
        registry, target = known_str(r.get("registryName")), known_str(r.get("targetRepository"))
        if registry and target:
            wildcard = target.endswith("/*")
            found.append(Cache(r, re.compile(f"^{re.escape(registry.lower())}\\.azurecr\\.io$"),
                               target[:-2] if wildcard else target, not wildcard, _registry_region(index, registry),
                               "acr-cache-rule"))
    index.memo["image.caches"] = found
    return found


def _registry_region(index: Index, name: str) -> str | None:
    for r in index.of_type("azure-native:containerregistry:Registry"):
        if known_str(r.get("registryName")) == name:
            return known_str(r.get("location"))
    return None


def cluster_region(index: Index, w: Walk) -> str | None:
    """The region of the workload's cluster, when the plan states it."""
    if w.cluster is None:
        return None
    cluster = index.cluster_resource(w.cluster)
    if cluster is None:
        return None
    if cluster.type == kinds.EKS_CLUSTER:
        return _provider_input(index, cluster, "region")
    return known_str(cluster.get("location")) or _provider_input(index, cluster, "region")


def _covers(cache: Cache, image: ImageName) -> bool:
    if not cache.host.match(image.host):
        return False
    if not cache.prefix:
        return True
    return image.path == cache.prefix if cache.exact else image.path.startswith(cache.prefix + "/")


def _cache_host(index: Index, image: ImageName) -> bool:
    """Whether the image names the host of a cache of this stack (whatever its path)."""
    return any(c.host.match(image.host) for c in caches(index))


def images_of(t: PodTemplate) -> list[tuple[str, Any]]:
    """(container name, image) of every init container and container."""
    return [(str(c.get("name")), c.get("image")) for c in (*t.init_containers, *t.containers)]


@dataclass(frozen=True)
class Pull:
    container: str
    image: str
    where: str
    """cache, outside, broken or unknown."""
    detail: str
    fact: str | None = None
    resource: Resource | None = None


def classify(index: Index, w: Walk, container: str, image: Any) -> Pull:
    text = known_str(image)
    if text is None or image == UNKNOWN:
        return Pull(container, "<unknown>", "unknown", f"container '{container}': image unknown offline")
    name = parse(text)
    region = cluster_region(index, w)
    for cache in caches(index):
        if _covers(cache, name):
            if region is not None and cache.region is not None and cache.region != region:
                return Pull(container, text, "outside", f"'{container}' from {name.host} through {cache.resource.name} "
                            f"in {cache.region}, not the cluster's region {region}", cache.fact, cache.resource)
            return Pull(container, text, "cache", f"'{container}' through {cache.resource.name} ({name.host})",
                        cache.fact, cache.resource)
    if _cache_host(index, name):
        rules = [c for c in caches(index) if c.host.match(name.host)]
        prefixes = ", ".join(sorted({c.prefix for c in rules}))
        if _ECR_HOST.match(name.host) and any(known_str(r.get("name")) == name.path
                                              for r in index.of_type("aws:ecr/repository:Repository")):
            return Pull(container, text, "cache", f"'{container}' from the stack's ECR repository {name.path}")
        return Pull(container, text, "broken", f"'{container}' names {name.host}/{name.path}, but no cache rule of "
                    f"the stack serves that path (rules: {prefixes}): the pull fails", rules[0].fact, rules[0].resource)
    return Pull(container, text, "outside", f"'{container}' from {name.host}, outside the cell (no pull-through "
                "cache of the stack serves it)")


def pulls(w: Walk, workload: Resource) -> list[Pull]:
    t = template_of(workload)
    return [classify(w.index, w, c, image) for c, image in images_of(t)] if t is not None else []


def _image(w: Walk, workload: Resource) -> Step:
    found = pulls(w, workload)
    w.extra["images"] = found
    if not found:
        return Step(unknown(HOP, workload, f"{workload.kind} {workload.k8s_ref}: no containers known offline"), workload)
    bad = [p for p in found if p.where == "broken"]
    if bad:
        return Step(broken(HOP, bad[0].resource or workload, bad[0].detail, *([bad[0].fact] if bad[0].fact else [])),
                    workload)
    unknowns = [p for p in found if p.where == "unknown"]
    if unknowns:
        return Step(unknown(HOP, workload, "; ".join(p.detail for p in unknowns)), workload)
    facts = sorted({p.fact for p in found if p.fact})
    outside = [p for p in found if p.where == "outside"]
    inside = [p for p in found if p.where == "cache"]
    parts = []
    if inside:
        parts.append("inside the cell: " + ", ".join(p.detail for p in inside))
    if outside:
        parts.append("OUTSIDE the cell: " + ", ".join(p.detail for p in outside))
    return Step(ok(HOP, workload, "; ".join(parts), *facts), workload)


register(HOP, tuple(POD_SOURCES), _image, describe="every image of the pod on a pull-through cache of the cell")
