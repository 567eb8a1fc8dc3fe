"""No test passes or fails by the clock: a static check over tests/ (issue 9).

How long something takes depends on the machine and on what else runs on it, so a test that
asserts a duration fails a correct program on a slow or busy CPU. Work is bounded by counts
(``tests.reliability.conftest.WorkCounter``, varints read, tracemalloc bytes) and waits are
on events; timing belongs in benchmarks/. This keeps two kinds of clock out for good:

- a hypothesis ``settings(deadline=...)`` other than ``None`` (the profile in
  tests/conftest.py has none);
- reading a CPU or performance clock (``time.process_time``, ``time.perf_counter``,
  ``time.monotonic`` and their ``_ns`` forms): what they measure is a budget in waiting.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
CLOCKS = {"process_time", "perf_counter", "monotonic", "thread_time"}
CLOCKS |= {f"{c}_ns" for c in CLOCKS}


def _sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "manual_examples" not in p.parts)


def _violations(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "settings":
                for kw in node.keywords:
                    if kw.arg == "deadline" and not (
                        isinstance(kw.value, ast.Constant) and kw.value.value is None
                    ):
                        found.append(f"{path.name}:{node.lineno}: a hypothesis deadline")
            if name in CLOCKS:
                found.append(f"{path.name}:{node.lineno}: reads the clock {name}()")
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [
                f"{path.name}:{node.lineno}: imports the clock {a.name}"
                for a in node.names
                if a.name in CLOCKS
            ]
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(TESTS)))
def test_no_clock_decides_a_test(path: Path) -> None:
    assert _violations(path) == []


def test_the_check_sees_what_it_forbids(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import time\nfrom time import perf_counter\nfrom hypothesis import settings\n"
        "S = settings(deadline=200)\nT = settings(deadline=None)\n"
        "def test():\n    t = time.process_time()\n    assert time.monotonic() - t < 1\n"
    )
    assert [v.split(": ", 1)[1] for v in _violations(bad)] == [
        "imports the clock perf_counter",
        "a hypothesis deadline",
        "reads the clock process_time()",
        "reads the clock monotonic()",
    ]
