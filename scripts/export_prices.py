"""Write `prices.json`: the price file `preflight cost` reads, generated from the GPU catalog.

    python scripts/export_prices.py           # (re)write prices.json at the repository root
    python scripts/export_prices.py --check   # exit 1 when prices.json differs from what this writes
    python scripts/export_prices.py --out FILE

`preflight` never imports `components/` (it serves any Pulumi project), so the
prices it uses come from this file. Machine prices and cluster fees are copied
from `components/catalog/gpus.py` unchanged; everything else (storage, DNS,
health checks, backups, managed endpoint surcharges, assumed data sizes) is
stated below with its source and date. tests/preflight/test_cost.py checks that
the committed prices.json is exactly what this script writes, so it cannot drift
from the catalog.

All prices are public list prices in USD, in one region per row (`price_region`),
recorded `as_of`; they change over time and differ by region. Use the estimate
for planning and for comparing options, never for billing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from components.catalog import gpus  # noqa: E402

SCHEMA = 1
HOURS_PER_MONTH = 730
"""Hours in an average month (8760 / 12), the convention every cloud's calculator uses."""

AS_OF = gpus.AS_OF
"""Date of the figures stated in this script; the catalog rows carry their own `as_of`."""


def _rate(usd: float, unit: str, price_region: str, source: str, is_estimate: bool) -> dict[str, Any]:
    return {"usd": usd, "unit": unit, "price_region": price_region, "source": source,
            "is_estimate": is_estimate, "as_of": AS_OF}


# --- Object storage: USD per GB-month, first pricing tier, standard/hot class -------------------
_S3 = "https://aws.amazon.com/s3/pricing/"
_GCS = "https://cloud.google.com/storage/pricing"
_AZBLOB = "https://azure.microsoft.com/pricing/details/storage/blobs/"
_AZ_EST = ("estimate: Azure Blob Storage block blob pricing, Hot tier, first 50 TB/month, "
           f"eastus, {{}} redundancy ({_AZBLOB}); confirm against the provider's price list")

RATES: dict[str, dict[str, Any]] = {
    "storage.aws.s3-standard": _rate(
        0.023, "GB-month", "us-east-1",
        f"Amazon S3 pricing: S3 Standard, first 50 TB/month, us-east-1 ({_S3})", False),
    "storage.gcp.standard-region": _rate(
        0.020, "GB-month", "us-central1",
        f"Cloud Storage pricing: Standard storage, regional bucket in us-central1 ({_GCS})", False),
    "storage.gcp.standard-dual-region": _rate(
        0.022, "GB-month", "us-central1+us-east1",
        f"estimate: Cloud Storage pricing, Standard storage, configurable dual-region in North America "
        f"({_GCS}); inter-region replication ($/GB written) not included; confirm against the provider's "
        "price list", True),
    "storage.gcp.standard-multi-region": _rate(
        0.026, "GB-month", "us (multi-region)",
        f"Cloud Storage pricing: Standard storage, multi-region us ({_GCS})", False),
    "storage.azure.hot-lrs": _rate(0.0184, "GB-month", "eastus", _AZ_EST.format("LRS"), True),
    "storage.azure.hot-zrs": _rate(0.023, "GB-month", "eastus", _AZ_EST.format("ZRS"), True),
    "storage.azure.hot-grs": _rate(0.0368, "GB-month", "eastus", _AZ_EST.format("GRS"), True),
    "storage.azure.hot-ragrs": _rate(0.046, "GB-month", "eastus", _AZ_EST.format("RA-GRS"), True),
    "storage.azure.hot-gzrs": _rate(0.0414, "GB-month", "eastus", _AZ_EST.format("GZRS"), True),
    "storage.azure.hot-ragzrs": _rate(0.0518, "GB-month", "eastus", _AZ_EST.format("RA-GZRS"), True),
    # --- Backup storage: USD per GB-month of backup data, per copy --------------------------------
    "backup.aws": _rate(
        0.05, "GB-month", "us-east-1",
        "AWS Backup pricing: Amazon S3 backup (warm) storage, us-east-1 "
        "(https://aws.amazon.com/backup/pricing/); a cross-region copy is stored again at the "
        "destination's rate; copy data transfer not included", False),
    "backup.azure": _rate(
        0.0448, "GB-month", "eastus",
        "estimate: Azure Backup pricing, vault-standard tier, geo-redundant (GRS) backup storage, eastus "
        "(https://azure.microsoft.com/pricing/details/backup/); protected-instance fees not included; "
        "confirm against the provider's price list", True),
    "backup.gcp": _rate(
        0.028, "GB-month", "us-central1",
        "estimate: Backup for GKE pricing, backup storage, us-central1 "
        "(https://cloud.google.com/kubernetes-engine/pricing#backup-for-gke); the per-pod backup "
        "management fee is not included; confirm against the provider's price list", True),
    # --- DNS zones and health checks: USD per month ----------------------------------------------
    "dns.aws.route53-hosted-zone": _rate(
        0.50, "zone-month", "global",
        "Amazon Route 53 pricing: $0.50 per hosted zone per month for the first 25 hosted zones "
        "(https://aws.amazon.com/route53/pricing/); DNS queries not included", False),
    "dns.aws.route53-health-check-non-aws": _rate(
        0.75, "check-month", "global",
        "Amazon Route 53 pricing: basic health check of a non-AWS endpoint, $0.75 per health check per "
        "month (AWS endpoints in the same account: $0.50; every endpoint is priced as non-AWS here) "
        "(https://aws.amazon.com/route53/pricing/)", False),
    "dns.aws.route53-health-check-feature-non-aws": _rate(
        2.00, "feature-month", "global",
        "Amazon Route 53 pricing: optional health check features (HTTPS, string matching, fast interval "
        "of 10 s, latency measurement) for a non-AWS endpoint, $2.00 per feature per month "
        "(AWS endpoints: $1.00) (https://aws.amazon.com/route53/pricing/)", False),
    "dns.azure.dns-zone": _rate(
        0.50, "zone-month", "global",
        "Azure DNS pricing: $0.50 per hosted DNS zone per month for the first 25 zones "
        "(https://azure.microsoft.com/pricing/details/dns/); DNS queries not included", False),
    "dns.azure.traffic-manager-external-endpoint": _rate(
        0.54, "endpoint-month", "global",
        "estimate: Azure Traffic Manager pricing, health checks of an external endpoint, per endpoint per "
        "month (Azure endpoints: $0.36) (https://azure.microsoft.com/pricing/details/traffic-manager/); "
        "DNS queries not included; confirm against the provider's price list", True),
    "dns.azure.traffic-manager-fast-interval-external": _rate(
        2.00, "endpoint-month", "global",
        "estimate: Azure Traffic Manager pricing, fast endpoint failover (10 s probing interval) add-on for "
        "an external endpoint, per endpoint per month "
        "(https://azure.microsoft.com/pricing/details/traffic-manager/); confirm against the provider's "
        "price list", True),
    # --- Public entries: static addresses and web application firewalls -----------------------------
    "entry.aws.global-accelerator": _rate(
        0.025, "accelerator-hour", "global",
        "AWS Global Accelerator pricing: a fixed fee of $0.025 for each full or partial hour an accelerator "
        "runs in the account (https://aws.amazon.com/global-accelerator/pricing/); the Data Transfer-Premium "
        "fee per GB (by source region and destination edge: $0.015/GB within North America) and public IPv4 "
        "address charges are not included", False),
    "entry.aws.waf-web-acl": _rate(
        5.00, "webacl-month", "global",
        "estimate: AWS WAF pricing, $5.00 per web ACL per month, prorated hourly "
        "(https://aws.amazon.com/waf/pricing/); requests ($0.60 per million) not included; confirm against "
        "the provider's price list", True),
    "entry.aws.waf-rule": _rate(
        1.00, "rule-month", "global",
        "estimate: AWS WAF pricing, $1.00 per rule per month, prorated hourly; a managed rule group counts as "
        "one rule, and AWS's baseline managed rule groups (common rule set) carry no subscription fee "
        "(https://aws.amazon.com/waf/pricing/); confirm against the provider's price list", True),
    "dns.gcp.cloud-dns-zone": _rate(
        0.20, "zone-month", "global",
        "Cloud DNS pricing: $0.20 per managed zone per month for the first 25 zones "
        "(https://cloud.google.com/dns/pricing); DNS queries not included", False),
}

MANAGED_ENDPOINTS: dict[str, dict[str, Any]] = {
    "sagemaker": {
        "cloud": "aws", "instance_prefix": "ml.", "multiplier": 1.40, "is_estimate": True, "as_of": AS_OF,
        "price_region": "us-east-1",
        "source": "estimate: SageMaker AI real-time inference bills an `ml.` instance at about 1.40x the "
                  "EC2 On-Demand price of the same instance (us-east-1 list prices: ml.g5.xlarge $1.408/h "
                  "vs g5.xlarge $1.006/h; ml.g4dn.xlarge $0.736/h vs g4dn.xlarge $0.526/h) "
                  "(https://aws.amazon.com/sagemaker/pricing/); confirm against the provider's price list",
    },
    "azureml": {
        "cloud": "azure", "instance_prefix": "", "multiplier": 1.0, "is_estimate": True, "as_of": AS_OF,
        "price_region": "eastus",
        "source": "Azure Machine Learning pricing: no surcharge for Azure Machine Learning; a managed "
                  "online endpoint is billed for its VMs at the Linux VM pay-as-you-go price "
                  "(https://azure.microsoft.com/pricing/details/machine-learning/)",
    },
    "vertex": {
        "cloud": "gcp", "instance_prefix": "", "multiplier": 1.15, "is_estimate": True, "as_of": AS_OF,
        "price_region": "us-central1",
        "source": "estimate: Vertex AI online prediction node-hours cost about 1.15x the Compute Engine "
                  "price of the same machine and GPUs (us-central1: n1-standard-4 $0.2185/h vs $0.19/h, "
                  "NVIDIA T4 $0.4025/h vs $0.35/h) (https://cloud.google.com/vertex-ai/pricing); confirm "
                  "against the provider's price list",
    },
}

ASSUMPTIONS: dict[str, dict[str, Any]] = {
    "object_store_gb": {
        "value": 500,
        "why": "data held by each object store (one copy): a few model versions of 7B-class models (about "
               "15 GB each in fp16) plus artifacts and datasets; each replica bucket holds another copy",
    },
    "access_log_gb": {
        "value": 10,
        "why": "access logs held by each load balancer's log bucket (buckets Elastic Load Balancing writes to): "
               "gzip-compressed log lines of a few hundred bytes each, a few million requests a month, kept "
               "until the bucket's expiry; far less than a model store, so not priced at object_store_gb",
    },
    "backup_gb_per_copy": {
        "value": 500,
        "why": "backup data stored per backup copy: one full copy of the object store's assumed size; "
               "incremental changes and cluster state assumed small by comparison",
    },
}

NOT_INCLUDED: list[str] = [
    "NAT gateways, public IPs and load balancers (per hour and per GB processed)",
    "Global Accelerator data transfer premium (per GB) and WAF requests (per million)",
    "node boot disks and persistent volumes (EBS, managed disks, persistent disks)",
    "data transfer: internet egress, inter-zone and inter-region traffic, replication transfer",
    "object storage requests and operations; DNS queries",
    "KMS keys, logging and monitoring (CloudWatch, Log Analytics, Cloud Logging / Monitoring)",
    "managed Prometheus (Amazon Managed Service for Prometheus workspaces, scrapers and samples; Azure Monitor "
    "workspaces; Managed Service for Prometheus samples), alert notifications (SNS, action groups)",
    "container registries and pull-through caches (the ACR Standard daily fee; ECR, ACR and Artifact Registry "
    "storage and transfer)",
    "backup protected-instance and management fees; the AKS backup staging storage account",
    "free tiers and credits (e.g. the GKE free-tier credit), savings plans, reservations, taxes",
    "resources of types the estimate does not know (listed as `unpriced` when they look billable)",
]


def _machine(m: gpus.MachineType) -> dict[str, Any]:
    return {
        "cloud": m.cloud, "name": m.name, "gpu": m.gpu, "gpu_count": m.gpu_count, "vcpus": m.vcpus,
        "memory_gib": m.memory_gib, "usd_per_hour": m.usd_per_hour, "spot_usd_per_hour": m.spot_usd_per_hour,
        "spot_is_estimate": m.spot_is_estimate, "price_is_estimate": m.price_is_estimate,
        "price_region": m.price_region, "source": m.source, "spot_source": m.spot_source, "as_of": m.as_of,
    }


def build_prices() -> dict[str, Any]:
    """The whole price file as a JSON-ready dict."""
    machines = sorted((*gpus.GPU_MACHINES, *gpus.SYSTEM_MACHINES), key=lambda m: (m.cloud, m.name))
    return {
        "schema": SCHEMA,
        "about": "Prices for `preflight cost`. Generated by scripts/export_prices.py from "
                 "components/catalog/gpus.py and the assumptions stated in that script; do not edit by hand. "
                 "Public list prices in USD for one region each (price_region), recorded as_of; estimates "
                 "for planning, never for billing.",
        "as_of": AS_OF,
        "currency": "USD",
        "hours_per_month": HOURS_PER_MONTH,
        "machines": [_machine(m) for m in machines],
        "cluster_fees": {
            key: {"usd_per_hour": usd, "source": gpus.CLUSTER_FEE_SOURCES[key], "as_of": gpus.CLUSTER_FEE_AS_OF}
            for key, usd in sorted(gpus.CLUSTER_FEE_USD_PER_HOUR.items())
        },
        "managed_endpoints": MANAGED_ENDPOINTS,
        "rates": RATES,
        "assumptions": ASSUMPTIONS,
        "not_included": NOT_INCLUDED,
    }


def render() -> str:
    return json.dumps(build_prices(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO / "prices.json", help="where to write (default: prices.json)")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file differs")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run: python scripts/export_prices.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
