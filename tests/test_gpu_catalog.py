"""The GPU catalog: every fact filled in, the right machine per (cloud, GPU, count), clear errors."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import FrozenInstanceError

import pytest

from components.catalog.gpus import (
    CLUSTER_FEE_SOURCES, CLUSTER_FEE_USD_PER_HOUR, GKE_ACCELERATORS, GPU_MACHINES, GPU_NAMES,
    SYSTEM_DEFAULTS, SYSTEM_MACHINES, CatalogError, MachineType, cluster_fee_usd_per_hour,
    gpu_machine, gpu_offer_problem, offered_counts, offered_gpus, system_machine,
)
from components.catalog.regions import CLOUDS

ALL = GPU_MACHINES + SYSTEM_MACHINES


def test_required_gpu_names_are_known() -> None:
    assert {"t4", "l4", "a10g", "a100-40gb", "a100-80gb", "h100"} <= set(GPU_NAMES)
    assert len(set(GPU_NAMES)) == len(GPU_NAMES)


@pytest.mark.parametrize("gpu", GPU_NAMES)
def test_every_gpu_is_offered_somewhere(gpu: str) -> None:
    assert any(offered_counts(cloud, gpu) for cloud in CLOUDS)


def test_a10g_is_aws_only() -> None:
    assert [c for c in CLOUDS if offered_counts(c, "a10g")] == ["aws"]


@pytest.mark.parametrize("m", ALL, ids=lambda m: f"{m.cloud}:{m.name}")
def test_every_entry_has_its_facts(m: MachineType) -> None:
    assert m.cloud in CLOUDS
    assert isinstance(m.vcpus, int) and m.vcpus > 0
    assert isinstance(m.memory_gib, float) and m.memory_gib > 0
    assert isinstance(m.usd_per_hour, float) and m.usd_per_hour > 0
    assert m.source.strip() and m.price_region.strip()
    assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", m.as_of)
    assert m.arch == "x86_64"
    if m.spot_usd_per_hour is None:
        assert not m.spot_is_estimate and m.spot_source is None
    else:
        assert m.spot_is_estimate and m.spot_source and "estimate" in m.spot_source
        assert 0 < m.spot_usd_per_hour < m.usd_per_hour
    if m.price_is_estimate:
        assert "estimate" in m.source or "confirm" in m.source


@pytest.mark.parametrize("m", GPU_MACHINES, ids=lambda m: f"{m.cloud}:{m.name}")
def test_gpu_entries_name_a_known_gpu_and_count(m: MachineType) -> None:
    assert m.gpu in GPU_NAMES
    assert m.gpu_count in (1, 2, 4, 8)
    assert m.usd_per_gpu_hour is not None and m.usd_per_gpu_hour > 0


def test_each_cloud_gpu_count_appears_once_and_names_are_unique() -> None:
    offers = Counter((m.cloud, m.gpu, m.gpu_count) for m in GPU_MACHINES)
    assert [k for k, n in offers.items() if n > 1] == []
    names = Counter((m.cloud, m.name) for m in ALL)
    assert [k for k, n in names.items() if n > 1] == []


def test_gcp_entries_have_accelerator_and_others_do_not() -> None:
    for m in GPU_MACHINES:
        if m.cloud == "gcp":
            assert m.gpu is not None and m.accelerator == GKE_ACCELERATORS[m.gpu], m
        else:
            assert m.accelerator is None, m
    assert all(m.accelerator is None for m in SYSTEM_MACHINES)


def test_gcp_machine_names_match_gpu_count() -> None:
    for m in GPU_MACHINES:
        if m.cloud == "gcp" and m.name.startswith(("a2-", "a3-")):
            assert m.name.endswith(f"-{m.gpu_count}g"), m.name


def test_azure_names_are_vm_sizes() -> None:
    assert all(m.name.startswith("Standard_") for m in ALL if m.cloud == "azure")


def test_gpu_machine_picks_the_right_type() -> None:
    aws = gpu_machine("aws", "l4", 1)
    assert (aws.name, aws.gpu, aws.gpu_count, aws.arch) == ("g6.xlarge", "l4", 1, "x86_64")
    gcp = gpu_machine("gcp", "l4", 1)
    assert (gcp.name, gcp.accelerator) == ("g2-standard-4", "nvidia-l4")
    assert gpu_machine("azure", "a100-80gb", 1).name == "Standard_NC24ads_A100_v4"
    assert gpu_machine("azure", "t4", 1).name == "Standard_NC4as_T4_v3"
    assert gpu_machine("aws", "a100-40gb", 8).name == "p4d.24xlarge"
    assert gpu_machine("gcp", "h100", 8).accelerator == "nvidia-h100-80gb"
    assert gpu_machine("gcp", "a100-40gb", 2).accelerator == "nvidia-tesla-a100"


def test_machine_types_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        gpu_machine("aws", "t4", 1).name = "x"  # type: ignore[misc]


def test_unknown_gpu_lists_known_names() -> None:
    with pytest.raises(CatalogError) as err:
        gpu_machine("aws", "v100", 1)
    assert isinstance(err.value, ValueError)
    for name in GPU_NAMES:
        assert name in str(err.value)


def test_cloud_without_the_gpu_lists_its_gpus() -> None:
    with pytest.raises(CatalogError, match="azure does not offer l4") as err:
        gpu_machine("azure", "l4", 1)
    text = str(err.value)
    for name in ("t4", "a100-40gb", "a100-80gb", "h100"):
        assert name in text
    assert offered_gpus("azure") == [g for g in GPU_NAMES if g in text.split("offers: ")[1]]


def test_unoffered_count_lists_the_offered_counts() -> None:
    with pytest.raises(CatalogError) as err:
        gpu_machine("aws", "a100-40gb", 1)
    assert "aws offers a100-40gb only as: 8 GPUs (p4d.24xlarge)" in str(err.value)
    assert offered_counts("aws", "a100-40gb") == [8]


def test_offered_counts() -> None:
    assert offered_counts("aws", "t4") == [1, 4, 8]
    assert offered_counts("azure", "t4") == [1, 4]
    assert offered_counts("gcp", "t4") == [1, 2, 4]
    assert offered_counts("gcp", "l4") == [1, 2, 4, 8]
    assert offered_counts("azure", "l4") == []
    assert offered_counts("gcp", "a10g") == []


@pytest.mark.parametrize("cloud,gpu,count", [("aws", "l4", 1), ("gcp", "h100", 8), ("azure", "h100", 2)])
def test_offer_problem_is_none_when_offered(cloud: str, gpu: str, count: int) -> None:
    assert gpu_offer_problem(cloud, gpu, count) is None


@pytest.mark.parametrize("cloud,gpu,count,mentions", [
    ("aws", "nope", 1, "a100-80gb"),
    ("azure", "l4", 1, "h100"),
    ("aws", "a100-40gb", 1, "8 GPUs (p4d.24xlarge)"),
    ("gcp", "t4", 8, "4 GPUs (n1-standard-16)"),
    ("aws", "t4", 0, "1 GPU (g4dn.xlarge)"),
    ("oracle", "t4", 1, "aws, azure, gcp"),
])
def test_offer_problem_says_what_is_allowed(cloud: str, gpu: str, count: int, mentions: str) -> None:
    problem = gpu_offer_problem(cloud, gpu, count)
    assert problem is not None and problem.startswith("allowed: ")
    assert mentions in problem
    with pytest.raises(CatalogError):
        gpu_machine(cloud, gpu, count)


def test_system_machines() -> None:
    assert system_machine("aws").name == "m6i.xlarge"
    assert system_machine("azure").name == "Standard_D4s_v5"
    assert system_machine("gcp").name == "e2-standard-4"
    m = system_machine("aws", "m6i.large")
    assert (m.gpu, m.gpu_count, m.vcpus, m.memory_gib, m.usd_per_hour) == (None, 0, 2, 8.0, 0.096)
    assert m.usd_per_gpu_hour is None
    assert set(SYSTEM_DEFAULTS) == set(CLOUDS)
    with pytest.raises(CatalogError, match="e2-standard-4") as err:
        system_machine("gcp", "n1-standard-1")
    assert "n2-standard-4" in str(err.value)
    with pytest.raises(CatalogError):
        system_machine("oracle")


def test_cluster_fees() -> None:
    assert CLUSTER_FEE_USD_PER_HOUR["eks"] == 0.10
    assert CLUSTER_FEE_USD_PER_HOUR["gke"] == 0.10
    assert CLUSTER_FEE_USD_PER_HOUR["aks-free"] == 0.0
    assert CLUSTER_FEE_USD_PER_HOUR["aks-standard"] == 0.10
    assert set(CLUSTER_FEE_SOURCES) == set(CLUSTER_FEE_USD_PER_HOUR)
    assert all(s.strip() for s in CLUSTER_FEE_SOURCES.values())
    assert cluster_fee_usd_per_hour("aws") == 0.10
    assert cluster_fee_usd_per_hour("azure") == 0.0
    assert cluster_fee_usd_per_hour("azure", "Standard") == 0.10
    with pytest.raises(CatalogError):
        cluster_fee_usd_per_hour("azure", "gold")
