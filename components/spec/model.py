"""The environment spec: one typed description of a whole environment.

Read from stack config (`aiinfra:environment`, `aiinfra:tags`, `aiinfra:cells`,
`aiinfra:targets`). Unknown keys are errors everywhere, so a typo never passes
silently. Sections later capabilities need are added to the cell models.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ..catalog.regions import region_problem
from ..backup.args import BackupOptions
from ..compute.args import ClusterOptions, GpuPoolOptions
from ..network.args import NetworkOptions
from ..serving.args import EndpointOptions
from ..alerts import AlertOptions
from ..dns import DnsOptions
from ..images import ImagesOptions
from ..traffic.args import TrafficOptions
from ..storage import ObjectStoreOptions

CELL_NAME = r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$"
SECRET_NAME = r"^[a-z][a-z0-9_-]{0,62}$"
_PORTABLE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _portable(value: str) -> str:
    if not _PORTABLE.match(value):
        raise ValueError(
            "allowed: 1-63 lowercase letters, digits, '-' and '_', starting with a letter or digit "
            "(GCP label rules, the strictest of the three clouds)")
    return value


TagValue = Annotated[str, AfterValidator(_portable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CellBase(_Strict):
    name: str = Field(pattern=CELL_NAME)
    """Cell name: 3-24 lowercase letters, digits, dashes; unique in the environment. Used in
    every child resource name, so renaming a cell replaces its infrastructure."""

    region: str
    """The cloud's region for everything in the cell."""

    storage: ObjectStoreOptions = ObjectStoreOptions()
    """The cell's object store (models and artifacts). Default: ObjectStoreOptions defaults."""

    network: NetworkOptions = NetworkOptions()
    """The private network the cluster runs in (created only with a cluster). Default: 10.0.0.0/16
    over 3 zones."""

    cluster: ClusterOptions | None = None
    """The cell's Kubernetes cluster. Default: none (storage-only cell)."""

    gpu_pools: list[GpuPoolOptions] = []
    """GPU node pools on the cell's cluster (requires `cluster`). Default: none."""

    endpoints: list[EndpointOptions] = []
    """Models served in the cell, managed or on the cluster. Default: none."""

    backup: BackupOptions | None = None
    """Backups of the cell (overrides `aiinfra:backup` field by field). Default: the environment's."""

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        cloud = cls.model_fields["cloud"].default
        if (bad := region_problem(cloud, value)) is not None:
            raise ValueError(bad)
        return value


class AwsCell(_CellBase):
    """A cell on AWS."""

    cloud: Literal["aws"] = "aws"


class AzureCell(_CellBase):
    """A cell on Azure."""

    cloud: Literal["azure"] = "azure"
    resource_group: str | None = None
    """An existing resource group for the cell's resources. Default: one is created."""


class GcpCell(_CellBase):
    """A cell on GCP."""

    cloud: Literal["gcp"] = "gcp"
    project: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    """The GCP project id that holds the cell (required: GCP resources live in a project)."""


Cell = Annotated[Union[AwsCell, AzureCell, GcpCell], Field(discriminator="cloud")]


class Targets(_Strict):
    """Promises the environment must keep; preflight checks them against the plan."""

    rto_seconds: int | None = Field(default=None, ge=1)
    """Longest tolerated time for traffic to leave a failed cell. Default: not checked."""
    rpo_minutes: int | None = Field(default=None, ge=1)
    """Most data (in minutes) a recovery may lose. Default: not checked."""
    min_gpu_replicas: int | None = Field(default=None, ge=0)
    """Serving replicas that must remain after losing any one cloud. Default: not checked."""
    restore_seconds: int | None = Field(default=None, ge=1)
    """Longest tolerated time, after a loss, until the surviving cells can add serving replicas: the
    slowest surviving endpoint's cold-start budget (a new GPU node, the image, the model). Checked by
    `preflight whatif`. Default: not checked."""
    monthly_budget_usd: float | None = Field(default=None, gt=0)
    """Monthly budget the cost estimate must stay under at minimum scale. Default: none."""


class Tags(BaseModel):
    """Tags for every taggable resource: `owner` and `cost-center` required, more allowed."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    __pydantic_extra__: dict[str, TagValue]  # pyright: ignore[reportIncompatibleVariableOverride]

    owner: TagValue
    """Team that owns the environment (required)."""
    cost_center: TagValue = Field(alias="cost-center")
    """Cost center billed for it (required)."""

    @model_validator(mode="after")
    def _portable_keys(self) -> "Tags":
        for key in self.model_extra or {}:
            if not _PORTABLE.match(key) or key in ("environment", "managed-by", "cell"):
                raise ValueError(f"tag key {key!r} is not allowed; allowed: keys matching "
                                 "[a-z0-9][a-z0-9_-]{0,62} other than environment, managed-by and cell (set by the library)")
        return self

    def as_dict(self) -> dict[str, str]:
        return {"owner": self.owner, "cost-center": self.cost_center, **(self.model_extra or {})}


class EnvironmentSpec(_Strict):
    """The whole environment: its name, tags, cells and targets."""

    environment: Literal["dev", "staging", "prod"]
    """Environment tier. Drives secure defaults: prod protects and retains stateful resources.
    Default: the stack's name when it is dev, staging or prod; required otherwise. A stack named
    after a tier may not set another one unless `allow_environment_mismatch` says so."""

    allow_environment_mismatch: str | None = None
    """This stack's own name, to let a stack named after a tier (`dev`, `staging`, `prod`) run
    with another `environment` on purpose, e.g. a stack named `prod` that rehearses with dev
    defaults. Without it the mismatch is an error: the tier drives the secure defaults, and a
    stack file copied from dev to prod must not deploy prod unprotected. The value is the stack's
    name, not `true`, so the allowance does not travel with a stack file copied to another stack.
    Default: no mismatch allowed."""

    tags: Tags
    """Tags for every taggable resource; see Tags."""

    secrets: dict[Annotated[str, Field(pattern=SECRET_NAME)], SecretStr] = {}
    """Named secret values, the only place in the spec a `secure:` value may live: set each with
    `pulumi config set --secret --path 'aiinfra:secrets.<name>' <value>`. Components receive them
    through `secret(name)`, as Pulumi secrets, so every input made from one is a secret too. Other
    keys decide names, regions and counts, which Pulumi records in plaintext (resource names,
    URNs, state), so a secure value there is refused. Default: none."""

    cells: list[Cell] = Field(min_length=1)
    """One cell per cloud and region. At least one."""

    targets: Targets = Targets()
    """Recovery, capacity and budget targets. Default: none checked."""

    dns: DnsOptions | None = None
    """The environment's DNS zone: every public name it serves (each cell's entry hostname, the global
    traffic hostname) is in it, and the stack creates their records and their certificates' DNS
    validation records there. Required with `traffic` or a cluster-mode endpoint. Default: none."""

    traffic: TrafficOptions | None = None
    """One global hostname over the cells' cluster-mode endpoints, with health-checked DNS routing.
    Default: none."""

    backup: BackupOptions | None = None
    """Backups of every cell: RPO, retention, copy region, immutability (cells may override).
    Default: no backups."""

    alerts: AlertOptions | None = None
    """Who is told when something breaks: email addresses and/or a webhook, reached through a channel
    per cloud and region (SNS topic, action group, notification channels). Required in prod.
    Default: none."""

    images: ImagesOptions = ImagesOptions()
    """Credentials for the upstream registries the cells' image caches pull from. Default: none."""

    def secret(self, name: str) -> pulumi.Output[str]:
        """The secret `name` of `aiinfra:secrets`, as a Pulumi secret."""
        return pulumi.Output.secret(self.secrets[name].get_secret_value())

    def cell_backup(self, cell: "AwsCell | AzureCell | GcpCell") -> BackupOptions | None:
        """The cell's effective backup options: the environment's, overridden by the cell's."""
        if self.backup is None and cell.backup is None:
            return None
        merged = {**(self.backup.model_dump(exclude_unset=True) if self.backup else {}),
                  **(cell.backup.model_dump(exclude_unset=True) if cell.backup else {})}
        return BackupOptions(**merged)
