"""The demo the README points at runs the manual's examples against the embedded emulator,
and asynchronous inference through a queue service."""

from __future__ import annotations

import re
import subprocess
import sys


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "aioeas", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_demo_runs_every_manual_example_against_the_emulator() -> None:
    out = _run("demo")
    assert re.search(r"^string +scorecard_pmml_example -> \[\{\"score\": 0\.\d+", out, re.M)
    assert re.search(
        r"^tf +mnist_saved_model_example -> classes \[\d\], scores \[1, 10\]", out, re.M
    )
    direct = re.search(r"^direct +30 predicts over 3 backends \((.+)\)", out, re.M)
    assert direct, out
    assert sorted(int(n) for n in re.findall(r": (\d+)", direct.group(1))) == [10, 10, 10]
    assert re.search(r"^torch +pytorch_gpu_wl -> output 0 shape \[1, 1000\]", out, re.M)
    assert "needs 46080 values, but the content holds 85680" in out
    assert re.search(r"^blade +nlp_model_example -> output \[1, 360\]", out, re.M)
    assert re.search(r"^blade-tf +nlp_model_example -> output \[1, 360\]", out, re.M)
    assert re.search(r"^fan-out +2,000 predicts, 64 in flight", out, re.M)
    assert re.search(
        r"^async +mnist_async \(queue service\) -> record \d+, classes \[\d\], scores \[1, 10\]"
        r" +\(\d+\.\d+ ms median\)",
        out,
        re.M,
    )
    assert re.search(
        r"^async +500 submissions, 32 in flight: [\d,]+ results/s through the queue; "
        r"500 answered$",
        out,
        re.M,
    )


def test_codecs_command_round_trips_offline() -> None:
    out = _run("codecs")
    for kind in ("string", "tf", "torch", "blade", "int32"):
        assert f"\n{kind} " in "\n" + out
    assert "identical: True" in out
    assert "round trip exact: True" in out
