"""AWS IAM documents every AWS builder needs, written once."""

from __future__ import annotations

import json


def trust_policy(service: str, *actions: str) -> str:
    """An assume-role policy letting the AWS service principal `service` assume the role.

    `actions` defaults to `sts:AssumeRole`; EKS Pod Identity also needs `sts:TagSession`.
    """
    action: str | list[str] = list(actions) if len(actions) > 1 else (actions[0] if actions else "sts:AssumeRole")
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": action}],
    })


POD_IDENTITY_TRUST = trust_policy("pods.eks.amazonaws.com", "sts:AssumeRole", "sts:TagSession")
"""Trust policy of every role handed to pods through EKS Pod Identity."""
