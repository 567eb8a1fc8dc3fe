"""What ``aioeas`` says, as a careful user reads it: plurals right, the reason of a failure
on the last line rather than hidden in the output file, a usage error when no row could
ever be sent, and no library log line before the real error."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.cli.support import ROOT, EmulatorThread, invoke


def _closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_one_row_is_one_row(emulator: EmulatorThread, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"fea1": null}\n')
    result = invoke(
        "predict", str(src), "--service", "scorecard_pmml_example", "--retries", "0",
        env={"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"},
    )  # fmt: skip
    assert result.code == 1
    (line,) = [json.loads(x) for x in result.out.splitlines()]
    summary, last = result.err.splitlines()
    assert summary == "predict: 1 row in 1 request, 0 ok, 1 failed -> stdout"
    assert (
        last == f"aioeas: error: 1 of 1 row failed (see stdout); the first, row 0: {line['error']}"
    )


def test_a_short_csv_line_has_1_cell(emulator: EmulatorThread, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("fea1,fea2\n1,2\n3\n")
    result = invoke(
        "predict", str(src), "--service", "echo",
        env={"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"},
    )  # fmt: skip
    assert result.code == 1
    assert json.loads(result.out.splitlines()[1]) == {
        "row": 1,
        "error": "line 3 has 1 cell, the header 2",
    }
    assert result.err.splitlines()[-1].endswith("the first, row 1: line 3 has 1 cell, the header 2")


def test_arrays_no_request_can_carry_are_a_usage_error_before_any_request(
    tmp_path: Path,
) -> None:
    """A dtype the TF request cannot carry fails every batch alike: it is said at once,
    exit status 2, not "50 of 50 rows failed (see w.npz)" after 50 requests."""
    np.save(tmp_path / "c.npy", np.ones((50, 4), np.complex128))
    out = tmp_path / "w.npz"
    result = invoke(
        "predict", str(tmp_path / "c.npy"), "-e", _closed_url(), "--service", "s",
        "--input", "x", "--batch-size", "1", "-o", str(out),
    )  # fmt: skip
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert line.startswith("aioeas: error: cannot build the request: ")
    assert "complex" in line
    assert not out.exists()  # nothing was sent, nothing written


def test_no_library_warning_before_the_error_when_the_server_is_down() -> None:
    """A subprocess: pytest's own log handlers would hide Python's last-resort printing."""
    args = ["queue", "put", "x", "-e", _closed_url(), "--queue", "q", "--timeout", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "aioeas", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("aioeas: error: connection to ")


def test_install_hints_for_an_installed_copy_and_for_a_checkout(tmp_path: Path) -> None:
    from aioeas._install import install_hint

    installed = tmp_path / "site-packages" / "aioeas"
    installed.mkdir(parents=True)
    assert install_hint("cli", installed) == "pip install 'aioeas[cli]'"
    checkout = tmp_path / "src"
    (checkout / "aioeas").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "aioeas"\n')
    assert install_hint("parquet", checkout / "aioeas") == f"pip install -e '{checkout}[parquet]'"
    (checkout / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert install_hint("cli", checkout / "aioeas") == "pip install 'aioeas[cli]'"


def test_a_refused_batch_is_split_so_only_the_bad_rows_fail(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    """Two bad lines used to mark all 11 rows of their request failed: on a 4xx the batch
    is split in halves, sent again, down to the rows at fault."""
    records: list[dict[str, object]] = [{"fea1": i, "fea2": 2} for i in range(11)]
    records[3]["fea1"] = None
    records[8]["fea1"] = "x"
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records) + "not json\n")
    result = invoke(
        "predict", str(src), "--service", "scorecard_pmml_example", "--batch-size", "12",
        env={"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"},
    )  # fmt: skip
    assert result.code == 1
    lines = [json.loads(x) for x in result.out.splitlines()]
    assert [line["row"] for line in lines] == list(range(12))
    failed = [line["row"] for line in lines if "error" in line]
    assert failed == [3, 8, 11]
    assert "HTTP 400" in lines[3]["error"]
    assert "is not a number" in lines[8]["error"]
    assert lines[11]["error"].startswith("line 12 is not JSON")
    for line, record in zip(lines[:11], records, strict=True):
        if "result" in line:
            assert line["result"]["score"] > 0, record
    # the summary counts the halves sent again: every request the service got
    sent = emulator.call(lambda emu: emu.service("scorecard_pmml_example").requests)
    assert sent > 1
    assert f"12 rows in 1 request (+{sent - 1} to find the refused rows), 9 ok, 3 failed" in (
        result.err
    )


def test_a_timeout_says_the_tries_and_the_time_they_took(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    """ "within 0.2 s" alone read as one short wait; it was three tries and backoffs."""
    from aioeas.emulator import Fault

    emulator.call(lambda emu: emu.service("echo").faults.add(Fault.latency(5), rate=1.0))
    src = tmp_path / "in.jsonl"
    src.write_text('{"a": 1}\n')
    result = invoke(
        "predict", str(src), "--service", "echo", "--timeout", "0.2", "--retries", "2",
        env={"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"},
    )  # fmt: skip
    assert result.code == 1
    (line,) = [json.loads(x) for x in result.out.splitlines()]
    match = re.fullmatch(r"no complete answer from \S+ within 0\.2 s \(3 tries in (\S+) s\)",
                         line["error"])  # fmt: skip
    assert match is not None, line["error"]
    assert float(match[1]) >= 0.6  # three tries of 0.2 s each, at least
