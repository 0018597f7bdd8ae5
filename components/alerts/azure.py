"""AlertChannel on Azure: one Azure Monitor action group per cell.

Children (role names): `action-group`. `metric_alert` is how Azure alert rules elsewhere (backup,
managed endpoints, Traffic Manager) notify it.

Choices, and why:
* One email receiver per address and one webhook receiver for `webhook_url`, each with the common
  alert schema (`use_common_alert_schema`: one JSON shape for metric, log and Prometheus alerts, so
  an incident tool parses every alert the same way; Azure Monitor docs, "Common alert schema").
* Location `Global`: an action group is a global resource (the `location` the ARM API takes for
  it; Azure Monitor docs, "Create and manage action groups", "Configure basic action group
  settings": the Global region). Metric alerts, activity log alerts and Prometheus rule groups of
  any region name it by id.
* The short name (at most 12 characters, shown in the emails and SMS Azure sends) is the
  environment and the cell: `<env>-<cell>` cut to 12 characters.
* Emails: Azure mails each address once that it was added to an action group; nothing to confirm.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pulumi
import pulumi_azure_native as azure_native

from ..common import InputError, Problem
from .args import AlertChannelArgs, ChannelBuilt

if TYPE_CHECKING:
    from ..common import Environment
    from .channel import AlertChannel

SHORT_NAME_MAX = 12
"""`groupShortName`: at most 12 characters (Microsoft.Insights/actionGroups API)."""


def short_name(environment: str, name: str) -> str:
    """`<env>-<cell>` as letters, digits and dashes, at most SHORT_NAME_MAX characters."""
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", f"{environment}-{name}").strip("-")
    return stem[:SHORT_NAME_MAX].rstrip("-")


def build(parent: pulumi.Resource, name: str, args: AlertChannelArgs) -> ChannelBuilt:
    """An action group with an email receiver per address and a webhook receiver, common alert schema on."""
    if args.resource_group_name is None:
        raise InputError(f"invalid AlertChannel {name!r}", [
            Problem("AlertChannelArgs.resource_group_name", None, "required on Azure", missing=True)])
    env, options = args.environment, args.options
    emails: list[azure_native.monitor.MicrosoftCommonEmailReceiverArgsDict] = [
        {"name": f"email-{i}", "email_address": address, "use_common_alert_schema": True}
        for i, address in enumerate(options.emails)]
    webhooks: list[azure_native.monitor.WebhookReceiverArgsDict] = []
    if options.webhook_url is not None:
        webhooks.append({"name": "webhook", "service_uri": options.webhook_url,
                         "use_common_alert_schema": True})
    group = azure_native.monitor.ActionGroup(
        f"{name}-action-group",
        resource_group_name=args.resource_group_name,
        location="Global",
        group_short_name=short_name(env.name, name),
        enabled=True,
        email_receivers=emails,
        webhook_receivers=webhooks,
        opts=env.child(parent))
    parts = [f"{len(emails)} email{'s' if len(emails) != 1 else ''}"] + (["1 webhook"] if webhooks else [])
    return ChannelBuilt(targets=[group.id],
                        description=f"Azure Monitor action group {name}-action-group ({', '.join(parts)})")


def channel_targets(channel: "AlertChannel", path: str) -> list[pulumi.Output[str]]:
    """The action group ids of an Azure channel (an alert rule of Azure names only Azure action groups)."""
    if channel.cloud != "azure":
        raise InputError("alert channel", [Problem(path, channel.cloud, "allowed: an Azure alert channel (action group)")])
    return channel.targets


def metric_alert(parent: pulumi.Resource, name: str, env: "Environment", resource_group_name: pulumi.Input[str],
                 channel: "AlertChannel", *, scope: pulumi.Input[str], target_type: str, metric: str,
                 aggregation: str, operator: str, threshold: float, description: str, window: str = "PT5M",
                 frequency: str = "PT1M", severity: int = 1,
                 dimensions: list[azure_native.monitor.MetricDimensionArgsDict] | None = None,
                 depends_on: list[pulumi.Resource] | None = None) -> azure_native.monitor.MetricAlert:
    """An Azure Monitor metric alert on one resource's platform metric that notifies the channel's action
    group, resolving by itself when the condition clears (`autoMitigate`). Metric alerts are global
    resources (location `global`)."""
    # Typed args classes, not dicts: `criteria` is a union (single resource | multiple resources | web
    # test), and a plain dict reaches the provider with untranslated snake_case keys.
    criterion = azure_native.monitor.MetricCriteriaArgs(
        criterion_type="StaticThresholdCriterion", name=metric, metric_name=metric, metric_namespace=target_type,
        time_aggregation=aggregation, operator=operator, threshold=threshold,
        dimensions=[azure_native.monitor.MetricDimensionArgs(**d) for d in dimensions or []] or None)
    return azure_native.monitor.MetricAlert(
        name,
        resource_group_name=resource_group_name,
        location="global",
        description=description,
        severity=severity,
        enabled=True,
        scopes=[scope],
        target_resource_type=target_type,
        evaluation_frequency=frequency,
        window_size=window,
        auto_mitigate=True,
        criteria=azure_native.monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
            odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", all_of=[criterion]),
        actions=[{"action_group_id": target} for target in channel_targets(channel, f"{name}.alerts")],
        opts=env.child(parent, depends_on=depends_on or []))
