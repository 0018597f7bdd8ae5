"""Cell: everything one cloud region contributes to an environment.

A cell never depends on another cell; only global traffic reads from all of
them. That keeps `pulumi up` parallel and lets large users split cells into
stacks of their own later.
"""

from __future__ import annotations

import pulumi

from ..common import Environment, tagging
from ..spec.model import AwsCell, AzureCell, GcpCell
from ..storage import ObjectStore, ObjectStoreArgs
from .providers import cell_provider


class Cell(pulumi.ComponentResource):
    """One cloud + region: its provider and object store (clusters, serving and backups follow).

    Outputs: `cloud`, `region`, `bucket_name`, `bucket_url`.
    """

    def __init__(self, spec: AwsCell | AzureCell | GcpCell, environment: Environment,
                 opts: pulumi.ResourceOptions | None = None):
        name = spec.name
        tags = environment.resource_tags(cell=name)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[tagging(tags)]))
        super().__init__("aiinfra:index:Cell", name, None, opts)
        self.spec = spec
        self.provider = cell_provider(self, spec)
        child = pulumi.ResourceOptions(parent=self, providers=[self.provider])
        self.store = ObjectStore(
            f"{name}-store",
            ObjectStoreArgs(
                cloud=spec.cloud,
                region=spec.region,
                environment=environment,
                options=spec.storage,
                resource_group_name=spec.resource_group if isinstance(spec, AzureCell) else None,
                project=spec.project if isinstance(spec, GcpCell) else None,
            ),
            opts=child)
        self.register_outputs({"cloud": spec.cloud, "region": spec.region,
                               "bucket_name": self.store.bucket_name, "bucket_url": self.store.url})
