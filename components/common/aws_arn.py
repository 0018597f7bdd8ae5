"""AWS ARN pieces every AWS builder needs, written once: the partition and managed-policy ARNs."""

from __future__ import annotations


def partition(region: str) -> str:
    """The AWS partition of a region (ARNs need it): aws-cn, aws-us-gov or aws."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def managed_policy_arn(region: str, policy: str) -> str:
    """The ARN of the AWS managed policy `policy` (a name or `service-role/<name>`) in the region's partition."""
    return f"arn:{partition(region)}:iam::aws:policy/{policy}"
