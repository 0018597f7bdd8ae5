"""The protocol constants preflight uses are the ones the installed SDK puts on the wire."""

from __future__ import annotations

import asyncio
import json
from typing import Callable

import pulumi
from pulumi.runtime import rpc

from preflight import protocol
from preflight.plan import SECRET
from tests.conftest import FIXTURES, plan_json


def _serialize(make: Callable[[], object]) -> object:
    async def run() -> object:
        return await rpc.serialize_property(make(), [], None)
    return asyncio.run(run())


def test_secret_signature() -> None:
    """A secret input arrives in the SDK's secret wrapper and is rendered as one, never as plaintext."""
    plan = plan_json("dev", FIXTURES / "secrets")
    assert SECRET in json.dumps(plan)
    assert protocol.SECRET_SIG not in json.dumps(plan)


def test_asset_and_archive_signatures() -> None:
    asset = _serialize(lambda: pulumi.StringAsset("x"))
    archive = _serialize(lambda: pulumi.AssetArchive({"a": pulumi.StringAsset("x")}))
    assert isinstance(asset, dict) and isinstance(archive, dict)
    assert (asset[protocol.SIG_KEY], archive[protocol.SIG_KEY]) == (protocol.ASSET_SIG, protocol.ARCHIVE_SIG)


def test_unknown_sentinel() -> None:
    assert rpc.UNKNOWN == protocol.UNKNOWN
