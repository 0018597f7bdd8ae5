"""SARIF 2.1.0 for `preflight check`: policies as rules, violations as results (GitHub code scanning).

Each result points at the stack file (the closest source a plan has) and names
the resource by URN in its message and as a logical location. Mandatory
violations are `error`, everything else `warning`. `automationDetails.id`
carries the stack so several stacks upload as separate categories.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from .check import CheckReport, _violation_text

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SECURITY_SEVERITY = {"low": "3.0", "medium": "5.5", "high": "8.0", "critical": "9.5"}


def _level(enforcement: str) -> str:
    return {"mandatory": "error", "remediate": "error", "disabled": "none"}.get(enforcement, "warning")


def _repo_root(path: Path) -> Path | None:
    for candidate in [path, *path.parents]:
        if (candidate / ".git").exists():
            return candidate
    return None


def _tool_version() -> str:
    for dist in ("aiinfra", "preflight"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "0.0.0"


def build_sarif(report: CheckReport) -> dict[str, Any]:
    info = report.analysis.info
    config = report.analysis.config
    stack_file = report.stack_file.resolve()
    root = _repo_root(stack_file.parent) or Path.cwd().resolve()
    try:
        uri = stack_file.relative_to(root).as_posix()
    except ValueError:
        uri, root = stack_file.as_posix(), Path(stack_file.anchor)
    location = {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                                     "region": {"startLine": 1}}}

    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}

    def add_rule(name: str, description: str, level: str, **extra: Any) -> int:
        rule: dict[str, Any] = {
            "id": name,
            "name": name,
            "shortDescription": {"text": description or name},
            "fullDescription": {"text": description or name},
            "help": {"text": extra.get("remediation") or description or name},
            "defaultConfiguration": {"level": _level(level)},
            "properties": {
                "tags": sorted({"policy", f"policy-pack:{info.name}", *extra.get("tags", ())}),
                "enforcementLevel": level,
                "policyPack": info.name,
                "policyPackVersion": info.version,
            },
        }
        if extra.get("url"):
            rule["helpUri"] = extra["url"]
        if extra.get("policy_type"):
            rule["properties"]["policyType"] = extra["policy_type"]
        if extra.get("severity"):
            rule["properties"]["severity"] = extra["severity"]
            rule["properties"]["security-severity"] = _SECURITY_SEVERITY[extra["severity"]]
        index[name] = len(rules)
        rules.append(rule)
        return index[name]

    for p in info.policies:
        level = config[p.name].enforcement_level if p.name in config else p.enforcement_level
        add_rule(p.name, p.description, level or p.enforcement_level, tags=p.tags, url=p.url,
                 remediation=p.remediation_steps, policy_type=p.policy_type, severity=p.severity)

    results: list[dict[str, Any]] = []
    for d in report.sorted_diagnostics():
        rule_index = index[d.policy_name] if d.policy_name in index else add_rule(
            d.policy_name, d.description, d.enforcement_level)
        text = _violation_text(d.message, d.description)
        name = d.urn.rsplit("::", 1)[-1]
        fingerprint = hashlib.sha256("\0".join((d.policy_pack_name, d.policy_name, d.urn, d.message))
                                     .encode()).hexdigest()
        results.append({
            "ruleId": d.policy_name,
            "ruleIndex": rule_index,
            "level": _level(d.enforcement_level),
            "message": {"text": f"{text}\nresource: {d.urn}"},
            "locations": [{**location, "logicalLocations": [
                {"name": name, "fullyQualifiedName": d.urn, "kind": "resource"}]}],
            "partialFingerprints": {"preflightPolicyResult/v1": fingerprint},
            "properties": {"urn": d.urn, "resourceType": d.resource_type,
                           "enforcementLevel": d.enforcement_level, "policyPack": d.policy_pack_name,
                           "phase": d.phase},
        })

    notifications = [{
        "level": "error",
        "message": {"text": f"{e.call} failed ({e.code}) for {e.urn}: {e.message}"},
        "locations": [{**location, "logicalLocations": [
            {"name": e.urn.rsplit("::", 1)[-1], "fullyQualifiedName": e.urn, "kind": "resource"}]}],
    } for e in report.analysis.errors]

    run: dict[str, Any] = {
        "tool": {
            "driver": {"name": "preflight", "version": _tool_version(), "rules": rules},
            "extensions": [{"name": info.name, "version": info.version or "0.0.0"}],
        },
        "automationDetails": {"id": f"preflight-check/{report.stack}/"},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri().rstrip("/") + "/"}},
        "invocations": [{
            "executionSuccessful": not report.analysis.errors,
            "exitCode": report.exit_code,
            "toolExecutionNotifications": notifications,
        }],
        "results": results,
        "properties": {"project": report.project.name, "stack": report.stack},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def write_sarif(report: CheckReport, path: Path | str) -> None:
    Path(path).write_text(json.dumps(build_sarif(report), indent=2) + "\n", encoding="utf-8")
