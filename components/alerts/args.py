"""Arguments of AlertChannel: where the environment's alerts reach a person."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..catalog.regions import Cloud
from ..common import Environment

_EMAIL = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$"


class AlertOptions(BaseModel):
    """The spec's `aiinfra:alerts`: who is told when the environment breaks. Required in prod."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    emails: list[str] = Field(default=[], max_length=20)
    """Addresses that receive every alert (each cloud asks the address to confirm once)."""
    webhook_url: str | None = Field(default=None, pattern=r"^https://[^\s]+$", max_length=2048)
    """An HTTPS endpoint (an incident tool's integration URL) that receives every alert as JSON."""

    @model_validator(mode="after")
    def _someone(self) -> "AlertOptions":
        if not self.emails and self.webhook_url is None:
            raise ValueError("set emails, webhook_url or both: an alert channel that reaches nobody is not one")
        import re
        bad = [e for e in self.emails if not re.match(_EMAIL, e)]
        if bad:
            raise ValueError(f"not email addresses: {', '.join(bad)}")
        return self


@dataclass(frozen=True)
class AlertChannelArgs:
    """Arguments of AlertChannel."""

    cloud: Cloud
    region: str
    """Alarms publish only to a channel in their own region on AWS (SNS); elsewhere the region places it."""
    environment: Environment
    options: AlertOptions
    resource_group_name: pulumi.Input[str] | None = None
    """Azure: the resource group of the action group."""
    project: str | None = None
    """GCP: the project of the notification channels."""


@dataclass(frozen=True)
class ChannelBuilt:
    """What a cloud's builder returns."""

    targets: list[pulumi.Output[str]]
    """What an alert rule names to notify: AWS one SNS topic ARN; Azure one action group id; GCP one
    notification channel name per address and webhook."""
    description: str
    """One line for people: `SNS topic prod-alerts (2 emails, 1 webhook)`."""
