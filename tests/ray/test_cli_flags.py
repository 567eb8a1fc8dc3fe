"""``aioeas predict --ray``'s flags are checked before Ray starts (no cluster here), and the
command without ``--ray`` says what it said before."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import aioeas.cli
from tests.cli.support import invoke
from tests.ray.support import RAY_WARNINGS

pytestmark = RAY_WARNINGS
CONNECT = ["-e", "http://127.0.0.1:9", "--service", "s"]


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), path)
    return path


def test_ray_flags_without_ray_are_usage_errors(rows: Path) -> None:
    for flag, value in [("--actors", "2"), ("--id", "x"), ("--cpus-per-actor", "0.5")]:
        done = invoke("predict", str(rows), flag, value, *CONNECT)
        assert done.code == 2
        assert f"{flag} is for --ray" in done.err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "--ray writes a directory of Parquet files: give --out DIR"),
        (["-o", "{tmp}/x.parquet/", "--type", "tf"], "--ray sends rows to string services"),
        (["-o", "{tmp}/full"], "is not empty: give a new or empty directory"),
        (["-o", "{tmp}/in.parquet"], "is a file: --ray writes a directory"),
        (["-o", "{tmp}/no/such/dir"], "its parent directory does not exist"),
    ],
)
def test_bad_ray_runs_stop_before_ray_starts(
    rows: Path, tmp_path: Path, args: list[str], says: str
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.parquet").write_bytes(b"")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = invoke("predict", str(rows), "--ray", *args, *CONNECT)
    assert done.code == 2, done.err
    assert says in done.err
    assert "Started a local Ray instance" not in done.err


@pytest.mark.parametrize(
    ("make", "pattern", "says"),
    [
        ({}, "nothing-*.parquet", "no Parquet, CSV or JSON lines file"),
        ({"a.npy": b"x"}, "a.npy", "--ray reads Parquet, CSV or JSON lines"),
        ({"a.csv": b"x\n1\n", "b.jsonl": b"{}\n"}, "", "mixes formats (csv, jsonl)"),
        ({}, "missing.parquet", "no such file or directory"),
    ],
)
def test_inputs_on_ray_are_files_directories_or_globs_of_one_row_format(
    tmp_path: Path, make: dict[str, bytes], pattern: str, says: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name, content in make.items():
        (data / name).write_bytes(content)
    done = invoke("predict", str(data / pattern), "--ray", "-o", str(tmp_path / "out"), *CONNECT)
    assert done.code == 2, done.err
    assert says in done.err


def test_without_ray_installed_the_command_says_how_to_install_it(
    rows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray: ImportError
    monkeypatch.delitem(sys.modules, "aioeas.cli.onray", raising=False)
    monkeypatch.delattr(aioeas.cli, "onray", raising=False)
    done = invoke("predict", str(rows), "--ray", "-o", str(tmp_path / "out"), *CONNECT)
    assert done.code == 2
    assert "--ray needs Ray" in done.err
    assert "[ray]'" in done.err  # pip install ... 'aioeas[ray]' or -e '...[ray]'


def test_without_ray_inputs_are_checked_as_before(tmp_path: Path) -> None:
    missing = invoke("predict", str(tmp_path / "nope.jsonl"), *CONNECT)
    assert missing.code == 2
    assert "Invalid value for 'INPUT': File" in missing.err
    assert "does not exist" in missing.err
    directory = invoke("predict", str(tmp_path), *CONNECT)
    assert directory.code == 2
    assert "is a directory" in directory.err


@pytest.mark.parametrize(
    ("header", "flags", "says"),
    [
        ("k,row", [], "has a column 'row': --ray adds file, row, result, error"),
        ("k,error", [], "has a column 'error'"),
        ("k,x", ["--id", "id"], "has no column 'id' for --id (it has k, x)"),
    ],
)
def test_input_columns_the_output_would_lose_stop_the_run_before_ray_starts(
    tmp_path: Path, header: str, flags: list[str], says: str
) -> None:
    """The first file's header is checked in the driver (the read tasks check every file)."""
    (tmp_path / "in.csv").write_text(f"{header}\n1,2\n")
    done = invoke(
        "predict", str(tmp_path / "in.csv"), "--ray", "-o", str(tmp_path / "out"), *flags, *CONNECT
    )
    assert done.code == 2, done.err
    assert says in done.err
    assert "Started a local Ray instance" not in done.err
