"""A service that goes away mid-run stops the run after a run of connection failures,
instead of retrying every remaining row (5,000 rows took ten minutes, each row failing
with the same line). What finished is kept, as for a rejected token."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from tests.cli.support import EmulatorThread, invoke, spawn

ROWS = 500


def _rows(tmp_path: Path) -> Path:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(ROWS)))
    return src


def _open_files() -> set[str]:
    """The files this process holds open (Linux's /proc; elsewhere an empty set)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return set()
    names = set()
    for fd in os.listdir(fds):
        try:
            names.add(os.readlink(fds / fd))
        except OSError:
            continue  # the descriptor listdir itself used, closed since
    return names


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rows_as(tmp_path: Path, fmt: str) -> Path:
    if fmt == "jsonl":
        return _rows(tmp_path)
    if fmt == "csv":
        src = tmp_path / "in.csv"
        src.write_text("n\n" + "".join(f"{i}\n" for i in range(ROWS)))
        return src
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"n": list(range(ROWS))}), src)
    return src


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_nothing_listening_stops_after_twice_the_concurrency(tmp_path: Path, fmt: str) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    src = _rows_as(tmp_path, fmt)
    result = invoke(
        "predict", str(src), "-e", url, "--service", "echo",
        "--batch-size", "1", "--concurrency", "3", "--retries", "0",
    )  # fmt: skip
    assert result.code == 1
    # the input is closed when the run stops, not when the garbage collector finds it (a
    # ResourceWarning later, in whichever test runs then)
    assert str(src) not in _open_files()
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [line["row"] for line in lines] == list(range(6))  # 2 x concurrency, in order
    assert all("connect" in line["error"] for line in lines)
    (message,) = result.err.splitlines()
    assert message.startswith("aioeas: error: stopped after 6 rows: the service is unreachable:")
    assert "6 requests in a row could not connect" in message
    assert message.endswith(f"; {ROWS - 6:,} rows not done")


def test_a_service_that_goes_away_keeps_the_rows_that_finished(tmp_path: Path) -> None:
    em = EmulatorThread(token="cli-token", seed=3)
    answered = 0
    gone = threading.Event()

    def echo_then_go(body: bytes) -> bytes:
        nonlocal answered
        answered += 1
        if answered == 40:
            gone.set()
        return body

    em.call(lambda emu: emu.add_service("fragile", echo_then_go))
    # the emulator stops from another thread once it answered 40 requests
    stopper = threading.Thread(target=lambda: (gone.wait(), em.close()))
    stopper.start()
    try:
        result = invoke(
            "predict", str(_rows(tmp_path)), "-e", em.url, "--token", "cli-token",
            "--service", "fragile", "--batch-size", "1", "--concurrency", "2",
            "--retries", "1",
        )  # fmt: skip
    finally:
        gone.set()
        stopper.join(60)
    assert result.code == 1
    assert str(tmp_path / "in.jsonl") not in _open_files()
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [line["row"] for line in lines] == list(range(len(lines)))
    ok = [line for line in lines if "result" in line]
    assert len(ok) >= 39  # the 40th answer may be cut by the stop
    assert all(line["result"] == {"n": line["row"]} for line in ok)
    assert len(lines) < ROWS / 2
    assert "the service is unreachable: 4 requests in a row" in result.err
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize("case", ["unreachable", "wrong token"])
def test_a_stopped_run_prints_one_line_and_nothing_after(tmp_path: Path, case: str) -> None:
    """As a user runs it (a process of its own, so whatever asyncio prints when the run's
    leftovers are collected is seen): the stop is one line. The requests that had already
    failed behind the one that stopped the run were reported by asyncio, each with a
    traceback ("Task exception was never retrieved"), after that line."""
    em = EmulatorThread(token="cli-token", seed=5) if case == "wrong token" else None
    try:
        url = em.url if em is not None else f"http://127.0.0.1:{_closed_port()}"
        proc = spawn(
            "predict", str(_rows(tmp_path)), "-e", url, "--service", "echo",
            "--batch-size", "1", "--concurrency", "8", "--retries", "0",
            env={"EAS_TOKEN": "wrong"},
        )  # fmt: skip
        _, err = proc.communicate(timeout=120)
    finally:
        if em is not None:
            em.close()
    assert proc.returncode == 1
    (line,) = err.splitlines()
    assert line.startswith("aioeas: error: stopped after ")
    assert ("16 requests in a row" if case == "unreachable" else "HTTP 401") in line
