"""Names for the few resources whose cloud name Pulumi cannot auto-generate.

Everything else is auto-named by Pulumi from its logical name `f"{name}-{role}"`
(a random suffix keeps replacements create-before-delete). Azure storage
accounts allow only 3-24 lowercase letters and digits, globally unique, so they
get a readable stem plus a hash of project, stack and logical name: stable
across runs, different across stacks.
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
