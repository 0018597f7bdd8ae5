"""`preflight cost`: what a plan costs per month at minimum and at maximum scale, against its budget.

Everything comes from the plan JSON and a price file; nothing here knows the
program that produced the plan. What is priced, and from where in the plan:

* GPU nodes: `aiinfra:compute:GpuNodePool` outputs (machine_type, min_nodes,
  max_nodes, spot) x the machine's hourly price; spot pools use the price file's
  spot estimate when it has one (marked spot and estimate). The minimum is the
  pool's minimum or the nodes the minimum replicas placed on it need, whichever
  is larger (`capacity.py`); so for every node pool.
* Other node pools (system nodes): node-pool resources not inside a GpuNodePool:
  EKS node groups (scalingConfig, instanceTypes), AKS inline agentPoolProfiles
  and agent pools (vmSize, minCount/maxCount), GKE node pools (autoscaling
  totals, nodeConfig.machineType).
* Managed cluster fees: one per EKS, GKE or AKS cluster (AKS by its sku tier).
* Managed endpoints: SageMaker endpoint configurations, Azure ML online
  deployments and Vertex AI model deployments: the instance's machine price x
  the service's multiplier x replicas (min/max from the enclosing
  `aiinfra:serving:ModelEndpoint` outputs when there is one).
* Public entries: each AWS Global Accelerator's fixed hourly fee; each WAF web
  ACL and its rules (a managed rule group counts as one rule).
* Storage: every bucket / storage account (outside a backup plan) at the price
  file's assumed size, per bucket (a replica bucket holds another copy); an S3
  bucket whose policy lets Elastic Load Balancing deliver access logs to it is
  priced at the assumed access-log size instead.
* DNS: hosted zones, Route 53 health checks (basic + optional features),
  Traffic Manager endpoints.
* Backups: `aiinfra:backup:BackupPlan` outputs (cloud, copy_to_region) at the
  assumed backup size per copy.

A month is the price file's `hours_per_month` (730). Every line carries its
price source and date. Resources the estimate recognises but cannot price are
listed as `unpriced`; what is never included is the price file's `not_included`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .capacity import Pool
from .capacity import pools as capacity_pools

UNKNOWN = "<unknown>"
GLOBAL = "(global)"
CELL_TYPE = "aiinfra:index:Cell"
GPU_POOL_TYPE = "aiinfra:compute:GpuNodePool"
ENDPOINT_TYPE = "aiinfra:serving:ModelEndpoint"
BACKUP_TYPE = "aiinfra:backup:BackupPlan"

KINDS = ("GPU nodes", "system nodes", "cluster fees", "managed endpoints", "entry", "storage", "DNS", "backup")
"""Line kinds, in report order."""

_SAGEMAKER_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
_AZUREML_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
_VERTEX_DEPLOYMENTS = ("gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment",)
_GLOBAL_ACCELERATOR = "aws:globalaccelerator/accelerator:Accelerator"
_WAF_WEB_ACL = "aws:wafv2/webAcl:WebAcl"
_S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
_ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
_GCS_DUAL_REGIONS = ("NAM4", "EUR4", "EUR5", "EUR7", "EUR8", "ASIA1")
_GCS_MULTI_REGIONS = ("US", "EU", "ASIA")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class PriceFileError(Exception):
    """The price file is missing or malformed (exit 2)."""


# --- The price file -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prices:
    """A loaded price file (see scripts/export_prices.py for its schema)."""

    path: Path
    doc: dict[str, Any]

    @property
    def hours_per_month(self) -> float:
        return float(self.doc["hours_per_month"])

    @property
    def as_of(self) -> str:
        return str(self.doc.get("as_of", ""))

    def machine(self, cloud: str | None, name: str | None) -> dict[str, Any] | None:
        for m in self.doc["machines"]:
            if m["cloud"] == cloud and m["name"] == name:
                return m
        return None

    def rate(self, key: str) -> dict[str, Any] | None:
        return self.doc["rates"].get(key)

    def cluster_fee(self, key: str) -> dict[str, Any] | None:
        return self.doc["cluster_fees"].get(key)

    def managed(self, service: str) -> dict[str, Any] | None:
        return self.doc["managed_endpoints"].get(service)

    def assumption(self, key: str) -> float:
        return float(self.doc["assumptions"][key]["value"])

    def assumptions(self) -> dict[str, Any]:
        return dict(self.doc["assumptions"])

    def not_included(self) -> list[str]:
        return [str(x) for x in self.doc.get("not_included", [])]


_REQUIRED = {"hours_per_month": (int, float), "machines": list, "cluster_fees": dict,
             "managed_endpoints": dict, "rates": dict, "assumptions": dict}


def load_prices(path: Path | str) -> Prices:
    """Read and sanity-check a price file; PriceFileError says what is wrong."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PriceFileError(f"{path}: price file not found; pass one with --prices FILE "
                             "(this repository's is prices.json, written by scripts/export_prices.py)") from None
    except json.JSONDecodeError as exc:
        raise PriceFileError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PriceFileError(f"{path}: expected a JSON object at the top level")
    for key, kind in _REQUIRED.items():
        if not isinstance(doc.get(key), kind):
            raise PriceFileError(f"{path}: missing or malformed `{key}`")
    for m in doc["machines"]:
        if not isinstance(m, dict) or not {"cloud", "name", "usd_per_hour", "source", "as_of"} <= set(m):
            raise PriceFileError(f"{path}: every machine needs cloud, name, usd_per_hour, source, as_of")
    for key in ("object_store_gb", "backup_gb_per_copy"):
        if not isinstance(doc["assumptions"].get(key), dict) or "value" not in doc["assumptions"][key]:
            raise PriceFileError(f"{path}: missing assumption `{key}`")
    return Prices(path, doc)


# --- The plan -------------------------------------------------------------------------------------
class PlanIndex:
    """Parent/child lookups over a plan's resources."""

    def __init__(self, plan: dict[str, Any]):
        self.plan = plan
        self.resources: list[dict[str, Any]] = list(plan.get("resources", []))
        self.by_urn: dict[str, dict[str, Any]] = {r["urn"]: r for r in self.resources}
        self.children: dict[str, list[dict[str, Any]]] = {}
        for r in self.resources:
            if r.get("parent"):
                self.children.setdefault(r["parent"], []).append(r)

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] in types]

    def ancestors(self, r: dict[str, Any]) -> Iterator[dict[str, Any]]:
        parent = r.get("parent")
        while parent and parent in self.by_urn:
            r = self.by_urn[parent]
            yield r
            parent = r.get("parent")

    def nearest(self, r: dict[str, Any], type_token: str, include_self: bool = True) -> dict[str, Any] | None:
        if include_self and r["type"] == type_token:
            return r
        return next((a for a in self.ancestors(r) if a["type"] == type_token), None)

    def descendants(self, r: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for child in self.children.get(r["urn"], []):
            yield child
            yield from self.descendants(child)

    def cell(self, r: dict[str, Any]) -> str:
        cell = self.nearest(r, CELL_TYPE)
        return cell["name"] if cell is not None else GLOBAL

    def attr(self, r: dict[str, Any], key: str) -> str | None:
        """The first known string `outputs[key]` on `r` or its ancestors (e.g. cloud, region)."""
        for x in (r, *self.ancestors(r)):
            value = (x.get("outputs") or {}).get(key)
            if isinstance(value, str) and value != UNKNOWN:
                return value
        return None

    def cloud(self, r: dict[str, Any]) -> str | None:
        known = self.attr(r, "cloud")
        if known is not None:
            return known
        package = r["type"].split(":", 1)[0]
        return {"aws": "aws", "azure-native": "azure", "gcp": "gcp"}.get(package)


# --- Lines ----------------------------------------------------------------------------------------
@dataclass
class CostLine:
    """One priced thing: a unit price times a quantity at minimum and at maximum scale."""

    cell: str
    kind: str
    item: str
    urn: str
    unit: str
    """What `unit_usd` is per: node-hour, cluster-hour, GB-month, zone-month, check-month, ..."""
    unit_usd: float
    quantity_min: float
    quantity_max: float
    monthly_min_usd: float
    monthly_max_usd: float
    pricing: str
    """on-demand, spot or list."""
    estimate: bool
    source: str
    as_of: str
    price_region: str | None = None
    region: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell, "kind": self.kind, "item": self.item, "urn": self.urn, "unit": self.unit,
            "unit_usd": self.unit_usd, "quantity_min": self.quantity_min, "quantity_max": self.quantity_max,
            "monthly_min_usd": self.monthly_min_usd, "monthly_max_usd": self.monthly_max_usd,
            "pricing": self.pricing, "estimate": self.estimate, "source": self.source, "as_of": self.as_of,
            "price_region": self.price_region, "region": self.region, "notes": self.notes,
        }


@dataclass(frozen=True)
class Unpriced:
    urn: str
    type: str
    cell: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "cell": self.cell, "reason": self.reason}


class _Builder:
    def __init__(self, plan: dict[str, Any], prices: Prices):
        self.idx = PlanIndex(plan)
        self.prices = prices
        self.hours = prices.hours_per_month
        self.lines: list[CostLine] = []
        self.unpriced: list[Unpriced] = []
        # Node pools by their resource's URN (an AKS cluster's inline pools: URN/name).
        self.capacity: dict[str, list[Pool]] = {}
        for pool in capacity_pools(plan, prices):
            self.capacity.setdefault(pool.urn, []).append(pool)

    def _minimum(self, r: dict[str, Any], lo: int, item: str | None = None) -> tuple[int, list[str]]:
        """Nodes at minimum scale of the pool(s) that are `r` or beneath it (see `capacity`), and a
        note when the minimum replicas placed there need more than the pool's own minimum."""
        found = [p for urn in [r["urn"], *(d["urn"] for d in self.idx.descendants(r))]
                 for p in self.capacity.get(urn, []) if item is None or p.name == item]
        if not found:
            return lo, []
        needed = max(lo, sum(p.min_scale for p in found))
        notes = []
        if needed > lo:
            held = ", ".join(f"{w.min_replicas} x {w.name} ({w.gpus:g} GPU, {w.cpu:g} CPU, {w.memory_gib:g} GiB)"
                             for p in found for w in p.workloads)
            notes.append(f"minimum {lo} node{'s' if lo != 1 else ''}, but the minimum replicas placed "
                         f"here need {needed}: {held}")
        for p in found:
            for name in p.unschedulable:
                notes.append(f"{name}: a pod fits on no {p.machine_type} node")
        return needed, notes

    # helpers
    def _short(self, r: dict[str, Any], cell: str) -> str:
        name: str = r["name"]
        return name[len(cell) + 1:] if cell != GLOBAL and name.startswith(cell + "-") else name

    def _skip(self, r: dict[str, Any], reason: str) -> None:
        self.unpriced.append(Unpriced(r["urn"], r["type"], self.idx.cell(r), reason))

    def add(self, r: dict[str, Any], kind: str, item: str, unit: str, unit_usd: float, qmin: float, qmax: float,
            *, hourly: bool, pricing: str, estimate: bool, source: str, as_of: str,
            price_region: str | None = None, notes: list[str] | None = None, region: str | None = None) -> None:
        factor = self.hours if hourly else 1.0
        region = region or self.idx.attr(r, "region")
        notes = list(notes or [])
        if region and price_region and price_region != "global" and region not in price_region:
            notes.append(f"priced for {price_region}; runs in {region}")
        self.lines.append(CostLine(
            cell=self.idx.cell(r), kind=kind, item=item, urn=r["urn"], unit=unit, unit_usd=unit_usd,
            quantity_min=qmin, quantity_max=qmax,
            monthly_min_usd=round(unit_usd * qmin * factor, 2), monthly_max_usd=round(unit_usd * qmax * factor, 2),
            pricing=pricing, estimate=estimate, source=source, as_of=as_of, price_region=price_region,
            region=region, notes=notes))

    def _nodes(self, r: dict[str, Any], kind: str | None, item: str, cloud: str | None, machine_type: Any,
               qmin: int, qmax: int, spot: bool, notes: list[str] | None = None) -> None:
        machine = self.prices.machine(cloud, machine_type) if isinstance(machine_type, str) else None
        if machine is None:
            self._skip(r, f"no price for {cloud} machine type {machine_type!r} in {self.prices.path.name}")
            return
        if kind is None:
            kind = "GPU nodes" if machine.get("gpu_count") else "system nodes"
        notes = list(notes or [])
        if spot and machine.get("spot_usd_per_hour") is not None:
            unit_usd, pricing, estimate = float(machine["spot_usd_per_hour"]), "spot", True
            source = f"{machine.get('spot_source') or 'spot estimate'}; on-demand basis: {machine['source']}"
        else:
            unit_usd, pricing = float(machine["usd_per_hour"]), "on-demand"
            estimate, source = bool(machine.get("price_is_estimate")), str(machine["source"])
            if spot:
                notes.append("spot requested, but the price file has no spot estimate for this machine: "
                             "priced on-demand (an upper bound)")
        self.add(r, kind, f"{item}: {machine['name']}", "node-hour", unit_usd, qmin, qmax, hourly=True,
                 pricing=pricing, estimate=estimate, source=source, as_of=str(machine["as_of"]),
                 price_region=machine.get("price_region"), notes=notes)

    # GPU pools (component outputs)
    def gpu_pools(self) -> None:
        for r in self.idx.of_type(GPU_POOL_TYPE):
            out = r.get("outputs") or {}
            cell = self.idx.cell(r)
            lo, hi = out.get("min_nodes"), out.get("max_nodes")
            if not isinstance(lo, int) or not isinstance(hi, int):
                self._skip(r, "GpuNodePool outputs have no min_nodes/max_nodes")
                continue
            lo, notes = self._minimum(r, lo)
            self._nodes(r, "GPU nodes", self._short(r, cell), self.idx.cloud(r), out.get("machine_type"),
                        lo, max(hi, lo), bool(out.get("spot")), notes)

    # Node pools outside GPU pools (resource inputs)
    def node_pools(self) -> None:
        for r in self.idx.resources:
            if self.idx.nearest(r, GPU_POOL_TYPE) is not None:
                continue
            inputs = r.get("inputs") or {}
            cell = self.idx.cell(r)
            t = r["type"]
            if t == "aws:eks/nodeGroup:NodeGroup":
                scaling = inputs.get("scalingConfig") or {}
                types = inputs.get("instanceTypes") or []
                self._counted(r, self._short(r, cell), "aws", types[0] if types else None,
                              scaling.get("minSize"), scaling.get("maxSize"), inputs.get("capacityType") == "SPOT")
            elif t == "azure-native:containerservice:ManagedCluster":
                for profile in inputs.get("agentPoolProfiles") or []:
                    self._aks_pool(r, f"{self._short(r, cell)}/{profile.get('name', '?')}", profile,
                                   f"{r['name']}/{profile.get('name', '?')}")
            elif t == "azure-native:containerservice:AgentPool":
                self._aks_pool(r, self._short(r, cell), inputs)
            elif t == "gcp:container/nodePool:NodePool":
                self._gke_pool(r, self._short(r, cell), inputs)

    def _counted(self, r: dict[str, Any], item: str, cloud: str, machine_type: Any, lo: Any, hi: Any,
                 spot: bool, pool_name: str | None = None) -> None:
        if not isinstance(lo, int) or not isinstance(hi, int):
            self._skip(r, "node counts are not known in the plan")
            return
        lo, notes = self._minimum(r, lo, pool_name)
        self._nodes(r, None, item, cloud, machine_type, lo, max(hi, lo), spot, notes)

    def _aks_pool(self, r: dict[str, Any], item: str, p: dict[str, Any], pool_name: str | None = None) -> None:
        if p.get("enableAutoScaling"):
            lo, hi = p.get("minCount"), p.get("maxCount")
        else:
            lo = hi = p.get("count", 1)
        self._counted(r, item, "azure", p.get("vmSize"), lo, hi, p.get("scaleSetPriority") == "Spot", pool_name)

    def _gke_pool(self, r: dict[str, Any], item: str, inputs: dict[str, Any]) -> None:
        auto = inputs.get("autoscaling") or {}
        config = inputs.get("nodeConfig") or {}
        spot = bool(config.get("spot") or config.get("preemptible"))
        machine_type = config.get("machineType", "e2-medium")  # GKE's default machine type
        if "totalMinNodeCount" in auto or "totalMaxNodeCount" in auto:
            lo, hi = auto.get("totalMinNodeCount", 0), auto.get("totalMaxNodeCount", 0)
        else:
            # Per-zone counts: multiply by the zones the pool spans.
            locations = inputs.get("nodeLocations")
            location = str(inputs.get("location") or "")
            zones = len(locations) if isinstance(locations, list) and locations else (
                1 if location.count("-") >= 2 else 3)
            if auto:
                lo, hi = auto.get("minNodeCount", 0), auto.get("maxNodeCount", 0)
            else:
                lo = hi = inputs.get("nodeCount", inputs.get("initialNodeCount", 1))
            if isinstance(lo, int) and isinstance(hi, int):
                lo, hi = lo * zones, hi * zones
        self._counted(r, item, "gcp", machine_type, lo, hi, spot)

    # Managed cluster fees
    def cluster_fees(self) -> None:
        for r in self.idx.resources:
            t = r["type"]
            inputs = r.get("inputs") or {}
            if t == "aws:eks/cluster:Cluster":
                key = "eks"
            elif t == "gcp:container/cluster:Cluster":
                key = "gke"
            elif t == "azure-native:containerservice:ManagedCluster":
                tier = str((inputs.get("sku") or {}).get("tier") or "Free")
                key = f"aks-{tier.lower()}"
            else:
                continue
            fee = self.prices.cluster_fee(key)
            if fee is None:
                self._skip(r, f"no cluster fee {key!r} in {self.prices.path.name}")
                continue
            notes = ["GKE free-tier credit (one zonal or Autopilot cluster per billing account) not applied"] \
                if key == "gke" else []
            self.add(r, "cluster fees", f"{self._short(r, self.idx.cell(r))} ({key})", "cluster-hour",
                     float(fee["usd_per_hour"]), 1, 1, hourly=True, pricing="list", estimate=False,
                     source=str(fee["source"]), as_of=str(fee["as_of"]), price_region="global", notes=notes)

    # Managed endpoints
    def managed_endpoints(self) -> None:
        for r in self.idx.resources:
            t = r["type"]
            inputs = r.get("inputs") or {}
            if t == _SAGEMAKER_CONFIG:
                variants = inputs.get("productionVariants") or []
                variant = next((v for v in variants if isinstance(v, dict) and v.get("instanceType")), {})
                service, instance = "sagemaker", variant.get("instanceType")
                lo = hi = variant.get("initialInstanceCount", 1)
            elif t == _AZUREML_DEPLOYMENT:
                props = inputs.get("properties") or {}
                service, instance = "azureml", props.get("instanceType")
                lo = hi = (inputs.get("sku") or {}).get("capacity", 1)
            elif t in _VERTEX_DEPLOYMENTS:
                dedicated = ((inputs.get("deployConfig") or {}).get("dedicatedResources") or {})
                service = "vertex"
                instance = (dedicated.get("machineSpec") or {}).get("machineType")
                lo, hi = dedicated.get("minReplicaCount", 1), dedicated.get("maxReplicaCount", 1)
            else:
                continue
            owner = self.idx.nearest(r, ENDPOINT_TYPE)
            out = (owner or {}).get("outputs") or {}
            if isinstance(out.get("min_replicas"), int) and isinstance(out.get("max_replicas"), int):
                lo, hi = out["min_replicas"], out["max_replicas"]
            managed = self.prices.managed(service)
            if managed is None:
                self._skip(r, f"no managed endpoint pricing for {service!r} in {self.prices.path.name}")
                continue
            prefix = str(managed.get("instance_prefix") or "")
            if not isinstance(instance, str) or instance == UNKNOWN:
                self._skip(r, "instance type is not known in the plan")
                continue
            base_name = instance[len(prefix):] if prefix and instance.startswith(prefix) else instance
            machine = self.prices.machine(str(managed["cloud"]), base_name)
            if machine is None:
                self._skip(r, f"no price for {managed['cloud']} machine type {base_name!r} "
                              f"(endpoint instance {instance!r}) in {self.prices.path.name}")
                continue
            if not isinstance(lo, int) or not isinstance(hi, int):
                self._skip(r, "replica counts are not known in the plan")
                continue
            multiplier = float(managed["multiplier"])
            unit_usd = round(float(machine["usd_per_hour"]) * multiplier, 4)
            cell = self.idx.cell(r)
            item = f"{self._short(owner, cell) if owner else self._short(r, cell)}: {instance} ({service})"
            self.add(r, "managed endpoints", item, "instance-hour", unit_usd, lo, hi, hourly=True,
                     pricing="on-demand", estimate=bool(managed.get("is_estimate")) or bool(
                         machine.get("price_is_estimate")),
                     source=f"{managed['source']} x base price {machine['usd_per_hour']}/h: {machine['source']}",
                     as_of=str(managed.get("as_of", machine["as_of"])), price_region=machine.get("price_region"),
                     notes=[f"{multiplier:g} x {machine['name']} machine price"] if multiplier != 1 else [])

    # Public entries
    def entries(self) -> None:
        for r in self.idx.resources:
            t = r["type"]
            inputs = r.get("inputs") or {}
            cell = self.idx.cell(r)
            if t == _GLOBAL_ACCELERATOR:
                rate = self.prices.rate("entry.aws.global-accelerator")
                if rate is None:
                    self._skip(r, f"no rate 'entry.aws.global-accelerator' in {self.prices.path.name}")
                    continue
                self.add(r, "entry", f"{self._short(r, cell)}: Global Accelerator", str(rate["unit"]),
                         float(rate["usd"]), 1, 1, hourly=True, pricing="list", estimate=bool(rate["is_estimate"]),
                         source=str(rate["source"]), as_of=str(rate["as_of"]), price_region="global")
            elif t == _WAF_WEB_ACL:
                acl = self.prices.rate("entry.aws.waf-web-acl")
                rule = self.prices.rate("entry.aws.waf-rule")
                if acl is None or rule is None:
                    self._skip(r, f"no WAF rates in {self.prices.path.name}")
                    continue
                rules = inputs.get("rules")
                if not isinstance(rules, list):
                    self._skip(r, "the web ACL's rules are not known in the plan")
                    continue
                self.add(r, "entry", f"{self._short(r, cell)}: WAF web ACL, {len(rules)} rules", "webacl-month",
                         float(acl["usd"]) + len(rules) * float(rule["usd"]), 1, 1, hourly=False, pricing="list",
                         estimate=bool(acl["is_estimate"] or rule["is_estimate"]),
                         source=f"{acl['source']}; {rule['source']}", as_of=str(acl["as_of"]), price_region="global",
                         notes=[f"web ACL {acl['usd']} + {len(rules)} rule(s) x {rule['usd']}"])

    def _access_log_buckets(self) -> tuple[set[str], set[str]]:
        """URNs and names of the S3 buckets whose policy lets Elastic Load Balancing deliver access logs."""
        urns: set[str] = set()
        names: set[str] = set()
        for p in self.idx.of_type(_S3_BUCKET_POLICY):
            inputs = p.get("inputs") or {}
            try:
                document = json.loads(inputs.get("policy") or "")
            except (TypeError, ValueError):
                continue
            statements = document.get("Statement") if isinstance(document, dict) else None
            if not any(isinstance(st, dict) and st.get("Effect") == "Allow"
                       and _ELB_LOG_DELIVERY in _as_list((st.get("Principal") or {}).get("Service")
                                                         if isinstance(st.get("Principal"), dict) else None)
                       for st in _as_list(statements)):
                continue
            urns.update((p.get("propertyDependencies") or {}).get("bucket") or [])
            if isinstance(inputs.get("bucket"), str) and inputs["bucket"] != UNKNOWN:
                names.add(inputs["bucket"])
        return urns, names

    # Storage
    def storage(self) -> None:
        gb = self.prices.assumption("object_store_gb")
        assumptions = self.prices.assumptions()
        log_gb = float(assumptions["access_log_gb"]["value"]) if "access_log_gb" in assumptions else gb
        log_urns, log_names = self._access_log_buckets()
        for r in self.idx.resources:
            t = r["type"]
            inputs = r.get("inputs") or {}
            if t in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
                key, what = "storage.aws.s3-standard", "S3 Standard"
            elif t == "gcp:storage/bucket:Bucket":
                cls = str(inputs.get("storageClass") or "STANDARD").upper()
                if cls != "STANDARD":
                    self._skip(r, f"storage class {cls} is not in the price file")
                    continue
                location = str(inputs.get("location") or "US").upper()
                if inputs.get("customPlacementConfig") or location in _GCS_DUAL_REGIONS:
                    key, what = "storage.gcp.standard-dual-region", f"GCS Standard dual-region {location}"
                elif location in _GCS_MULTI_REGIONS:
                    key, what = "storage.gcp.standard-multi-region", f"GCS Standard multi-region {location}"
                else:
                    key, what = "storage.gcp.standard-region", f"GCS Standard {location.lower()}"
            elif t == "azure-native:storage:StorageAccount":
                sku = str((inputs.get("sku") or {}).get("name") or "Standard_LRS")
                tier, _, redundancy = sku.partition("_")
                if tier != "Standard":
                    self._skip(r, f"storage account sku {sku} is not in the price file")
                    continue
                key, what = f"storage.azure.hot-{redundancy.lower()}", f"Blob Hot {redundancy}"
            else:
                continue
            if self.idx.nearest(r, BACKUP_TYPE) is not None:
                continue  # staging for backups: see not_included
            rate = self.prices.rate(key)
            if rate is None:
                self._skip(r, f"no storage rate {key!r} in {self.prices.path.name}")
                continue
            size = gb
            notes = [f"assumed {gb:g} GB stored (price file assumption object_store_gb)"]
            if t.startswith("aws:s3/") and (r["urn"] in log_urns or inputs.get("bucket") in log_names):
                size, what = log_gb, f"{what} (access logs)"
                notes = [f"assumed {log_gb:g} GB of load balancer access logs (price file assumption access_log_gb)"]
            if t == "azure-native:storage:StorageAccount" and str(inputs.get("accessTier") or "Hot") != "Hot":
                notes.append(f"access tier {inputs.get('accessTier')} priced as Hot")
            cell = self.idx.cell(r)
            where = inputs.get("region") if t.startswith("aws:") else None
            self.add(r, "storage", f"{self._short(r, cell)}: {what}", "GB-month", float(rate["usd"]), size, size,
                     hourly=False, pricing="list", estimate=bool(rate["is_estimate"]), source=str(rate["source"]),
                     as_of=str(rate["as_of"]), price_region=str(rate.get("price_region")), notes=notes,
                     region=where if isinstance(where, str) and where != UNKNOWN else None)

    # DNS zones and health checks
    def dns(self) -> None:
        for r in self.idx.resources:
            t = r["type"]
            inputs = r.get("inputs") or {}
            cell = self.idx.cell(r)
            if t in ("aws:route53/zone:Zone", "azure-native:dns:Zone", "gcp:dns/managedZone:ManagedZone"):
                key = {"aws:route53/zone:Zone": "dns.aws.route53-hosted-zone",
                       "azure-native:dns:Zone": "dns.azure.dns-zone",
                       "gcp:dns/managedZone:ManagedZone": "dns.gcp.cloud-dns-zone"}[t]
                zone = str(inputs.get("dnsName") or inputs.get("zoneName") or inputs.get("name") or r["name"]).rstrip(".")
                self._rate_line(r, key, f"zone {zone}", 1)
            elif t == "aws:route53/healthCheck:HealthCheck":
                self._route53_check(r, inputs, cell)
            elif t == "azure-native:trafficmanager:Profile":
                self._traffic_manager(r, inputs, cell)
            elif t == "gcp:compute/healthCheck:HealthCheck":
                self._skip(r, "health checks are not in the price file (Cloud DNS routing health checks; "
                              "see cloud.google.com/dns/pricing)")

    def _rate_line(self, r: dict[str, Any], key: str, item: str, quantity: float, *,
                   kind: str = "DNS", notes: list[str] | None = None) -> None:
        rate = self.prices.rate(key)
        if rate is None:
            self._skip(r, f"no rate {key!r} in {self.prices.path.name}")
            return
        self.add(r, kind, item, str(rate["unit"]), float(rate["usd"]), quantity, quantity, hourly=False,
                 pricing="list", estimate=bool(rate["is_estimate"]), source=str(rate["source"]),
                 as_of=str(rate["as_of"]), price_region=str(rate.get("price_region")), notes=notes)

    def _route53_check(self, r: dict[str, Any], inputs: dict[str, Any], cell: str) -> None:
        basic = self.prices.rate("dns.aws.route53-health-check-non-aws")
        feature = self.prices.rate("dns.aws.route53-health-check-feature-non-aws")
        if basic is None or feature is None:
            self._skip(r, f"no Route 53 health check rates in {self.prices.path.name}")
            return
        kind = str(inputs.get("type") or "")
        features = []
        if kind.startswith("HTTPS"):
            features.append("HTTPS")
        if kind.endswith("STR_MATCH"):
            features.append("string matching")
        if inputs.get("requestInterval") == 10:
            features.append("fast interval")
        if inputs.get("measureLatency"):
            features.append("latency measurement")
        unit_usd = float(basic["usd"]) + len(features) * float(feature["usd"])
        target = inputs.get("fqdn") or inputs.get("ipAddress") or self._short(r, cell)
        self.add(r, "DNS", f"health check {target}", "check-month", unit_usd, 1, 1, hourly=False, pricing="list",
                 estimate=bool(basic["is_estimate"] or feature["is_estimate"]),
                 source=f"{basic['source']}; {feature['source']}", as_of=str(basic["as_of"]), price_region="global",
                 notes=[f"basic {basic['usd']} + {len(features)} feature(s) x {feature['usd']}: "
                        f"{', '.join(features) or 'none'}"])

    def _traffic_manager(self, r: dict[str, Any], inputs: dict[str, Any], cell: str) -> None:
        endpoints = [e for e in inputs.get("endpoints") or [] if isinstance(e, dict)
                     and not str(e.get("type", "")).endswith("nestedEndpoints")]
        if not endpoints:
            return
        fast = (inputs.get("monitorConfig") or {}).get("intervalInSeconds") == 10
        base = self.prices.rate("dns.azure.traffic-manager-external-endpoint")
        extra = self.prices.rate("dns.azure.traffic-manager-fast-interval-external")
        if base is None or (fast and extra is None):
            self._skip(r, f"no Traffic Manager rates in {self.prices.path.name}")
            return
        unit_usd = float(base["usd"]) + (float(extra["usd"]) if fast and extra is not None else 0.0)
        source = str(base["source"]) + (f"; {extra['source']}" if fast and extra is not None else "")
        notes = ["every endpoint priced as external"] + (["fast interval (10 s) add-on"] if fast else [])
        self.add(r, "DNS", f"Traffic Manager {self._short(r, cell)} endpoints", "endpoint-month", unit_usd,
                 len(endpoints), len(endpoints), hourly=False, pricing="list",
                 estimate=bool(base["is_estimate"]), source=source, as_of=str(base["as_of"]),
                 price_region="global", notes=notes)

    # Backups (component outputs)
    def backups(self) -> None:
        gb = self.prices.assumption("backup_gb_per_copy")
        for r in self.idx.of_type(BACKUP_TYPE):
            out = r.get("outputs") or {}
            cloud = self.idx.cloud(r)
            copy_region = out.get("copy_to_region")
            copies = 2 if isinstance(copy_region, str) and copy_region else 1
            notes = [f"assumed {gb:g} GB per copy (price file assumption backup_gb_per_copy) x {copies} "
                     f"cop{'ies' if copies > 1 else 'y'}"
                     + (f" (source region + {copy_region})" if copies > 1 else "")]
            cell = self.idx.cell(r)
            self._rate_line(r, f"backup.{cloud}", f"{self._short(r, cell)}: {copies} x {gb:g} GB", gb * copies,
                            kind="backup", notes=notes)

    def build(self) -> tuple[list[CostLine], list[Unpriced]]:
        self.gpu_pools()
        self.node_pools()
        self.cluster_fees()
        self.managed_endpoints()
        self.entries()
        self.storage()
        self.dns()
        self.backups()
        order = {k: i for i, k in enumerate(KINDS)}
        cells = _cell_order(self.idx)
        self.lines.sort(key=lambda l: (cells.get(l.cell, len(cells)), order.get(l.kind, len(order)), l.item, l.urn))
        self.unpriced.sort(key=lambda u: (cells.get(u.cell, len(cells)), u.urn))
        return self.lines, self.unpriced


def _cell_order(idx: PlanIndex) -> dict[str, int]:
    names = sorted({r["name"] for r in idx.of_type(CELL_TYPE)})
    return {name: i for i, name in enumerate([*names, GLOBAL])}


# --- The report -----------------------------------------------------------------------------------
@dataclass
class CostReport:
    project: str
    stack: str
    hours_per_month: float
    prices_file: str
    prices_as_of: str
    lines: list[CostLine]
    unpriced: list[Unpriced]
    budget_usd: float | None
    assumptions: dict[str, Any]
    not_included: list[str]

    @property
    def total_min(self) -> float:
        return round(sum(l.monthly_min_usd for l in self.lines), 2)

    @property
    def total_max(self) -> float:
        return round(sum(l.monthly_max_usd for l in self.lines), 2)

    def _group(self, key: str) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for line in self.lines:
            g = out.setdefault(getattr(line, key), {"min": 0.0, "max": 0.0})
            g["min"] += line.monthly_min_usd
            g["max"] += line.monthly_max_usd
        return {k: {"min": round(v["min"], 2), "max": round(v["max"], 2)} for k, v in out.items()}

    def by_cell(self) -> dict[str, dict[str, float]]:
        return self._group("cell")

    def by_kind(self) -> dict[str, dict[str, float]]:
        groups = self._group("kind")
        return {k: groups[k] for k in (*KINDS, *sorted(set(groups) - set(KINDS))) if k in groups}

    @property
    def over_budget_by(self) -> float | None:
        """USD the minimum-scale estimate exceeds the budget by; None when within it or no budget."""
        if self.budget_usd is None or self.total_min <= self.budget_usd:
            return None
        return round(self.total_min - self.budget_usd, 2)

    @property
    def max_over_budget_by(self) -> float | None:
        if self.budget_usd is None or self.total_max <= self.budget_usd:
            return None
        return round(self.total_max - self.budget_usd, 2)

    def sources(self) -> list[tuple[str, str]]:
        """Distinct (source, as_of) pairs in line order; line i's reference is its index + 1."""
        seen: list[tuple[str, str]] = []
        for line in self.lines:
            if (line.source, line.as_of) not in seen:
                seen.append((line.source, line.as_of))
        return seen

    def as_json(self) -> dict[str, Any]:
        return {
            "project": self.project, "stack": self.stack, "currency": "USD",
            "hours_per_month": self.hours_per_month,
            "prices": {"file": self.prices_file, "as_of": self.prices_as_of},
            "lines": [l.as_json() for l in self.lines],
            "by_cell": self.by_cell(), "by_kind": self.by_kind(),
            "total": {"min": self.total_min, "max": self.total_max},
            "budget": {"monthly_budget_usd": self.budget_usd, "over_budget": self.over_budget_by is not None,
                       "over_by_usd": self.over_budget_by, "max_scale_over_by_usd": self.max_over_budget_by},
            "unpriced": [u.as_json() for u in self.unpriced],
            "assumptions": self.assumptions,
            "not_included": self.not_included,
        }


def budget_of(plan: dict[str, Any]) -> float | None:
    """`targets.monthly_budget_usd` from the plan's stack outputs, when set."""
    targets = (plan.get("outputs") or {}).get("targets")
    value = targets.get("monthly_budget_usd") if isinstance(targets, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def estimate(plan: dict[str, Any], prices: Prices) -> CostReport:
    """Price every recognised resource of `plan` at minimum and maximum scale."""
    lines, unpriced = _Builder(plan, prices).build()
    return CostReport(
        project=str(plan.get("project", "")), stack=str(plan.get("stack", "")),
        hours_per_month=prices.hours_per_month, prices_file=str(prices.path), prices_as_of=prices.as_of,
        lines=lines, unpriced=unpriced, budget_usd=budget_of(plan), assumptions=prices.assumptions(),
        not_included=prices.not_included())


def write_json(report: CostReport, path: Path) -> None:
    path.write_text(json.dumps(report.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --- Rendering ------------------------------------------------------------------------------------
def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _unit_price(line: CostLine) -> str:
    text = f"{line.unit_usd:,.4f}".rstrip("0")
    if len(text.partition(".")[2]) < 2:
        text = f"{line.unit_usd:,.2f}"
    return f"${text}/{line.unit}"


def _qty(line: CostLine) -> str:
    def num(x: float) -> str:
        return f"{x:g}"
    q = num(line.quantity_min) if line.quantity_min == line.quantity_max else \
        f"{num(line.quantity_min)}-{num(line.quantity_max)}"
    unit = line.unit.split("-")[0]
    return f"{q} {unit}" if unit in ("GB",) else f"{q} x"


def render(report: CostReport, out: Console) -> None:
    """The cost tables, sources, notes, and the budget verdict."""
    refs = {pair: i + 1 for i, pair in enumerate(report.sources())}
    table = Table(title=f"Monthly cost estimate: {report.project}-{report.stack} "
                        f"({report.hours_per_month:g} h/month, USD)", title_justify="left")
    for column, justify in (("cell", "left"), ("kind", "left"), ("item", "left"), ("qty (min-max)", "right"),
                            ("unit price", "right"), ("min / month", "right"), ("max / month", "right"),
                            ("basis", "left"), ("ref", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    previous_cell: str | None = None
    for line in report.lines:
        if previous_cell is not None and line.cell != previous_cell:
            table.add_section()
        previous_cell = line.cell
        basis = line.pricing + (" [yellow]estimate[/yellow]" if line.estimate else "")
        table.add_row(escape(line.cell), line.kind, escape(line.item), _qty(line),
                      _unit_price(line),
                      _usd(line.monthly_min_usd), _usd(line.monthly_max_usd), basis,
                      f"[{refs[(line.source, line.as_of)]}]")
    # Not a terminal (CI logs, files): wide enough that the table does not fold its columns.
    width = out.width
    if not out.is_terminal and width < 160:
        out.width = 160
    try:
        out.print(table)
    finally:
        out.width = width

    totals = Table(title="Totals", title_justify="left")
    for column in ("", "min / month", "max / month"):
        totals.add_column(column, justify="right" if column else "left")
    for cell, value in report.by_cell().items():
        totals.add_row(f"cell {escape(cell)}", _usd(value["min"]), _usd(value["max"]))
    totals.add_section()
    for kind, value in report.by_kind().items():
        totals.add_row(kind, _usd(value["min"]), _usd(value["max"]))
    totals.add_section()
    totals.add_row("[bold]total[/bold]", f"[bold]{_usd(report.total_min)}[/bold]",
                   f"[bold]{_usd(report.total_max)}[/bold]")
    out.print(totals)

    out.print("[bold]Sources[/bold] (list prices; estimates are marked):")
    for (source, as_of), n in refs.items():
        out.print(f"  [{n}] ({escape(as_of)}) {escape(source)}", soft_wrap=True)
    notes = [(line, note) for line in report.lines for note in line.notes]
    if notes:
        out.print("[bold]Notes[/bold]:")
        for line, note in notes:
            out.print(f"  {escape(line.cell)} {escape(line.item)}: {escape(note)}", soft_wrap=True)
    out.print("[bold]Assumptions[/bold]: " + "; ".join(
        f"{escape(k)} = {v.get('value')} ({escape(str(v.get('why', '')))})" for k, v in report.assumptions.items()),
        soft_wrap=True)
    if report.not_included:
        out.print("[bold]Not included[/bold]: " + escape("; ".join(report.not_included)), soft_wrap=True)
    if report.unpriced:
        out.print(f"[yellow]unpriced ({len(report.unpriced)}):[/yellow]")
        for u in report.unpriced:
            out.print(f"  {escape(u.cell)} {escape(u.type)} {escape(u.urn.rsplit('::', 1)[-1])}: {escape(u.reason)}",
                      soft_wrap=True)

    if report.budget_usd is None:
        out.print(f"estimate {_usd(report.total_min)} - {_usd(report.total_max)} per month; no budget set "
                  "(targets.monthly_budget_usd)")
        return
    over = report.over_budget_by
    if over is not None:
        out.print(f"[bold red]over budget:[/bold red] the minimum-scale estimate {_usd(report.total_min)}/month "
                  f"exceeds targets.monthly_budget_usd {_usd(report.budget_usd)} by {_usd(over)}", soft_wrap=True)
        return
    out.print(f"[green]within budget:[/green] minimum-scale estimate {_usd(report.total_min)}/month "
              f"<= targets.monthly_budget_usd {_usd(report.budget_usd)}", soft_wrap=True)
    if report.max_over_budget_by is not None:
        out.print(f"[yellow]at maximum scale[/yellow] {_usd(report.total_max)}/month exceeds the budget by "
                  f"{_usd(report.max_over_budget_by)}", soft_wrap=True)
