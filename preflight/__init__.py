"""preflight: plan, check, cost and stress any Pulumi Python stack offline.

No Pulumi CLI, no provider plugins, no cloud credentials: the unmodified
program runs in preview mode on the SDK's mock runtime behind a recording
monitor, and every other command works from the resulting plan.
"""

from .runtime import PlanResult, ProgramError, plan_stack

__all__ = ["PlanResult", "ProgramError", "plan_stack"]
