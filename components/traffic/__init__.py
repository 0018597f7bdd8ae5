"""Global traffic: `GlobalEndpoint`, one hostname with health-checked DNS failover across clouds."""

from .args import (Backend, BackendOptions, GlobalEndpointArgs, HealthCheckOptions, TrafficOptions,
                   failover_seconds, resolve_backends, traffic_problems)
from .endpoint import GlobalEndpoint

__all__ = ["Backend", "BackendOptions", "GlobalEndpoint", "GlobalEndpointArgs", "HealthCheckOptions",
           "TrafficOptions", "failover_seconds", "resolve_backends", "traffic_problems"]
