"""Input that can never crash preflight (issue 13, item 5).

Every malformed stack file exits 2 within seconds, naming the file, the line and, inside
`config`, the key path (`aiinfra:cells[0].region`), with no traceback. Unusable path arguments
exit 2 before anything is planned. Exit 3 is reserved for preflight's own bugs: one line and a
report hint, the traceback only with --debug. A seeded fuzz of the shipped stacks keeps it so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from components.common import InputError
from components.spec.load import parse_spec
from preflight import cli
from preflight.project import ProjectError, load_project, load_stack_config
from tests.conftest import REPO, ScratchProject, run_preflight

STACKS = {stack: (REPO / "stacks" / f"Pulumi.{stack}.yaml").read_bytes() for stack in ("dev", "staging", "prod")}

HEADER = """config:
  aiinfra:environment: dev
  aiinfra:tags:
    owner: ml-platform
    cost-center: cc-1234
"""
CELLS = """  aiinfra:cells:
    - name: aws-use1
      cloud: aws
      region: us-east-1
"""


@contextlib.contextmanager
def within(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: the old loader expanded a 500-byte document for hours."""
    def expire(*_: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _plan(tmp_path: Path, text: str | bytes, stack: str = "dev") -> tuple[int, str]:
    """`preflight plan STACK` on a copy of the program with this stack file: (exit code, stderr)."""
    scratch = ScratchProject(tmp_path)
    data = text.encode() if isinstance(text, str) else text
    (scratch.root / "stacks" / f"Pulumi.{stack}.yaml").write_bytes(data)
    started = time.perf_counter()
    with within(20):
        proc = scratch.plan(stack)
    assert time.perf_counter() - started < 10
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc.returncode, proc.stderr


def _refused(tmp_path: Path, text: str | bytes, *fragments: str, stack: str = "dev") -> str:
    code, stderr = _plan(tmp_path, text, stack)
    assert code == 2, stderr
    for fragment in fragments:
        assert fragment in stderr, f"{fragment!r} not in:\n{stderr}"
    return stderr


# --- one test per input class ------------------------------------------------------------------
def test_timestamps_are_the_text_the_cli_passes(tmp_path: Path) -> None:
    # gopkg.in/yaml.v3 keeps a timestamp-looking scalar a string when decoding into interface{}
    # (the CLI's case); PyYAML built a datetime, which crashed the JSON encoding of the value.
    _refused(tmp_path, HEADER + CELLS.replace("us-east-1", "2024-01-01"),
             "aiinfra:cells[0].region: got '2024-01-01'", "invalid configuration for stack 'dev'")
    tags = HEADER.replace("cc-1234", "cc-1234\n    created: 2001-12-14t21:59:43.10-05:00") + CELLS
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(tags)
    values = load_stack_config(load_project(tmp_path), "dev").values
    assert json.loads(values["aiinfra:tags"])["created"] == "2001-12-14t21:59:43.10-05:00"


def test_binary_values_are_refused(tmp_path: Path) -> None:
    _refused(tmp_path, HEADER + CELLS.replace("name: aws-use1", "name: !!binary YXdzLXVzZTE="),
             "Pulumi.dev.yaml:7: aiinfra:cells[0].name: a `!!binary` value")


def test_sets_are_refused(tmp_path: Path) -> None:
    _refused(tmp_path, HEADER + "  aiinfra:cells: !!set {aws-use1, gcp-usc1}\n",
             "Pulumi.dev.yaml:6: aiinfra:cells: a `!!set`", "write a list")


@pytest.mark.parametrize("key,received", [("1", "as a number"), ("on", "as the boolean true"),
                                          ("~", "as null"), ("2024-01-01", "as a timestamp")])
def test_mapping_keys_that_are_not_text_are_refused(tmp_path: Path, key: str, received: str) -> None:
    stderr = _refused(tmp_path, HEADER + f"    {key}: x\n" + CELLS,
                      f"Pulumi.dev.yaml:6: aiinfra:tags.{key}: a key that is not text", received,
                      f"quote it ('{key}')")
    if key == "on":
        assert "the Pulumi CLI (YAML 1.2) as text" in stderr


def test_recursive_aliases_are_refused(tmp_path: Path) -> None:
    _refused(tmp_path, HEADER + "  aiinfra:cells: &cells\n    - name: aws-use1\n      more: *cells\n",
             "Pulumi.dev.yaml:6: aiinfra:cells[0].more: a recursive alias",
             "anchored at line 6")


def test_a_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    levels = "".join(f"    {b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))
    bomb = "config:\n  aiinfra:tags:\n    a: &a [x,x,x,x,x,x,x,x,x]\n" + levels
    assert len(bomb.encode()) <= 500  # 9^9 leaves once expanded
    _refused(tmp_path, bomb, "aiinfra:tags.", "alias expansion exceeds 100000 nodes")


def test_nesting_beyond_the_limit_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, HEADER + CELLS + "  aiinfra:targets: " + "[" * 500 + "]" * 500 + "\n",
             "Pulumi.dev.yaml:10: aiinfra:targets[0][0]", "nested deeper than 100 levels")


def test_invalid_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    text = (HEADER + CELLS).encode().replace(b"ml-platform", b"ml-\xff-platform")
    _refused(tmp_path, text, "Pulumi.dev.yaml:4:15: not valid UTF-8 (byte 0xff)")


def test_integers_of_thousands_of_digits_are_refused(tmp_path: Path) -> None:
    _refused(tmp_path, HEADER + CELLS + "  aiinfra:targets: {rto_seconds: " + "7" * 5000 + "}\n",
             "Pulumi.dev.yaml:10: aiinfra:targets.rto_seconds: the integer 77777777777777777777... "
             "(5000 digits) does not fit in 64 bits")


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    # The old loader kept the last value silently; the CLI (yaml.v3) refuses the file.
    _refused(tmp_path, HEADER + CELLS + "      region: us-west-2\n",
             "Pulumi.dev.yaml:10: aiinfra:cells[0].region: duplicate key (first at line 9)")


@pytest.mark.parametrize("value,message", [("!!int twelve", "`!!int twelve`: not a valid integer"),
                                           ("!!bool maybe", "`!!bool maybe`: not a valid boolean"),
                                           ("!!timestamp soon", "`!!timestamp soon`: not a valid timestamp"),
                                           ("!shell ls", "unsupported tag !shell")])
def test_values_their_tag_cannot_read_are_refused(tmp_path: Path, value: str, message: str) -> None:
    _refused(tmp_path, HEADER + CELLS + f"  aiinfra:targets: {{rto_seconds: {value}}}\n",
             f"Pulumi.dev.yaml:10: aiinfra:targets.rto_seconds: {message}")


def test_a_cell_name_that_is_not_text_is_a_field_error(tmp_path: Path) -> None:
    # The old loader crashed counting cell names to find duplicates (a list cannot be counted).
    _refused(tmp_path, HEADER + CELLS.replace("name: aws-use1", "name: [aws-use1]"),
             "aiinfra:cells[0].name: got ['aws-use1']")


def test_a_stack_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    scratch = ScratchProject(tmp_path)
    (scratch.root / "stacks" / "Pulumi.dev.yaml").mkdir()
    proc = scratch.plan("dev")
    assert proc.returncode == 2 and "Pulumi.dev.yaml: cannot read" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_prod_stack_that_says_dev_is_refused_unless_allowed(tmp_path: Path) -> None:
    prod = STACKS["prod"].decode().replace("aiinfra:environment: prod", "aiinfra:environment: dev")
    _refused(tmp_path, prod, "aiinfra:environment: got 'dev'; allowed: 'prod'",
             "aiinfra:allow_environment_mismatch: prod", stack="prod")
    config = load_stack_config(load_project(tmp_path), "prod")
    raw = {k.removeprefix("aiinfra:"): v for k, v in config.values.items() if k.startswith("aiinfra:")}
    secret = {k.removeprefix("aiinfra:") for k in config.secret_keys}
    assert parse_spec("aiinfra", "prod", {**raw, "allow_environment_mismatch": "prod"}, secret).environment == "dev"
    # The allowance names its stack, so it does not travel with a stack file copied elsewhere.
    with pytest.raises(InputError) as copied:
        parse_spec("aiinfra", "staging", {**raw, "allow_environment_mismatch": "prod"}, secret)
    assert "aiinfra:allow_environment_mismatch: got 'prod'; allowed: this stack's own name ('staging')" in str(copied.value)
    assert "aiinfra:environment: got 'dev'; allowed: 'staging'" in str(copied.value)


# --- path arguments: refused before any work ---------------------------------------------------
def _no_work(*_: Any, **__: Any) -> Any:
    raise AssertionError("work started before the path arguments were checked")


PATH_CASES: dict[str, tuple[list[str], str]] = {
    # {dir}: an existing directory; {file}: an existing file; {missing}: under a missing directory.
    "plan --json DIR": (["plan", "dev", "--json", "{dir}"], "--json {dir}: a directory"),
    "check --sarif /missing/x": (["check", "dev", "--sarif", "{missing}"],
                                 "--sarif {missing}: its directory {dir}/missing does not exist"),
    "check --json DIR": (["check", "dev", "--json", "{dir}"], "--json {dir}: a directory"),
    "check --policy-config DIR": (["check", "dev", "--policy-config", "{dir}"],
                                  "--policy-config {dir}: a directory, not a file"),
    "check --policy-pack FILE": (["check", "dev", "--policy-pack", "{file}"], "--policy-pack {file}: not a directory"),
    "manifests --out FILE": (["manifests", "dev", "--out", "{file}"], "--out {file}: a file, not a directory"),
    "manifests --out FILE/sub": (["manifests", "dev", "--out", "{file}/k8s"], "--out {file}/k8s: {file} is a file"),
    "cost --prices DIR": (["cost", "dev", "--prices", "{dir}"], "--prices {dir}: a directory, not a file"),
    "cost --json FILE/x": (["cost", "dev", "--json", "{file}/x.json"],
                           "--json {file}/x.json: its directory {file} is not a directory"),
    "graph --out DIR": (["graph", "dev", "--out", "{dir}"], "--out {dir}: a directory"),
    "whatif --json /missing/x": (["whatif", "dev", "--lose", "aws", "--json", "{missing}"], "--json {missing}: its"),
    "diff --json DIR": (["diff", "dev", "--base", "HEAD", "--json", "{dir}"], "--json {dir}: a directory"),
    "plan --cwd FILE": (["plan", "dev", "--cwd", "{file}"], "--cwd {file}: not a directory"),
}


@pytest.mark.parametrize("case", sorted(PATH_CASES))
def test_unusable_paths_fail_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str], case: str) -> None:
    (tmp_path / "a-file.txt").write_text("x")
    names = {"dir": str(tmp_path), "file": str(tmp_path / "a-file.txt"), "missing": str(tmp_path / "missing" / "x")}
    argv, message = ([a.format(**names) for a in PATH_CASES[case][0]], PATH_CASES[case][1].format(**names))
    for name in ("plan_stack", "run_check", "run_diff", "load_project", "load_stack_config"):
        monkeypatch.setattr(cli, name, _no_work)
    monkeypatch.setattr("preflight.cost.load_prices", _no_work)
    before = sorted(tmp_path.rglob("*"))
    assert cli.main(argv) == 2
    stderr = capsys.readouterr().err
    assert f"error: {message}" in stderr and "Traceback" not in stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_every_path_argument_is_checked() -> None:
    parser = cli.build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    seen = 0
    for command, sub in commands.choices.items():
        for action in sub._actions:
            if action.type is Path:
                seen += 1
                assert cli.path_kind(command, action.dest) is not None, f"{command} {action.option_strings}"
    assert seen >= 15


def test_an_unusable_path_fails_on_the_command_line() -> None:
    proc = run_preflight("check", "dev", "--sarif", "/missing/x")
    assert proc.returncode == 2
    assert "error: --sarif /missing/x: its directory /missing does not exist" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


# --- exit 3: preflight's own bugs ---------------------------------------------------------------
def _bug(*_: Any) -> int:
    return 1 // 0


@pytest.mark.parametrize("debug", [False, True])
def test_an_internal_error_exits_3_with_a_report_hint(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], debug: bool) -> None:
    monkeypatch.setattr(cli, "cmd_plan", _bug)
    assert cli.main(["plan", "dev", *(["--debug"] if debug else [])]) == 3
    stderr = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: integer division or modulo by zero" in stderr
    assert "this is a bug in preflight" in stderr
    assert ("Traceback" in stderr) is debug


def test_an_internal_error_in_a_real_process_prints_no_traceback() -> None:
    code = ("import sys; from preflight import cli; cli.cmd_graph = lambda *a: 1 // 0; "
            "sys.argv[1:] = ['graph', 'dev']; cli.run()")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "internal error: ZeroDivisionError" in proc.stderr and "--debug" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


# --- the fuzz ----------------------------------------------------------------------------------
NASTY_VALUES = [
    "2024-01-01", "2001-12-14t21:59:43.10-05:00", "!!binary aGVsbG8=", "!!set {a, b}", "9" * 5000,
    "-99999999999999999999", "~", "yes", "on", ".nan", ".inf", "1.0e400", "0x1F", "1:30", "[]", "{}",
    "[1, [2, {a: 3}]]", "!!int abc", "!!float x", "!!bool maybe", "!!timestamp x", "!!omap [a: 1]",
    "!!pairs [a: 1]", "!!python/object:os.system x", "!foo bar", "'unterminated", "[a, b", "}", "=", "<<",
    "*undefined", "&a [*a]", "!!str", "!!map {}", "!!seq []", "!!null ''", "{a: 1, a: 2}", "[[[[[[]]]]]]",
    "\"\\xff\"", "\"\\0\"", "[aws-use1]", "{name: x}", "- x", "? x", "@", "`", "%",
]
NASTY_KEYS = ["1", "on", "~", "null", "? [a, b]", "2024-01-01", "1.5", "true", "<<", "!!binary aGk=", "''",
              "aiinfra:cells", "name", "region", "cloud"]
BOMB = ("  aiinfra:bomb:\n    a: &a [x,x,x,x,x,x,x,x,x]\n"
        + "".join(f"    {b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")))


def _mutate(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    line, indent = lines[i], len(lines[i]) - len(lines[i].lstrip())
    op = rng.randrange(10)
    if op <= 1 and b":" in line:  # a value replaced
        lines[i] = line.split(b":", 1)[0] + b": " + rng.choice(NASTY_VALUES).encode()
    elif op == 2:  # a key inserted
        lines.insert(i, b" " * indent + rng.choice(NASTY_KEYS).encode() + b": " + rng.choice(NASTY_VALUES + ["x"]).encode())
    elif op == 3:  # a line repeated: duplicate keys, mostly
        lines.insert(i, line)
    elif op == 4:
        del lines[i]
    elif op == 5 and line:  # a byte flipped: invalid UTF-8, control characters, broken syntax
        flipped = bytearray(line)
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        lines[i] = bytes(flipped)
    elif op == 6:  # indentation broken
        lines[i] = b" " * rng.randrange(1, 4) + line
    elif op == 7 and b": " in line:  # anchors and aliases
        lines[i] = line + b" &x" if rng.random() < 0.5 else line.replace(b": ", b": *x", 1)
    elif op == 8:
        return data.replace(b"config:\n", b"config:\n" + BOMB.encode(), 1)
    else:
        lines = lines[: rng.randrange(len(lines))]
    return b"\n".join(lines)


def _outcome(project_dir: Path, stack: str) -> str:
    """In-process, as the CLI reads the stack file and the program validates it: 'valid' or 'refused'.
    Anything else raises, and is a crash the CLI would report as exit 3 (or a traceback)."""
    try:
        config = load_stack_config(load_project(project_dir), stack)
        parse_spec("aiinfra", stack, {k.removeprefix("aiinfra:"): v for k, v in config.values.items()
                                      if k.startswith("aiinfra:")},
                   secret_keys={k.removeprefix("aiinfra:") for k in config.secret_keys})
    except (ProjectError, InputError):
        return "refused"
    return "valid"


def test_fuzzed_stack_files_exit_0_or_2(tmp_path: Path) -> None:
    rng = random.Random(13_05)
    scratch = ScratchProject(tmp_path)
    crashes: list[str] = []
    outcomes: dict[str, list[str]] = {"valid": [], "refused": []}
    started = time.perf_counter()
    for n in range(600):
        stack = rng.choice(sorted(STACKS))
        data = STACKS[stack]
        for _ in range(rng.randrange(1, 4)):
            data = _mutate(data, rng)
        (scratch.root / "stacks" / f"Pulumi.{stack}.yaml").write_bytes(data)
        try:
            with within(5):
                outcomes[_outcome(scratch.root, stack)].append(stack)
        except BaseException as exc:  # noqa: BLE001 - the finding, with what reproduces it
            crashes.append(f"#{n} {stack}: {type(exc).__name__}: {str(exc)[:200]}\n{data[:2000]!r}")
    assert not crashes, f"{len(crashes)} crashes; first:\n{crashes[0]}"
    assert time.perf_counter() - started < 15
    assert len(outcomes["valid"]) >= 20 and len(outcomes["refused"]) >= 200, {k: len(v) for k, v in outcomes.items()}
    # End to end on a sample: a few refused files, and two that validate, planned in full.
    for n, (stack, expected) in enumerate([("dev", 0), ("staging", 2), ("prod", 2), ("dev", 2), ("dev", 0)]):
        while True:
            data = _mutate(STACKS[stack], rng)
            (scratch.root / "stacks" / f"Pulumi.{stack}.yaml").write_bytes(data)
            if (_outcome(scratch.root, stack) == "valid") == (expected == 0):
                break
        with within(30):
            proc = scratch.plan(stack)
        assert proc.returncode in (0, 2), f"sample {n}: exit {proc.returncode}\n{proc.stderr}\n{data!r}"
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
