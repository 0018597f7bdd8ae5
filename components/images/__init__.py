"""Container images from inside the cell: a pull-through cache per cell (ECR, ACR, Artifact Registry)."""

from .args import (DOCKER_HUB, CacheBuilt, Credential, ImageCacheArgs, ImageRef, ImagesOptions, RegistryCredential,
                   Upstream, digest_problem, parse_image)
from .cache import ImageCache, cache_problems, supported_upstreams, upstream_problem

__all__ = ["CacheBuilt", "Credential", "DOCKER_HUB", "ImageCache", "ImageCacheArgs", "ImageRef", "ImagesOptions",
           "RegistryCredential", "Upstream", "cache_problems", "digest_problem", "parse_image", "supported_upstreams",
           "upstream_problem"]
