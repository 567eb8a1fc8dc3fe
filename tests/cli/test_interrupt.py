"""Ctrl-C during ``aioeas predict``: what finished is written, in order, and the rest counted.

The service answers the first ``ANSWERED`` batches and holds every later one, so the run
cannot finish before the signal. With ``CONCURRENCY`` requests in flight at most, and a
new one started only once one has finished, ``CONCURRENCY`` distinct later batches held
at once prove the first ``ANSWERED`` batches finished (answered, maybe not yet written:
Ctrl-C must write them): the test waits for that (or for output lines), never for time.
Batches are told apart by their rows, so a retried try or requests arriving out of order
change nothing.
"""

from __future__ import annotations

import asyncio
import csv
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.support import EmulatorThread, spawn

ROWS, BATCH, ANSWERED, CONCURRENCY = 3000, 10, 5, 4


class _Gate:
    """A service that answers the first ``ANSWERED`` batches (by their rows, whatever the
    order or the number of tries they come in) and holds every later one until opened."""

    def __init__(self, emulator: EmulatorThread) -> None:
        self.emulator = emulator
        self.held: set[int] = set()  # the first row of each batch held
        self.all_in_flight = threading.Event()
        self.release = emulator.call(lambda emu: asyncio.Event())
        emulator.call(lambda emu: emu.add_service("gate", self._handle))

    async def _handle(self, body: bytes) -> bytes:
        rows = [r["id"] for r in json.loads(body)]
        if rows[0] >= ANSWERED * BATCH:
            self.held.add(rows[0])
            if len(self.held) == CONCURRENCY:  # every slot holds a later batch: the
                self.all_in_flight.set()  # first ANSWERED batches have all finished
            await self.release.wait()
        return json.dumps([{"echo": i} for i in rows]).encode()

    def open(self) -> None:
        self.emulator.call(lambda emu: self.release.set())


@pytest.fixture
def gate(emulator: EmulatorThread) -> Iterator[_Gate]:
    gate = _Gate(emulator)
    yield gate
    gate.open()


def _input(tmp_path: Path) -> Path:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(ROWS)))
    return src


def _args(emulator: EmulatorThread, src: Path, *more: str) -> list[str]:
    return [
        "predict", str(src), "-e", emulator.url, "--token", "cli-token", "--service", "gate",
        "--batch-size", str(BATCH), "--concurrency", str(CONCURRENCY), *more,
    ]  # fmt: skip


def test_ctrl_c_keeps_the_streamed_rows_in_order(
    emulator: EmulatorThread, gate: _Gate, tmp_path: Path
) -> None:
    proc = spawn(*_args(emulator, _input(tmp_path)))
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(ANSWERED * BATCH)]
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    rows = [json.loads(line) for line in lines + rest.splitlines(keepends=True)]
    assert rows == [{"row": i, "result": {"echo": i}} for i in range(ANSWERED * BATCH)]
    done = ANSWERED * BATCH
    assert err.splitlines()[-1] == (
        f"interrupted: wrote {done} rows in order to stdout; {ROWS - done:,} rows not done"
    )


def test_ctrl_c_writes_the_finished_rows_of_a_csv(
    emulator: EmulatorThread, gate: _Gate, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    proc = spawn(*_args(emulator, _input(tmp_path), "-o", str(out)))
    assert gate.all_in_flight.wait(60), "the requests never arrived"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["id"]), int(r["echo"]), r["error"]) for r in rows] == [
        (i, i, "") for i in range(ANSWERED * BATCH)
    ]
    assert "Traceback" not in err
    assert err.splitlines()[-1].endswith(f"{ROWS - ANSWERED * BATCH:,} rows not done")
