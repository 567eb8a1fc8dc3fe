"""The README's two commands are the project's contract: keep them and CI in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_ci_runs_the_readme_test_command() -> None:
    commands = _readme_commands()
    test_commands = [c for c in commands if "pytest" in c]
    assert len(test_commands) == 1, commands
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_commands[0] in ci


def test_readme_demo_command_runs_the_demo() -> None:
    demo = [c for c in _readme_commands() if " demo" in c]
    assert len(demo) == 1
    assert demo[0].startswith("python3 -m venv .venv && ")
    assert demo[0].endswith("-m aioeas demo")
