"""GlobalEndpoint on Route 53, Traffic Manager and Cloud DNS, from offline plans of tiny programs.

Each plan runs a scratch Pulumi project whose `__main__.py` builds the
GlobalEndpoints described in `case.json` (one per policy the provider supports)
under an explicit provider; rejected combinations run without explicit
providers so that "0 resources registered" proves nothing was created.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components.traffic import BackendOptions, TrafficOptions, failover_seconds, resolve_backends, traffic_problems
from components.traffic.args import PROBE_SPREAD_INTERVALS
from components.traffic.locations import COORDINATES, nearest_region
from components.traffic.traffic_manager import geo_codes
from tests.conftest import of_type, run_preflight

HOST = "chat.example.com"
ZONE = "example.com"
TAGS = {"owner": "ml-platform", "cost-center": "cc-1234"}

AWS = {"name": "aws-use1", "cloud": "aws", "region": "us-east-1", "hostname": "chat.aws-use1.example.net",
       "ip": "198.51.100.10"}
AZURE = {"name": "azure-weu", "cloud": "azure", "region": "westeurope", "hostname": "chat.azure-weu.example.net",
         "ip": "198.51.100.20"}
GCP = {"name": "gcp-ase1", "cloud": "gcp", "region": "asia-southeast1", "hostname": "chat.gcp-ase1.example.net",
       "ip": "198.51.100.30"}
ALL = [AWS, AZURE, GCP]

MAIN = textwrap.dedent('''
    """Test program: one GlobalEndpoint per entry of case.json."""
    import json
    from pathlib import Path

    import pulumi
    import pulumi_aws as aws
    import pulumi_azure_native as azure_native
    import pulumi_gcp as gcp

    from components.common import Environment
    from components.traffic import Backend, GlobalEndpoint, GlobalEndpointArgs, TrafficOptions

    case = json.loads((Path(__file__).parent / "case.json").read_text())
    env = Environment(name="prod", tags={"owner": "ml-platform", "cost-center": "cc-1234"})
    providers = {}


    def provider(kind):
        if not case["explicit_provider"]:
            return None
        if kind not in providers:
            providers[kind] = {
                "route53": lambda: aws.Provider("aws", region="us-east-1"),
                "traffic_manager": lambda: azure_native.Provider("azure", location="eastus"),
                "cloud_dns": lambda: gcp.Provider("gcp", project="fx-project", region="us-central1"),
            }[kind]()
        return pulumi.ResourceOptions(providers=[providers[kind]])


    for entry in case["endpoints"]:
        options = TrafficOptions.model_validate(entry["options"])
        endpoint = GlobalEndpoint(entry["name"], GlobalEndpointArgs(
            options=options,
            backends=[Backend(**b) for b in entry["backends"]],
            environment=env,
            resource_group_name=entry.get("resource_group_name"),
            project=entry.get("project"),
            dns_zone_resource_group_name=entry.get("dns_zone_resource_group_name")),
            provider(options.provider))
        pulumi.export(f"{entry['name']}-failover-seconds", endpoint.failover_seconds)
        pulumi.export(f"{entry['name']}-health-checks", endpoint.health_check_ids)
''')


def _backends(*items: dict[str, Any], ips: bool = True, **settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Backend dicts; `ips=False` drops the addresses; `settings[name]` sets weight/priority/geo."""
    out = []
    for item in items:
        b = dict(item)
        if not ips:
            b["ip"] = None
        b.update(settings.get(b["name"].replace("-", "_"), {}))
        out.append(b)
    return out


def _endpoint(name: str, provider: str, policy: str, backends: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    extra = {k: options.pop(k) for k in ("resource_group_name", "project", "dns_zone_resource_group_name")
             if k in options}
    return {"name": name, "backends": backends,
            "options": {"hostname": HOST, "zone": ZONE, "provider": provider, "policy": policy, **options}, **extra}


def _plan(root: Path, endpoints: list[dict[str, Any]], *, explicit_provider: bool = True) -> tuple[int, str, dict[str, Any]]:
    """Write the project, plan it; (exit code, output, plan JSON or {})."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "fx-traffic", "runtime": "python",
                                                      "stackConfigDir": "stacks"}))
    (root / "stacks").mkdir(exist_ok=True)
    (root / "stacks" / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": {}}))
    (root / "__main__.py").write_text(MAIN)
    (root / "case.json").write_text(json.dumps({"explicit_provider": explicit_provider, "endpoints": endpoints}))
    out = root / "plan.json"
    proc = run_preflight("plan", "test", "--cwd", root, "--json", out)
    plan = json.loads(out.read_text()) if proc.returncode == 0 else {}
    if plan:  # every cloud resource goes through the program's explicit provider
        providers = {r["urn"] for r in plan["resources"] if r["type"].startswith("pulumi:providers:")}
        assert len(providers) == 1
        assert all(r["provider"] in providers for r in plan["resources"] if r["custom"]
                   and not r["type"].startswith("pulumi:providers:"))
    return proc.returncode, proc.stdout + proc.stderr, plan


def _component(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in of_type(plan, "aiinfra:traffic:GlobalEndpoint") if r["name"] == name]
    return found


def _children(plan: dict[str, Any], name: str, type_token: str) -> list[dict[str, Any]]:
    urn = _component(plan, name)["urn"]
    return [r for r in of_type(plan, type_token) if r["parent"] == urn]


def _by_name(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in resources}


# ------------------------------------------------------------------------------------------------
# Route 53
# ------------------------------------------------------------------------------------------------

R53_RECORD, R53_CHECK, R53_ZONE = "aws:route53/record:Record", "aws:route53/healthCheck:HealthCheck", "aws:route53/zone:Zone"


@pytest.fixture(scope="module")
def route53_plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    fast = {"interval_seconds": 10, "failure_threshold": 2, "probe_regions": ["us-east-1", "eu-west-1", "ap-southeast-1"]}
    code, output, plan = _plan(tmp_path_factory.mktemp("route53"), [
        _endpoint("r53-rr", "route53", "round_robin", _backends(*ALL, ips=False), zone_id="Z0123456789"),
        _endpoint("r53-weighted", "route53", "weighted",
                  _backends(*ALL, ips=False, aws_use1={"weight": 3}, azure_weu={"weight": 1}, gcp_ase1={"weight": 0}),
                  ttl=30, health_check=fast),
        _endpoint("r53-random", "route53", "random", _backends(*ALL), health_check={"protocol": "TCP", "port": 8443}),
        _endpoint("r53-failover", "route53", "failover", _backends(*ALL, ips=False)),
        _endpoint("r53-failover-group", "route53", "failover",
                  _backends(*ALL, ips=False, aws_use1={"priority": 1}, azure_weu={"priority": 2}, gcp_ase1={"priority": 2})),
        _endpoint("r53-latency", "route53", "latency", _backends(*ALL, ips=False)),
        _endpoint("r53-geo", "route53", "geo",
                  _backends(*ALL, ips=False, aws_use1={"geo": ["NA", "*"]}, azure_weu={"geo": ["EU", "DE"]},
                            gcp_ase1={"geo": ["AS", "OC"]})),
    ])
    assert code == 0, output
    return plan


def _check_per_backend(plan: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """One health check per backend, keyed by backend name; every record references its backend's check."""
    checks = _by_name(_children(plan, name, R53_CHECK))
    assert set(checks) == {f"{name}-check-{b['name']}" for b in ALL}
    by_urn = {c["urn"]: c for c in checks.values()}
    for record in _children(plan, name, R53_RECORD):
        if record["inputs"].get("aliases"):
            continue
        [check_urn] = record["propertyDependencies"]["healthCheckId"]
        check = by_urn[check_urn]
        backend = check["name"].removeprefix(f"{name}-check-")
        target = record["inputs"]["records"][0]
        b = next(b for b in ALL if b["name"] == backend)
        assert target in (b["hostname"], b["ip"]), (record["name"], target, backend)
    return {c["name"].removeprefix(f"{name}-check-"): c for c in checks.values()}


def test_route53_round_robin_is_equal_weights_of_cnames_with_a_check_each(route53_plan: dict[str, Any]) -> None:
    plan = route53_plan
    checks = _check_per_backend(plan, "r53-rr")
    for b in ALL:
        inputs = checks[b["name"]]["inputs"]
        assert inputs["type"] == "HTTPS" and inputs["fqdn"] == b["hostname"] and "ipAddress" not in inputs
        assert inputs["resourcePath"] == "/health" and inputs["port"] == 443
        assert inputs["requestInterval"] == 30 and inputs["failureThreshold"] == 3
        assert inputs["enableSni"] is True and inputs["measureLatency"] is True
        assert "regions" not in inputs  # Route 53's default: every checker region
        assert inputs["tags"]["owner"] == "ml-platform" and inputs["tags"]["environment"] == "prod"
    records = _children(plan, "r53-rr", R53_RECORD)
    assert len(records) == 3
    for r in records:
        i = r["inputs"]
        assert i["type"] == "CNAME" and i["name"] == HOST and i["ttl"] == 60 and i["zoneId"] == "Z0123456789"
        assert i["weightedRoutingPolicies"] == [{"weight": 1}]
    assert {r["inputs"]["setIdentifier"] for r in records} == {b["name"] for b in ALL}
    assert not _children(plan, "r53-rr", R53_ZONE)  # zone_id given: no zone created
    component = _component(plan, "r53-rr")
    assert component["outputs"]["failover_seconds"] == 3 * 30 + 30 + 60
    assert component["outputs"]["backends"] == [
        {"name": b["name"], "weight": 1, "priority": None, "region": b["region"]} for b in ALL]
    assert plan["outputs"]["r53-rr-failover-seconds"] == 180
    assert len(plan["outputs"]["r53-rr-health-checks"]) == 3


def test_route53_weighted_uses_the_weights_fast_checks_and_a_protected_zone(route53_plan: dict[str, Any]) -> None:
    plan = route53_plan
    checks = _check_per_backend(plan, "r53-weighted")
    for check in checks.values():
        inputs = check["inputs"]
        assert inputs["requestInterval"] == 10 and inputs["failureThreshold"] == 2
        assert inputs["regions"] == ["us-east-1", "eu-west-1", "ap-southeast-1"]
    weights = {r["inputs"]["setIdentifier"]: (r["inputs"]["weightedRoutingPolicies"], r["inputs"]["ttl"])
               for r in _children(plan, "r53-weighted", R53_RECORD)}
    assert weights == {"aws-use1": ([{"weight": 3}], 30), "azure-weu": ([{"weight": 1}], 30),
                       "gcp-ase1": ([{"weight": 0}], 30)}
    [zone] = _children(plan, "r53-weighted", R53_ZONE)
    assert zone["inputs"]["name"] == ZONE and zone["inputs"]["tags"]["cost-center"] == "cc-1234"
    assert zone["options"]["protect"] is True and zone["options"]["retainOnDelete"] is True
    for record in _children(plan, "r53-weighted", R53_RECORD):
        assert record["propertyDependencies"]["zoneId"] == [zone["urn"]]
        assert not record["options"]["protect"]
    # 2 failures x 10 s + one 10 s interval of checker spread + TTL 30
    assert _component(plan, "r53-weighted")["outputs"]["failover_seconds"] == 60


def test_route53_random_is_multivalue_a_records_on_the_ips(route53_plan: dict[str, Any]) -> None:
    plan = route53_plan
    checks = _check_per_backend(plan, "r53-random")
    for b in ALL:
        inputs = checks[b["name"]]["inputs"]
        assert inputs["type"] == "TCP" and inputs["port"] == 8443 and inputs["ipAddress"] == b["ip"]
        assert "resourcePath" not in inputs and "enableSni" not in inputs
    records = _children(plan, "r53-random", R53_RECORD)
    assert sorted(r["inputs"]["records"][0] for r in records) == sorted(b["ip"] for b in ALL)
    for r in records:
        assert r["inputs"]["type"] == "A" and r["inputs"]["multivalueAnswerRoutingPolicy"] is True
        assert "weightedRoutingPolicies" not in r["inputs"]


def test_route53_failover_has_one_primary_and_chains_the_backups(route53_plan: dict[str, Any]) -> None:
    plan = route53_plan
    _check_per_backend(plan, "r53-failover")
    records = _children(plan, "r53-failover", R53_RECORD)
    at = {}
    for r in records:
        at.setdefault(r["inputs"]["name"], {})[r["inputs"]["failoverRoutingPolicies"][0]["type"]] = r
    assert set(at) == {HOST, f"backup-2.{HOST}"}
    top = at[HOST]
    # Exactly one PRIMARY at the hostname: the first backend (default priority 1).
    assert set(top) == {"PRIMARY", "SECONDARY"}
    assert top["PRIMARY"]["inputs"]["records"] == [AWS["hostname"]]
    alias = top["SECONDARY"]["inputs"]["aliases"][0]
    assert alias["name"] == f"backup-2.{HOST}" and alias["evaluateTargetHealth"] is True
    assert "ttl" not in top["SECONDARY"]["inputs"] and "records" not in top["SECONDARY"]["inputs"]
    assert at[f"backup-2.{HOST}"]["PRIMARY"]["inputs"]["records"] == [AZURE["hostname"]]
    assert at[f"backup-2.{HOST}"]["SECONDARY"]["inputs"]["records"] == [GCP["hostname"]]
    # The alias waits for the records it points at.
    assert {r["urn"] for r in at[f"backup-2.{HOST}"].values()} <= set(top["SECONDARY"]["dependencies"])
    component = _component(plan, "r53-failover")
    assert [(b["name"], b["priority"]) for b in component["outputs"]["backends"]] == [
        ("aws-use1", 1), ("azure-weu", 2), ("gcp-ase1", 3)]


def test_route53_failover_level_with_two_backends_is_a_weighted_set(route53_plan: dict[str, Any]) -> None:
    plan = route53_plan
    _check_per_backend(plan, "r53-failover-group")
    records = _children(plan, "r53-failover-group", R53_RECORD)
    top = [r for r in records if r["inputs"]["name"] == HOST]
    primaries = [r for r in top if r["inputs"]["failoverRoutingPolicies"] == [{"type": "PRIMARY"}]]
    assert len(primaries) == 1 and primaries[0]["inputs"]["records"] == [AWS["hostname"]]
    [secondary] = [r for r in top if r["inputs"]["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]]
    assert secondary["inputs"]["aliases"][0]["name"] == f"priority-2.{HOST}"
    group = [r for r in records if r["inputs"]["name"] == f"priority-2.{HOST}"]
    assert sorted(r["inputs"]["records"][0] for r in group) == sorted([AZURE["hostname"], GCP["hostname"]])
    assert all(r["inputs"]["weightedRoutingPolicies"] == [{"weight": 1}] for r in group)


def test_route53_latency_maps_every_backend_to_an_aws_region(route53_plan: dict[str, Any]) -> None:
    plan = route53_plan
    _check_per_backend(plan, "r53-latency")
    regions = {r["inputs"]["setIdentifier"]: r["inputs"]["latencyRoutingPolicies"][0]["region"]
               for r in _children(plan, "r53-latency", R53_RECORD)}
    assert regions == {"aws-use1": "us-east-1", "azure-weu": "eu-west-2", "gcp-ase1": "ap-southeast-1"}


def test_route53_geo_has_a_record_per_location_and_a_default(route53_plan: dict[str, Any]) -> None:
    plan = route53_plan
    checks = _check_per_backend(plan, "r53-geo")
    locations = {r["inputs"]["setIdentifier"]: (r["inputs"]["geolocationRoutingPolicies"][0],
                                                 r["propertyDependencies"]["healthCheckId"])
                 for r in _children(plan, "r53-geo", R53_RECORD)}
    assert {k: v[0] for k, v in locations.items()} == {
        "aws-use1-na": {"continent": "NA"}, "aws-use1-default": {"country": "*"},
        "azure-weu-eu": {"continent": "EU"}, "azure-weu-de": {"country": "DE"},
        "gcp-ase1-as": {"continent": "AS"}, "gcp-ase1-oc": {"continent": "OC"}}
    for ident, (_, deps) in locations.items():
        backend = ident.rsplit("-", 1)[0]
        assert deps == [checks[backend]["urn"]]


# ------------------------------------------------------------------------------------------------
# Traffic Manager
# ------------------------------------------------------------------------------------------------

TM_PROFILE, AZ_ZONE, AZ_RECORD = ("azure-native:trafficmanager:Profile", "azure-native:dns:Zone",
                                  "azure-native:dns:RecordSet")
EXTERNAL = "Microsoft.Network/trafficManagerProfiles/externalEndpoints"


@pytest.fixture(scope="module")
def tm_plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    rg = {"resource_group_name": "rg-traffic"}
    code, output, plan = _plan(tmp_path_factory.mktemp("tm"), [
        _endpoint("tm-rr", "traffic_manager", "round_robin", _backends(*ALL, ips=False), zone_id=ZONE,
                  dns_zone_resource_group_name="rg-dns", **rg),
        _endpoint("tm-weighted", "traffic_manager", "weighted",
                  _backends(*ALL, ips=False, aws_use1={"weight": 5}, azure_weu={"weight": 2}, gcp_ase1={"weight": 1}),
                  health_check={"interval_seconds": 10, "failure_threshold": 4}, ttl=20, **rg),
        _endpoint("tm-random", "traffic_manager", "random", _backends(*ALL), **rg),
        _endpoint("tm-failover", "traffic_manager", "failover",
                  _backends(*ALL, ips=False, aws_use1={"priority": 2}, azure_weu={"priority": 3},
                            gcp_ase1={"priority": 1}), **rg),
        _endpoint("tm-latency", "traffic_manager", "latency", _backends(*ALL, ips=False), **rg),
        _endpoint("tm-geo", "traffic_manager", "geo",
                  _backends(*ALL, ips=False, aws_use1={"geo": ["NA"]}, azure_weu={"geo": ["EU", "*"]},
                            gcp_ase1={"geo": ["AS", "OC"]}), **rg),
    ])
    assert code == 0, output
    return plan


def _profile(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [profile] = [p for p in _children(plan, name, TM_PROFILE) if p["name"] == f"{name}-profile"]
    return profile["inputs"]


def test_traffic_manager_round_robin_is_weighted_equal_with_monitoring(tm_plan: dict[str, Any]) -> None:
    profile = _profile(tm_plan, "tm-rr")
    assert profile["trafficRoutingMethod"] == "Weighted"
    assert profile["location"] == "global" and profile["resourceGroupName"] == "rg-traffic"
    assert profile["dnsConfig"]["ttl"] == 60
    assert profile["monitorConfig"] == {"protocol": "HTTPS", "port": 443, "path": "/health", "intervalInSeconds": 30,
                                        "timeoutInSeconds": 10, "toleratedNumberOfFailures": 2}
    assert profile["tags"]["owner"] == "ml-platform"
    endpoints = {e["name"]: e for e in profile["endpoints"]}
    assert set(endpoints) == {b["name"] for b in ALL}  # every backend monitored, none missing
    for b in ALL:
        e = endpoints[b["name"]]
        assert e["type"] == EXTERNAL and e["target"] == b["hostname"] and e["weight"] == 1
        assert e["endpointStatus"] == "Enabled"
    # The hostname is a CNAME in the existing Azure DNS zone to the profile's name.
    [cname] = _children(tm_plan, "tm-rr", AZ_RECORD)
    i = cname["inputs"]
    assert (i["zoneName"], i["resourceGroupName"], i["relativeRecordSetName"], i["recordType"], i["ttl"]) == (
        ZONE, "rg-dns", "chat", "CNAME", 60)
    assert i["cnameRecord"]["cname"] == f"{profile['dnsConfig']['relativeName']}.trafficmanager.net"
    assert not _children(tm_plan, "tm-rr", AZ_ZONE)
    assert _component(tm_plan, "tm-rr")["outputs"]["failover_seconds"] == 3 * 30 + 30 + 60


def test_traffic_manager_weighted_fast_probing(tm_plan: dict[str, Any]) -> None:
    profile = _profile(tm_plan, "tm-weighted")
    assert {e["name"]: e["weight"] for e in profile["endpoints"]} == {"aws-use1": 5, "azure-weu": 2, "gcp-ase1": 1}
    monitor = profile["monitorConfig"]
    assert monitor["intervalInSeconds"] == 10 and monitor["timeoutInSeconds"] == 9
    assert monitor["toleratedNumberOfFailures"] == 3  # failure_threshold 4
    assert profile["dnsConfig"]["ttl"] == 20
    [zone] = _children(tm_plan, "tm-weighted", AZ_ZONE)
    assert zone["inputs"]["zoneName"] == ZONE and zone["options"]["protect"] is True
    assert zone["inputs"]["tags"]["environment"] == "prod"
    [cname] = _children(tm_plan, "tm-weighted", AZ_RECORD)
    assert cname["propertyDependencies"]["zoneName"] == [zone["urn"]]
    assert _component(tm_plan, "tm-weighted")["outputs"]["failover_seconds"] == 4 * 10 + 10 + 20


def test_traffic_manager_random_is_multivalue_on_ips_with_host_header(tm_plan: dict[str, Any]) -> None:
    profile = _profile(tm_plan, "tm-random")
    assert profile["trafficRoutingMethod"] == "MultiValue" and profile["maxReturn"] == 3
    for e, b in zip(profile["endpoints"], ALL):
        # Probes ask for the global name: a backend that does not serve it is unhealthy.
        assert e["target"] == b["ip"] and e["customHeaders"] == [{"name": "Host", "value": HOST}]


def test_traffic_manager_failover_is_priority_with_one_primary(tm_plan: dict[str, Any]) -> None:
    profile = _profile(tm_plan, "tm-failover")
    assert profile["trafficRoutingMethod"] == "Priority"
    priorities = {e["name"]: e["priority"] for e in profile["endpoints"]}
    assert priorities == {"aws-use1": 2, "azure-weu": 3, "gcp-ase1": 1}
    assert list(priorities.values()).count(1) == 1


def test_traffic_manager_latency_is_performance_at_the_nearest_azure_region(tm_plan: dict[str, Any]) -> None:
    profile = _profile(tm_plan, "tm-latency")
    assert profile["trafficRoutingMethod"] == "Performance"
    assert {e["name"]: e["endpointLocation"] for e in profile["endpoints"]} == {
        "aws-use1": "eastus", "azure-weu": "westeurope", "gcp-ase1": "southeastasia"}


def test_traffic_manager_geo_nests_a_priority_profile_per_backend(tm_plan: dict[str, Any]) -> None:
    plan = tm_plan
    parent = _profile(plan, "tm-geo")
    assert parent["trafficRoutingMethod"] == "Geographic"
    profiles = _by_name(_children(plan, "tm-geo", TM_PROFILE))
    mapping = {e["name"]: e["geoMapping"] for e in parent["endpoints"]}
    assert mapping == {"aws-use1": ["GEO-NA"], "azure-weu": ["GEO-EU", "WORLD"], "gcp-ase1": ["GEO-AS", "GEO-ME", "GEO-AP"]}
    for e in parent["endpoints"]:
        child = profiles[f"tm-geo-profile-{e['name']}"]
        assert e["type"] == "Microsoft.Network/trafficManagerProfiles/nestedEndpoints" and e["minChildEndpoints"] == 1
        assert child["urn"] in profiles["tm-geo-profile"]["propertyDependencies"]["endpoints"]
        order = [(c["name"], c["priority"]) for c in child["inputs"]["endpoints"]]
        assert order[0] == (e["name"], 1)  # its own backend first ...
        assert len(order) == 3  # ... then every other backend, the default first
        if e["name"] != "azure-weu":
            assert order[1] == ("azure-weu", 2)
        assert child["inputs"]["trafficRoutingMethod"] == "Priority"
        assert child["inputs"]["dnsConfig"]["relativeName"] != parent["dnsConfig"]["relativeName"]


# ------------------------------------------------------------------------------------------------
# Cloud DNS
# ------------------------------------------------------------------------------------------------

GCP_ZONE, GCP_CHECK, GCP_RECORD = ("gcp:dns/managedZone:ManagedZone", "gcp:compute/healthCheck:HealthCheck",
                                   "gcp:dns/recordSet:RecordSet")


@pytest.fixture(scope="module")
def cloud_dns_plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = {"project": "fx-project"}
    code, output, plan = _plan(tmp_path_factory.mktemp("clouddns"), [
        _endpoint("cdns-rr", "cloud_dns", "round_robin", _backends(*ALL), zone_id="existing-zone", **project),
        _endpoint("cdns-weighted", "cloud_dns", "weighted",
                  _backends(*ALL, aws_use1={"weight": 10}, azure_weu={"weight": 5}, gcp_ase1={"weight": 1}),
                  health_check={"interval_seconds": 60, "failure_threshold": 2,
                                "probe_regions": ["europe-west1", "us-east1", "asia-east1"]}, ttl=30, **project),
        _endpoint("cdns-random", "cloud_dns", "random", _backends(*ALL), health_check={"protocol": "TCP"}, **project),
        _endpoint("cdns-failover", "cloud_dns", "failover", _backends(*ALL), **project),
        _endpoint("cdns-geo", "cloud_dns", "geo", _backends(*ALL), **project),
    ])
    assert code == 0, output
    return plan


def _record_set(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [record] = _children(plan, name, GCP_RECORD)
    [check] = _children(plan, name, GCP_CHECK)
    policy = record["inputs"]["routingPolicy"]
    assert record["propertyDependencies"]["routingPolicy"] == [check["urn"]]  # policy.health_check = the check
    assert record["inputs"]["type"] == "A" and record["inputs"]["name"] == f"{HOST}."
    return {"record": record, "check": check, "policy": policy}


def _ips(items: list[dict[str, Any]]) -> list[str]:
    return [ip for item in items for ip in item["healthCheckedTargets"]["externalEndpoints"]]


def test_cloud_dns_round_robin_is_equal_wrr_over_every_ip(cloud_dns_plan: dict[str, Any]) -> None:
    found = _record_set(cloud_dns_plan, "cdns-rr")
    wrrs = found["policy"]["wrrs"]
    assert [w["weight"] for w in wrrs] == [1, 1, 1]
    assert _ips(wrrs) == [b["ip"] for b in ALL]  # one IP per item, every backend health-checked
    assert found["record"]["inputs"]["managedZone"] == "existing-zone" and found["record"]["inputs"]["ttl"] == 60
    check = found["check"]["inputs"]
    assert check["checkIntervalSec"] == 30 and check["unhealthyThreshold"] == 3
    assert check["sourceRegions"] == ["us-east4", "us-central1", "us-west1"]
    assert check["httpsHealthCheck"] == {"port": 443, "requestPath": "/health", "host": HOST}
    assert not _children(cloud_dns_plan, "cdns-rr", GCP_ZONE)
    assert _component(cloud_dns_plan, "cdns-rr")["outputs"]["failover_seconds"] == 3 * 30 + 30 + 60


def test_cloud_dns_weighted_with_dnssec_zone_and_own_probe_regions(cloud_dns_plan: dict[str, Any]) -> None:
    found = _record_set(cloud_dns_plan, "cdns-weighted")
    assert [(w["weight"], _ips([w])) for w in found["policy"]["wrrs"]] == [
        (10, [AWS["ip"]]), (5, [AZURE["ip"]]), (1, [GCP["ip"]])]
    check = found["check"]["inputs"]
    assert check["checkIntervalSec"] == 60 and check["unhealthyThreshold"] == 2
    assert check["sourceRegions"] == ["europe-west1", "us-east1", "asia-east1"]
    [zone] = _children(cloud_dns_plan, "cdns-weighted", GCP_ZONE)
    z = zone["inputs"]
    assert z["dnsName"] == f"{ZONE}." and z["dnssecConfig"]["state"] == "on" and z["visibility"] == "public"
    assert z["labels"]["owner"] == "ml-platform" and zone["options"]["protect"] is True
    assert found["record"]["propertyDependencies"]["managedZone"] == [zone["urn"]]
    assert _component(cloud_dns_plan, "cdns-weighted")["outputs"]["failover_seconds"] == 2 * 60 + 60 + 30


def test_cloud_dns_random_is_weighted_random_with_equal_weights(cloud_dns_plan: dict[str, Any]) -> None:
    found = _record_set(cloud_dns_plan, "cdns-random")
    assert [w["weight"] for w in found["policy"]["wrrs"]] == [1, 1, 1]
    check = found["check"]["inputs"]
    assert check["tcpHealthCheck"] == {"port": 443} and "httpsHealthCheck" not in check


def test_cloud_dns_failover_is_primary_backup(cloud_dns_plan: dict[str, Any]) -> None:
    pb = _record_set(cloud_dns_plan, "cdns-failover")["policy"]["primaryBackup"]
    assert pb["primary"] == {"externalEndpoints": [AWS["ip"]]}
    assert [(g["location"], _ips([g])) for g in pb["backupGeos"]] == [
        ("europe-west4", [AZURE["ip"]]), ("asia-southeast1", [GCP["ip"]])]
    assert pb["trickleRatio"] == 0


def test_cloud_dns_geo_places_each_backend_at_its_nearest_gcp_region(cloud_dns_plan: dict[str, Any]) -> None:
    policy = _record_set(cloud_dns_plan, "cdns-geo")["policy"]
    assert [(g["location"], _ips([g])) for g in policy["geos"]] == [
        ("us-east4", [AWS["ip"]]), ("europe-west4", [AZURE["ip"]]), ("asia-southeast1", [GCP["ip"]])]
    assert policy["enableGeoFencing"] is False


# ------------------------------------------------------------------------------------------------
# Rejected combinations: exit 2, every problem with its path and the provider's limit, nothing registered
# ------------------------------------------------------------------------------------------------

REJECTED = {
    "cloud-dns-latency-hostname-fast": (
        [_endpoint("bad", "cloud_dns", "latency", [AWS, {**AZURE, "ip": None}], health_check={"interval_seconds": 10})],
        ["GlobalEndpointArgs.options.policy: got 'latency'; Cloud DNS has no latency-based routing; allowed: "
         "round_robin, weighted, random, failover, geo",
         "GlobalEndpointArgs.options.backends.azure-weu.ip: missing; required on Cloud DNS: health-checked targets "
         "must be IP addresses",
         "GlobalEndpointArgs.options.health_check.interval_seconds: got 10; allowed: 30-300 on Cloud DNS"]),
    "route53-interval-single-failover": (
        [_endpoint("bad", "route53", "failover", [AWS], health_check={"interval_seconds": 20})],
        ["GlobalEndpointArgs.options.health_check.interval_seconds: got 20; allowed: 10 or 30 (Route 53",
         "GlobalEndpointArgs.options.backends: got ['aws-use1']; allowed: at least 2 backends with policy failover"]),
    "two-primaries": (
        [_endpoint("bad", "route53", "failover", _backends(AWS, AZURE, aws_use1={"priority": 1},
                                                           azure_weu={"priority": 1}))],
        ["GlobalEndpointArgs.options.backends.azure-weu.priority: got 1; allowed: exactly one primary (priority 1); "
         "'aws-use1' already is"]),
    "tm-multivalue-hostnames": (
        [_endpoint("bad", "traffic_manager", "random", _backends(*ALL, ips=False))],
        ["GlobalEndpointArgs.options.backends.aws-use1.ip: missing; required with policy random on Traffic Manager: "
         "MultiValue routing accepts only external endpoints given as IPv4/IPv6 addresses",
         "GlobalEndpointArgs.options.backends.gcp-ase1.ip: missing",
         "GlobalEndpointArgs.resource_group_name: missing; required with provider traffic_manager"]),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_combinations_fail_before_anything_is_registered(case: str, tmp_path: Path) -> None:
    endpoints, expected = REJECTED[case]
    code, output, _ = _plan(tmp_path, endpoints, explicit_provider=False)
    flat = " ".join(output.split())
    assert code == 2, output
    assert "invalid GlobalEndpoint 'bad'" in flat
    for text in expected:
        assert text in flat, (text, output)
    assert "0 resources were registered before the error" in flat
    assert "Traceback" not in output


# ------------------------------------------------------------------------------------------------
# In-process: rules, timing, mappings (no plans)
# ------------------------------------------------------------------------------------------------

def _options(**kw: Any) -> TrafficOptions:
    return TrafficOptions.model_validate({"hostname": HOST, "zone": ZONE, **kw})


TARGETS = [("aws-use1", "aws", "us-east-1", False), ("azure-weu", "azure", "westeurope", False),
           ("gcp-ase1", "gcp", "asia-southeast1", False)]
TARGETS_IP = [(n, c, r, True) for n, c, r, _ in TARGETS]


def _paths(options: TrafficOptions, targets: list[tuple[str, str, str, bool]] = TARGETS) -> dict[str, str]:
    return {p.path: p.render() for p in traffic_problems(options, targets)}


@pytest.mark.parametrize("provider,policy,targets", [
    (provider, policy, TARGETS_IP if provider == "cloud_dns" or policy == "random" else TARGETS)
    for provider in ("route53", "traffic_manager", "cloud_dns")
    for policy in ("round_robin", "weighted", "random", "failover", "latency", "geo")
    if not (provider == "cloud_dns" and policy == "latency")
])
def test_every_supported_provider_policy_pair_validates(provider: str, policy: str,
                                                        targets: list[tuple[str, str, str, bool]]) -> None:
    backends: dict[str, Any] = {}
    if policy == "geo" and provider != "cloud_dns":
        backends = {"aws-use1": {"geo": ["NA", "*"]}, "azure-weu": {"geo": ["EU"]}, "gcp-ase1": {"geo": ["AS"]}}
    assert _paths(_options(provider=provider, policy=policy, backends=backends), targets) == {}


def test_provider_limits_name_the_limit() -> None:
    assert "allowed: 10 or 30 (Traffic Manager" in _paths(
        _options(provider="traffic_manager", health_check={"interval_seconds": 20}))["health_check.interval_seconds"]
    assert "allowed: 1-10 (Route 53 limit)" in _paths(_options(health_check={"failure_threshold": 11}))[
        "health_check.failure_threshold"]
    assert "3 or more Route 53 health checker regions" in _paths(
        _options(health_check={"probe_regions": ["us-east-1", "eu-west-1"]}))["health_check.probe_regions"]
    assert "exactly 3 GCP regions" in _paths(
        _options(provider="cloud_dns", health_check={"probe_regions": ["us-east1"]}), TARGETS_IP)[
        "health_check.probe_regions"]
    assert "allowed: [] on Traffic Manager" in _paths(
        _options(provider="traffic_manager", health_check={"probe_regions": ["us-east-1"]}))[
        "health_check.probe_regions"]
    # Route 53 random needs IPs (multivalue records cannot be CNAMEs); one missing is named.
    found = _paths(_options(policy="random"), [TARGETS_IP[0], TARGETS[1], TARGETS_IP[2]])
    assert list(found) == ["backends.azure-weu.ip"] and "cannot be CNAMEs" in found["backends.azure-weu.ip"]
    # Traffic Manager: unique priorities, weights from 1.
    found = _paths(_options(provider="traffic_manager", policy="failover",
                            backends={"aws-use1": {"priority": 1}, "azure-weu": {"priority": 2},
                                      "gcp-ase1": {"priority": 2}}))
    assert list(found) == ["backends.gcp-ase1.priority"] and "cannot share a priority" in found[
        "backends.gcp-ase1.priority"]
    found = _paths(_options(provider="traffic_manager", policy="weighted", backends={"gcp-ase1": {"weight": 0}}))
    assert "allowed: 1-1000 on Traffic Manager" in found["backends.gcp-ase1.weight"]
    # Route 53 shares AWS regions in one latency set only once.
    found = _paths(_options(policy="latency"), TARGETS + [("azure-eus", "azure", "eastus", False)])
    assert "'aws-use1' already maps to us-east-1" in found["backends.azure-eus"]


def test_generic_rules() -> None:
    assert "allowed: a name inside the zone 'example.com'" in _paths(_options(hostname="chat.example.org"))["hostname"]
    assert "CNAME at the zone apex is illegal" in _paths(_options(hostname=ZONE))["hostname"]
    assert _paths(_options(hostname=ZONE, policy="weighted"), TARGETS_IP) == {}  # A records at the apex are fine
    assert "at least one backend" in _paths(_options(), [])["backends"]
    assert "one of the backends" in _paths(_options(backends={"aws-usw2": {}}))["backends.aws-usw2"]
    assert "weight > 0" in _paths(_options(policy="weighted", backends={n: {"weight": 0} for n, *_ in TARGETS}))[
        "backends"]
    assert "only with policy weighted" in _paths(_options(backends={"aws-use1": {"weight": 2}}))[
        "backends.aws-use1.weight"]
    assert "only with policy failover" in _paths(_options(backends={"aws-use1": {"priority": 1}}))[
        "backends.aws-use1.priority"]
    geo = _paths(_options(policy="geo", backends={"aws-use1": {"geo": ["NA"]}, "azure-weu": {"geo": ["NA"]}}))
    assert "'aws-use1' already answers 'NA'" in geo["backends.azure-weu.geo"]
    assert "one backend with geo '*'" in geo["backends"]
    assert "required with policy geo" in geo["backends.gcp-ase1.geo"]
    assert "allowed: [] on Cloud DNS" in _paths(
        _options(provider="cloud_dns", policy="geo", backends={"aws-use1": {"geo": ["NA"]}}), TARGETS_IP)[
        "backends.aws-use1.geo"]
    # Failover defaults: backend order; given priorities first, the rest after them.
    assert _paths(_options(policy="failover", backends={"gcp-ase1": {"priority": 1}})) == {}
    assert "exactly one primary" in _paths(
        _options(policy="failover", backends={"gcp-ase1": {"priority": 1}, "aws-use1": {"priority": 1}}))[
        "backends.gcp-ase1.priority"]


def test_cloud_dns_backups_need_distinct_locations() -> None:
    targets = TARGETS_IP + [("aws-use2", "aws", "us-east-2", True)]  # us-east-2 -> us-east5, us-east-1 -> us-east4
    assert _paths(_options(provider="cloud_dns", policy="geo"), targets) == {}
    targets = TARGETS_IP + [("azure-eus", "azure", "eastus", True)]  # eastus -> us-east4, like us-east-1
    assert "one IP per policy item" in _paths(_options(provider="cloud_dns", policy="geo"), targets)["backends.azure-eus"]


def test_option_models_reject_bad_values() -> None:
    for bad in ({"ip": "10.1.2.3"}, {"ip": "not-an-ip"}, {"geo": ["Europe"]}, {"weight": 256}, {"priority": 0}):
        with pytest.raises(ValidationError):
            BackendOptions.model_validate(bad)
    for bad in ({"ttl": 0}, {"hostname": "Chat.Example.com"}, {"policy": "nearest"}, {"provider": "ns1"},
                {"health_check": {"protocol": "GRPC"}}, {"unknown": 1}):
        with pytest.raises(ValidationError):
            _options(**bad)


@pytest.mark.parametrize("provider,health_check,ttl,expected", [
    ("route53", {}, 60, 3 * 30 + 30 + 60),
    ("route53", {"interval_seconds": 10, "failure_threshold": 1}, 10, 1 * 10 + 10 + 10),
    ("traffic_manager", {"interval_seconds": 10, "failure_threshold": 3}, 0 + 5, 3 * 10 + 10 + 5),
    ("cloud_dns", {"interval_seconds": 60, "failure_threshold": 5}, 300, 5 * 60 + 60 + 300),
])
def test_failover_seconds(provider: str, health_check: dict[str, Any], ttl: int, expected: int) -> None:
    options = _options(provider=provider, health_check=health_check, ttl=ttl)
    assert failover_seconds(options) == expected
    assert PROBE_SPREAD_INTERVALS[provider] == 1  # type: ignore[index]


def test_locations_cover_the_catalog_and_map_sensibly() -> None:
    from components.catalog.regions import REGIONS
    for cloud, regions in REGIONS.items():
        assert set(regions) <= set(COORDINATES[cloud]), cloud
    assert nearest_region("aws", "gcp", "us-east4") == "us-east-1"
    assert nearest_region("aws", "azure", "japaneast") == "ap-northeast-1"
    assert nearest_region("azure", "gcp", "europe-west3") == "germanywestcentral"
    assert nearest_region("gcp", "aws", "ap-southeast-2") == "australia-southeast1"
    assert nearest_region("aws", "aws", "eu-west-1") == "eu-west-1"


def test_resolve_backends_applies_the_per_backend_options() -> None:
    options = _options(policy="weighted", backends={"azure-weu": {"weight": 7, "ip": "198.51.100.20"}})
    resolved = resolve_backends(options, [("aws-use1", "aws", "us-east-1", "a.example.net", None),
                                          ("azure-weu", "azure", "westeurope", "b.example.net", "203.0.113.9"),
                                          ("gcp-ase1", "gcp", "asia-southeast1", "c.example.net", "203.0.113.7")])
    # The entry's own address is used unless the options name one.
    assert [(b.name, b.weight, b.ip, b.hostname) for b in resolved] == [
        ("aws-use1", 1, None, "a.example.net"), ("azure-weu", 7, "198.51.100.20", "b.example.net"),
        ("gcp-ase1", 1, "203.0.113.7", "c.example.net")]


def test_traffic_manager_geo_codes() -> None:
    assert geo_codes(["*", "EU", "OC", "AS", "DE"]) == ["WORLD", "GEO-EU", "GEO-AP", "GEO-AS", "GEO-ME", "DE"]
