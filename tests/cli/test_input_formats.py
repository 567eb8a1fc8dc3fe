"""Reading INPUT: a ``.json`` file holding a JSON array is read as one (it was read as
JSON lines and every row failed), and ``--format`` reads CSV, JSON, Parquet or .npy from
stdin or from a file of another suffix."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from aioeas.emulator import models as emulator_models
from tests.cli.support import EmulatorThread, Result, invoke

RECORDS = [{"fea1": i, "fea2": i % 3} for i in range(7)]


def _predict(emulator: EmulatorThread, *args: str, input: str | None = None) -> Result:
    env = {"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"}
    return invoke("predict", *args, "--service", "echo", "--batch-size", "3", env=env,
                  input=input)  # fmt: skip


def _results(result: Result) -> list[object]:
    assert result.code == 0, result.err
    lines = [json.loads(x) for x in result.out.splitlines()]
    assert [line["row"] for line in lines] == list(range(len(lines)))
    return [line["result"] for line in lines]


def test_a_json_file_holding_an_array(emulator: EmulatorThread, tmp_path: Path) -> None:
    src = tmp_path / "rows.json"
    src.write_text(json.dumps(RECORDS, indent=2))  # pretty: one row spans lines
    assert _results(_predict(emulator, str(src))) == RECORDS
    lines = tmp_path / "lines.json"  # a .json file of JSON lines stays JSON lines
    lines.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    assert _results(_predict(emulator, str(lines))) == RECORDS


def test_csv_from_stdin_and_from_another_suffix(emulator: EmulatorThread, tmp_path: Path) -> None:
    text = "fea1,fea2\n" + "".join(f"{r['fea1']},{r['fea2']}\n" for r in RECORDS)
    assert _results(_predict(emulator, "-", "--format", "csv", input=text)) == RECORDS
    src = tmp_path / "export.txt"
    src.write_text(text)
    assert _results(_predict(emulator, str(src), "--format", "csv")) == RECORDS


def test_json_and_jsonl_from_stdin(emulator: EmulatorThread) -> None:
    array = json.dumps(RECORDS)
    assert _results(_predict(emulator, "-", "--format", "json", input=array)) == RECORDS
    lines = "".join(json.dumps(r) + "\n" for r in RECORDS)
    assert _results(_predict(emulator, "-", input=lines)) == RECORDS


def test_parquet_from_stdin(emulator: EmulatorThread) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(RECORDS), buffer)
    result = _predict_bytes(emulator, buffer.getvalue(), "--format", "parquet")
    assert _results(result) == RECORDS


def test_npy_from_stdin(emulator: EmulatorThread) -> None:
    images = np.random.default_rng(2).random((5, 784), dtype=np.float32)
    buffer = io.BytesIO()
    np.save(buffer, images)
    env = {"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"}
    result = _invoke_bytes(
        ["predict", "-", "--format", "npy", "--service", "mnist_saved_model_example",
         "--input", "images", "--signature", "predict_images", "--output", "classes"],
        buffer.getvalue(), env,
    )  # fmt: skip
    assert result.code == 0, result.err
    expected = emulator_models.mnist({"images": images})["classes"].tolist()
    assert [json.loads(x)["outputs"]["classes"] for x in result.out.splitlines()] == expected


def test_a_json_file_that_is_not_one_document_is_a_usage_error(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    src = tmp_path / "rows.json"
    src.write_text('[{"a": 1},\n')
    result = _predict(emulator, str(src))
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert f"{src} is not one JSON document" in line


def _invoke_bytes(args: list[str], data: bytes, env: dict[str, str]) -> Result:
    from click.testing import CliRunner

    from aioeas.cli.main import main

    runner = CliRunner()
    with runner.isolation(input=data, env=env) as (out, err, _):  # type: ignore[arg-type]
        code = main(args)
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


def _predict_bytes(emulator: EmulatorThread, data: bytes, *args: str) -> Result:
    env = {"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token"}
    return _invoke_bytes(["predict", "-", *args, "--service", "echo", "--batch-size", "3"],
                         data, env)  # fmt: skip


LATIN1_CSV = "fea1,name\n1,plain\n2,caf\xe9\n".encode("latin-1")  # a spreadsheet's export


def test_a_csv_that_is_not_utf8_is_a_usage_error_naming_the_line(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    """It was "aioeas: error: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 in
    position 28" with exit status 1, naming neither the file nor the line."""
    src = tmp_path / "export.csv"
    src.write_bytes(LATIN1_CSV)
    result = _predict(emulator, str(src))
    assert (result.code, result.out) == (2, "")
    (line,) = result.err.splitlines()
    assert line.startswith(f"aioeas: error: {src} is not UTF-8 text (line 3, byte 0xe9): ")
    assert "save it as UTF-8" in line
    # from stdin, found as the rows are read: the same line, without the line number
    piped = _predict_bytes(emulator, LATIN1_CSV, "--format", "csv")
    assert piped.code == 2
    (line,) = piped.err.splitlines()
    assert line.startswith("aioeas: error: stdin is not UTF-8 text (byte 0xe9): ")


@pytest.mark.parametrize("stdin", [False, True])
def test_a_json_line_that_is_not_utf8_fails_alone(
    emulator: EmulatorThread, tmp_path: Path, stdin: bool
) -> None:
    """As a line that is not JSON: its row fails, every other row is answered (the whole
    run stopped at the first bad byte, rows before it in the same buffer unread)."""
    data = b"".join(json.dumps(r).encode() + b"\n" for r in RECORDS[:3])
    data += b'{"fea1": "caf\xe9"}\n' + json.dumps(RECORDS[3]).encode() + b"\n"
    if stdin:
        result = _predict_bytes(emulator, data)
    else:
        src = tmp_path / "rows.jsonl"
        src.write_bytes(data)
        result = _predict(emulator, str(src))
    assert result.code == 1
    lines = [json.loads(x) for x in result.out.splitlines()]
    assert lines == [
        *({"row": i, "result": r} for i, r in enumerate(RECORDS[:3])),
        {"row": 3, "error": "line 4 is not UTF-8 text (byte 0xe9)"},
        {"row": 4, "result": RECORDS[3]},
    ]
