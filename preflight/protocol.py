"""Constants of the Pulumi wire protocol, in one place.

Property values travel between a program, the engine, providers and policy
packs as protobuf `Struct`s; special values (secrets, resource references,
output values, assets, archives) are maps marked by a signature key, and an
unknown value is a fixed sentinel string. The values below are part of the
protocol, not of any SDK's internals: they are defined in pulumi/pulumi
`sdk/go/common/resource/sig/sig.go` and `sdk/go/common/resource/plugin/rpc.go`
(`UnknownStringValue`), and every SDK and the policy SDKs repeat them.
`tests/preflight/test_protocol.py` checks them against what the installed
Python SDK serializes.
"""

from __future__ import annotations

SIG_KEY = "4dabf18193072939515e22adb298388d"
"""The key whose value says which special value a map encodes."""

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
"""`{SIG_KEY: SECRET_SIG, "value": ...}`: a secret."""

RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
"""`{SIG_KEY: RESOURCE_SIG, "urn": ..., "id": ...}`: a reference to a resource."""

OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
"""`{SIG_KEY: OUTPUT_SIG, "value"?, "secret"?, "dependencies"?}`: an output value; no `value` means unknown."""

ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
"""An asset (file, text or remote)."""

ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
"""An archive (assets, file or remote)."""

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""What the engine sends in place of any value not known during a preview."""
