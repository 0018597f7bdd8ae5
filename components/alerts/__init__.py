"""Alerts that reach a person: a channel per cloud and region (SNS, action group, notification channels)."""

from .args import AlertChannelArgs, AlertOptions, ChannelBuilt
from .channel import AlertChannel

__all__ = ["AlertChannel", "AlertChannelArgs", "AlertOptions", "ChannelBuilt"]
