"""ObjectStore: one secure bucket (and what keeps it secure) on AWS, Azure or GCP.

The front door validates, installs the environment's tags and hands over to
the per-cloud builder in `aws.py`, `azure.py` or `gcp.py`.
"""

from __future__ import annotations

from typing import Callable

import pulumi

from ..catalog.regions import CLOUDS, Cloud, region_problem
from ..common import Problem, raise_if_any
from ..common.dispatch import choice_problems, unknown
from . import aws, azure, gcp
from .args import ObjectStoreArgs, StoreOutputs, storage_problems

StoreBuilder = Callable[[pulumi.Resource, str, ObjectStoreArgs], StoreOutputs]


def _builder(cloud: Cloud) -> StoreBuilder:
    """The per-cloud store builder, chosen before anything is registered."""
    match cloud:
        case "aws":
            return aws.build
        case "azure":
            return azure.build
        case "gcp":
            return gcp.build
        case _:
            unknown(cloud, "ObjectStoreArgs.cloud", CLOUDS)


class ObjectStore(pulumi.ComponentResource):
    """A private, encrypted, versioned bucket with noncurrent-version expiry.

    Outputs: `bucket_name`, `url` (s3://, gs:// or https:// to the Azure container),
    `cloud`, `region`; `stateful` lists the resources that hold data (for backups).
    """

    bucket_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_any(f"invalid ObjectStore {name!r}", choice_problems("ObjectStoreArgs.cloud", args.cloud, CLOUDS))
        problems = [p.under("ObjectStoreArgs.options") for p in storage_problems(args.cloud, args.region, args.options)]
        if (bad := region_problem(args.cloud, args.region)) is not None:
            problems.insert(0, Problem("ObjectStoreArgs.region", args.region, bad))
        raise_if_any(f"invalid ObjectStore {name!r}", problems)
        build = _builder(args.cloud)

        opts = args.environment.tagged(self, opts)
        super().__init__("aiinfra:storage:ObjectStore", name, None, opts)

        out = build(self, name, args)
        self.cloud = args.cloud
        self.region = args.region
        self.bucket_name = out.bucket_name
        self.url = out.url
        self.stateful = out.stateful
        self.scope_id = out.scope_id
        self.key_arn = out.key_arn
        self.register_outputs({"bucket_name": out.bucket_name, "url": out.url,
                               "cloud": args.cloud, "region": args.region})
