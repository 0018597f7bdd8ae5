"""ObjectStore: one secure bucket (and what keeps it secure) on AWS, Azure or GCP.

The front door validates, installs the environment's tags and hands over to
the per-cloud builder in `aws.py`, `azure.py` or `gcp.py`.
"""

from __future__ import annotations

import pulumi

from ..catalog.regions import CLOUD_TITLES, region_problem
from ..common import Problem, raise_if_any
from . import aws, azure, gcp
from .args import ObjectStoreArgs, StoreOutputs, storage_problems

_BUILDERS = {"aws": aws.build, "azure": azure.build, "gcp": gcp.build}


class ObjectStore(pulumi.ComponentResource):
    """A private, encrypted, versioned bucket with noncurrent-version expiry.

    Outputs: `bucket_name`, `url` (s3://, gs:// or https:// to the Azure container),
    `cloud`, `region`; `stateful` lists the resources that hold data (for backups).
    """

    bucket_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None):
        problems = [p.under("ObjectStoreArgs.options") for p in storage_problems(args.cloud, args.region, args.options)]
        if (bad := region_problem(args.cloud, args.region)) is not None:
            problems.insert(0, Problem("ObjectStoreArgs.region", args.region, bad))
        if args.cloud not in CLOUD_TITLES:
            problems.insert(0, Problem("ObjectStoreArgs.cloud", args.cloud, "allowed: aws, azure or gcp"))
        raise_if_any(f"invalid ObjectStore {name!r}", problems)

        opts = args.environment.tagged(opts)
        super().__init__("aiinfra:storage:ObjectStore", name, None, opts)

        out: StoreOutputs = _BUILDERS[args.cloud](self, name, args)
        self.cloud = args.cloud
        self.region = args.region
        self.bucket_name = out.bucket_name
        self.url = out.url
        self.stateful = out.stateful
        self.scope_id = out.scope_id
        self.key_arn = out.key_arn
        self.register_outputs({"bucket_name": out.bucket_name, "url": out.url,
                               "cloud": args.cloud, "region": args.region})
