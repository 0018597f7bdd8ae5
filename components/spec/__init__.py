"""The environment spec: typed, validated stack configuration."""

from .load import load_spec, parse_spec
from .model import AwsCell, AzureCell, Cell, EnvironmentSpec, GcpCell, Tags, Targets

__all__ = ["AwsCell", "AzureCell", "Cell", "EnvironmentSpec", "GcpCell", "Tags", "Targets", "load_spec", "parse_spec"]
