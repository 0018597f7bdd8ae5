"""Serving: `ModelEndpoint` and its arguments."""

from .args import Accelerator, EndpointOptions, ModelEndpointArgs, ModelSource, Scaling, ServerMetrics
from .endpoint import ModelEndpoint, auth_problems, endpoint_problems, prod_image_problems

__all__ = ["Accelerator", "EndpointOptions", "ModelEndpoint", "ModelEndpointArgs", "ModelSource", "Scaling",
           "ServerMetrics", "auth_problems", "endpoint_problems", "prod_image_problems"]
