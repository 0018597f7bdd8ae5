"""Kubernetes objects of a plan, as the manifests the Kubernetes provider would apply.

Every `kubernetes:<group>/<version>:<Kind>` resource becomes one YAML document
(`apiVersion`, `kind` and its inputs, which the provider already holds in
Kubernetes' own camelCase). Values unknown offline stay `"<unknown>"` so a
validator sees where the plan could not know a value. One file per object:
`<cluster-provider>/<namespace>/<kind>-<name>.yaml`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .plan import SECRET

_TYPE = re.compile(r"^kubernetes:(?P<group>[a-zA-Z0-9.-]+)/(?P<version>v[a-z0-9]+):(?P<kind>[A-Za-z]+)$")
_LIST_KINDS = re.compile(r"List$")


def api_version(type_token: str) -> tuple[str, str] | None:
    """(apiVersion, kind) for a Kubernetes resource type token; None for anything else."""
    match = _TYPE.match(type_token)
    if not match or _LIST_KINDS.search(match["kind"]) or match["group"] == "helm.sh":
        return None  # Helm releases are not objects: the chart renders them on the cluster
    group, version = match["group"], match["version"]
    if group == "core":
        return version, match["kind"]
    if "." not in group and group not in ("apps", "batch", "policy", "autoscaling"):
        group = f"{group}.k8s.io"
    return f"{group}/{version}", match["kind"]


def _manifest(resource: dict[str, Any]) -> dict[str, Any] | None:
    kinds = api_version(resource["type"])
    if kinds is None:
        return None
    body = {k: v for k, v in resource["inputs"].items() if k not in ("apiVersion", "kind")}
    metadata = dict(body.get("metadata") or {})
    if not metadata.get("name"):
        # The provider would auto-name it `<logical name>-<random suffix>`; the logical name stands in.
        metadata["name"] = resource["name"]
    body["metadata"] = metadata
    if kinds[1] == "Secret":
        # The plan never holds a secret's value; its keys may be secret too (a whole `stringData` in
        # "<secret>"). What a validator can check is the Secret's shape: keep known keys, values hidden.
        for field in ("data", "stringData"):
            value = body.get(field)
            if value == SECRET:
                body[field] = {"redacted": REDACTED}
            elif isinstance(value, dict):
                body[field] = {k: REDACTED for k in value}
    return {"apiVersion": kinds[0], "kind": kinds[1], **body}


REDACTED = "cmVkYWN0ZWQ="  # base64 of "redacted": valid in `data` and in `stringData` alike


def manifests(plan: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(relative path, manifest) for every Kubernetes object of the plan, sorted by path."""
    out: list[tuple[str, dict[str, Any]]] = []
    for r in plan["resources"]:
        doc = _manifest(r)
        if doc is None:
            continue
        provider = (r.get("provider") or "default").split("::")[-1]
        metadata = doc.get("metadata") or {}
        namespace = metadata.get("namespace") or ("_cluster" if doc["kind"] in _CLUSTER_SCOPED else "default")
        name = metadata.get("name") or r["name"]
        out.append((f"{provider}/{namespace}/{doc['kind'].lower()}-{name}.yaml", doc))
    return sorted(out, key=lambda item: item[0])


_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass",
                   "CustomResourceDefinition", "PersistentVolume", "IngressClass",
                   # cert-manager's issuer for the whole cluster; the AKS routing add-on's controller object; KEDA's
                   # authentication for the whole cluster
                   "ClusterIssuer", "NginxIngressController", "ClusterTriggerAuthentication"}


def write_manifests(plan: dict[str, Any], out_dir: Path) -> list[Path]:
    written = []
    for rel, doc in manifests(plan):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False), encoding="utf-8")
        written.append(path)
    return written
