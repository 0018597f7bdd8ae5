"""The shipped environments end to end: global traffic, backups and `preflight whatif`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ScratchProject, base_config, by_urn, cell_of, of_type, run_preflight

GLOBAL = "aiinfra:traffic:GlobalEndpoint"
BACKUP = "aiinfra:backup:BackupPlan"


def test_prod_routes_one_hostname_over_all_three_clouds(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    [endpoint] = of_type(plan, GLOBAL)
    out = endpoint["outputs"]
    assert out["hostname"] == "chat.models.example.com"
    assert sorted(b["name"] for b in out["backends"]) == ["aws-use1", "azure-eus", "gcp-usc1"]
    assert {b["weight"] for b in out["backends"]} == {1}  # round robin: equal weights
    assert out["failover_seconds"] == 3 * 10 + 10 + 60
    checks = {c["name"].removeprefix("global-check-"): c for c in of_type(plan, "aws:route53/healthCheck:HealthCheck")}
    assert sorted(checks) == ["aws-use1", "azure-eus", "gcp-usc1"]
    for cell, check in checks.items():
        # With the entry's own address the check sends the global name there, as clients do; an entry
        # known by name only is probed under that name.
        if check["inputs"].get("ipAddress"):
            assert check["inputs"]["fqdn"] == "chat.models.example.com", cell
        else:
            assert check["inputs"]["fqdn"] == f"{cell}.models.example.com", cell
    assert checks["azure-eus"]["inputs"].get("ipAddress") and checks["gcp-usc1"]["inputs"].get("ipAddress")
    for check in checks.values():
        assert (check["inputs"]["type"], check["inputs"]["resourcePath"], check["inputs"]["enableSni"]) == (
            "HTTPS", "/health", True)
    records = [r for r in of_type(plan, "aws:route53/record:Record") if r["inputs"].get("setIdentifier")]
    assert len(records) == 3 and all(r["inputs"]["healthCheckId"] for r in records)
    assert plan["outputs"]["traffic"]["failover_seconds"] == 100


def test_global_endpoint_is_the_only_thing_spanning_cells(plans: dict[str, Any]) -> None:
    plan = plans["prod"]
    index = by_urn(plan)
    for r in plan["resources"]:
        mine = cell_of(plan, r)
        if mine is None:
            continue
        edges = set(r["dependencies"]) | {u for us in r["propertyDependencies"].values() for u in us}
        for urn in edges:
            other = cell_of(plan, index[urn]) if urn in index else None
            assert other in (None, mine), f"{r['urn']} depends on {urn} in cell {other}"


def test_staging_fails_over_between_two_clouds_with_exactly_one_primary(plans: dict[str, Any]) -> None:
    plan = plans["staging"]
    [endpoint] = of_type(plan, GLOBAL)
    assert sorted(b["name"] for b in endpoint["outputs"]["backends"]) == ["aws-use2", "gcp-use4"]
    roles = [p["type"] for r in of_type(plan, "aws:route53/record:Record")
             for p in r["inputs"].get("failoverRoutingPolicies") or []]
    assert roles.count("PRIMARY") == 1 and roles.count("SECONDARY") >= 1


@pytest.mark.parametrize("stack,cells,copies,immutable", [
    ("prod", {"aws-use1", "gcp-usc1", "azure-eus"}, {"us-west-2", "us-east1", "westus"}, True),
    ("staging", {"aws-use2", "gcp-use4"}, {None}, False),
    ("dev", set(), set(), False),
])
def test_backups_per_environment(plans: dict[str, Any], stack: str, cells: set[str], copies: set[Any],
                                 immutable: bool) -> None:
    plan = plans[stack]
    backups = of_type(plan, BACKUP)
    assert {cell_of(plan, b) for b in backups} == cells
    assert {b["outputs"].get("copy_to_region") for b in backups} == copies
    for b in backups:
        assert b["outputs"]["rpo_minutes"] <= 1440
        assert b["outputs"]["immutable"] is immutable


def test_rto_target_tighter_than_the_failover_time_is_rejected(scratch: ScratchProject) -> None:
    cell = {"name": "aws-use1", "cloud": "aws", "region": "us-east-1", "cluster": {"version": "1.33"},
            "gpu_pools": [{"name": "l4", "gpu": "l4", "max_nodes": 2}],
            "endpoints": [{"name": "chat", "mode": "cluster", "hostname": "aws-use1.models.example.com",
                           "model": {"artifact_path": "m/", "image": "repo/server:1.0"}, "accelerator": {"gpu": "l4"}}]}
    scratch.write_stack("dev", base_config(**{
        "aiinfra:cells": [cell],
        "aiinfra:traffic": {"hostname": "chat.models.example.com", "zone": "models.example.com"},
        "aiinfra:targets": {"rto_seconds": 60}}))
    proc = scratch.plan("dev")
    assert proc.returncode == 2
    assert "aiinfra:targets.rto_seconds: got 60; allowed: at least 180" in proc.stderr
    assert "0 resources were registered before the error" in proc.stderr


@pytest.mark.parametrize("lose", ["aws", "azure", "gcp", "aws-use1", "gcp-usc1", "azure-eus", "us-east-1"])
def test_prod_survives_losing_any_cloud_cell_or_region(lose: str, tmp_path: Path) -> None:
    out = tmp_path / "whatif.json"
    proc = run_preflight("whatif", "prod", "--lose", lose, "--json", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["ok"] is True and report["lost_cells"]
    assert {c["target"] for c in report["checks"]} >= {"traffic backends", "min GPU replicas", "failover time"}


def test_a_variant_that_misses_a_target_exits_1_and_names_it() -> None:
    proc = run_preflight("whatif", "staging", "--lose", "aws")
    assert proc.returncode == 1
    assert "targets missed: RPO aws-use2" in proc.stdout


def test_whatif_unknown_name_is_an_error() -> None:
    proc = run_preflight("whatif", "prod", "--lose", "oracle")
    assert proc.returncode == 2
    assert "'oracle' is not a cell, region or cloud" in proc.stderr and "aws-use1" in proc.stderr
