"""The entry, the parts every cloud shares: the environment's zone, a record for every public name,
the global name routed by every backend, an API key the server enforces; and the spec's rules.

What each cloud builds for its entry (certificates, load balancers, limits) is tested in
tests/components/test_serving_<cloud>.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ScratchProject, base_config, by_urn, cell_of, every, of_type, registry_config

ENDPOINT = "aiinfra:serving:ModelEndpoint"
RECORD_TYPES = {"aws:route53/record:Record": ("name", "type"),
                "gcp:dns/recordSet:RecordSet": ("name", "type"),
                "azure-native:dns:RecordSet": ("relativeRecordSetName", "recordType")}
CELL_HOSTS = {"dev": {"aws-use1": "aws-use1.dev.models.example.com"},
              "staging": {"aws-use2": "aws-use2.staging.models.example.com",
                          "gcp-use4": "gcp-use4.staging.models.example.com"},
              "prod": {"aws-use1": "aws-use1.models.example.com", "azure-eus": "azure-eus.models.example.com",
                       "gcp-usc1": "gcp-usc1.models.example.com"}}
GLOBAL = {"dev": None, "staging": "chat.staging.models.example.com", "prod": "chat.models.example.com"}


def _records(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for t in RECORD_TYPES for r in of_type(plan, t)]


def _descendants(plan: dict[str, Any], urn: str) -> list[dict[str, Any]]:
    out, frontier = [], {urn}
    for r in sorted(plan["resources"], key=lambda r: r["urn"].count("$")):
        if r["parent"] in frontier:
            out.append(r)
            frontier.add(r["urn"])
    return out


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_cell_hostname_has_a_record_in_the_zone_from_its_entry(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    [zone] = of_type(plan, "aiinfra:dns:DnsZone")
    index = by_urn(plan)
    for cell, host in CELL_HOSTS[stack].items():
        found = [r for r in of_type(plan, "aws:route53/record:Record") if r["inputs"]["name"] == host]
        assert len(found) == 1, (cell, host)
        record = found[0]
        assert record["inputs"]["type"] in ("A", "CNAME") and record["inputs"]["ttl"] == 60
        # After the zone (a dependency on the component is one on each resource it holds).
        inside_zone = zone["urn"].rsplit("::", 1)[0] + "$"
        assert any(d.startswith(inside_zone) for d in record["dependencies"]), record
        assert record["propertyDependencies"]["zoneId"]
        # The answer is the load balancer's address: an output of the cell's entry, not a constant.
        fed_by = {index[u]["type"] for u in record["propertyDependencies"].get("records", [])}
        assert fed_by and all(cell_of(plan, index[u]) == cell for u in record["propertyDependencies"]["records"])


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_entry_routes_its_own_and_the_global_name(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for endpoint in of_type(plan, ENDPOINT):
        if endpoint["outputs"]["mode"] != "cluster":
            continue
        cell = cell_of(plan, endpoint)
        wanted = {CELL_HOSTS[stack][cell], *([GLOBAL[stack]] if GLOBAL[stack] else [])}
        routed: set[str] = set()
        for r in _descendants(plan, endpoint["urn"]):
            spec = r["inputs"].get("spec") or {}
            if r["type"] == "kubernetes:networking.k8s.io/v1:Ingress":
                routed |= {rule["host"] for rule in spec.get("rules", [])}
            elif r["type"].endswith(":HTTPRoute"):
                routed |= set(spec.get("hostnames", []))
        assert wanted <= routed, (cell, wanted - routed)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_model_server_enforces_the_environments_api_key(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    [key] = of_type(plan, "random:index/randomPassword:RandomPassword")
    assert key["inputs"]["length"] >= 32 and key["inputs"]["special"] is False
    assert plan["outputs"]["api_key"] == "<secret>"
    index = by_urn(plan)
    for endpoint in (e for e in of_type(plan, ENDPOINT) if e["outputs"]["mode"] == "cluster"):
        mine = _descendants(plan, endpoint["urn"])
        [secret] = [r for r in mine if r["type"] == "kubernetes:core/v1:Secret"]
        data = secret["inputs"]["stringData"]
        assert data == "<secret>" or data == {"api-key": "<secret>"}
        assert key["urn"] in secret["propertyDependencies"]["stringData"]
        [deployment] = [r for r in mine if r["type"] == "kubernetes:apps/v1:Deployment"]
        [container] = deployment["inputs"]["spec"]["template"]["spec"]["containers"]
        [env] = [e for e in container["env"] if e["name"] == "VLLM_API_KEY"]
        assert env["valueFrom"]["secretKeyRef"] == {"name": secret["inputs"]["metadata"]["name"], "key": "api-key"}
        # Kept in the cell's own cloud secret store too, as a secret.
        stored = [r for r in mine if r["type"] in ("aws:secretsmanager/secretVersion:SecretVersion",
                                                    "gcp:secretmanager/secretVersion:SecretVersion",
                                                    "azure-native:keyvault:Secret")]
        assert len(stored) == 1 and "<secret>" in str(stored[0]["inputs"])
        assert endpoint["outputs"]["auth"] == "api_key" and index


# --- the spec ------------------------------------------------------------------------------------

ENTRY = {"name": "chat", "mode": "cluster", "hostname": "aws-use1.models.example.com",
         "model": {"artifact_path": "models/m/", "image": "docker.io/vllm/vllm-openai:v0.11.0", "port": 8000,
                   "size_gb": 4},
         "accelerator": {"gpu": "t4"}}
CLUSTER_CELL = {"name": "aws-use1", "cloud": "aws", "region": "us-east-1", "cluster": {"version": "1.33"},
                "gpu_pools": [{"name": "t4", "gpu": "t4", "max_nodes": 2}], "endpoints": [ENTRY]}


def _problems(scratch: ScratchProject, stack: str = "dev", **config: Any) -> str:
    scratch.write_stack(stack, base_config(**config))
    proc = scratch.plan(stack)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "0 resources were registered" in proc.stderr
    return proc.stderr


def test_a_public_name_needs_the_zone(scratch: ScratchProject) -> None:
    out = _problems(scratch, **{"aiinfra:cells": [CLUSTER_CELL]})
    assert "aiinfra:dns: missing; required: aiinfra:cells[0].endpoints[0].hostname" in out


def test_names_outside_the_zone_are_refused(scratch: ScratchProject) -> None:
    out = _problems(scratch, **{"aiinfra:cells": [CLUSTER_CELL], "aiinfra:dns": {"zone": "example.org"}})
    assert "aiinfra:cells[0].endpoints[0].hostname: got 'aws-use1.models.example.com'; allowed: a name in the " \
           "zone 'example.org'" in out


def test_the_zone_lives_in_aiinfra_dns_not_traffic(scratch: ScratchProject) -> None:
    out = _problems(scratch, **{"aiinfra:cells": [CLUSTER_CELL], "aiinfra:dns": {"zone": "models.example.com"},
                                "aiinfra:traffic": {"hostname": "chat.models.example.com",
                                                    "zone": "models.example.com"}})
    assert "aiinfra:traffic.zone: got 'models.example.com'; allowed: nothing here; the zone is aiinfra:dns" in out


def test_routing_records_need_a_zone_of_their_provider(scratch: ScratchProject) -> None:
    out = _problems(scratch, **{"aiinfra:cells": [CLUSTER_CELL],
                                "aiinfra:dns": {"zone": "models.example.com", "provider": "azure_dns"},
                                "aiinfra:traffic": {"hostname": "chat.models.example.com"}})
    assert "aiinfra:dns.provider: got 'azure_dns'; allowed with traffic provider route53: route53" in out
    assert "aiinfra:dns.provider: got 'azure_dns'; allowed: azure_dns only with a azure cell" in out


def test_prod_entries_authenticate(scratch: ScratchProject) -> None:
    cell = {**CLUSTER_CELL, "endpoints": [{**ENTRY, "auth": "none"}]}
    out = _problems(scratch, "prod", **{"aiinfra:environment": "prod", "aiinfra:cells": [cell],
                                         "aiinfra:dns": {"zone": "models.example.com"}})
    assert "aiinfra:cells[0].endpoints[0].auth: got 'none'; allowed: api_key in prod" in out


def test_dev_may_declare_an_open_entry(scratch: ScratchProject) -> None:
    cell = {**CLUSTER_CELL, "endpoints": [{**ENTRY, "auth": "none"}]}
    scratch.write_stack("dev", base_config(**{"aiinfra:cells": [cell], "aiinfra:dns": {"zone": "models.example.com"},
                                              **registry_config()}))
    proc = scratch.plan("dev", "--json", str(scratch.root / "plan.json"))
    assert proc.returncode == 0, proc.stderr
    import json
    plan = json.loads((scratch.root / "plan.json").read_text())
    assert not of_type(plan, "random:index/randomPassword:RandomPassword")
    [deployment] = every(plan, "kubernetes:apps/v1:Deployment")
    template = deployment["inputs"]["spec"]["template"]
    assert template["metadata"]["annotations"]["aiinfra.io/auth"] == "none"
    assert not any(e["name"] == "VLLM_API_KEY" for e in template["spec"]["containers"][0]["env"])


# --- the library: a GlobalEndpoint in the environment's zone -----------------------------------------

LIBRARY = """
import pulumi
import pulumi_azure_native as azure_native
import pulumi_aws as aws
from components.common import Environment
from components.dns import DnsOptions, DnsZone, DnsZoneArgs
from components.traffic import Backend, GlobalEndpoint, GlobalEndpointArgs, TrafficOptions

env = Environment(name="dev", tags={"owner": "o", "cost-center": "c"})
azure = azure_native.Provider("azure", location="eastus")
zone = DnsZone("dns", DnsZoneArgs(options=DnsOptions(zone="models.example.com", provider="azure_dns"),
                                  environment=env, provider=azure, resource_group_name="rg-dns"))
backends = [Backend(name="a", cloud="aws", region="us-east-1", hostname="a.models.example.com", ip="198.51.100.1"),
            Backend(name="b", cloud="azure", region="eastus", hostname="b.models.example.com", ip="198.51.100.2")]
GlobalEndpoint("tm", GlobalEndpointArgs(
    options=TrafficOptions(hostname="chat.models.example.com", provider="PROVIDER"), backends=backends,
    environment=env, resource_group_name="rg-tm", zone=zone), pulumi.ResourceOptions(providers=[azure]))
"""


def _library(tmp_path: Any, provider: str) -> Any:
    import textwrap
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: lib\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(LIBRARY).replace("PROVIDER", provider))
    from tests.conftest import run_preflight
    return run_preflight("plan", "dev", "--cwd", tmp_path, "--json", tmp_path / "plan.json")


def test_a_global_endpoint_puts_its_name_in_the_environments_zone(tmp_path: Any) -> None:
    import json
    proc = _library(tmp_path, "traffic_manager")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    [cname] = [r for r in of_type(plan, "azure-native:dns:RecordSet") if r["name"] == "tm-cname"]
    assert (cname["inputs"]["relativeRecordSetName"], cname["inputs"]["recordType"]) == ("chat", "CNAME")
    assert cname["inputs"]["zoneName"] == "<unknown>" and cname["propertyDependencies"]["zoneName"]
    assert len(of_type(plan, "azure-native:dns:Zone")) == 1  # the DnsZone's, no second one


def test_routing_records_refuse_a_zone_of_another_provider(tmp_path: Any) -> None:
    proc = _library(tmp_path, "route53")
    assert proc.returncode == 2
    assert "GlobalEndpointArgs.zone: got 'azure_dns'; allowed with provider route53: a zone on route53" in proc.stderr
