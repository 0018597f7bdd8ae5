"""Mechanisms every component uses: environment, tagging, input problems, naming."""

from .environment import REQUIRED_TAGS, Environment
from .problems import InputError, Problem, raise_if_any
from .tagging import tagging

__all__ = ["REQUIRED_TAGS", "Environment", "InputError", "Problem", "raise_if_any", "tagging"]
