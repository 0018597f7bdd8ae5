"""Tagging as one mechanism: a transformation that every front-door component installs on itself.

Children inherit their parent's transformations, so every resource under a
component gets the environment's tags without each call site remembering to
pass them. A front door inside another that tags the same way installs none
of its own (see `Environment.tagged`). AWS and Azure resources take `tags`;
GCP resources take `labels` (`resource_labels` on GKE clusters). Tags a
resource sets itself win.
"""

from __future__ import annotations

import weakref
from typing import Any, Mapping

import pulumi

_TAG_KEYS = {"aws": ("tags",), "azure-native": ("tags",), "gcp": ("labels", "resource_labels")}


def tag_key(type_token: str, props: Mapping[str, Any]) -> str | None:
    """The property that carries tags for this resource type, if it has one."""
    package = type_token.split(":", 1)[0]
    for key in _TAG_KEYS.get(package, ()):
        if key in props:
            return key
    return None


def _merge(required: Mapping[str, str], existing: Any) -> Any:
    if existing is None:
        return dict(required)
    if isinstance(existing, Mapping):
        return {**required, **existing}
    if isinstance(existing, pulumi.Output):
        return existing.apply(lambda value: {**required, **(value or {})})
    return existing  # a list-shaped tag property (e.g. an autoscaling group): leave it alone


# Per component, the tags of the innermost tagging transformation it runs (its own, else its
# parent's): every resource beneath it carries them. Components are weakly held.
_TAGGED_COMPONENTS: "weakref.WeakKeyDictionary[pulumi.Resource, Mapping[str, str]]" = weakref.WeakKeyDictionary()


def applies_tags(component: pulumi.Resource, tags: Mapping[str, str]) -> bool:
    """Whether every resource beneath `component` is tagged with each of `tags` already, by its
    own tagging transformation or one it inherits."""
    installed = _TAGGED_COMPONENTS.get(component)
    return installed is not None and all(installed.get(k) == v for k, v in tags.items())


def tagging(tags: Mapping[str, str]) -> pulumi.ResourceTransformation:
    """A transformation that merges `tags` into every taggable resource it sees."""
    required = dict(tags)

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not isinstance(args.props, dict):
            return None
        if isinstance(args.resource, pulumi.ComponentResource) and args.resource not in _TAGGED_COMPONENTS:
            # The first tagging a component sees is the innermost: its children get these tags.
            _TAGGED_COMPONENTS[args.resource] = required
        key = tag_key(args.type_, args.props)
        if key is None:
            return None
        props = dict(args.props)
        props[key] = _merge(required, props.get(key))
        return pulumi.ResourceTransformationResult(props, args.opts)

    return transform
