"""Networking: `Network` and its arguments."""

from .args import NetworkArgs, NetworkOptions, NetworkOutputs
from .network import Network, network_problems

__all__ = ["Network", "NetworkArgs", "NetworkOptions", "NetworkOutputs", "network_problems"]
