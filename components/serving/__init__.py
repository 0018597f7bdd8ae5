"""Serving: `ModelEndpoint` and its arguments."""

from .args import Accelerator, EndpointOptions, ModelEndpointArgs, ModelSource, Scaling
from .endpoint import ModelEndpoint, auth_problems, endpoint_problems

__all__ = ["Accelerator", "EndpointOptions", "ModelEndpoint", "ModelEndpointArgs", "ModelSource", "Scaling",
           "auth_problems", "endpoint_problems"]
