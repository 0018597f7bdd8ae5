"""AlertChannel: one place per cloud and region where alerts go (SNS topic, action group, notification
channels), made from the spec's `aiinfra:alerts`.

Alert rules are made by what they watch, each naming a channel of its own cloud: the endpoint (5xx
rate of its entry; SageMaker rollback alarms), the GPU pool (at its maximum for 15 minutes), the
backup plan (a failed job), and global traffic (a backend's health check failing).
"""

from __future__ import annotations

from typing import Callable

import pulumi

from ..catalog.regions import CLOUDS, Cloud
from ..common import raise_if_any
from ..common.dispatch import choice_problems, unknown
from .args import AlertChannelArgs, ChannelBuilt

ChannelBuilder = Callable[[pulumi.Resource, str, AlertChannelArgs], ChannelBuilt]


def _builder(cloud: Cloud) -> ChannelBuilder:
    match cloud:
        case "aws":
            from . import aws
            return aws.build
        case "azure":
            from . import azure
            return azure.build
        case "gcp":
            from . import gcp
            return gcp.build
        case _:
            unknown(cloud, "AlertChannelArgs.cloud", CLOUDS)


class AlertChannel(pulumi.ComponentResource):
    """Where alerts of one cloud and region go: email addresses and a webhook.

    Outputs: `targets` (topic ARN, action group id or notification channel names)."""

    targets: list[pulumi.Output[str]]

    def __init__(self, name: str, args: AlertChannelArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_any(f"invalid AlertChannel {name!r}", choice_problems("AlertChannelArgs.cloud", args.cloud, CLOUDS))
        build = _builder(args.cloud)
        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:alerts:AlertChannel", name, None, opts)
        self.cloud = args.cloud
        self.region = args.region
        built = build(self, name, args)
        self.targets = built.targets
        self.description = built.description
        self.register_outputs({"targets": built.targets})
