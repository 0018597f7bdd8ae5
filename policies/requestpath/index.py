"""The resources of a stack, indexed for the resolvers: by URN, by type, by what fed which input,
by Kubernetes cluster, namespace and name.

The input is a list of resources in the plan JSON's shape (`preflight plan --json`), which the
policy pack's adapter also builds from the Analyzer's stack snapshot:
`{"urn", "type", "name", "parent", "custom", "provider", "dependencies", "propertyDependencies",
"inputs"}`. Values unknown before the cloud creates them are the string `"<unknown>"`, secrets
`"<secret>"`. Nothing here reads a component's outputs: the policy pack does not see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

UNKNOWN = "<unknown>"
SECRET = "<secret>"

CLUSTER_TYPES = frozenset({
    "aws:eks/cluster:Cluster",
    "gcp:container/cluster:Cluster",
    "azure-native:containerservice:ManagedCluster",
})
"""Managed Kubernetes clusters: a `pulumi:providers:kubernetes` whose kubeconfig one of these fed
belongs to that cluster."""

KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


def is_known(value: Any) -> bool:
    """A value the plan knows: not absent, not unknown until the cloud creates it, not a secret."""
    return value is not None and value != UNKNOWN and value != SECRET


def known_str(value: Any) -> str | None:
    return value if isinstance(value, str) and is_known(value) and value != "" else None


def fqdn(name: str) -> str:
    """A DNS name without its trailing dot, in lower case."""
    return name.strip().rstrip(".").lower()


def in_zone(name: str, zone: str) -> bool:
    """Whether `name` is `zone` or below it."""
    name, zone = fqdn(name), fqdn(zone)
    return name == zone or name.endswith("." + zone)


def single_label_match(pattern: str, host: str) -> bool:
    """`pattern` names `host`: equal, or `*.rest` where the wildcard stands for exactly one label
    (certificate SANs, Ingress rule hosts)."""
    pattern, host = fqdn(pattern), fqdn(host)
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def suffix_match(pattern: str, host: str) -> bool:
    """Gateway API hostnames: `*.example.com` matches any name strictly below example.com."""
    pattern, host = fqdn(pattern), fqdn(host)
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern == host


@dataclass(frozen=True, eq=False)
class Resource:
    """One resource of the plan (custom or component; the model reads only custom ones' inputs)."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    inputs: Mapping[str, Any]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> "Resource":
        deps = raw.get("propertyDependencies") or {}
        inputs = raw.get("inputs")
        return cls(urn=str(raw["urn"]), type=str(raw["type"]), name=str(raw.get("name") or raw["urn"].rsplit("::", 1)[-1]),
                   parent=raw.get("parent") or None, custom=bool(raw.get("custom", True)),
                   provider=raw.get("provider") or None, dependencies=tuple(raw.get("dependencies") or ()),
                   property_dependencies={str(k): tuple(v or ()) for k, v in deps.items()},
                   inputs=inputs if isinstance(inputs, Mapping) else {})

    def get(self, *path: str | int, default: Any = None) -> Any:
        """`inputs[path[0]][path[1]]...`; `default` when a step is missing or None, UNKNOWN when a
        step is unknown."""
        current: Any = self.inputs
        for step in path:
            if current == UNKNOWN:
                return UNKNOWN
            if isinstance(step, int):
                if not isinstance(current, list) or not -len(current) <= step < len(current):
                    return default
                current = current[step]
            else:
                if not isinstance(current, Mapping) or step not in current:
                    return default
                current = current[step]
            if current is None:
                return default
        return current

    def refs(self, *keys: str) -> tuple[str, ...]:
        """URNs whose outputs fed the inputs `keys` (all inputs when none is given)."""
        chosen = keys or tuple(self.property_dependencies)
        out: list[str] = []
        for key in chosen:
            for urn in self.property_dependencies.get(key, ()):
                if urn not in out:
                    out.append(urn)
        return tuple(out)

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]

    # --- Kubernetes objects ------------------------------------------------------------------
    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:") and not self.type.startswith("kubernetes:helm.sh/")

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def k8s_name(self) -> str | None:
        """`metadata.name` when known (an object without one is auto-named by the provider: unknown)."""
        return known_str(self.get("metadata", "name"))

    @property
    def namespace(self) -> str:
        value = self.get("metadata", "namespace")
        if value == UNKNOWN:
            return UNKNOWN
        return value if isinstance(value, str) and value else "default"

    @property
    def annotations(self) -> dict[str, str]:
        value = self.get("metadata", "annotations")
        return {str(k): v for k, v in value.items() if isinstance(v, str)} if isinstance(value, Mapping) else {}

    @property
    def labels(self) -> dict[str, str]:
        value = self.get("metadata", "labels")
        return {str(k): v for k, v in value.items() if isinstance(v, str)} if isinstance(value, Mapping) else {}

    @property
    def k8s_ref(self) -> str:
        """`namespace/name` (or `name` for a cluster-scoped kind) for messages."""
        name = self.k8s_name or f"({self.name})"
        return name if self.kind in CLUSTER_SCOPED else f"{self.namespace}/{name}"


CLUSTER_SCOPED = frozenset({"Namespace", "ClusterIssuer", "IngressClass", "GatewayClass", "ClusterRole",
                            "ClusterRoleBinding", "CustomResourceDefinition", "Node", "PersistentVolume",
                            "StorageClass", "PriorityClass", "NginxIngressController",
                            "ClusterTriggerAuthentication"})


@dataclass(frozen=True)
class Cluster:
    """The Kubernetes cluster an object is created in: the cluster resource that fed its provider's
    kubeconfig, else the provider itself, else the default provider (ambient kubeconfig)."""

    key: str
    label: str


DEFAULT_CLUSTER = Cluster("(default provider)", "the default provider's cluster")


@dataclass
class Index:
    """Lookups over the resources of one stack."""

    resources: list[Resource]
    by_urn: dict[str, Resource] = field(init=False)
    _by_type: dict[str, list[Resource]] = field(init=False)
    _consumers: dict[str, list[tuple[Resource, str]]] = field(init=False)
    _clusters: dict[str, Cluster] = field(init=False)
    memo: dict[str, Any] = field(init=False)
    """Views built once per index by the concern modules (the DNS view, ...)."""

    def __post_init__(self) -> None:
        self.memo = {}
        self.by_urn = {r.urn: r for r in self.resources}
        self._by_type = {}
        self._consumers = {}
        self._clusters = {}
        for r in self.resources:
            self._by_type.setdefault(r.type, []).append(r)
            for key, urns in r.property_dependencies.items():
                for urn in urns:
                    self._consumers.setdefault(urn, []).append((r, key))

    @classmethod
    def of(cls, resources: Iterable[Mapping[str, Any]]) -> "Index":
        return cls([Resource.of(r) for r in resources])

    def of_type(self, *types: str) -> list[Resource]:
        out: list[Resource] = []
        for t in types:
            out.extend(self._by_type.get(t, []))
        return out

    def get(self, urn: str | None) -> Resource | None:
        return self.by_urn.get(urn) if urn else None

    def fed_by(self, r: Resource, *keys: str) -> list[Resource]:
        """The resources whose outputs fed `r`'s inputs `keys` (all inputs when none is given)."""
        return [self.by_urn[u] for u in r.refs(*keys) if u in self.by_urn]

    def consumers(self, urn: str, *types: str) -> list[tuple[Resource, str]]:
        """(resource, input key) of every resource whose input `urn` fed, optionally of `types`."""
        found = self._consumers.get(urn, [])
        return [(r, k) for r, k in found if not types or r.type in types]

    # --- Kubernetes ---------------------------------------------------------------------------
    def cluster(self, r: Resource) -> Cluster:
        if not r.provider:
            return DEFAULT_CLUSTER
        if r.provider in self._clusters:
            return self._clusters[r.provider]
        provider = self.by_urn.get(r.provider)
        if provider is None:
            found = Cluster(r.provider, r.provider.rsplit("::", 1)[-1])
        else:
            fed = [x for x in self.fed_by(provider, "kubeconfig") if x.type in CLUSTER_TYPES]
            fed = fed or [self.by_urn[u] for u in provider.dependencies
                          if u in self.by_urn and self.by_urn[u].type in CLUSTER_TYPES]
            found = Cluster(fed[0].urn, fed[0].name) if fed else Cluster(provider.urn, provider.name)
        self._clusters[r.provider] = found
        return found

    def cluster_resource(self, cluster: Cluster) -> "Resource | None":
        """The cluster resource itself (EKS, GKE, AKS): the key's resource, or, when the provider's
        kubeconfig came from an invoke (AKS credentials) and so names no resource, the one cluster
        resource that shares the provider's parent component."""
        found = self.by_urn.get(cluster.key)
        if found is None or found.type in CLUSTER_TYPES:
            return found
        siblings = [r for r in self.resources if r.type in CLUSTER_TYPES and r.parent and r.parent == found.parent]
        return siblings[0] if len(siblings) == 1 else None

    def objects(self, cluster: Cluster, types: Iterable[str], namespace: str | None = None,
                name: str | None = None) -> list[Resource]:
        """Kubernetes objects of `types` on `cluster`, optionally in `namespace` and named `name`."""
        out: list[Resource] = []
        for r in self.of_type(*types):
            if self.cluster(r) != cluster:
                continue
            if namespace is not None and r.kind not in CLUSTER_SCOPED and r.namespace != namespace:
                continue
            if name is not None and r.k8s_name != name:
                continue
            out.append(r)
        return out

    def elsewhere(self, cluster: Cluster, types: Iterable[str], namespace: str, name: str) -> list[Cluster]:
        """Other clusters holding an object of `types` named namespace/name (for messages)."""
        seen: list[Cluster] = []
        for r in self.of_type(*types):
            c = self.cluster(r)
            if c != cluster and r.namespace == namespace and r.k8s_name == name and c not in seen:
                seen.append(c)
        return seen

    def walk_values(self, value: Any) -> Iterator[Any]:
        """Every scalar inside a nested input value."""
        if isinstance(value, Mapping):
            for v in value.values():
                yield from self.walk_values(v)
        elif isinstance(value, list):
            for v in value:
                yield from self.walk_values(v)
        else:
            yield value
