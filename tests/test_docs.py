"""The README's two commands stay true: CI runs exactly the documented test command."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", quickstart, re.S)
    assert block
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert "preflight plan dev" in commands[0] and "pytest" in commands[1]
    assert all(c.startswith("python3 -m venv .venv && ") for c in commands)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert _readme_commands()[1] in ci.splitlines()


def _run(*args: str, columns: str = "200") -> str:
    import os
    import subprocess
    import sys
    env = {**os.environ, "COLUMNS": columns}
    proc = subprocess.run([sys.executable, "-m", "preflight", *args], cwd=REPO, capture_output=True, text=True, env=env)
    return (proc.stdout + proc.stderr).rstrip("\n")


def test_readme_shows_cost_graph_and_whatif_exactly_as_printed_today() -> None:
    readme = (REPO / "README.md").read_text()
    assert _run("cost", "prod") in readme
    assert _run("graph", "prod", "--format", "mermaid") in readme
    assert "$ COLUMNS=80 preflight whatif prod --lose aws\n" + _run("whatif", "prod", "--lose", "aws", columns="80") in readme


def test_reference_tables_match_the_code() -> None:
    import subprocess
    import sys
    generated = subprocess.run([sys.executable, str(REPO / "scripts" / "reference.py")], capture_output=True,
                               text=True, check=True).stdout
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- reference:start -->\n", 1)[1].split("<!-- reference:end -->", 1)[0]
    assert block == generated, "README reference is stale: run python scripts/reference.py --write"
