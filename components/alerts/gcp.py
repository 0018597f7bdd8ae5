"""AlertChannel on GCP: Cloud Monitoring notification channels, one per email address and one for the webhook.

Children (role names): `email-<i>` (a channel of type `email`, label `email_address`) per address in
`options.emails`, and `webhook` (type `webhook_tokenauth`, label `url`) when `options.webhook_url` is
set. `targets` are the channels' resource names (`projects/<project>/notificationChannels/<id>`, the
`name` output, which is also the resource id): what an alert policy's `notification_channels` lists.

Choices, and why:
* `webhook_tokenauth`: Cloud Monitoring POSTs the incident as JSON to the URL (an incident tool's
  integration URL carries its own token in the path or query). `webhook_basicauth` would need a
  user and password the spec has no field for. Label keys per type are those of the notification
  channel descriptors (Cloud Monitoring docs, "Create and manage notification channels by API":
  `email` -> `email_address`; `webhook_tokenauth` -> `url`).
* `enabled` is stated explicitly: a disabled channel silently drops every alert.
* The environment's tags go in `user_labels`: `labels` of a notification channel are the type's
  configuration (only the descriptor's keys are accepted), not free-form tags.
* `force_delete`: never. A channel an alert policy still names is not deleted from under it (the
  API refuses, and the policy is deleted first when the stack removes both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_gcp as gcp

from .args import AlertChannelArgs, ChannelBuilt

if TYPE_CHECKING:
    from ..common import Environment
    from .channel import AlertChannel

EMAIL_TYPE = "email"
WEBHOOK_TYPE = "webhook_tokenauth"


def build(parent: pulumi.Resource, name: str, args: AlertChannelArgs) -> ChannelBuilt:
    """Notification channels for every address and the webhook of `args.options`."""
    env, options = args.environment, args.options
    assert args.project is not None  # the cell's project; the GCP foundation always sets it
    tags = env.resource_tags()
    channels: list[gcp.monitoring.NotificationChannel] = []
    for i, email in enumerate(options.emails):
        channels.append(gcp.monitoring.NotificationChannel(
            f"{name}-email-{i}",
            project=args.project,
            type=EMAIL_TYPE,
            display_name=f"{env.name} alerts: {email}",
            description=f"Every alert of the {env.name} environment in {args.region}",
            labels={"email_address": email},
            user_labels=tags,
            enabled=True,
            force_delete=False,
            opts=env.child(parent)))
    if options.webhook_url is not None:
        channels.append(gcp.monitoring.NotificationChannel(
            f"{name}-webhook",
            project=args.project,
            type=WEBHOOK_TYPE,
            display_name=f"{env.name} alerts: webhook",
            description=f"Every alert of the {env.name} environment in {args.region}, as JSON",
            labels={"url": options.webhook_url},
            user_labels=tags,
            enabled=True,
            force_delete=False,
            opts=env.child(parent)))
    webhooks = 1 if options.webhook_url is not None else 0
    return ChannelBuilt(
        targets=[c.name for c in channels],
        description=(f"Cloud Monitoring notification channels in {args.project} "
                     f"({len(options.emails)} email, {webhooks} webhook)"))


def alert_policy(parent: pulumi.Resource, name: str, channel: "AlertChannel", project: pulumi.Input[str] | None,
                 title: str, condition: gcp.monitoring.AlertPolicyConditionArgsDict, *,
                 environment: "Environment", documentation: str, severity: str = "CRITICAL",
                 rate_limit_seconds: int | None = None) -> gcp.monitoring.AlertPolicy:
    """A Cloud Monitoring alert policy with one condition, notifying every channel of `channel` (GCP).

    Incidents close on their own 30 minutes after the condition stops holding (`auto_close`), so a
    recovered backend does not stay open forever; the environment's tags go in `user_labels`. A log-match
    condition needs `rate_limit_seconds` (Cloud Monitoring requires a notification rate limit for
    log-based alert policies)."""
    if channel.cloud != "gcp":
        raise ValueError(f"alert {name!r}: the channel is on {channel.cloud}; a GCP alert policy names GCP "
                         "notification channels")
    strategy: gcp.monitoring.AlertPolicyAlertStrategyArgsDict = {"auto_close": "1800s"}
    if rate_limit_seconds is not None:
        strategy["notification_rate_limit"] = {"period": f"{rate_limit_seconds}s"}
    return gcp.monitoring.AlertPolicy(
        name,
        project=project,
        display_name=title,
        combiner="OR",
        conditions=[condition],
        notification_channels=channel.targets,
        alert_strategy=strategy,
        documentation={"content": documentation, "mime_type": "text/markdown"},
        severity=severity,
        user_labels=environment.resource_tags(),
        enabled=True,
        opts=environment.child(parent))
