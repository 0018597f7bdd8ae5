"""requestpath: one model of how a request crosses a stack, for `preflight trace` and the policy pack.

It reads the stack's resources in the plan JSON's shape (from `preflight plan`, or from the
Analyzer's stack snapshot through the pack's adapter) and resolves *hops*:

    dns -> entry -> certificate -> route -> service -> workload -> auth
        -> image -> model -> autoscaler -> cold-start

Each hop is a set of small resolvers keyed by the cloud or Kubernetes type of the resource the
previous hop handed over (never by a component class), one module per concern:

- `dns.py`          Route 53, Cloud DNS, Azure DNS records and Traffic Manager profiles; zones
- `entry.py`        what owns the answer's address: ALB/GKE/NGINX Ingress, GKE Gateway, GlobalAddress,
                    PublicIPAddress, LoadBalancer Service
- `certificate.py`  the listener and the certificate covering the host (ACM, Certificate Manager
                    maps, ManagedCertificate, cert-manager)
- `route.py`        the Ingress rule or HTTPRoute for host and path
- `service.py`      the Service the rule names, on the entry's cluster
- `workload.py`     the pods behind it: selector, replicas, container port
- `auth.py`         who may call the model server
- `image.py`        where the pod's images come from: a pull-through cache of the cell, or outside
- `model.py`        which model the server loads, and the store and identity it is copied with
- `autoscaler.py`   the metric the autoscaler reads: produced, scraped, served (KEDA, adapters)
- `coldstart.py`    the cold-start budget and the startup probe

`registry.py` holds the hop order and the resolvers; later capabilities add a hop with
`add_hop` and register its resolvers. `facts.py` lists the controller and DNS behaviours the
resolvers rely on, each with its source. Standard library only; it imports neither the Pulumi SDK,
nor components/, nor preflight/.

Installed as the top-level package `requestpath` (pyproject.toml maps it from policies/), and
imported by the policy pack as a sibling of `rules/`.
"""

from __future__ import annotations

from . import auth, certificate, entry, route, service, workload  # noqa: F401 - register the resolvers
from . import image, model, autoscaler, coldstart  # noqa: F401,E402 - after auth, in hop order
from .checks import CertificateGap, OpenEntry, SupplyFinding, UnroutedName, certificate_gaps, global_names, \
    model_servers, open_entries, supply, unresolved_targets, unrouted_names, unserved_routes
from .facts import FACTS, Fact
from .index import SECRET, UNKNOWN, Cluster, Index, Resource
from .registry import HOPS, Hop, Resolver, Status, Walk, add_hop, register, resolvers, walk
from .trace import Backend, Target, Trace, UrlError, parse_url, trace, trace_host

__all__ = [
    "FACTS", "HOPS", "SECRET", "UNKNOWN", "Backend", "CertificateGap", "Cluster", "Fact", "Hop", "Index", "OpenEntry",
    "Resolver", "Resource", "Status", "SupplyFinding", "model_servers", "supply", "Target", "Trace", "UnroutedName", "UrlError", "Walk", "add_hop",
    "certificate_gaps", "global_names", "open_entries", "parse_url", "register", "resolvers", "trace", "trace_host",
    "unresolved_targets", "unrouted_names", "unserved_routes", "walk",
]
