"""What every component shares about the environment it is deployed into."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Mapping

import pulumi

REQUIRED_TAGS = ("owner", "cost-center")
"""Tags every taggable resource must carry (plus `environment` and `managed-by`, added here)."""


@dataclass(frozen=True)
class Environment:
    """The deployment environment: its name, its tags and whether stateful resources are protected.

    Attributes:
        name: `dev`, `staging` or `prod`. Policies and defaults key off it.
        tags: Tags for every taggable resource; must include `owner` and `cost-center`.
            `environment=<name>` and `managed-by=pulumi` are added.
        protect_stateful: Protect and retain stateful resources (buckets, keys, storage
            accounts, clusters). Default: True in `prod` only, so dev can be torn down freely
            and prod data survives a mistaken `pulumi destroy` or a rename.
    """

    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    protect_stateful: bool | None = None

    @property
    def protected(self) -> bool:
        return self.name == "prod" if self.protect_stateful is None else self.protect_stateful

    @property
    def is_prod(self) -> bool:
        return self.name == "prod"

    @property
    def log_retention_days(self) -> int:
        """Days every log store keeps audit and platform logs (CloudWatch log groups, Log Analytics
        workspaces): 365 in prod, a year of audit evidence; 30 elsewhere, enough to debug."""
        return 365 if self.is_prod else 30

    def resource_tags(self, **extra: str) -> dict[str, str]:
        """The tags to put on resources: the given tags, environment, managed-by, then `extra`."""
        return {**self.tags, "environment": self.name, "managed-by": "pulumi", **extra}

    def tagged(self, component: pulumi.Resource, opts: pulumi.ResourceOptions | None,
               **extra: str) -> pulumi.ResourceOptions:
        """`opts` plus the tagging transform, for the front door `component` that is about to
        register with them: every front door passes its options through this, so each resource
        beneath it carries the environment's tags (and `extra`).

        A front door nested in one that already tags with these tags (an ObjectStore in a Cell)
        adds nothing: the engine runs each ancestor's transforms on every descendant, so each
        resource is tagged once however deep it sits."""
        from .tagging import applies_tags, remember_tags, tagging
        tags = self.resource_tags(**extra)
        result = copy.copy(opts) if opts is not None else pulumi.ResourceOptions()
        if result.parent is not None and applies_tags(result.parent, tags):
            remember_tags(component, tags)
        else:
            result.transforms = [*(result.transforms or []), tagging(tags)]
            remember_tags(component, tags)
        return result

    def child(self, parent: pulumi.Resource, *, stateful: bool = False, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a child of `parent`; stateful children are protected and retained when protected."""
        if stateful and self.protected:
            kwargs.update(protect=True, retain_on_delete=True)
        return pulumi.ResourceOptions(parent=parent, **kwargs)  # type: ignore[arg-type]
