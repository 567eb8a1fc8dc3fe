"""Output files of ``aioeas predict`` as a user expects them: CSV, Parquet and .npz end up
as ``open(path, "w")`` would leave them (permissions kept, links followed, the umask's mode
for a new file), and an error names the path the user gave, not a temporary file's."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.cli.support import EmulatorThread, Result, invoke

FORMATS = ["csv", "parquet", "npz"]


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _run(emulator: EmulatorThread, tmp_path: Path, out: Path | str) -> Result:
    env = {"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"}
    if str(out).endswith(".npz"):
        np.save(tmp_path / "in.npy", np.ones((3, 784), np.float32))
        args = ["in.npy", "--service", "mnist_saved_model_example", "--input", "images"]
        args += ["--signature", "predict_images"]
    else:
        (tmp_path / "in.jsonl").write_text(
            "".join(json.dumps({"fea1": i, "fea2": 1}) + "\n" for i in range(3))
        )
        args = ["in.jsonl", "--service", "scorecard_pmml_example"]
    return invoke("predict", str(tmp_path / args[0]), *args[1:], "-o", str(out), "-q", env=env)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_new_file_gets_the_umasks_mode_like_jsonl(
    emulator: EmulatorThread, tmp_path: Path, umask_022: None, fmt: str
) -> None:
    out = tmp_path / f"out.{fmt}"
    result = _run(emulator, tmp_path, out)
    assert result.code == 0, result.err
    assert _mode(out) == 0o644
    jsonl = tmp_path / "out.jsonl"
    assert _run(emulator, tmp_path, jsonl).code == 0
    assert _mode(jsonl) == _mode(out)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_existing_file_keeps_its_permissions(
    emulator: EmulatorThread, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"out.{fmt}"
    out.write_text("old")
    out.chmod(0o640)
    result = _run(emulator, tmp_path, out)
    assert result.code == 0, result.err
    assert _mode(out) == 0o640
    assert out.read_bytes() != b"old"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_symlink_is_followed_and_kept(emulator: EmulatorThread, tmp_path: Path, fmt: str) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / f"results.{fmt}"
    target.write_text("old")
    link = tmp_path / f"link.{fmt}"
    link.symlink_to(target)
    result = _run(emulator, tmp_path, link)
    assert result.code == 0, result.err
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert target.read_bytes() != b"old"
    assert [p.name for p in (tmp_path / "real").iterdir()] == [target.name]  # no leftovers


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_error_names_the_path_given_not_the_temporary_file(
    emulator: EmulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    def full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device", src)

    monkeypatch.setattr(os, "replace", full)
    given = str(tmp_path / f"out.{fmt}")
    result = _run(emulator, tmp_path, given)
    assert result.code == 1
    assert result.err == f"aioeas: error: cannot write {given}: No space left on device\n"
    assert list(tmp_path.glob(".out*")) == []  # the temporary file is gone


def test_csv_columns_are_typed_once_for_every_output(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    """CSV in, Parquet out kept numbers as strings (``fea1: string``), where the same rows
    from JSON lines kept int64/double: a CSV cell is typed once, as it is sent."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    records = [
        {"fea1": i, "fea2": i / 4, "flag": i % 2 == 0, "name": f"n{i}", "code": "007"}
        for i in range(5)
    ]
    (tmp_path / "in.csv").write_text(
        "fea1,fea2,flag,name,code\n"
        + "".join(f"{i},{i / 4},{str(i % 2 == 0).lower()},n{i},007\n" for i in range(5))
    )
    (tmp_path / "in.jsonl").write_text(
        "".join(json.dumps({**r, "code": 7}) + "\n" for r in records)
    )
    env = {"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"}
    schemas = {}
    for src in ("in.csv", "in.jsonl"):
        out = tmp_path / f"{src}.parquet"
        result = invoke(
            "predict", str(tmp_path / src), "--service", "echo", "-o", str(out), env=env
        )
        assert result.code == 0, result.err
        schemas[src] = pq.read_schema(out)
    expected = [pa.int64(), pa.float64(), pa.bool_(), pa.string(), pa.int64()]
    for schema in schemas.values():
        assert [schema.field(c).type for c in ("fea1", "fea2", "flag", "name", "code")] == expected
    table = pq.read_table(tmp_path / "in.csv.parquet").to_pylist()
    assert [{k: row[k] for k in records[0]} for row in table] == [{**r, "code": 7} for r in records]
    # what was sent is typed the same way (echo answers the records it got)
    echoed = invoke("predict", str(tmp_path / "in.csv"), "--service", "echo", env=env)
    assert [json.loads(line)["result"] for line in echoed.out.splitlines()] == [
        {**r, "code": 7} for r in records
    ]
    # CSV out keeps the input's text as it was
    out = tmp_path / "out.csv"
    invoke("predict", str(tmp_path / "in.csv"), "--service", "echo", "-o", str(out), env=env)
    assert out.read_text().splitlines()[1].startswith("0,0.0,true,n0,007,")


def test_parquet_rows_are_converted_as_from_records_converts_them(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    """NaN as null, Timestamps as ISO strings; a value JSON cannot carry fails its row
    alone, naming the row and the column (the same conversion as ``from_records``)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import datetime

    when = datetime.datetime(2024, 5, 1, 12, 30)
    table = pa.table(
        {
            "x": pa.array([1.5, float("nan"), float("inf"), 2.0]),
            "when": pa.array([when, None, when, when], pa.timestamp("us")),
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    env = {"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"}
    result = invoke(
        "predict", str(tmp_path / "in.parquet"), "--service", "echo", "--batch-size", "4",
        env=env,
    )  # fmt: skip
    assert result.code == 1
    lines = [json.loads(line) for line in result.out.splitlines()]
    iso = "2024-05-01T12:30:00"
    assert lines == [
        {"row": 0, "result": {"x": 1.5, "when": iso}},
        {"row": 1, "result": {"x": None, "when": None}},
        {"row": 2, "error": "row 2, column 'x': inf cannot be sent as JSON"},
        {"row": 3, "result": {"x": 2.0, "when": iso}},
    ]
