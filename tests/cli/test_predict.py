"""``aioeas predict``: real batch files through the emulator, with faults injected.

Every input row must come back answered or reported, at its place, and the exit status
must say whether any failed. Faults are drawn from the emulator's seeded RNG, so each run
sees the same ones.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aioeas.emulator import Fault
from aioeas.emulator import models as emulator_models
from tests.cli.support import ROOT, EmulatorThread, Result, invoke

ROWS = 3000


def _records(n: int = ROWS) -> list[dict[str, Any]]:
    return [{"id": i, "fea1": i % 13, "fea2": (i * 7) % 5 - 2} for i in range(n)]


def _score(record: dict[str, Any]) -> float:
    answer = json.loads(emulator_models.scorecard(json.dumps([record]).encode()))
    return float(answer[0]["score"])


def _jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _predict(emulator: EmulatorThread, *args: str) -> Result:
    return invoke(
        "predict",
        *args,
        env={"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"},
    )


def _fail_5_percent(emulator: EmulatorThread, service: str) -> None:
    emulator.call(lambda emu: emu.service(service).faults.add(Fault.error(503, "busy"), rate=0.05))


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_jsonl_with_5_percent_503s_and_retries_answers_every_row_in_order(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    _fail_5_percent(emulator, "scorecard_pmml_example")
    records = _records()
    src = _jsonl(tmp_path / "in.jsonl", records)
    result = _predict(
        emulator, str(src), "--service", "scorecard_pmml_example", "--batch-size", "10",
        "--concurrency", "8", "--retries", "4",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = _lines(result.out)
    assert [line["row"] for line in lines] == list(range(ROWS))
    for line, record in zip(lines, records, strict=True):
        assert line["result"]["score"] == pytest.approx(_score(record))
    assert f"{ROWS:,} rows in 300 requests, {ROWS:,} ok, 0 failed" in result.err
    faults = emulator.call(lambda emu: emu.service("scorecard_pmml_example").faults.rules[0].hits)
    assert faults > 0  # the retries were needed


def test_without_retries_failed_rows_are_reported_in_place_and_exit_1(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    _fail_5_percent(emulator, "scorecard_pmml_example")
    records = _records()
    src = _jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    result = _predict(
        emulator, str(src), "-o", str(out), "--service", "scorecard_pmml_example",
        "--batch-size", "10", "--retries", "0",
    )  # fmt: skip
    assert result.code == 1
    lines = _lines(out.read_text())
    assert [line["row"] for line in lines] == list(range(ROWS))
    failed = [line for line in lines if "error" in line]
    hits = emulator.call(lambda emu: emu.service("scorecard_pmml_example").faults.rules[0].hits)
    assert len(failed) == hits * 10 > 0
    assert all("HTTP 503" in line["error"] and "busy" in line["error"] for line in failed)
    for line, record in zip(lines, records, strict=True):
        if "result" in line:
            assert line["result"]["score"] == pytest.approx(_score(record))
    first = failed[0]
    assert result.err.splitlines()[-1] == (
        f"aioeas: error: {len(failed):,} of {ROWS:,} rows failed (see {out}); "
        f"the first, row {first['row']}: {first['error']}"
    )


def test_npy_to_mnist_with_faults_writes_npz_in_order(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    _fail_5_percent(emulator, "mnist_saved_model_example")
    images = np.random.default_rng(3).random((ROWS, 784), dtype=np.float32)
    np.save(tmp_path / "images.npy", images)
    expected = emulator_models.mnist({"images": images})
    common = [
        str(tmp_path / "images.npy"), "--service", "mnist_saved_model_example",
        "--input", "images", "--signature", "predict_images", "--batch-size", "25",
    ]  # fmt: skip

    ok = _predict(emulator, *common, "-o", str(tmp_path / "ok.npz"))
    assert ok.code == 0, ok.err
    with np.load(tmp_path / "ok.npz") as z:
        assert z["_row"].tolist() == list(range(ROWS))
        assert z["_failed_rows"].size == 0
        assert z["classes"].tolist() == expected["classes"].tolist()
        np.testing.assert_allclose(z["scores"], expected["scores"], rtol=1e-5, atol=1e-6)

    some = _predict(emulator, *common, "--retries", "0", "-o", str(tmp_path / "some.npz"))
    assert some.code == 1
    with np.load(tmp_path / "some.npz") as z:
        rows, failed = z["_row"], z["_failed_rows"]
        assert failed.size > 0
        assert failed.size % 25 == 0
        assert sorted([*rows.tolist(), *failed.tolist()]) == list(range(ROWS))
        assert rows.tolist() == sorted(rows.tolist())
        assert z["classes"].tolist() == expected["classes"][rows].tolist()
        assert all("HTTP 503" in e for e in z["_errors"].tolist())


def test_npz_input_with_output_filter_to_jsonl(emulator: EmulatorThread, tmp_path: Path) -> None:
    images = np.random.default_rng(4).random((7, 784), dtype=np.float32)
    np.savez(tmp_path / "in.npz", images=images)
    result = _predict(
        emulator, str(tmp_path / "in.npz"), "--service", "mnist_saved_model_example",
        "--output", "classes", "--batch-size", "3",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = _lines(result.out)
    expected = emulator_models.mnist({"images": images})["classes"].tolist()
    assert lines == [{"row": i, "outputs": {"classes": c}} for i, c in enumerate(expected)]


def test_torch_npy_by_index(emulator: EmulatorThread, tmp_path: Path) -> None:
    images = np.random.default_rng(5).random((3, 3, 224, 224), dtype=np.float32)
    np.save(tmp_path / "img.npy", images)
    result = _predict(
        emulator, str(tmp_path / "img.npy"), "--type", "torch", "--service", "pytorch_gpu_wl",
        "--batch-size", "2", "-o", str(tmp_path / "out.npz"),
    )  # fmt: skip
    assert result.code == 0, result.err
    with np.load(tmp_path / "out.npz") as z:
        assert z["0"].shape == (3, 1000)
        np.testing.assert_allclose(z["0"], emulator_models.resnet([images])[0], rtol=1e-4)


def test_csv_round_trip_keeps_the_input_columns_and_adds_results(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    records = _records(500)
    src = tmp_path / "in.csv"
    with src.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["id", "fea1", "fea2"])
        writer.writeheader()
        writer.writerows(records)
    out = tmp_path / "out.csv"
    result = _predict(
        emulator, str(src), "-o", str(out), "--service", "scorecard_pmml_example", "-q"
    )
    assert result.code == 0, result.err
    assert result.err == ""  # --quiet
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["id", "fea1", "fea2", "score", "error"]
    assert [int(r["id"]) for r in rows] == list(range(500))
    for row, record in zip(rows, records, strict=True):
        assert float(row["score"]) == pytest.approx(_score(record))
        assert row["error"] == ""


def test_parquet_round_trip(emulator: EmulatorThread, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    records = _records(300)
    records[5]["fea1"] = None  # a missing cell goes as null; the scorecard refuses it
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    result = _predict(
        emulator, str(tmp_path / "in.parquet"), "-o", str(out),
        "--service", "scorecard_pmml_example", "--batch-size", "1",
    )  # fmt: skip
    assert result.code == 1  # row 5 failed
    table = pq.read_table(out).to_pylist()
    assert [r["id"] for r in table] == list(range(300))
    assert table[5]["score"] is None
    assert "not a number" in table[5]["error"]
    for row, record in zip(table, records, strict=True):
        if row["id"] != 5:
            assert row["error"] is None
            assert row["score"] == pytest.approx(_score(record))


def test_parquet_without_pyarrow_is_one_clear_line(
    emulator: EmulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    src = _jsonl(tmp_path / "in.jsonl", _records(3))
    result = _predict(emulator, str(src), "-o", str(tmp_path / "o.parquet"), "--service", "echo")
    assert result.code == 2
    assert result.err == (
        f"aioeas: error: Parquet needs pyarrow: pip install -e '{ROOT}[parquet]'\n"
    )


def test_answers_that_do_not_split_are_reported_per_batch(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    emulator.call(
        lambda emu: emu.add_service("count", lambda body: json.dumps({"n": len(json.loads(body))}))
    )
    src = _jsonl(tmp_path / "in.jsonl", _records(5))
    result = _predict(emulator, str(src), "--service", "count", "--batch-size", "2")
    assert result.code == 0, result.err
    assert _lines(result.out) == [
        {"rows": [0, 1], "result": {"n": 2}},
        {"rows": [2, 3], "result": {"n": 2}},
        {"row": 4, "result": {"n": 1}},
    ]


def test_unreadable_lines_are_reported_at_their_place(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"fea1": 1}\nnot json\n\n{"fea1": 2}\n')
    result = _predict(emulator, str(src), "--service", "echo", "--batch-size", "5")
    assert result.code == 1
    lines = _lines(result.out)
    assert lines[0] == {"row": 0, "result": {"fea1": 1}}
    assert lines[1]["row"] == 1
    assert lines[1]["error"].startswith("line 2 is not JSON")
    assert lines[2] == {"row": 2, "result": {"fea1": 2}}


def test_a_wrong_token_stops_the_run_with_one_line(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    src = _jsonl(tmp_path / "in.jsonl", _records(50))
    result = invoke(
        "predict", str(src), "-e", emulator.url, "--service", "echo", "--token", "wrong"
    )
    assert result.code == 1
    assert len(result.err.splitlines()) == 1
    assert result.err.startswith("aioeas: error: stopped after 0 rows: HTTP 401")
    assert result.err.rstrip().endswith("50 rows not done")


def test_progress_bar_on_a_terminal(emulator: EmulatorThread, tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "in.jsonl", _records(100))
    result = invoke(
        "predict", str(src), "--service", "scorecard_pmml_example", "-o", str(tmp_path / "o.csv"),
        env={"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token", "TTY_COMPATIBLE": "1"},
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "100/100" in result.err
    assert "rows/s" in result.err
    assert "ETA" in result.err
    quiet = invoke(
        "predict", str(src), "--service", "scorecard_pmml_example", "-q",
        "-o", str(tmp_path / "o.csv"),
        env={"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token", "TTY_COMPATIBLE": "1"},
    )  # fmt: skip
    assert quiet.code == 0
    assert quiet.err == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["in.jsonl", "--type", "tf"], "rows (jsonl) are sent to string services"),
        (["in.jsonl", "-o", "out.npz"], "jsonl input can be written as jsonl or csv or parquet"),
        (["in.txt"], "cannot tell the format of 'in.txt'"),
        (["in.txt"], "; give it with --format"),
        (["in.jsonl", "-o", "out.txt"], "cannot tell the format of 'out.txt'"),
        (["in.jsonl", "--batch-size", "0"], "Invalid value for '--batch-size'"),
        (["in.jsonl", "--endpoint-type", "vpc"], "Invalid value for '--endpoint-type'"),
        (["nope.jsonl"], "Invalid value for 'INPUT': File 'nope.jsonl' does not exist"),
        (["nope.parquet"], "File 'nope.parquet' does not exist"),
        (["in.jsonl", "-o", "nodir/o.csv"], "the directory 'nodir' does not exist"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _jsonl(tmp_path / "in.jsonl", _records(2))
    (tmp_path / "in.txt").write_text("x")
    result = invoke("predict", *args, "-e", "http://127.0.0.1:9", "--service", "s")
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.splitlines()) == 1, result.err
    assert message in result.err
    assert "Traceback" not in result.err


def test_the_help_and_the_guide_give_the_keys_results_have(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    """Results of arrays are ``{"row", "outputs"}``, of rows ``{"row", "result"}``: the
    guide and ``--help`` said ``result`` for both. Each key as the command writes it, and
    as both texts give it."""
    np.save(tmp_path / "in.npy", np.zeros((1, 784), np.float32))
    arrays = _predict(emulator, str(tmp_path / "in.npy"), "--service", "mnist_saved_model_example",
                      "--input", "images", "--signature", "predict_images")  # fmt: skip
    rows = _predict(emulator, str(_jsonl(tmp_path / "in.jsonl", _records(1))), "--service", "echo")
    assert list(_lines(arrays.out)[0]) == ["row", "outputs"]
    assert list(_lines(rows.out)[0]) == ["row", "result"]
    help_text = " ".join(invoke("predict", "--help").out.split())
    guide = (ROOT / "docs" / "guides" / "cli.md").read_text(encoding="utf-8").replace("`", "")
    guide = " ".join(guide.split())
    for text in (help_text, guide):
        assert '{"row": i, "result": ...} from a string service' in text
        assert '{"row": i, "outputs": {' in text
