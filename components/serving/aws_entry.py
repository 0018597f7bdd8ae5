"""The public HTTPS entry of a cluster-mode endpoint on AWS, beyond the Ingress itself.

`aws.entry()` puts these around the endpoint's `alb` Ingress (children of the
endpoint, role names in brackets):

- an ACM certificate for the cell hostname with every global name as a SAN
  [`certificate`], DNS-validated through records in the environment's zone
  [`validation-<name>`], and a `CertificateValidation` [`certificate-validation`]
  that completes only once ACM has ISSUED it: the Ingress names the certificate by
  the validation's output, so the ALB never references a pending certificate;
- an S3 bucket for the ALB's access logs [`access-logs-*`];
- a regional WAF web ACL [`waf`]: a per-client-IP rate limit (blocks, 429) and the
  AWS managed common rule set (counts);
- a standard Global Accelerator [`accelerator`, `accelerator-listener`,
  `accelerator-endpoints`]: two static anycast IPv4 addresses in front of the ALB,
  so the entry has a stable address for its A record and for global health checks.

Facts relied on, with sources:

- Certificate by annotation: `alb.ingress.kubernetes.io/certificate-arn` (comma-separated ARNs,
  the first is the listener's default); with it the controller skips certificate discovery by
  host (kubernetes-sigs/aws-load-balancer-controller docs/guide/ingress/annotations.md and
  pkg/ingress/model_build_listener.go `computeIngressListenPortConfigByPort`, v2.14.0).
- ACM DNS validation records: ACM gives one CNAME per domain name (`DomainValidation.ResourceRecord`,
  ACM API reference), and for the same name it gives every certificate of one AWS account the same
  record, in every region (hashicorp/terraform-provider-aws#13653: a second region's certificate for
  a name fails on "record already exists"; the maintainers: the values are ACM's, not the caller's).
  So AWS cells of one account that share a global name write the same record.
- Deleting a certificate still attached to a listener fails with ResourceInUseException; the AWS
  provider retries the delete for 20 minutes (terraform-provider-aws internal/service/acm/certificate.go
  `certificateCrossServicePropagationTimeout`), time for the controller to move the listener to the
  replacement certificate Pulumi created first.
- ALB access logs: the bucket must be in the load balancer's region, and "the only server-side
  encryption option that's supported is Amazon S3-managed keys (SSE-S3)" (ELB user guide for
  Application Load Balancers, "Enable access logs": docs.aws.amazon.com/elasticloadbalancing/latest/
  application/enable-access-logging.html). Its bucket policy grants `s3:PutObject` on
  `<bucket>/<prefix>/AWSLogs/<account>/*` to the region's Elastic Load Balancing account (regions
  launched before August 2022) or to the `logdelivery.elasticloadbalancing.amazonaws.com` service
  principal (later regions); ELB checks the policy when logging is switched on, so the Ingress
  waits for it. The per-region accounts are those of terraform-provider-aws
  internal/service/elb/service_account_data_source.go (`aws_elb_service_account`), which cites the
  same guide. Attributes go through `alb.ingress.kubernetes.io/load-balancer-attributes`
  (`access_logs.s3.enabled`, `access_logs.s3.bucket`, `access_logs.s3.prefix`; annotations.md).
- WAF: `alb.ingress.kubernetes.io/wafv2-acl-arn` associates a REGIONAL web ACL (annotations.md:
  "Only Regional WAFv2 is supported"); the controller's published IAM policy already allows
  wafv2:GetWebACL/GetWebACLForResource/AssociateWebACL/DisassociateWebACL and
  elasticloadbalancing:SetWebAcl (docs/install/iam_policy.json, v2.14.0; compute/aws.py).
  Rate-based rules: evaluation window 60, 120, 300 or 600 s, lowest limit 10 ("Rate-based rule
  high-level settings", AWS WAF developer guide); WAF inspects only the first 8 KB of an ALB
  request body, and the common rule set's SizeRestrictions_BODY matches every body above 8 KB
  (WAFV2 API `Body`; "Baseline rule groups", AWS WAF developer guide).
- Global Accelerator: its API lives in us-west-2 only, and the AWS provider sends every
  globalaccelerator call there whatever the provider's region (GA API reference "Welcome";
  terraform-provider-aws internal/service/globalaccelerator/service_package.go), so the cell's
  provider serves. Client IP preservation keeps the client's address as the packets' source at an
  internet-facing ALB (default for new accelerators, set here explicitly), so WAF rate-limits
  clients rather than the accelerator's edge ("Preserve client IP addresses", GA developer guide).
  For ALB endpoints the accelerator follows the load balancer's own health; endpoint group health
  check settings do not apply (GA developer guide, "Health checks for standard accelerators").
- The ALB's ARN: the controller reports only the ALB's DNS name in the Ingress status, so the
  Ingress names its ALB (`alb.ingress.kubernetes.io/load-balancer-name`, at most 32 characters,
  honoured only when the Ingress is created: annotations.md) and the ARN is looked up by that name
  after the Ingress exists.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..common import Environment
from ..common.aws_arn import partition
from ..common.naming import global_name
from .args import ModelEndpointArgs

ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
"""The log delivery service principal (regions launched in or after August 2022, and accepted beside
the per-region account elsewhere)."""

ELB_LOG_DELIVERY_ACCOUNTS: dict[str, str] = {
    "af-south-1": "098369216593", "ap-east-1": "754344448648", "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887", "ap-northeast-3": "383597477331", "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266", "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251", "cn-north-1": "638102146993", "cn-northwest-1": "037604701340",
    "eu-central-1": "054676820928", "eu-north-1": "897822967062", "eu-south-1": "635631232127",
    "eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-west-3": "009996457667",
    "me-south-1": "076674570225", "sa-east-1": "507241528517", "us-east-1": "127311923021",
    "us-east-2": "033677994240", "us-gov-east-1": "190560391635", "us-gov-west-1": "048591011584",
    "us-west-1": "027434742980", "us-west-2": "797873946194",
}
"""Elastic Load Balancing's log-writing account per region launched before August 2022 (see the module
docstring for the source)."""

ACCESS_LOG_PREFIX = "alb"
"""Key prefix of the ALB's access logs in its bucket (logs land under `alb/AWSLogs/<account>/...`)."""
ALB_ATTRIBUTES = "idle_timeout.timeout_seconds=300,routing.http.drop_invalid_header_fields.enabled=true"
"""Long generations without streamed bytes outlast the default 60 s idle timeout; malformed header
fields are dropped rather than passed to the model server."""
ALB_NAME_MAX = 32
"""Load balancer names: at most 32 letters, digits and hyphens (the controller rejects longer ones)."""
MAX_CERTIFICATE_NAMES = 10
"""ACM's default quota of domain names per certificate ("Domain names per ACM certificate")."""

RATE_WINDOW_SECONDS = 60
"""WAF evaluation window for `EndpointOptions.rate_limit_per_minute`: one minute, so the limit is read
exactly as configured."""
THROTTLED_STATUS = 429
"""What a client above the rate limit gets (WAF's default block answer is 403)."""
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
MANAGED_RULES_ACTION = "count"
"""The common rule set counts (metrics and sampled requests) and does not block. Its signatures are
written for web applications, and an inference API's bodies are prompts: SizeRestrictions_BODY
matches every prompt over 8 KB, and the cross-site scripting, path traversal and SSRF body rules match
prompts that quote code or URLs. The rate limit blocks; the entry is authenticated (API key) and the
model server runs no SQL, files or templates these rules protect. Review the counts before blocking."""

GA_PORT = 443
GA_ENDPOINT_WEIGHT = 128
"""Global Accelerator's default endpoint weight (one endpoint per group here)."""


def load_balancer_name(name: str) -> str:
    """The ALB's name: stack, endpoint and a stable hash, at most 32 characters (names are unique
    per account and region, so the stack is part of it)."""
    lb = global_name(name, max_length=ALB_NAME_MAX)
    return f"lb-{lb}"[:ALB_NAME_MAX].rstrip("-") if lb.startswith("internal-") else lb


def access_logs_bucket_name(name: str) -> str:
    return global_name(f"{name}-access-logs")


def access_log_policy(bucket: str, region: str, account: str) -> str:
    """TLS-only, and Elastic Load Balancing may write this account's logs under the prefix only."""
    arn = f"arn:{partition(region)}:s3:::{bucket}"
    logs = f"{arn}/{ACCESS_LOG_PREFIX}/AWSLogs/{account}/*"
    statements: list[dict[str, Any]] = [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyOutdatedTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [arn, f"{arn}/*"], "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
        {"Sid": "ElbLogDeliveryService", "Effect": "Allow", "Principal": {"Service": ELB_LOG_DELIVERY_SERVICE},
         "Action": "s3:PutObject", "Resource": logs},
    ]
    elb_account = ELB_LOG_DELIVERY_ACCOUNTS.get(region)
    if elb_account is not None:
        statements.append({"Sid": "ElbLogDeliveryAccount", "Effect": "Allow",
                           "Principal": {"AWS": f"arn:{partition(region)}:iam::{elb_account}:root"},
                           "Action": "s3:PutObject", "Resource": logs})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def access_logs(parent: pulumi.Resource, name: str, args: ModelEndpointArgs) -> aws.s3.BucketPolicy:
    """The ALB's access-log bucket: SSE-S3 (the only encryption ALB log delivery supports), ACLs off,
    every public-access block, versioned, current logs expiring after the environment's log retention
    (365 days in prod, 30 elsewhere), protected and retained in prod. Outside a protected environment
    the bucket is emptied on delete: logs are not worth a failed teardown.

    Returns the bucket policy: the Ingress takes the bucket's name from it, so ELB finds the policy in
    place when the controller switches logging on."""
    env, region = args.environment, args.region
    bucket_name = access_logs_bucket_name(name)
    bucket = aws.s3.Bucket(f"{name}-access-logs", bucket=bucket_name, force_destroy=not env.protected,
                           region=region, opts=env.child(parent, stateful=True))
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-access-logs-ownership", bucket=bucket.bucket, region=region,
        rule={"object_ownership": "BucketOwnerEnforced"}, opts=env.child(parent))
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-access-logs-public-access", bucket=bucket.bucket, region=region,
        block_public_acls=True, block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
        opts=env.child(parent))
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-access-logs-encryption", bucket=bucket.bucket, region=region,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
        opts=env.child(parent))
    versioning = aws.s3.BucketVersioning(
        f"{name}-access-logs-versioning", bucket=bucket.bucket, region=region,
        versioning_configuration={"status": "Enabled"}, opts=env.child(parent))
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-access-logs-lifecycle", bucket=bucket.bucket, region=region,
        rules=[
            {"id": "expire-logs", "status": "Enabled", "filter": {},
             "expiration": {"days": env.log_retention_days},
             "noncurrent_version_expiration": {"noncurrent_days": 30}},
            {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
        ],
        opts=env.child(parent, depends_on=[versioning]))
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id
    return aws.s3.BucketPolicy(
        f"{name}-access-logs-policy", bucket=bucket.bucket, region=region,
        policy=account.apply(lambda a: access_log_policy(bucket_name, region, a)),
        opts=env.child(parent, depends_on=[public_access, ownership]))


def load_balancer_attributes(policy: aws.s3.BucketPolicy) -> pulumi.Output[str]:
    """`load-balancer-attributes`: the ALB's settings plus access logs to the policy's bucket."""
    return policy.bucket.apply(
        lambda b: f"{ALB_ATTRIBUTES},access_logs.s3.enabled=true,access_logs.s3.bucket={b},"
                  f"access_logs.s3.prefix={ACCESS_LOG_PREFIX}")


def _slug(host: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")


def _validation_option(options: Sequence[Any] | None, host: str) -> Any:
    found = [o for o in options or [] if o.domain_name == host]
    if not found:
        raise ValueError(f"ACM returned no DNS validation record for {host}")
    return found[0]


def certificate(parent: pulumi.Resource, name: str, args: ModelEndpointArgs,
                hostnames: Sequence[str]) -> aws.acm.CertificateValidation:
    """An ACM certificate for `hostnames` (the cell's own first, the global names as SANs), its DNS
    validation records in the environment's zone and the validation that waits until it is ISSUED.

    The cell hostname's record is this cell's alone. A global name's record is the same for every
    certificate of the account that covers it (see the module docstring), so AWS cells of one account
    write it with `allow_overwrite`: the second takes over the first's record instead of failing. What
    that implies on deletion: the record is shared but each cell's stack believes it owns it, so
    removing one such cell (or its endpoint) deletes the record the others' certificates still renew
    with. ACM renews 60 days before expiry and keeps retrying; the next `pulumi up` of any remaining
    cell (after `pulumi refresh`) writes the record again. Cells in different accounts get different
    records and do not share."""
    assert args.dns_zone is not None  # entry_problems
    env, region, zone = args.environment, args.region, args.dns_zone
    # An absent list, not an empty one, when there is nothing but the cell's name.
    sans: dict[str, Any] = {"subject_alternative_names": list(hostnames[1:])} if len(hostnames) > 1 else {}
    cert = aws.acm.Certificate(
        f"{name}-certificate",
        domain_name=hostnames[0],
        validation_method="DNS",
        key_algorithm="RSA_2048",  # what every client negotiates; ALBs serve it with the TLS 1.3 policy
        region=region,
        opts=env.child(parent),
        **sans)
    records: list[pulumi.Resource] = []
    for host in hostnames:
        option = cert.domain_validation_options.apply(lambda opts, h=host: _validation_option(opts, h))
        records.append(zone.record(
            parent, f"{name}-validation-{_slug(host)}",
            option.apply(lambda o: str(o.resource_record_name)),
            "CNAME",
            [option.apply(lambda o: str(o.resource_record_value))],
            ttl=300,
            allow_overwrite=host != hostnames[0]))
    return aws.acm.CertificateValidation(
        f"{name}-certificate-validation", certificate_arn=cert.arn, region=region,
        opts=env.child(parent, depends_on=records))


def web_acl(parent: pulumi.Resource, name: str, args: ModelEndpointArgs) -> aws.wafv2.WebAcl:
    """A REGIONAL web ACL: each client IP may send `rate_limit_per_minute` requests a minute (above it,
    429), and the AWS common rule set counts what it would block (MANAGED_RULES_ACTION)."""
    env, limit = args.environment, args.options.rate_limit_per_minute
    acl_name = global_name(f"{name}-waf", max_length=128)

    def visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
        return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}

    return aws.wafv2.WebAcl(
        f"{name}-waf",
        name=acl_name,
        description=f"Entry of {name}: {limit} requests a minute per client IP; AWS common rule set counting",
        scope="REGIONAL",
        default_action={"allow": {}},
        rules=[
            {"name": "rate-limit-per-client-ip", "priority": 0,
             "action": {"block": {"custom_response": {"response_code": THROTTLED_STATUS}}},
             "statement": {"rate_based_statement": {"limit": limit, "aggregate_key_type": "IP",
                                                    "evaluation_window_sec": RATE_WINDOW_SECONDS}},
             "visibility_config": visibility(f"{acl_name}-rate-limit")},
            {"name": "aws-common-rule-set", "priority": 1,
             "override_action": {MANAGED_RULES_ACTION: {}},
             "statement": {"managed_rule_group_statement": {"vendor_name": "AWS", "name": COMMON_RULE_SET}},
             "visibility_config": visibility(f"{acl_name}-common-rule-set")},
        ],
        visibility_config=visibility(acl_name),
        region=args.region,
        opts=env.child(parent))


def accelerator(parent: pulumi.Resource, name: str, env: Environment, region: str,
                ingress: k8s.networking.v1.Ingress, lb_name: str) -> aws.globalaccelerator.Accelerator:
    """A standard accelerator: TCP 443 on two static anycast IPv4 addresses to the Ingress's ALB in the
    cell's region, client IP preserved. Its endpoint group is created after the Ingress (the ALB
    exists only then) and deleted before it."""
    accel = aws.globalaccelerator.Accelerator(
        f"{name}-accelerator", name=global_name(name, max_length=64), ip_address_type="IPV4", enabled=True,
        opts=env.child(parent))
    listener = aws.globalaccelerator.Listener(
        f"{name}-accelerator-listener", accelerator_arn=accel.arn, protocol="TCP", client_affinity="NONE",
        port_ranges=[{"from_port": GA_PORT, "to_port": GA_PORT}], opts=env.child(parent))
    alb = aws.lb.get_load_balancer_output(
        name=lb_name, region=region, opts=pulumi.InvokeOutputOptions(parent=parent, depends_on=[ingress]))
    # The lookup's result carries no dependency while the Ingress is still to be created (a preview):
    # joining the Ingress's id keeps the edge endpoint group -> Ingress in the plan's property
    # dependencies, where the request-path model reads it.
    alb_arn = pulumi.Output.all(alb.arn, ingress.id).apply(lambda a: str(a[0]))
    aws.globalaccelerator.EndpointGroup(
        f"{name}-accelerator-endpoints",
        listener_arn=listener.arn,
        endpoint_group_region=region,
        endpoint_configurations=[{"endpoint_id": alb_arn, "weight": GA_ENDPOINT_WEIGHT,
                                  "client_ip_preservation_enabled": True}],
        opts=env.child(parent, depends_on=[ingress]))
    return accel


def first_static_ip(accel: aws.globalaccelerator.Accelerator) -> pulumi.Output[str]:
    """The accelerator's first static IPv4 address (each accelerator has two, in separate network zones)."""
    def first(ip_sets: Sequence[Any] | None) -> str:
        addresses = (ip_sets[0].ip_addresses or []) if ip_sets else []
        return str(addresses[0]) if addresses else ""
    return accel.ip_sets.apply(first)
