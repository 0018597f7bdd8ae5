"""Names for the few resources whose cloud name Pulumi cannot auto-generate.

Most resources are auto-named by Pulumi from their logical name
`f"{name}-{role}"` (a random suffix keeps replacements create-before-delete).
Buckets are named here instead: their names are global, appear in policies
and URLs, and a known name makes those visible (and checkable) in an offline
plan. A bucket name is the stack, the logical name and a hash of project,
stack and logical name: stable across runs, different across stacks. Azure
storage accounts allow only 3-24 lowercase letters and digits, so they get a
compact stem plus the same hash.
"""

from __future__ import annotations

import hashlib
import re

import pulumi


def stable_suffix(logical_name: str, length: int = 6) -> str:
    seed = f"{pulumi.get_project()}/{pulumi.get_stack()}/{logical_name}"
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def compact_name(logical_name: str, max_length: int = 24, prefix: str = "") -> str:
    """Lowercase alphanumerics only, at most `max_length`, ending in a stable hash."""
    suffix = stable_suffix(logical_name)
    stem = re.sub(r"[^a-z0-9]", "", (prefix + logical_name).lower())
    return stem[: max_length - len(suffix)] + suffix


def global_name(logical_name: str, max_length: int = 63) -> str:
    """A DNS-safe global name (S3/GCS buckets): `<stack>-<logical>-<hash>`, lowercase, <= max_length."""
    suffix = stable_suffix(logical_name)
    stem = re.sub(r"[^a-z0-9-]+", "-", f"{pulumi.get_stack()}-{logical_name}".lower()).strip("-")
    return f"{stem[: max_length - len(suffix) - 1].rstrip('-')}-{suffix}"
