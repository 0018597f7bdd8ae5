"""One way to report bad input everywhere: every problem at once, each with its path.

The spec reports config key paths (`aiinfra:cells[1].region`); components used
as a library report argument paths (`ObjectStoreArgs.noncurrent_version_days`).
Both raise `InputError`, a `pulumi.RunError`, so the Pulumi CLI and preflight
print the message without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import pulumi


@dataclass(frozen=True)
class Problem:
    """One invalid input: where it is, what was received, what is allowed."""

    path: str
    received: Any
    allowed: str
    missing: bool = False

    def render(self) -> str:
        got = "missing" if self.missing else f"got {_show(self.received)}"
        return f"{self.path}: {got}; {self.allowed}"

    def under(self, prefix: str) -> "Problem":
        """The same problem with `prefix` in front of its path."""
        sep = "" if not self.path or self.path.startswith("[") else "."
        return Problem(f"{prefix}{sep}{self.path}" if self.path else prefix,
                       self.received, self.allowed, self.missing)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class InputError(pulumi.RunError):
    """Invalid input, reported before any resource is registered."""

    def __init__(self, subject: str, problems: Iterable[Problem]):
        self.problems = list(problems)
        lines = [f"{subject} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__("\n".join(lines))


def raise_if_any(subject: str, problems: Iterable[Problem]) -> None:
    found = list(problems)
    if found:
        raise InputError(subject, found)
