"""CSV, Parquet and .npz outputs in bounded memory: each batch goes to disk as it comes,
and the file is written at the end a chunk at a time. Bounded by counts (the most rows a
writer held at once), not by a clock or a memory budget a busy machine could break."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from aioeas.cli.inputs import ArrayBatch, Row, RowBatch
from aioeas.cli.outputs import ArrayOutcome, NpzWriter, RowOutcome, TableWriter

BATCHES, SIZE, CHUNK = 300, 40, 64


def _row_outcomes() -> list[RowOutcome]:
    outcomes = []
    for b in range(BATCHES):
        rows = [Row({"id": b * SIZE + i}, {"id": b * SIZE + i}) for i in range(SIZE)]
        batch = RowBatch(b * SIZE, rows)
        if b % 7 == 3:
            outcomes.append(RowOutcome(batch, error="HTTP 503"))
        else:
            outcomes.append(RowOutcome(batch, results=[{"score": r.value["id"] / 2} for r in rows]))
    return outcomes


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_writer_holds_one_batch_or_one_chunk(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    writer = TableWriter(str(out), fmt, lambda: ["id"], chunk_rows=CHUNK)
    failed = sum(writer.write(o) for o in _row_outcomes())
    assert writer.max_rows_held == SIZE  # nothing accumulates while the run goes
    writer.close()
    assert writer.max_rows_held == CHUNK  # nor while the file is written
    if fmt == "csv":
        with out.open(newline="") as f:
            rows = [
                {"id": int(r["id"]), "score": float(r["score"]) if r["score"] else None,
                 "error": r["error"] or None}
                for r in csv.DictReader(f)
            ]  # fmt: skip
    else:
        pq = pytest.importorskip("pyarrow.parquet")
        table = pq.read_table(out)
        assert [str(t) for t in table.schema.types] == ["int64", "double", "string"]
        rows = table.to_pylist()
    assert [r["id"] for r in rows] == list(range(BATCHES * SIZE))
    assert sum(r["error"] == "HTTP 503" for r in rows) == failed > 0
    for r in rows:
        assert r["score"] == (None if r["error"] else r["id"] / 2)


def test_npz_writer_streams_each_output(tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    writer = NpzWriter(str(out))
    rng = np.random.default_rng(1)
    scores = rng.random((BATCHES * SIZE, 3), dtype=np.float32)
    for b in range(BATCHES):
        batch = ArrayBatch(b * SIZE, SIZE)
        part = slice(b * SIZE, (b + 1) * SIZE)
        if b % 5 == 2:
            writer.write(ArrayOutcome(batch, error=f"HTTP 503 at {b}"))
        else:
            labels = np.array([f"c{i}" for i in range(part.start, part.stop)], dtype=object)
            writer.write(ArrayOutcome(batch, outputs={"scores": scores[part], "labels": labels}))
    assert writer.max_rows_held == SIZE
    writer.close()
    ok = [b for b in range(BATCHES) if b % 5 != 2]
    rows = np.concatenate([np.arange(b * SIZE, (b + 1) * SIZE) for b in ok])
    with np.load(out, allow_pickle=False) as z:
        assert z["_row"].tolist() == rows.tolist()
        np.testing.assert_array_equal(z["scores"], scores[rows])
        assert z["labels"].tolist() == [f"c{i}" for i in rows]
        failed = sorted(set(range(BATCHES * SIZE)) - set(rows.tolist()))
        assert z["_failed_rows"].tolist() == failed
        assert z["_errors"][0] == "HTTP 503 at 2"


def test_npz_batch_whose_rows_change_shape_fails_alone(tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    writer = NpzWriter(str(out))
    assert writer.write(ArrayOutcome(ArrayBatch(0, 2), outputs={"y": np.zeros((2, 3))})) == 0
    assert writer.write(ArrayOutcome(ArrayBatch(2, 2), outputs={"y": np.zeros((2, 4))})) == 2
    assert writer.write(ArrayOutcome(ArrayBatch(4, 1), outputs={"y": np.ones((1, 3))})) == 0
    writer.close()
    with np.load(out) as z:
        assert z["y"].tolist() == [[0.0] * 3, [0.0] * 3, [1.0] * 3]
        assert z["_row"].tolist() == [0, 1, 4]
        assert z["_failed_rows"].tolist() == [2, 3]
        assert (
            z["_errors"].tolist() == ["output 'y' has rows of shape [4], earlier batches [3]"] * 2
        )


def test_npz_with_nothing_answered_still_loads(tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    writer = NpzWriter(str(out))
    writer.close()
    with np.load(out) as z:
        assert sorted(z.files) == ["_errors", "_failed_rows", "_row"]
        assert z["_row"].dtype == np.int64
        assert z["_errors"].tolist() == []
