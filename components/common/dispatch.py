"""Choosing by cloud, DNS provider, routing policy, serving mode or engine: one way, checked by pyright.

Every value the library branches on is a `Literal`: `Cloud` (catalog.regions), `Provider` and
`Policy` (traffic.args), `Mode`, `Engine` and `Metric` (serving.args). A branch that forgets a
member must be a type error, never a silent fall into the last case; a value from outside the
`Literal` (a library user's string, a hand-built spec) must be refused with an `InputError` naming
the value and the allowed ones before anything is registered. Two tools do it; which one depends
on what each member gets:

1. **Code** (which builder, module or block runs) is a `match` whose last case is
   `case _: unknown(value, path, allowed)`. `unknown` takes a `Never`, so pyright reports a member
   without a case (`"Literal['oci']" is not assignable to "Never"`); at run time it raises
   InputError. A front door calls such a *selector* (a match that returns the builder without
   running it) before `super().__init__`, so even a missed case fails before registration:

       def _builder(cloud: Cloud) -> ClusterBuilder:
           match cloud:
               case "aws":
                   from . import aws
                   return aws.build_cluster
               ...
               case _:
                   unknown(cloud, "KubernetesClusterArgs.cloud", CLOUDS)

2. **Facts** (one constant per member: a title, a region list, a key format, an API spelling, a
   flag) are a table typed `PerCloud[V]` (`PerProvider[V]`, `PerPolicy[V]`, `PerMetric[V]`): a
   TypedDict with one key per member, declared next to its `Literal`. Pyright reports a table
   that lacks a key, and a lookup whose `Literal` has a member the table type lacks.

Guards are not choices: an `if` with no `elif`/`else` that adds or skips one rule for the members
it names (`if cloud == "gcp" and not project: problem`) stays an `if`; a new member just does not
get that rule. Anything that answers for every member (an if/elif chain, an `else`, a conditional
expression, an `isinstance` chain, a dict lookup) is a choice and uses 1 or 2.

Front doors check their `Literal` arguments with `choice_problems` first and raise at once on an
unknown value: every other rule, and every table lookup, assumes a known one.
`tests/components/test_dispatch.py` checks every table and selector against its `Literal`.
"""

from __future__ import annotations

from typing import Iterable, Never, NoReturn, Sequence

from .problems import InputError, Problem


def listed(allowed: Iterable[object]) -> str:
    """`a, b or c`."""
    names = [str(a) for a in allowed]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def allowed_text(allowed: Iterable[object]) -> str:
    """`allowed: a, b or c`."""
    return f"allowed: {listed(allowed)}"


def choice_problems(path: str, value: object, allowed: Sequence[object]) -> list[Problem]:
    """A problem when `value` is not one of `allowed` (the members of its `Literal`), else none."""
    return [] if value in allowed else [Problem(path, value, allowed_text(allowed))]


def unknown(value: Never, path: str, allowed: Iterable[object], *, received: object = None) -> NoReturn:
    """The last case of every `match` on a `Literal`: unreachable for pyright, an InputError at run time.

    `received` replaces the value in the message when its repr says little (a spec object).
    """
    shown = value if received is None else received
    raise InputError(f"no implementation for {path} {shown!r}", [Problem(path, shown, allowed_text(allowed))])


class Unsupported(InputError):
    """A known member an implementation rejects by design (Cloud DNS has no latency routing)."""


def unsupported(path: str, value: object, allowed: str) -> NoReturn:
    """The case of a member one implementation cannot serve: an explicit decision, unlike `unknown`.

    `allowed` is the "allowed: ..." text (front doors normally report the same rule earlier, with
    every other problem).
    """
    raise Unsupported(f"unsupported {path} {value!r}", [Problem(path, value, allowed)])
