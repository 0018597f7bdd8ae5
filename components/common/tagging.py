"""Tagging as one mechanism: a transform that every front-door component installs on itself.

A transform in a component's options runs, in the engine, on the component and on
every resource beneath it, children of multi-language components included
(pulumi/pulumi `pkg/resource/deploy/source_eval.go`: a resource's own transforms,
then each ancestor's, then the stack's). So every resource under a front door gets
the environment's tags without each call site remembering to pass them. A front door
inside another that tags the same way installs none of its own (see
`Environment.tagged`). AWS and Azure resources take `tags`; GCP resources take
`labels` (`resource_labels` on GKE clusters). Tags a resource sets itself win, and
so do those of the innermost front door, whose transform runs first.

A transform sees the resource's properties as the engine has them (wire names, and
only the properties that were set), so whether a type takes tags at all is read
from its SDK class: the property its `<Type>Args` class declares.
"""

from __future__ import annotations

import functools
import importlib
import weakref
from typing import Any, Mapping

import pulumi

_PACKAGES = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp"}
"""Cloud packages whose resources carry tags, by the first part of their type token."""

_TAG_PROPERTIES = {"aws": (("tags", "tags"),), "azure-native": (("tags", "tags"),),
                   "gcp": (("user_labels", "userLabels"), ("labels", "labels"), ("resource_labels", "resourceLabels"))}
"""Per package, (SDK argument, wire name) of the properties that carry tags, first match wins. GCP
Monitoring notification channels and alert policies carry tags in `user_labels`: a channel's `labels`
are its type's settings (an email address, a webhook URL), which the API checks against the type."""


def _args_class(type_token: str) -> Any:
    """`aws:s3/bucket:Bucket` -> pulumi_aws.s3.BucketArgs: the class of the resource's arguments,
    or None when there is no such class."""
    package, module, name = (type_token.split(":") + ["", ""])[:3]
    root = _PACKAGES.get(package)
    if root is None or not name:
        return None
    path = [part for part in module.split("/") if part]
    if package in ("aws", "gcp"):
        path = path[:1]  # `s3/bucket`: the module is `s3`; the rest names the resource
    if path[:1] == ["index"]:
        path = []
    try:
        mod = importlib.import_module(".".join([root, *path]))
    except ImportError:
        return None
    # The generator names a resource's args class `<Type>InitArgs` when `<Type>Args` is taken by an
    # input type of the same module (azure-native's dataprotection.BackupInstance, for one).
    return getattr(mod, f"{name}InitArgs", None) or getattr(mod, f"{name}Args", None)


@functools.lru_cache(maxsize=None)
def tag_key(type_token: str) -> str | None:
    """The wire name of the property that carries tags for this resource type, if it has one."""
    args = _args_class(type_token)
    if args is None:
        return None
    for argument, wire in _TAG_PROPERTIES.get(type_token.split(":", 1)[0], ()):
        if isinstance(getattr(args, argument, None), property):
            return wire
    return None


def _merge(required: Mapping[str, str], existing: Any) -> Any:
    if existing is None:
        return dict(required)
    if isinstance(existing, Mapping):
        return {**required, **existing}
    if isinstance(existing, pulumi.Output):
        return existing.apply(lambda value: {**required, **(value or {})})
    return existing  # a list-shaped tag property (e.g. an autoscaling group): leave it alone


# Per front door, the tags every resource beneath it gets (from its own transform, else from the
# front door it sits in). Front doors are weakly held.
_TAGGED_COMPONENTS: "weakref.WeakKeyDictionary[pulumi.Resource, Mapping[str, str]]" = weakref.WeakKeyDictionary()


def applies_tags(component: pulumi.Resource, tags: Mapping[str, str]) -> bool:
    """Whether every resource beneath `component` is tagged with each of `tags` already."""
    installed = _TAGGED_COMPONENTS.get(component)
    return installed is not None and all(installed.get(k) == v for k, v in tags.items())


def remember_tags(component: pulumi.Resource, tags: Mapping[str, str]) -> None:
    """Record that every resource beneath `component` carries `tags`."""
    _TAGGED_COMPONENTS[component] = dict(tags)


def tagging(tags: Mapping[str, str]) -> pulumi.ResourceTransform:
    """A transform that merges `tags` into every taggable resource it sees."""
    required = dict(tags)

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        key = tag_key(args.type_)
        if key is None:
            return None
        props = dict(args.props)
        props[key] = _merge(required, props.get(key))
        return pulumi.ResourceTransformResult(props, args.opts)

    return transform
