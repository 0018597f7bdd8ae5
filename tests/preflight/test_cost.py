"""`preflight cost`: monthly estimates at minimum and maximum scale, from the plan and prices.json only."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from components.catalog import gpus
from tests.conftest import REPO, ScratchProject, base_config, cell_of, of_type, run_preflight

HOURS = 730
PRICES: dict[str, Any] = json.loads((REPO / "prices.json").read_text(encoding="utf-8"))


def _export_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("export_prices", REPO / "scripts" / "export_prices.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def machine(cloud: str, name: str) -> dict[str, Any]:
    [m] = [m for m in PRICES["machines"] if m["cloud"] == cloud and m["name"] == name]
    return m


def monthly(usd_per_hour: float, nodes: int) -> float:
    return round(usd_per_hour * nodes * HOURS, 2)


def run_cost(stack: str, tmp: Path, *extra: str | Path, cwd: Path = REPO) -> tuple[Any, dict[str, Any] | None]:
    out = tmp / f"cost-{stack}.json"
    proc = run_preflight("cost", stack, "--cwd", cwd, "--json", out, *extra)
    report = json.loads(out.read_text()) if out.exists() else None
    return proc, report


@pytest.fixture(scope="module")
def costs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, dict[str, Any]]]:
    """`preflight cost` of every shipped stack, each in its own process."""
    tmp = tmp_path_factory.mktemp("costs")
    result: dict[str, tuple[Any, dict[str, Any]]] = {}
    for stack in ("dev", "staging", "prod"):
        proc, report = run_cost(stack, tmp)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert report is not None
        result[stack] = (proc, report)
    return result


# --- The price file ---------------------------------------------------------------------------------
def test_prices_json_is_exactly_what_the_export_script_writes() -> None:
    assert (REPO / "prices.json").read_text(encoding="utf-8") == _export_script().render(), \
        "prices.json is out of date: run python scripts/export_prices.py"


def test_prices_json_carries_every_catalog_machine_and_fee_unchanged() -> None:
    for m in (*gpus.GPU_MACHINES, *gpus.SYSTEM_MACHINES):
        row = machine(m.cloud, m.name)
        assert row["usd_per_hour"] == m.usd_per_hour
        assert row["spot_usd_per_hour"] == m.spot_usd_per_hour
        assert row["spot_is_estimate"] is m.spot_is_estimate
        assert row["price_is_estimate"] is m.price_is_estimate
        assert row["source"] == m.source and row["as_of"] == m.as_of
    assert len(PRICES["machines"]) == len(gpus.GPU_MACHINES) + len(gpus.SYSTEM_MACHINES)
    assert {k: v["usd_per_hour"] for k, v in PRICES["cluster_fees"].items()} == gpus.CLUSTER_FEE_USD_PER_HOUR


def test_every_price_states_its_source_and_date() -> None:
    rows = [*PRICES["machines"], *PRICES["cluster_fees"].values(), *PRICES["managed_endpoints"].values(),
            *PRICES["rates"].values()]
    for row in rows:
        assert row["source"].strip() and row["as_of"].strip(), row
    for row in PRICES["rates"].values():
        assert row["unit"] and row["price_region"] and isinstance(row["is_estimate"], bool)
        # An estimate says so in its source text.
        assert row["is_estimate"] == row["source"].startswith("estimate:"), row
    for key in ("object_store_gb", "backup_gb_per_copy"):
        assert PRICES["assumptions"][key]["value"] > 0 and PRICES["assumptions"][key]["why"]
    assert PRICES["hours_per_month"] == HOURS


def test_preflight_does_not_import_components() -> None:
    for path in (REPO / "preflight").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import components" not in text and "from components" not in text, path


# --- Shipped stacks -----------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_gpu_pools_cost_pool_sizes_times_catalog_prices(costs: dict[str, Any], plans: dict[str, Any],
                                                        stack: str) -> None:
    _, report = costs[stack]
    lines = {line["urn"]: line for line in report["lines"]}
    pools = of_type(plans[stack], "aiinfra:compute:GpuNodePool")
    assert pools
    for pool in pools:
        out = pool["outputs"]
        line = lines[pool["urn"]]
        cloud = next(c for c in ("aws", "azure", "gcp") if machine_exists(c, out["machine_type"]))
        m = machine(cloud, out["machine_type"])
        spot_price: float | None = m["spot_usd_per_hour"]
        spot = bool(out["spot"]) and spot_price is not None
        price: float = spot_price if spot and spot_price is not None else m["usd_per_hour"]
        # At minimum scale: the pool's minimum, or the nodes the minimum replicas of the cluster-mode
        # endpoints placed on it need (one pod of 1 GPU a node on these 1-GPU machines).
        cell = cell_of(plans[stack], pool)
        replicas = sum(e["outputs"]["min_replicas"] * e["outputs"]["gpus_per_replica"]
                       for e in of_type(plans[stack], "aiinfra:serving:ModelEndpoint")
                       if e["outputs"]["mode"] == "cluster" and cell_of(plans[stack], e) == cell
                       and e["outputs"]["gpu"] == out["gpu"])
        low = max(out["min_nodes"], -(-replicas // out["gpus_per_node"]))
        assert line["kind"] == "GPU nodes"
        assert line["unit_usd"] == price
        assert (line["quantity_min"], line["quantity_max"]) == (low, out["max_nodes"])
        assert line["monthly_min_usd"] == monthly(price, low)
        assert line["monthly_max_usd"] == monthly(price, out["max_nodes"])
        assert line["pricing"] == ("spot" if spot else "on-demand")
        if spot:
            assert line["estimate"] is True and m["spot_source"] in line["source"]


def machine_exists(cloud: str, name: str) -> bool:
    return any(m["cloud"] == cloud and m["name"] == name for m in PRICES["machines"])


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_report_is_consistent_and_sourced(costs: dict[str, Any], plans: dict[str, Any], stack: str) -> None:
    proc, report = costs[stack]
    lines = report["lines"]
    assert report["hours_per_month"] == HOURS and report["stack"] == stack
    for line in lines:
        assert line["source"] and line["as_of"], line
        assert 0 <= line["monthly_min_usd"] <= line["monthly_max_usd"]
    assert report["total"]["min"] == pytest.approx(sum(l["monthly_min_usd"] for l in lines), abs=0.005)
    assert report["total"]["max"] == pytest.approx(sum(l["monthly_max_usd"] for l in lines), abs=0.005)
    assert sum(v["min"] for v in report["by_cell"].values()) == pytest.approx(report["total"]["min"], abs=0.02)
    assert sum(v["max"] for v in report["by_kind"].values()) == pytest.approx(report["total"]["max"], abs=0.02)
    cells = {c["name"] for c in of_type(plans[stack], "aiinfra:index:Cell")}
    assert cells <= set(report["by_cell"])
    # One managed cluster fee per cluster, system nodes in every cell with a cluster.
    clusters = of_type(plans[stack], "aiinfra:compute:KubernetesCluster")
    assert len([l for l in lines if l["kind"] == "cluster fees"]) == len(clusters)
    assert {l["cell"] for l in lines if l["kind"] == "system nodes"} == cells
    assert report["unpriced"] == []
    # Every shipped stack sets a budget its minimum-scale estimate stays under.
    budget = {"dev": 550, "staging": 1150, "prod": 6500}[stack]
    assert report["budget"]["monthly_budget_usd"] == budget and proc.returncode == 0
    assert report["budget"]["over_budget"] is False and report["total"]["min"] <= budget
    assert "within budget" in proc.stdout
    assert "Sources" in proc.stdout and "Not included" in proc.stdout


def test_system_nodes_come_from_the_node_pool_resources(costs: dict[str, Any], plans: dict[str, Any]) -> None:
    _, report = costs["prod"]
    lines = {line["urn"]: line for line in report["lines"]}
    [eks] = [r for r in of_type(plans["prod"], "aws:eks/nodeGroup:NodeGroup") if "system" in r["name"]]
    scaling = eks["inputs"]["scalingConfig"]
    price = machine("aws", eks["inputs"]["instanceTypes"][0])["usd_per_hour"]
    assert lines[eks["urn"]]["monthly_min_usd"] == monthly(price, scaling["minSize"])
    assert lines[eks["urn"]]["monthly_max_usd"] == monthly(price, scaling["maxSize"])
    [aks] = of_type(plans["prod"], "azure-native:containerservice:ManagedCluster")
    [profile] = aks["inputs"]["agentPoolProfiles"]
    price = machine("azure", profile["vmSize"])["usd_per_hour"]
    aks_nodes = [l for l in report["lines"] if l["urn"] == aks["urn"] and l["kind"] == "system nodes"]
    assert [(l["monthly_min_usd"], l["monthly_max_usd"]) for l in aks_nodes] == [
        (monthly(price, profile["minCount"]), monthly(price, profile["maxCount"]))]
    [gke] = [r for r in of_type(plans["prod"], "gcp:container/nodePool:NodePool") if "system" in r["name"]]
    auto = gke["inputs"]["autoscaling"]
    price = machine("gcp", gke["inputs"]["nodeConfig"]["machineType"])["usd_per_hour"]
    assert (lines[gke["urn"]]["monthly_min_usd"], lines[gke["urn"]]["monthly_max_usd"]) == (
        monthly(price, auto["totalMinNodeCount"]), monthly(price, auto["totalMaxNodeCount"]))
    # The AKS tier decides its fee.
    fee = PRICES["cluster_fees"][f"aks-{aks['inputs']['sku']['tier'].lower()}"]["usd_per_hour"]
    [aks_fee] = [l for l in report["lines"] if l["urn"] == aks["urn"] and l["kind"] == "cluster fees"]
    assert aks_fee["monthly_min_usd"] == monthly(fee, 1)


def test_prod_managed_endpoints_dns_storage_and_backup(costs: dict[str, Any]) -> None:
    _, report = costs["prod"]
    by_item = {(l["cell"], l["kind"], l["item"]): l for l in report["lines"]}
    managed = PRICES["managed_endpoints"]

    sagemaker = by_item[("aws-use1", "managed endpoints", "embed: ml.g6.xlarge (sagemaker)")]
    unit = round(machine("aws", "g6.xlarge")["usd_per_hour"] * managed["sagemaker"]["multiplier"], 4)
    assert sagemaker["unit_usd"] == unit and sagemaker["estimate"] is True
    assert (sagemaker["monthly_min_usd"], sagemaker["monthly_max_usd"]) == (monthly(unit, 1), monthly(unit, 3))
    azureml = by_item[("azure-eus", "managed endpoints", "embed: Standard_NC4as_T4_v3 (azureml)")]
    unit = machine("azure", "Standard_NC4as_T4_v3")["usd_per_hour"] * managed["azureml"]["multiplier"]
    assert (azureml["monthly_min_usd"], azureml["monthly_max_usd"]) == (monthly(unit, 1), monthly(unit, 3))
    vertex = by_item[("gcp-usc1", "managed endpoints", "gemma: g2-standard-4 (vertex)")]
    unit = round(machine("gcp", "g2-standard-4")["usd_per_hour"] * managed["vertex"]["multiplier"], 4)
    assert (vertex["monthly_min_usd"], vertex["monthly_max_usd"]) == (monthly(unit, 1), monthly(unit, 2))

    # Route 53: one zone; a health check per backend with HTTPS, 10 s interval and latency measurement.
    rates = PRICES["rates"]
    zone = [l for l in report["lines"] if l["kind"] == "DNS" and l["item"].startswith("zone ")]
    assert [l["monthly_min_usd"] for l in zone] == [rates["dns.aws.route53-hosted-zone"]["usd"]]
    checks = [l for l in report["lines"] if l["kind"] == "DNS" and l["item"].startswith("health check ")]
    per_check = rates["dns.aws.route53-health-check-non-aws"]["usd"] + \
        3 * rates["dns.aws.route53-health-check-feature-non-aws"]["usd"]
    assert [l["monthly_min_usd"] for l in checks] == [per_check] * 3

    # Storage at the assumed size: the AWS store has a replica bucket (two copies), Azure is RA-GZRS; the
    # bucket Elastic Load Balancing delivers the AWS entry's access logs to holds logs, not models.
    gb = PRICES["assumptions"]["object_store_gb"]["value"]
    log_gb = PRICES["assumptions"]["access_log_gb"]["value"]
    storage = {l["item"]: l["monthly_min_usd"] for l in report["lines"] if l["kind"] == "storage"}
    assert storage == {
        "store-bucket: S3 Standard": round(rates["storage.aws.s3-standard"]["usd"] * gb, 2),
        "store-replica-bucket: S3 Standard": round(rates["storage.aws.s3-standard"]["usd"] * gb, 2),
        "chat-access-logs: S3 Standard (access logs)": round(rates["storage.aws.s3-standard"]["usd"] * log_gb, 2),
        "store-account: Blob Hot RAGZRS": round(rates["storage.azure.hot-ragzrs"]["usd"] * gb, 2),
        "store-bucket: GCS Standard dual-region US": round(rates["storage.gcp.standard-dual-region"]["usd"] * gb, 2),
    }
    # The AWS entry: the accelerator's hourly fee, the web ACL with its two rules (rate limit, common rule set).
    entry = {(l["cell"], l["item"]): l for l in report["lines"] if l["kind"] == "entry"}
    accelerator = entry[("aws-use1", "chat-accelerator: Global Accelerator")]
    assert accelerator["monthly_min_usd"] == monthly(rates["entry.aws.global-accelerator"]["usd"], 1) == 18.25
    waf = entry[("aws-use1", "chat-waf: WAF web ACL, 2 rules")]
    assert waf["monthly_min_usd"] == rates["entry.aws.waf-web-acl"]["usd"] + 2 * rates["entry.aws.waf-rule"]["usd"]
    assert waf["estimate"] is True and accelerator["estimate"] is False
    # Backups: every prod cell copies to a second region, so two copies each.
    per_copy = PRICES["assumptions"]["backup_gb_per_copy"]["value"]
    backup = {l["cell"]: l["monthly_min_usd"] for l in report["lines"] if l["kind"] == "backup"}
    assert backup == {cell: round(rates[f"backup.{cloud}"]["usd"] * per_copy * 2, 2)
                      for cell, cloud in (("aws-use1", "aws"), ("azure-eus", "azure"), ("gcp-usc1", "gcp"))}


# --- A hand-computed case and the budget ---------------------------------------------------------------
def _small_config(**targets: Any) -> dict[str, Any]:
    """One AWS cell: 2-3 system nodes, an on-demand L4 pool of 1-2 nodes, the store; nothing else priced."""
    cell = {"name": "aws-use1", "cloud": "aws", "region": "us-east-1",
            "cluster": {"version": "1.33", "system_pool": {"min_nodes": 2, "max_nodes": 3}},
            "gpu_pools": [{"name": "l4", "gpu": "l4", "gpus_per_node": 1, "min_nodes": 1, "max_nodes": 2}]}
    config = base_config(**{"aiinfra:cells": [cell]})
    if targets:
        config["aiinfra:targets"] = targets
    return config


def test_hand_computed_small_environment(scratch: ScratchProject, tmp_path: Path) -> None:
    scratch.write_stack("dev", _small_config(monthly_budget_usd=1000))
    proc, report = run_cost("dev", tmp_path, "--prices", REPO / "prices.json", cwd=scratch.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report is not None
    # g6.xlarge $0.805/h x 730 h = $587.65 per node; m6i.xlarge $0.192/h x 730 h = $140.16 per node;
    # EKS $0.10/h x 730 h = $73.00; S3 Standard $0.023/GB-month x 500 GB = $11.50.
    got = {(l["kind"], l["monthly_min_usd"], l["monthly_max_usd"]) for l in report["lines"]}
    assert got == {("GPU nodes", 587.65, 1175.30), ("system nodes", 280.32, 420.48),
                   ("cluster fees", 73.00, 73.00), ("storage", 11.50, 11.50)}
    assert report["total"] == {"min": 952.47, "max": 1680.28}
    assert report["by_cell"] == {"aws-use1": {"min": 952.47, "max": 1680.28}}
    assert report["budget"] == {"monthly_budget_usd": 1000, "over_budget": False, "over_by_usd": None,
                                "max_scale_over_by_usd": 680.28}
    assert "within budget" in proc.stdout and "at maximum scale" in proc.stdout


def test_over_budget_exits_1_naming_the_overage(scratch: ScratchProject, tmp_path: Path) -> None:
    scratch.write_stack("dev", _small_config(monthly_budget_usd=900))
    proc, report = run_cost("dev", tmp_path, "--prices", REPO / "prices.json", cwd=scratch.root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert report is not None and report["budget"]["over_by_usd"] == 52.47
    assert "over budget" in proc.stdout and "$952.47" in proc.stdout and "$52.47" in proc.stdout


def test_a_shipped_stack_with_a_small_budget_is_over(scratch: ScratchProject, tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    config["aiinfra:targets"] = {"monthly_budget_usd": 100}
    scratch.write_stack("dev", config)
    proc, report = run_cost("dev", tmp_path, "--prices", REPO / "prices.json", cwd=scratch.root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert report is not None
    over = round(report["total"]["min"] - 100, 2)
    assert report["budget"]["over_by_usd"] == over > 0
    assert f"${over:,.2f}" in proc.stdout


def test_missing_price_file_is_a_usage_error(scratch: ScratchProject, tmp_path: Path) -> None:
    scratch.write_stack("dev", _small_config())
    proc = run_preflight("cost", "dev", "--cwd", scratch.root)  # no prices.json in the scratch project
    assert proc.returncode == 2
    assert "prices.json" in proc.stderr and "--prices" in proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"machines": []}))
    proc = run_preflight("cost", "dev", "--cwd", scratch.root, "--prices", bad)
    assert proc.returncode == 2 and "hours_per_month" in proc.stderr


# --- Other global traffic providers ---------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["traffic_manager", "cloud_dns"])
def test_other_dns_providers_are_priced_or_listed_unpriced(scratch: ScratchProject, tmp_path: Path,
                                                           provider: str) -> None:
    from preflight.cost import estimate, load_prices
    from preflight.graph import render

    config = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    traffic = config["aiinfra:traffic"]
    traffic["provider"] = provider
    if provider == "traffic_manager":  # a CNAME to the profile, here in an Azure DNS zone
        config["aiinfra:dns"]["provider"] = "azure_dns"
    if provider == "cloud_dns":  # routing records in a Cloud DNS zone, which probes IPs at least every 30 s
        config["aiinfra:dns"]["provider"] = "cloud_dns"
        traffic["health_check"]["interval_seconds"] = 30
        # AKS entries prove their names with cert-manager, which has no Cloud DNS credentials yet: the Azure
        # cell serves no cluster endpoint here.
        for cell in config["aiinfra:cells"]:
            if cell["cloud"] == "azure":
                cell["endpoints"] = [e for e in cell["endpoints"] if e["mode"] != "cluster"]
    scratch.write_stack("prod", config)
    out = tmp_path / "plan.json"
    proc = scratch.plan("prod", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan = json.loads(out.read_text())
    report = estimate(plan, load_prices(REPO / "prices.json")).as_json()
    rates = PRICES["rates"]
    dns = {l["item"]: l for l in report["lines"] if l["kind"] == "DNS"}
    if provider == "traffic_manager":
        per_endpoint = rates["dns.azure.traffic-manager-external-endpoint"]["usd"] + \
            rates["dns.azure.traffic-manager-fast-interval-external"]["usd"]
        [profile] = [l for item, l in dns.items() if item.startswith("Traffic Manager")]
        assert profile["quantity_min"] == 3 and profile["monthly_min_usd"] == round(per_endpoint * 3, 2)
        assert dns["zone models.example.com"]["monthly_min_usd"] == rates["dns.azure.dns-zone"]["usd"]
        assert report["unpriced"] == []
    else:
        assert dns["zone models.example.com"]["monthly_min_usd"] == rates["dns.gcp.cloud-dns-zone"]["usd"]
        assert [u["type"] for u in report["unpriced"]] == ["gcp:compute/healthCheck:HealthCheck"]
    # The graph still reaches each cell's chat endpoint, whichever provider answers.
    text = render(plan, "mermaid")
    for cell in ("aws_use1", "gcp_usc1", *(("azure_eus",) if provider != "cloud_dns" else ())):
        assert f'g_global -->|"weight 1"| n_{cell}_chat' in text
