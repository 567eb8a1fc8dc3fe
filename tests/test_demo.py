"""The demo the README points at runs and says what it did."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_and_prints_each_kind_of_request() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aioeas", "demo"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for kind in ("string", "tf", "torch", "blade", "int32"):
        assert f"\n{kind} " in "\n" + done.stdout
    assert "identical: True" in done.stdout
    assert "round trip exact: True" in done.stdout
