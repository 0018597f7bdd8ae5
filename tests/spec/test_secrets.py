"""Secrets stay secret: a `secure:` value reaches every input made from it as a secret, and is
refused wherever it could not stay one.

The engine hands a program the plaintext of every config value plus the list of keys that hold a
`secure:` value; these tests give the program exactly that (not preflight's own placeholder)."""

from __future__ import annotations

import json

from preflight import plan as plan_io
from preflight.project import StackConfig, load_project, load_stack_config
from preflight.runtime import ProgramError, run_program
from tests.conftest import FIXTURES, run_preflight

PLAINTEXT = "tok-PLAINTEXT-4711"
PROJECT = FIXTURES / "spec_secrets"


def _engine_config(**override: str) -> StackConfig:
    """The fixture stack's config as the engine passes it: plaintext values, and the secret keys."""
    project = load_project(PROJECT)
    values = dict(load_stack_config(project, "dev").values)
    values["aiinfra:secrets"] = json.dumps({"api-token": PLAINTEXT})
    values.update(override)
    return StackConfig(values, sorted({"aiinfra:secrets", *override}))


def test_every_input_made_from_a_secret_is_a_secret() -> None:
    project = load_project(PROJECT)
    plan = run_program(project, "dev", _engine_config()).plan
    text = plan_io.dumps(plan)
    assert PLAINTEXT not in text and '"tok-"' not in text
    resources = {r["name"]: r for r in plan["resources"]}
    assert resources["api-token"]["inputs"]["secretString"] == plan_io.SECRET
    assert resources["derived"]["inputs"]["tags"]["prefix"] == plan_io.SECRET
    assert plan["outputs"]["token"] == plan_io.SECRET


def test_a_secure_value_where_it_cannot_stay_secret_is_refused_without_showing_it() -> None:
    project = load_project(PROJECT)
    cells = json.dumps([{"name": "aws-use1", "cloud": "aws", "region": "us-east-1", "hostname": PLAINTEXT}])
    try:
        run_program(project, "dev", _engine_config(**{"aiinfra:cells": cells}))
    except ProgramError as exc:
        assert exc.expected and exc.registered == 0
        assert "aiinfra:cells: got '<secret>'; allowed: no `secure:` value under aiinfra:cells" in str(exc)
        assert PLAINTEXT not in str(exc)
    else:
        raise AssertionError("a secure value under aiinfra:cells was accepted")


def test_a_plain_value_under_secrets_is_refused() -> None:
    project = load_project(PROJECT)
    config = _engine_config()
    plain = StackConfig(config.values, [])
    try:
        run_program(project, "dev", plain)
    except ProgramError as exc:
        assert "aiinfra:secrets: got ['api-token']; allowed: `secure:` values only" in str(exc)
        assert PLAINTEXT not in str(exc)
    else:
        raise AssertionError("a plain value under aiinfra:secrets was accepted")


def test_the_stack_file_form_plans_offline() -> None:
    proc = run_preflight("plan", "dev", "--cwd", PROJECT)
    assert proc.returncode == 0, proc.stderr
