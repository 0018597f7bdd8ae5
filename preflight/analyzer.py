"""Run an unmodified CrossGuard Python policy pack over a plan, speaking the engine's Analyzer protocol.

What the Pulumi CLI does for `pulumi preview --policy-pack DIR`, reproduced from
its source (`sdk/go/common/resource/plugin/analyzer_plugin.go`,
`pkg/resource/analyzer/config.go`, the step generator) and checked against the
installed SDKs:

- Launch: `python -u -m pulumi.policy <engine-address> <pack-dir>` with the pack
  directory as working directory (the module is `pulumi/policy/__main__.py` in the
  `pulumi` package; it `runpy`s the pack, whose `PolicyPack(...)` serves the
  Analyzer service and prints its port as the first stdout line). The engine
  address is never dialled by the Python SDK. Environment: the caller's, plus
  `PULUMI_CONFIG` (the stack config as JSON), `PULUMI_PROJECT`, `PULUMI_STACK`,
  `PULUMI_ORGANIZATION`, `PULUMI_DRY_RUN`. `runtime.options.virtualenv` in
  `PulumiPolicy.yaml` selects the interpreter, as the CLI's shim does.
- Calls, in the engine's order: `Handshake` (Python answers UNIMPLEMENTED, which
  the engine tolerates), `ConfigureStack`, `GetAnalyzerInfo`, `GetPluginInfo`,
  `Configure` (one entry per policy, enforcement level always explicit), then per
  resource `Remediate` (only matters for `remediate` policies) and `Analyze` with
  the resource's inputs, and finally `AnalyzeStack` over every resource.
- Values: the plan's `"<unknown>"` becomes the engine's unknown sentinel string,
  `"<secret>"` the secret wrapper around an unknown (the plaintext does not exist
  offline), numbers arrive as doubles. A policy reading an unknown value gets
  the SDK's own advisory "can't be known during preview" diagnostic.
- A policy that raises makes the servicer answer gRPC UNKNOWN; the engine fails
  the preview ("failed to run policy"), so it is an error here, never a pass.
- Time: one deadline bounds the whole conversation (`AnalyzerSession`); a policy that
  never returns fails the run naming the call in flight, and the pack and whatever it
  started never outlive `PackProcess.stop()` (see `packguard`).
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import os
import queue
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Sequence

import grpc
import jsonschema
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from . import packguard
from .plan import SECRET, UNKNOWN

# Protocol constants (pulumi `sdk/go/common/resource/properties.go`; the same values in
# pulumi_policy/deserialize.py and pulumi/runtime/rpc.py).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
UNKNOWN_SENTINEL = rpc.UNKNOWN  # "04da6b54-80e4-46f7-96ec-b56ff0331ba9": what the engine sends for any unknown

STACK_TYPE = "pulumi:pulumi:Stack"
ENGINE_ADDRESS = "127.0.0.1:0"  # parsed by the launcher, never dialled by the Python policy SDK
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_TO_PROTO = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY,
                   "remediate": analyzer_pb2.REMEDIATE, "disabled": analyzer_pb2.DISABLED}
_PROTO_TO_LEVEL = {v: k for k, v in _LEVEL_TO_PROTO.items()}
_SEVERITIES = {analyzer_pb2.POLICY_SEVERITY_LOW: "low", analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
               analyzer_pb2.POLICY_SEVERITY_HIGH: "high", analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical"}
_POLICY_TYPES = {analyzer_pb2.POLICY_TYPE_RESOURCE: "resource", analyzer_pb2.POLICY_TYPE_STACK: "stack"}
_MAX_MESSAGE = 400 * 1024 * 1024  # the policy SDK's own limit
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", _MAX_MESSAGE),
                    ("grpc.max_send_message_length", _MAX_MESSAGE)]
# Environment variables the SDKs read as config fallbacks; the pack sees the stack's config only.
_SHIELDED_PREFIXES = ("PULUMI_CONFIG", "PULUMI_K8S_", "KUBECONFIG", "AWS_", "AZURE_", "ARM_",
                      "GOOGLE_", "GCLOUD_", "CLOUDSDK_")


_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def _duration_seconds(text: str) -> float:
    """A Go duration as Pulumi's custom timeouts carry it ("1500s", "1h30m", "10m") in seconds, as the
    Analyzer protocol's CustomTimeouts send them."""
    import re
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(text))
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


class AnalyzerError(Exception):
    """The pack could not be started, configured or spoken to (exit 2)."""


class PolicyConfigError(AnalyzerError):
    """The policy configuration is malformed or fails a policy's config schema (exit 2)."""


class PolicyTimeout(AnalyzerError):
    """The policy phase's overall deadline passed: names the call (and policies) in flight (exit 2)."""


class Deadline:
    """An overall time limit; every call made under it gets at most what remains."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end


# ---------------------------------------------------------------------------------------------
# The pack on disk


@dataclass(frozen=True)
class PolicyPackProject:
    """What `PulumiPolicy.yaml` says, plus the interpreter that will run the pack."""

    directory: Path
    runtime: str
    version: str
    description: str
    python: str
    warnings: tuple[str, ...] = ()


def load_policy_pack(directory: Path | str) -> PolicyPackProject:
    directory = Path(directory).resolve()
    path = directory / "PulumiPolicy.yaml"
    if not path.exists():
        raise AnalyzerError(f"{directory}: no PulumiPolicy.yaml here; is this a policy pack?")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise AnalyzerError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise AnalyzerError(f"{path}: expected a mapping")
    runtime = doc.get("runtime")
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    options = runtime.get("options") if isinstance(runtime, dict) else None
    if name != "python":
        raise AnalyzerError(f"{path}: runtime is {name!r}; preflight runs Python policy packs only")
    if not (directory / "__main__.py").exists():
        raise AnalyzerError(f"{directory}: no __main__.py; a Python policy pack runs its __main__.py")
    python = sys.executable
    warnings: list[str] = []
    venv = options.get("virtualenv") if isinstance(options, dict) else None
    if venv:
        venv_dir = Path(venv) if Path(venv).is_absolute() else directory / venv
        candidate = venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if candidate.exists():
            python = str(candidate)
        else:
            warnings.append(f"{path}: virtualenv {venv!r} does not exist; running the pack with {python}")
    return PolicyPackProject(directory, "python", str(doc.get("version") or ""),
                             str(doc.get("description") or ""), python, tuple(warnings))


# ---------------------------------------------------------------------------------------------
# The pack process


def die_with_parent_preexec() -> Any:
    """preexec_fn: default SIGINT (a background shell leaves it ignored) and die with the parent."""
    parent = os.getpid()
    prctl = None
    if sys.platform.startswith("linux"):
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork
        except (OSError, AttributeError):
            prctl = None

    def setup() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if prctl is not None:
            prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG (fires when the forking thread exits)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os.kill(os.getpid(), signal.SIGKILL)

    return setup


class PackProcess:
    """The policy pack, launched like the CLI does, in its own process group.

    Guaranteed: `stop()` returns within `grace` + about 6 s at worst (each wait in it is
    bounded; typically it takes a few hundredths of a second after the pack exits),
    whatever the pack does, even when a process it started keeps its stdout open; after
    it, neither the pack nor any process it started is left: its process group, its
    descendants and every process carrying this run's environment marker (see
    `packguard`) are SIGKILLed, including children that called setsid or daemonized. If
    preflight itself is SIGKILLed, the pack dies with it (PR_SET_PDEATHSIG, Linux) and
    the run's watchdog kills the processes the pack started, within a fraction of a
    second. Not guaranteed: a process that both leaves the pack's group and drops the
    marker from its environment, once it is no longer the pack's descendant; cleanup
    after a SIGKILL of the watchdog as well as of preflight; see `packguard` for the
    complete list.
    """

    def __init__(self, pack: PolicyPackProject, env: Mapping[str, str]):
        self.pack = pack
        self._stderr: IO[bytes] = tempfile.TemporaryFile()
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._closing = threading.Event()
        self.stdout_extra: list[str] = []
        self.started = time.perf_counter()
        self.port_seconds: float | None = None  # from launch to the port line
        self.run_token = secrets.token_hex(16)
        env = {**env, packguard.MARK: self.run_token}
        # Started before the pack, so it covers the pack from its first instruction.
        self._watchdog = packguard.start_watchdog(self.run_token)
        # Our own pipe, read with poll() by the reader thread: a grandchild that keeps the write
        # end open must not leave a thread blocked in read() (nor a close() blocked behind it).
        read_fd, write_fd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [pack.python, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, str(pack.directory)],
                cwd=pack.directory, env=env, stdin=subprocess.DEVNULL,
                stdout=write_fd, stderr=self._stderr,
                process_group=0, preexec_fn=die_with_parent_preexec(), close_fds=True)
        except OSError as exc:
            os.close(read_fd)
            self._stderr.close()
            packguard.release_watchdog(self._watchdog)
            raise AnalyzerError(f"cannot start the policy pack with {pack.python}: {exc}") from exc
        finally:
            os.close(write_fd)
        packguard.tell_watchdog(self._watchdog, self.proc.pid)
        self._stdout_fd = read_fd
        self._reader = threading.Thread(target=self._drain, name="policy-pack-stdout", daemon=True)
        self._reader.start()
        self._port: int | None = None

    def _drain(self) -> None:
        """The pack's stdout, line by line, until end of file or until `stop()` says so."""
        fd = self._stdout_fd
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        pending = b""
        budget = 64  # reads once stopping: a process flooding the pipe cannot hold stop()
        try:
            while budget > 0:
                closing = self._closing.is_set()
                if not poller.poll(0 if closing else 50):
                    if closing:
                        break
                    continue
                if closing:
                    budget -= 1
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if self.port_seconds is None:
                        self.port_seconds = time.perf_counter() - self.started
                    self._lines.put(line + b"\n")
        except OSError:
            pass
        finally:
            if pending:
                self._lines.put(pending)
            self._lines.put(None)
            os.close(fd)

    def port(self, timeout: float = 60.0) -> int:
        """The port the pack listens on: its first stdout line."""
        if self._port is not None:
            return self._port
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=0.05)
                break
            except queue.Empty:
                pass
            if self.exit_status() is not None:
                # Exited: take what it wrote before (a process it started may hold the pipe open,
                # so end of file may never come).
                try:
                    line = self._lines.get(timeout=0.2)
                except queue.Empty:
                    line = None
                break
            if time.monotonic() >= deadline:
                raise AnalyzerError(f"the policy pack printed no port within {timeout:.0f}s"
                                    + self.stderr_hint())
        if line is None:
            deadline = time.monotonic() + 10
            status = self.exit_status()
            while status is None and time.monotonic() < deadline:
                time.sleep(0.01)
                status = self.exit_status()
            raise AnalyzerError(f"the policy pack exited with status {status} before serving"
                                + self.stderr_hint())
        text = line.decode(errors="replace").strip()
        try:
            self._port = int(text)
        except ValueError:
            raise AnalyzerError(f"the policy pack's first output line must be its port, got {text[:200]!r}: "
                                "a pack must print nothing at import") from None
        return self._port

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stderr_size(self) -> int:
        """Characters of standard error so far (a reused pack's output of one run starts there)."""
        return len(self.stderr_text())

    def stderr_hint(self) -> str:
        text = self.stderr_text().strip()
        if not text:
            return ""
        tail = "\n".join(text.splitlines()[-25:])
        return f"\npolicy pack output:\n{tail}"

    def exit_status(self) -> int | None:
        """The pack's exit status (negative: killed by that signal) without reaping it: until we
        reap, its pid and process group id cannot be reused, so killing the group stays safe."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.proc.returncode if self.proc.returncode is not None else -1
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def stop(self, grace: float = 1.0) -> None:
        """End the pack and everything it started. Bounded (no wait without a limit), safe to call twice.

        SIGINT to the pack's process group (the pack's own Ctrl-C path, `server.stop`), up to
        `grace` seconds for the pack to exit; then, always, SIGKILL to the group and to every
        other process of the run (descendants that left the group, marked processes) until none
        is left; reap the pack; end the stdout reader; release the watchdog.
        """
        proc = self.proc
        try:
            if proc.returncode is None:  # not reaped: its pid still names our process group
                tree = packguard.descendants(proc.pid)  # now, before they are reparented away
                if self.exit_status() is None:
                    try:
                        os.killpg(proc.pid, signal.SIGINT)
                    except (ProcessLookupError, PermissionError):
                        pass
                    deadline = time.monotonic() + grace
                    while self.exit_status() is None and time.monotonic() < deadline:
                        time.sleep(0.01)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the pack and anything left in its group
                except (ProcessLookupError, PermissionError):
                    pass
                packguard.kill_run(self.run_token, proc.pid, group_is_ours=True, extra=tree)
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass  # unkillable for now (uninterruptible sleep): never hang the command on it
        finally:
            self._closing.set()
            self._reader.join(timeout=1)
            while True:
                try:
                    line = self._lines.get_nowait()
                except queue.Empty:
                    break
                if line is not None:
                    self.stdout_extra.append(line.decode(errors="replace").rstrip("\n"))
            packguard.release_watchdog(self._watchdog)
            self._watchdog = None

    def close(self) -> None:
        self._stderr.close()


def pack_environment(project: str, stack: str, organization: str, config: Mapping[str, str]) -> dict[str, str]:
    """The CLI's environment for a policy pack (`constructEnv`), config-fallback variables removed."""
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith(_SHIELDED_PREFIXES)}
    env.update({
        "PULUMI_CONFIG": json.dumps(dict(config), sort_keys=True),
        "PULUMI_ORGANIZATION": organization,
        "PULUMI_PROJECT": project,
        "PULUMI_STACK": stack,
        "PULUMI_DRY_RUN": "true",
        "PYTHONUNBUFFERED": "1",
    })
    return env


# ---------------------------------------------------------------------------------------------
# Values: plan JSON -> protocol Struct


def _encode(value: Any) -> Any:
    if isinstance(value, str):
        if value == UNKNOWN:
            return UNKNOWN_SENTINEL
        if value == SECRET:
            return {SIG_KEY: SECRET_SIG, "value": UNKNOWN_SENTINEL}
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key == "asset" and isinstance(inner, dict) and inner and set(inner) <= {"path", "text", "uri"}:
                return {SIG_KEY: ASSET_SIG, **{k: _encode(v) for k, v in inner.items()}}
            if key == "archive" and isinstance(inner, dict) and inner and set(inner) <= {"assets", "path", "uri"}:
                return {SIG_KEY: ARCHIVE_SIG, **{k: _encode(v) for k, v in inner.items()}}
        return {str(k): _encode(v) for k, v in value.items()}
    return str(value)


def to_struct(properties: Mapping[str, Any] | None) -> struct_pb2.Struct:
    """Plan values as the engine marshals them (KeepUnknowns, KeepSecrets, SkipInternalKeys)."""
    struct = struct_pb2.Struct()
    if properties:
        struct.update({k: _encode(v) for k, v in properties.items() if not k.startswith("__")})
    return struct


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Protocol values back to plan-style JSON (for remediated properties in reports)."""
    def back(value: Any) -> Any:
        if value == UNKNOWN_SENTINEL:
            return UNKNOWN
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, list):
            return [back(v) for v in value]
        if isinstance(value, dict):
            if value.get(SIG_KEY) == SECRET_SIG:
                return SECRET
            return {k: back(v) for k, v in sorted(value.items())}
        return value
    return back(json_format.MessageToDict(struct))


# ---------------------------------------------------------------------------------------------
# Policy configuration (the engine's reconciliation and validation)


@dataclass
class PolicyConfig:
    """One policy's config: an enforcement level (None: not set) and properties (None: none)."""

    enforcement_level: str | None = None
    properties: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = dict(self.properties or {})
        if self.enforcement_level:
            doc["enforcementLevel"] = self.enforcement_level
        return doc


def _level(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PolicyConfigError(f"parsing enforcement level for {where!r}: {value!r} is not a valid "
                                "enforcement level; must be a string")
    if value not in LEVELS:
        raise PolicyConfigError(f"parsing enforcement level for {where!r}: {value!r} is not a valid "
                                f"enforcement level; one of {', '.join(LEVELS)}")
    return value


def parse_policy_config(doc: Any, source: str = "policy config") -> dict[str, PolicyConfig]:
    """The Pulumi policy config JSON: `{"<policy>": "<level>" | {"enforcementLevel": ..., ...props}}`."""
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise PolicyConfigError(f"{source}: expected a JSON object mapping policy names to config")
    result: dict[str, PolicyConfig] = {}
    for name, value in doc.items():
        if isinstance(value, str):
            result[name] = PolicyConfig(_level(value, name), None)
        elif isinstance(value, dict):
            props = dict(value)
            level = _level(props.pop("enforcementLevel"), name) if "enforcementLevel" in props else None
            if level is None and not props:
                continue
            result[name] = PolicyConfig(level, props or None)
        else:
            raise PolicyConfigError(f"{source}: parsing {name!r}: {value!r} is not a valid value; "
                                    "must be a string or object")
    return result


def load_policy_config_file(path: Path | str) -> dict[str, PolicyConfig]:
    import json

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyConfigError(f"{path}: cannot read the policy config: {exc.strerror}") from None
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(f"{path}: not valid JSON: {exc}") from None
    return parse_policy_config(doc, str(path))


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str
    display_name: str = ""
    policy_type: str = "unknown"
    severity: str = ""
    tags: tuple[str, ...] = ()
    url: str = ""
    remediation_steps: str = ""
    framework: dict[str, str] | None = None
    config_schema: dict[str, Any] | None = None  # {"properties": {...}, "required": [...]}


@dataclass
class PackInfo:
    name: str
    version: str
    description: str
    display_name: str
    supports_config: bool
    policies: list[PolicyInfo]
    initial_config: dict[str, PolicyConfig]
    plugin_version: str = ""


def _apply_config(result: dict[str, PolicyConfig], given: Mapping[str, PolicyConfig]) -> None:
    """The engine's `applyConfig`: "all" sets every level first, then per-policy entries win."""
    everything = given.get("all")
    if everything is not None and everything.enforcement_level:
        for cfg in result.values():
            cfg.enforcement_level = everything.enforcement_level
    for name, cfg in given.items():
        if name == "all" or name not in result:
            continue  # the engine carries unknown names along; the pack ignores them, so do we
        target = result[name]
        if cfg.enforcement_level:
            target.enforcement_level = cfg.enforcement_level
        if cfg.properties:
            target.properties = {**(target.properties or {}), **cfg.properties}


def config_schema(policy: PolicyInfo, supports_config: bool) -> dict[str, Any] | None:
    """The JSON Schema the engine validates a policy's config with (`enforcementLevel` injected)."""
    if not supports_config:
        return None
    schema = policy.config_schema or {}
    properties = dict(schema.get("properties") or {})
    properties["enforcementLevel"] = {"type": "string", "enum": list(LEVELS)}
    doc: dict[str, Any] = {"type": "object", "properties": properties}
    if schema.get("required"):
        doc["required"] = list(schema["required"])
    return doc


def reconcile_config(info: PackInfo, user: Mapping[str, PolicyConfig] | None) -> dict[str, PolicyConfig]:
    """The engine's `ReconcilePolicyPackConfig`: schema defaults, then the pack's initial config,
    then the user's; every policy ends with an explicit level; invalid results raise."""
    result: dict[str, PolicyConfig] = {}
    for policy in info.policies:
        defaults = {k: v["default"] for k, v in ((policy.config_schema or {}).get("properties") or {}).items()
                    if isinstance(v, dict) and "default" in v}
        result[policy.name] = PolicyConfig(policy.enforcement_level, defaults or None)
    # NB: the engine reads an initial-config entry without a level as "advisory" (proto default 0)
    # and applies it; reproduced here so a pack behaves as under `pulumi preview`.
    _apply_config(result, info.initial_config)
    if user:
        _apply_config(result, user)
    problems: list[str] = []
    for policy in info.policies:
        schema = config_schema(policy, info.supports_config)
        if schema is None:
            continue
        try:
            validator = jsonschema.Draft7Validator(schema)
            errors = sorted(validator.iter_errors(result[policy.name].properties or {}),
                            key=lambda e: list(map(str, e.absolute_path)))
        except jsonschema.SchemaError as exc:
            problems.append(f"{policy.name}: the policy's config schema is invalid: {exc.message}")
            continue
        for error in errors:
            where = ".".join(str(p) for p in error.absolute_path)
            problems.append(f"{policy.name}: {where + ': ' if where else ''}{error.message}")
    if problems:
        raise PolicyConfigError("invalid policy configuration:\n  - " + "\n  - ".join(problems))
    return result


def unknown_policy_names(info: PackInfo, user: Mapping[str, PolicyConfig] | None) -> list[str]:
    known = {p.name for p in info.policies} | {"all"}
    return sorted(name for name in (user or {}) if name not in known)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Diagnostic:
    policy_name: str
    policy_pack_name: str
    policy_pack_version: str
    message: str
    urn: str
    enforcement_level: str
    description: str
    severity: str
    resource_type: str
    phase: str  # "resource", "stack" or "remediate"

    def as_json(self) -> dict[str, Any]:
        return {"policyName": self.policy_name, "policyPackName": self.policy_pack_name,
                "policyPackVersion": self.policy_pack_version, "message": self.message, "urn": self.urn,
                "enforcementLevel": self.enforcement_level, "description": self.description,
                "severity": self.severity, "resourceType": self.resource_type, "phase": self.phase}


@dataclass
class CallError:
    """A call the pack failed: for Analyze/AnalyzeStack, a policy raised."""

    call: str
    urn: str
    resource_type: str
    code: str
    message: str
    policies: list[str] = field(default_factory=list)  # the policies found to raise, when attributed

    def as_json(self) -> dict[str, Any]:
        return {"call": self.call, "urn": self.urn, "resourceType": self.resource_type,
                "code": self.code, "message": self.message, "policies": self.policies}


@dataclass
class Remediation:
    policy_name: str
    urn: str
    properties: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"policyName": self.policy_name, "urn": self.urn, "properties": self.properties}


@dataclass
class Analysis:
    info: PackInfo
    config: dict[str, PolicyConfig]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errors: list[CallError] = field(default_factory=list)
    remediations: list[Remediation] = field(default_factory=list)
    not_applicable: int = 0
    resources: int = 0
    analyze_seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# The protocol


@dataclass(frozen=True)
class StackContext:
    project: str
    stack: str
    organization: str
    config: Mapping[str, str]
    secret_keys: Sequence[str]
    tags: Mapping[str, str]


def _rpc_error(exc: grpc.RpcError) -> tuple[str, str]:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return (code.name if code is not None else "UNKNOWN"), (details or "").strip()


def _ints(value: Any) -> Any:
    """Struct numbers are doubles; show whole ones as ints (schemas, defaults, initial config)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    return value


def _pack_info(resp: analyzer_pb2.AnalyzerInfo, project: PolicyPackProject) -> PackInfo:
    policies: list[PolicyInfo] = []
    for p in resp.policies:
        schema: dict[str, Any] | None = None
        if p.HasField("configSchema"):
            props = _ints(json_format.MessageToDict(p.configSchema.properties))
            schema = {"properties": props, "required": list(p.configSchema.required)}
        framework = None
        if p.HasField("framework"):
            framework = {k: v for k, v in (("name", p.framework.name), ("version", p.framework.version),
                                           ("reference", p.framework.reference),
                                           ("specification", p.framework.specification)) if v}
        policies.append(PolicyInfo(
            name=p.name, description=p.description,
            enforcement_level=_PROTO_TO_LEVEL.get(p.enforcementLevel, "advisory"),
            display_name=p.displayName, policy_type=_POLICY_TYPES.get(p.policy_type, "unknown"),
            severity=_SEVERITIES.get(p.severity, ""), tags=tuple(p.tags), url=p.url,
            remediation_steps=p.remediation_steps, framework=framework, config_schema=schema))
    policies.sort(key=lambda p: p.name)
    initial = {name: PolicyConfig(_PROTO_TO_LEVEL.get(cfg.enforcementLevel, "advisory"),
                                  _ints(json_format.MessageToDict(cfg.properties)) or None)
               for name, cfg in resp.initialConfig.items()}
    return PackInfo(name=resp.name, version=project.version or resp.version,
                    description=resp.description or project.description, display_name=resp.displayName,
                    supports_config=resp.supportsConfig, policies=policies, initial_config=initial)


class AnalyzerSession:
    """One connection to a started pack; the calls the engine makes, in its order.

    `timeout` bounds the whole session from its creation: waiting for the pack's port,
    connecting and every call. Each call gets at most what remains (`self.timeout`), so
    a policy that never returns makes its call fail when the deadline passes, and the
    caller raises `PolicyTimeout` naming the call and the policies it runs.
    """

    def __init__(self, process: PackProcess, timeout: float = 300.0):
        self.process = process
        self.deadline = Deadline(timeout)
        self.pack_name = str(process.pack.directory)  # its own name once GetAnalyzerInfo answers
        try:
            port = process.port(timeout=min(60.0, self.deadline.remaining()))
        except AnalyzerError:
            if self.deadline.expired() and process.exit_status() is None:
                raise self.timed_out("it printed no port yet (still starting, or stuck at import)") from None
            raise
        # No `channel_ready_future`: it starts a connectivity poller that makes `close()` wait
        # about 0.2 s; the first call waits for the connection instead (`wait_for_ready`).
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    @property
    def timeout(self) -> float:
        """The timeout for the next call: what remains of the deadline (once it has passed, a
        token one that fails the call at once). A per-call limit never exceeds it."""
        return max(self.deadline.remaining(), 0.001)

    def timed_out(self, what: str) -> PolicyTimeout:
        """The one-line error for a passed deadline; `what` says what was in flight."""
        return PolicyTimeout(f"policy pack {self.pack_name} did not finish within the "
                             f"{self.deadline.seconds:g}s limit (--timeout): {what}")

    def close(self) -> None:
        self.channel.close()

    def _fail(self, call: str, exc: grpc.RpcError) -> AnalyzerError:
        code, details = _rpc_error(exc)
        if code == "DEADLINE_EXCEEDED":
            return self.timed_out(f"it did not answer {call}, a call that runs no policy")
        return AnalyzerError(f"{call} failed ({code}): {details}" + self.process.stderr_hint())

    def start(self, context: StackContext) -> PackInfo:
        pack_dir = str(self.process.pack.directory)
        try:
            self.stub.Handshake(analyzer_pb2.AnalyzerHandshakeRequest(
                engine_address=ENGINE_ADDRESS, root_directory=pack_dir, program_directory=pack_dir),
                timeout=min(30.0, self.timeout), wait_for_ready=True)
        except grpc.RpcError as exc:
            code = _rpc_error(exc)[0]
            if code in ("UNAVAILABLE", "DEADLINE_EXCEEDED") and not self.deadline.expired():
                raise AnalyzerError("cannot connect to the policy pack" + self.process.stderr_hint()) from None
            if code != "UNIMPLEMENTED":
                raise self._fail("Handshake", exc) from None
        try:
            self.stub.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=context.stack, project=context.project, organization=context.organization,
                dry_run=True, config=dict(context.config), config_secret_keys=list(context.secret_keys),
                tags=dict(context.tags)), timeout=self.timeout)
        except grpc.RpcError as exc:
            if _rpc_error(exc)[0] != "UNIMPLEMENTED":
                raise self._fail("ConfigureStack", exc) from None
        try:
            info = _pack_info(self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=self.timeout),
                              self.process.pack)
        except grpc.RpcError as exc:
            raise self._fail("GetAnalyzerInfo", exc) from None
        self.pack_name = info.name or self.pack_name
        try:
            info.plugin_version = self.stub.GetPluginInfo(empty_pb2.Empty(), timeout=self.timeout).version
        except grpc.RpcError as exc:
            raise self._fail("GetPluginInfo", exc) from None
        return info

    def configure(self, config: Mapping[str, PolicyConfig]) -> None:
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, cfg in config.items():
            entry = analyzer_pb2.PolicyConfig(enforcementLevel=_LEVEL_TO_PROTO[cfg.enforcement_level or "advisory"])
            if cfg.properties:
                entry.properties.update(cfg.properties)
            request.policyConfig[name].CopyFrom(entry)
        try:
            self.stub.Configure(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._fail("Configure", exc) from None


_PULUMI_NAME = "_pulumi_name"  # set by @pulumi.getter on every generated property


def _property_names(cls: Any) -> set[str]:
    return {getattr(v.fget, _PULUMI_NAME) for v in vars(cls).values()
            if isinstance(v, property) and hasattr(v.fget, _PULUMI_NAME)}


@functools.lru_cache(maxsize=None)
def output_only_properties(type_token: str) -> tuple[str, ...]:
    """Properties a provider computes (outputs that are not inputs), from the SDK's generated class.

    In a preview of a create they are unknown in the resource's state, which is what
    `AnalyzeStack` sees. Uses the provider SDK the program already imported; () when unknown.
    """
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] == "pulumi":
        return ()
    package, module, name = parts
    root = "pulumi_" + package.replace("-", "_")
    candidates = [root] if module == "index" else [f"{root}.{module.replace('/', '.')}",
                                                    f"{root}.{module.split('/')[0]}"]
    cls = None
    for candidate in candidates:
        mod = sys.modules.get(candidate)
        if mod is None:
            try:
                mod = importlib.import_module(candidate)
            except Exception:  # noqa: BLE001 - any import problem: no knowledge, not an error
                continue
        cls = getattr(mod, name, None)
        if isinstance(cls, type):
            break
        cls = None
    if cls is None:
        return ()
    home = sys.modules.get(cls.__module__)
    args = next((getattr(home, n) for n in (f"{name}InitArgs", f"{name}Args")
                 if isinstance(getattr(home, n, None), type)), None)
    if args is None:
        return ()
    return tuple(sorted(_property_names(cls) - _property_names(args)))


class _PlanView:
    """The plan's resources as the engine would describe them to an analyzer."""

    def __init__(self, plan: Mapping[str, Any], context: StackContext):
        self.context = context
        self.resources: list[dict[str, Any]] = list(plan["resources"])
        self.by_urn = {r["urn"]: r for r in self.resources}
        stacks = [r["urn"] for r in self.resources if r["type"] == STACK_TYPE]
        self.root_urn = stacks[0] if stacks else (
            f"urn:pulumi:{context.stack}::{context.project}::{STACK_TYPE}::{context.project}-{context.stack}")
        self._providers: dict[str, analyzer_pb2.AnalyzerProviderResource | None] = {}

    def options(self, r: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
        opts = r.get("options") or {}
        dbr = opts.get("deleteBeforeReplace")
        return analyzer_pb2.AnalyzerResourceOptions(
            protect=bool(opts.get("protect")),
            ignoreChanges=list(opts.get("ignoreChanges") or []),
            deleteBeforeReplace=bool(dbr), deleteBeforeReplaceDefined=dbr is not None,
            additionalSecretOutputs=list(opts.get("additionalSecretOutputs") or []),
            aliases=[a for a in (opts.get("aliases") or []) if a.startswith("urn:")],
            customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
                **{k: _duration_seconds(v) for k, v in (opts.get("customTimeouts") or {}).items()
                   if k in ("create", "update", "delete")}),
            parent=r.get("parent") or "")

    def provider(self, r: Mapping[str, Any]) -> analyzer_pb2.AnalyzerProviderResource | None:
        """The explicit provider from the plan, or the default provider the engine would add."""
        ref = r.get("provider")
        if not ref:
            if not r.get("custom") or r["type"].startswith("pulumi:"):
                return None
            package = r["type"].split(":", 1)[0]
            ref = (f"urn:pulumi:{self.context.stack}::{self.context.project}::"
                   f"pulumi:providers:{package}::default")
        if ref in self._providers:
            return self._providers[ref]
        provider = self.by_urn.get(ref)
        if provider is not None:
            inputs = provider.get("inputs") or {}
            ptype = provider["type"]
        else:  # a default provider: configured from the stack's `<package>:` keys
            ptype = ref.split("::")[2]
            package = ptype.split(":", 2)[2]
            inputs = {k.split(":", 1)[1]: (SECRET if k in self.context.secret_keys else v)
                      for k, v in self.context.config.items() if k.startswith(f"{package}:")}
        message = analyzer_pb2.AnalyzerProviderResource(
            type=ptype, urn=ref, name=ref.rsplit("::", 1)[1], properties=to_struct(inputs))
        self._providers[ref] = message
        return message

    def analyze_request(self, r: Mapping[str, Any], inputs: struct_pb2.Struct | None = None
                        ) -> analyzer_pb2.AnalyzeRequest:
        request = analyzer_pb2.AnalyzeRequest(
            type=r["type"], urn=r["urn"], name=r["name"],
            properties=inputs if inputs is not None else to_struct(r.get("inputs")),
            options=self.options(r))
        provider = self.provider(r)
        if provider is not None:
            request.provider.CopyFrom(provider)
        return request

    def stack_resource(self, r: Mapping[str, Any], inputs: struct_pb2.Struct | None) -> analyzer_pb2.AnalyzerResource:
        # AnalyzeStack sees each resource's state: for a create in preview, a custom resource's
        # inputs plus its computed outputs as unknowns; a component's registered outputs.
        if r.get("custom"):
            if inputs is not None:
                props = inputs
            else:
                state = dict(r.get("inputs") or {})
                for key in output_only_properties(r["type"]):
                    state.setdefault(key, UNKNOWN)
                props = to_struct(state)
        else:
            props = to_struct(r.get("outputs") or {})
        message = analyzer_pb2.AnalyzerResource(
            type=r["type"], urn=r["urn"], name=r["name"], properties=props, options=self.options(r),
            parent=r.get("parent") or "", dependencies=list(r.get("dependencies") or []))
        for key, urns in (r.get("propertyDependencies") or {}).items():
            if urns:
                message.propertyDependencies[key].urns.extend(urns)
        provider = self.provider(r)
        if provider is not None:
            message.provider.CopyFrom(provider)
        return message


def _diagnostic(d: analyzer_pb2.AnalyzeDiagnostic, urn: str, resource_type: str, phase: str,
                info: PackInfo, severities: Mapping[str, str]) -> Diagnostic:
    level = _PROTO_TO_LEVEL.get(d.enforcementLevel, "advisory")
    if level == "remediate":
        level = "mandatory"  # the engine's downgrade: a remediated resource still violating
    return Diagnostic(
        policy_name=d.policyName, policy_pack_name=d.policyPackName or info.name,
        policy_pack_version=info.version or d.policyPackVersion, message=d.message, urn=urn,
        enforcement_level=level, description=d.description,
        severity=_SEVERITIES.get(d.severity, "") or severities.get(d.policyName, ""),
        resource_type=resource_type, phase=phase)


def _policies_run_by(call: str, info: PackInfo, config: Mapping[str, PolicyConfig]) -> list[str]:
    """The policies the pack runs, one after the other, in one `call` (the Python SDK's servicer):
    Remediate, the resource policies at level remediate; Analyze, the enabled resource
    policies; AnalyzeStack, the enabled stack policies. Each decides by itself whether a
    resource concerns it, so all of them are candidates for any resource."""
    kind = "stack" if call == "AnalyzeStack" else "resource"
    names = []
    for policy in info.policies:
        level = (config.get(policy.name) or PolicyConfig()).enforcement_level or policy.enforcement_level
        if level == "disabled" or policy.policy_type not in (kind, "unknown"):
            continue
        if call == "Remediate" and level != "remediate":
            continue
        names.append(policy.name)
    return names


def _in_flight(call: str, target: str, policies: Sequence[str], others: int = 0) -> str:
    """What was in flight when the deadline passed, without claiming more than is known: a call
    runs several policies in turn and only the pack knows which one it is in."""
    if not policies:
        running = "with no policy enabled for it"
    elif len(policies) == 1:
        running = f"running policy {policies[0]}"
    else:
        running = (f"running one of the policies {', '.join(policies)} (the pack runs them in turn; "
                   "which one is stuck cannot be seen from outside it)")
    more = f"; {others} more call(s) were unanswered too" if others else ""
    return f"{call} of {target} was in flight, {running}{more}"


def _unanswered(futures: Sequence[Any]) -> int:
    return sum(1 for f in futures if not f.done() or f.code() != grpc.StatusCode.OK)


def analyze_plan(session: AnalyzerSession, info: PackInfo, config: Mapping[str, PolicyConfig],
                 plan: Mapping[str, Any], context: StackContext, window: int = 8) -> Analysis:
    """Remediate (when a policy remediates) and Analyze every resource, then AnalyzeStack."""
    view = _PlanView(plan, context)
    analysis = Analysis(info=info, config=dict(config), resources=len(view.resources))
    severities = {p.name: p.severity for p in info.policies if p.severity}
    started = time.perf_counter()
    remediating = any(c.enforcement_level == "remediate" for c in config.values())
    final_inputs: dict[str, struct_pb2.Struct] = {}

    if remediating:
        for r in view.resources:
            try:
                resp = session.stub.Remediate(view.analyze_request(r), timeout=session.timeout)
            except grpc.RpcError as exc:
                code, details = _rpc_error(exc)
                if code == "DEADLINE_EXCEEDED":
                    raise session.timed_out(_in_flight("Remediate", f"{r['type']} {r['urn']}",
                                                       _policies_run_by("Remediate", info, config))) from None
                if code != "UNIMPLEMENTED":
                    analysis.errors.append(CallError("Remediate", r["urn"], r["type"], code, details))
                continue
            for rem in resp.remediations:
                if rem.diagnostic:
                    analysis.diagnostics.append(Diagnostic(
                        rem.policyName, rem.policyPackName or info.name, info.version or rem.policyPackVersion,
                        rem.diagnostic, r["urn"], "advisory", rem.description,
                        severities.get(rem.policyName, ""), r["type"], "remediate"))
                elif rem.HasField("properties"):
                    final_inputs[r["urn"]] = rem.properties
                    analysis.remediations.append(Remediation(rem.policyName, r["urn"], from_struct(rem.properties)))

    # Analyze: independent per resource, so keep a few calls in flight (the pack serves 4 at once).
    def requests() -> Iterator[tuple[dict[str, Any], analyzer_pb2.AnalyzeRequest]]:
        for r in view.resources:
            yield r, view.analyze_request(r, final_inputs.get(r["urn"]))

    pending: list[tuple[dict[str, Any], Any]] = []

    def collect(r: dict[str, Any], future: Any) -> None:
        try:
            resp: analyzer_pb2.AnalyzeResponse = future.result()
        except grpc.RpcError as exc:
            code, details = _rpc_error(exc)
            if code == "DEADLINE_EXCEEDED":
                # The oldest call still unanswered: the pack serves calls in order, so this one
                # was running (the later ones may only have been queued behind a stuck policy).
                raise session.timed_out(_in_flight(
                    "Analyze", f"{r['type']} {r['urn']}", _policies_run_by("Analyze", info, config),
                    _unanswered([f for _, f in pending]))) from None
            analysis.errors.append(CallError("Analyze", r["urn"], r["type"], code, details))
            return
        analysis.not_applicable += len(resp.not_applicable)
        for d in resp.diagnostics:
            # The engine always reports a resource's diagnostics under the resource's URN.
            analysis.diagnostics.append(_diagnostic(d, r["urn"], r["type"], "resource", info, severities))

    try:
        for r, request in requests():
            pending.append((r, session.stub.Analyze.future(request, timeout=session.timeout)))
            if len(pending) >= max(1, window):
                collect(*pending.pop(0))
        while pending:
            collect(*pending.pop(0))
    finally:
        for _, future in pending:
            future.cancel()

    try:
        resp = session.stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(
            resources=[view.stack_resource(r, final_inputs.get(r["urn"])) for r in view.resources]),
            timeout=session.timeout)
    except grpc.RpcError as exc:
        code, details = _rpc_error(exc)
        if code == "DEADLINE_EXCEEDED":
            raise session.timed_out(_in_flight("AnalyzeStack", f"the whole stack ({len(view.resources)} resources)",
                                               _policies_run_by("AnalyzeStack", info, config))) from None
        if code != "UNIMPLEMENTED":
            analysis.errors.append(CallError("AnalyzeStack", view.root_urn, STACK_TYPE, code, details))
    else:
        analysis.not_applicable += len(resp.not_applicable)
        for d in resp.diagnostics:
            urn = d.urn if d.urn in view.by_urn else view.root_urn
            rtype = view.by_urn[urn]["type"] if urn in view.by_urn else STACK_TYPE
            analysis.diagnostics.append(_diagnostic(d, urn, rtype, "stack", info, severities))
    analysis.analyze_seconds = time.perf_counter() - started
    if analysis.errors:
        _attribute_errors(session, info, config, view, analysis.errors, final_inputs)
    return analysis


def _attribute_errors(session: AnalyzerSession, info: PackInfo, config: Mapping[str, PolicyConfig],
                      view: _PlanView, errors: list[CallError], final_inputs: Mapping[str, struct_pb2.Struct],
                      limit: int = 10) -> None:
    """Which policy raised? gRPC only carries the exception text, so re-run each failed call
    with one policy enabled at a time (at most `limit` distinct failures), then restore the config.
    Under the session's deadline like every call: a policy that never returns here (it may never
    have run in the original call, which stopped at the raising policy) fails the run with
    PolicyTimeout naming it."""
    kinds = {"Analyze": "resource", "AnalyzeStack": "stack"}
    candidates = [e for e in errors if e.call in kinds][:limit]
    if not candidates:
        return
    active = [p for p in info.policies if (config.get(p.name) or PolicyConfig()).enforcement_level != "disabled"]
    try:
        for policy in active:
            only = {name: PolicyConfig("disabled" if name != policy.name else cfg.enforcement_level, cfg.properties)
                    for name, cfg in config.items()}
            session.configure(only)
            for error in candidates:
                if policy.policy_type not in (kinds[error.call], "unknown"):
                    continue
                try:
                    if error.call == "Analyze":
                        session.stub.Analyze(view.analyze_request(view.by_urn[error.urn],
                                                                  final_inputs.get(error.urn)),
                                             timeout=session.timeout)
                    else:
                        session.stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(
                            resources=[view.stack_resource(r, final_inputs.get(r["urn"]))
                                       for r in view.resources]), timeout=session.timeout)
                except grpc.RpcError as exc:
                    if _rpc_error(exc)[0] == "DEADLINE_EXCEEDED":
                        target = (f"{error.resource_type} {error.urn}" if error.call == "Analyze"
                                  else f"the whole stack ({len(view.resources)} resources)")
                        raise session.timed_out(
                            _in_flight(error.call, target, [policy.name])
                            + f", re-run alone to find which policy raised ({error.code}: "
                            f"{(error.message.splitlines() or [''])[0][:200]})"
                        ) from None
                    error.policies.append(policy.name)
        session.configure(config)
    except PolicyTimeout:
        raise
    except (AnalyzerError, KeyError):
        pass  # attribution is a courtesy; the errors stand as they are
