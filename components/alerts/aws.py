"""AlertChannel on AWS: one SNS topic, encrypted with its own KMS key, with an email subscription per
address and an HTTPS subscription for the webhook.

Children (role names): `key`, `key-policy`, `topic`, `topic-policy`, `email-<n>`, `webhook`.

Choices, and why:
* A customer-managed key, not `alias/aws/sns`: the AWS-managed key's policy cannot be changed, so
  CloudWatch alarms and EventBridge rules could not publish to a topic it encrypts (AWS docs, Amazon
  SNS "Encryption at rest" > "Enable compatibility between event sources from AWS services and
  encrypted topics": the key policy must allow the publishing service `kms:Decrypt` and
  `kms:GenerateDataKey*`). The key policy grants exactly that to the three publishers
  (`PUBLISHERS`), each only for this account (`aws:SourceAccount`).
* The topic policy lets the same services publish, for this account only, and refuses any request
  not over TLS.
* Email subscriptions stay pending until each address confirms (SNS sends the confirmation itself);
  the webhook's endpoint must confirm too (incident tools such as PagerDuty or Opsgenie do it
  automatically; SNS "Fanout to HTTP/S endpoints").
* The ARN is built from the known topic name and the account, so each alarm's action is visible in an
  offline plan; every target depends on the topic policy, so nothing names the topic before services
  may publish to it.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from ..common.aws_arn import partition
from ..common.aws_kms import customer_key
from ..common.naming import global_name
from .args import AlertChannelArgs, ChannelBuilt

PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com", "aps.amazonaws.com")
"""Who publishes to the topic: CloudWatch alarms (GPU pool at its maximum, SageMaker rollback and 5xx
alarms, Route 53 health checks), EventBridge rules (AWS Backup job state changes), and the alert
manager of Amazon Managed Service for Prometheus (cluster-mode 5xx rules; AMP user guide, "Permission
to send alert messages to your Amazon SNS topic": principal `aps.amazonaws.com`, conditions
`aws:SourceAccount` and `aws:SourceArn`)."""


def key_policy(account: str, region: str) -> str:
    """The account administers the key; the publishers may use it, for this account only."""
    part = partition(region)
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:{part}:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "PublishersEncrypt", "Effect": "Allow", "Principal": {"Service": list(PUBLISHERS)},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
    ]})


def topic_policy(topic_arn: str, account: str) -> str:
    """The publishers may publish, for this account only; nobody over plain HTTP."""
    statements: list[dict[str, Any]] = [
        {"Sid": "ServicesPublish", "Effect": "Allow", "Principal": {"Service": list(PUBLISHERS)},
         "Action": "sns:Publish", "Resource": topic_arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
         "Resource": topic_arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def build(parent: pulumi.Resource, name: str, args: AlertChannelArgs) -> ChannelBuilt:
    """An encrypted SNS topic in `args.region` with the options' email and webhook subscriptions."""
    env, region, options = args.environment, args.region, args.options
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id
    topic_name = global_name(f"{name}", max_length=256)
    arn = pulumi.Output.concat(f"arn:{partition(region)}:sns:{region}:", account, f":{topic_name}")

    key = customer_key(f"{name}-key", f"Encrypts the alert topic {topic_name}", region,
                       env.child(parent, stateful=True))
    policy = aws.kms.KeyPolicy(f"{name}-key-policy", key_id=key.key_id,
                               policy=account.apply(lambda a: key_policy(a, region)), opts=env.child(parent))
    topic = aws.sns.Topic(
        f"{name}-topic", name=topic_name, display_name=f"aiinfra {env.name} alerts",
        kms_master_key_id=key.arn, region=region,
        opts=env.child(parent, depends_on=[policy]))
    publish = aws.sns.TopicPolicy(
        f"{name}-topic-policy", arn=topic.arn,
        policy=pulumi.Output.all(arn, account).apply(lambda a: topic_policy(a[0], a[1])),
        region=region, opts=env.child(parent))
    for index, address in enumerate(options.emails):
        aws.sns.TopicSubscription(f"{name}-email-{index}", topic=topic.arn, protocol="email", endpoint=address,
                                  region=region, opts=env.child(parent))
    if options.webhook_url is not None:
        aws.sns.TopicSubscription(f"{name}-webhook", topic=topic.arn, protocol="https",
                                  endpoint=options.webhook_url, endpoint_auto_confirms=False,
                                  # The whole JSON envelope (Type, Subject, Message, timestamps), which
                                  # incident tools' SNS integrations parse.
                                  raw_message_delivery=False,
                                  region=region, opts=env.child(parent))
    # The known ARN, carrying the topic policy as a dependency of whatever names it (a URN is known
    # before the resource exists, so the ARN stays visible in a preview).
    target = pulumi.Output.concat(arn, publish.urn.apply(lambda _: ""))
    parts = [_plural(len(options.emails), "email")] if options.emails else []
    if options.webhook_url is not None:
        parts.append("1 webhook")
    return ChannelBuilt(targets=[target], description=f"SNS topic {topic_name} ({', '.join(parts)})")
