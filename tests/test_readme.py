"""The README's two commands are the project's contract: keep them and CI in step."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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


def _claimed_pythons() -> list[str]:
    """noxfile.py's ``PYTHON``: the versions with a tests session, oldest first."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == [
            "PYTHON"
        ]:
            value = ast.literal_eval(node.value)
            assert isinstance(value, list)
            return [str(v) for v in value]
    raise AssertionError("noxfile.py has no PYTHON list")


def test_ci_also_runs_the_oldest_and_newest_claimed_python() -> None:
    """Every Python from ``requires-python`` to the newest has a nox tests session; CI runs
    the oldest and the newest without the long suites (they run once, in the README's
    command above), and installs nox itself: a fresh clone has nothing but Python."""
    pythons = _claimed_pythons()
    oldest, newest = pythons[0], pythons[-1]
    minors = [int(v.split(".")[1]) for v in pythons]
    assert minors == list(range(minors[0], minors[-1] + 1)), "a version is missing"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.findall(r'^requires-python = "(.*)"$', pyproject, re.M) == [f">={oldest}"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "set -euo pipefail" in ci
    assert ".venv/bin/python -m pip install -q nox" in ci
    assert f'.venv/bin/python -m nox -s tests-{oldest} tests-{newest} -- -m "not long"' in ci
    readme_line = ci.index(next(c for c in _readme_commands() if "pytest" in c))
    assert ci.index(".venv/bin/python -m pip install -q nox") > readme_line  # .venv made


def test_readme_demo_command_runs_the_demo() -> None:
    demo = [c for c in _readme_commands() if " demo" in c]
    assert len(demo) == 1
    assert demo[0].startswith("python3 -m venv .venv && ")
    assert demo[0].endswith("-m aioeas demo")


def test_readme_python_example_runs_against_the_emulator() -> None:
    """The README's example, with its endpoint and token pointed at a local emulator."""
    code = re.findall(r"```python\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert len(code) == 1
    emulator = subprocess.Popen(
        [sys.executable, "-m", "aioeas.emulator", "--port", "0", "--token", "t0k"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        program = (
            code[0]
            .replace('"http://182848887922****.cn-shanghai.pai-eas.aliyuncs.com"', repr(url))
            .replace('token="..."', 'token="t0k"')
        )
        assert url in program
        done = subprocess.run(
            [sys.executable, "-W", "error", "-c", program],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("[[")  # the scores array, [1, 10]
    finally:
        emulator.terminate()
        emulator.communicate(timeout=30)  # reaps it and closes its stdout
