"""The customer-managed KMS key every AWS builder creates, written once.

Rotation on (yearly, by AWS) and the longest deletion window (30 days), so a
key deleted by mistake can be recovered before the data it protects is lost.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def customer_key(name: str, description: str, region: str, opts: pulumi.ResourceOptions) -> aws.kms.Key:
    """A symmetric KMS key in `region` with rotation on and a 30-day deletion window."""
    return aws.kms.Key(name, description=description, enable_key_rotation=True, deletion_window_in_days=30,
                       region=region, opts=opts)
