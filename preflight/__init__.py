"""preflight: plan, check, cost and stress any Pulumi Python stack offline.

No Pulumi CLI, no provider plugins, no cloud credentials: the unmodified
program runs in preview mode against a recording monitor that answers as the
engine does, and every other command works from the resulting plan.
"""

import os

# gRPC's C core logs connection events (a callback server closing, for one) to standard error
# at its default verbosity; they mean nothing to a user of an offline tool. Read once, when gRPC
# loads, so this must come before the SDK's import; a user's own setting wins.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from .runtime import PlanResult, ProgramError, plan_stack  # noqa: E402 - after the setting above

__all__ = ["PlanResult", "ProgramError", "plan_stack"]
