"""Batch files in: rows (JSON lines, CSV, Parquet) and arrays (.npy, .npz), read in batches.

Rows are for string services: each row becomes one JSON record, and a batch is sent as a
JSON list of records (``[{"fea1": 1, "fea2": 2}, ...]``, the PMML example's form). Arrays
are for TensorFlow and PyTorch services: every array is split along its first axis, so a
batch of rows ``a..b`` sends ``array[a:b]`` under each input name.

Files are read lazily, batch by batch (a .npy is memory-mapped), so a file larger than
memory streams through. A row that cannot be read (a line that is not JSON) does not stop
the run: it is kept, with its error, and reported in the output at its place.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import re
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

import click
import numpy as np
import numpy.typing as npt

from aioeas._install import install_hint
from aioeas.cli.formats import ARRAY_FORMATS, ROW_FORMATS, detect_format
from aioeas.cli.options import count
from aioeas.errors import UsageError
from aioeas.requests.string import json_record

__all__ = [
    "ARRAY_FORMATS",
    "ROW_FORMATS",
    "ArrayBatch",
    "ArraySource",
    "MissingExtraError",
    "Row",
    "RowBatch",
    "RowSource",
    "detect_format",
    "pyarrow",
]

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class MissingExtraError(click.ClickException):
    """An optional package the asked-for format needs is not installed (exit status 2)."""

    exit_code = 2


def pyarrow() -> Any:
    """The ``pyarrow`` module, or a one-line error naming the extra that installs it."""
    try:
        return importlib.import_module("pyarrow")
    except ImportError:
        raise MissingExtraError(f"Parquet needs pyarrow: {install_hint('parquet')}") from None


def _parquet() -> Any:
    pyarrow()
    return importlib.import_module("pyarrow.parquet")


@dataclass(frozen=True)
class Row:
    """One input row: ``value`` as read (shown again in CSV output), ``record`` as sent
    (JSON-ready), or ``error`` when the row could not be read; ``cells``: the input's
    columns typed, for typed outputs (Parquet), when they differ from ``value`` (a CSV's
    text cells typed as they are sent)."""

    value: Any
    record: Any = None
    error: str | None = None
    cells: Any = None

    @property
    def typed(self) -> Any:
        """The input's columns with their types (what Parquet output keeps)."""
        return self.value if self.cells is None else self.cells


@dataclass
class RowBatch:
    """Rows ``first .. first + len(rows) - 1`` of the input, sent as one request."""

    first: int
    rows: list[Row]

    @property
    def size(self) -> int:
        return len(self.rows)

    @property
    def records(self) -> list[Any]:
        """What the request carries: the records of the rows that could be read."""
        return [row.record for row in self.rows if row.error is None]


@dataclass
class ArrayBatch:
    """Rows ``first .. first + size - 1`` of every input array."""

    first: int
    size: int
    arrays: dict[str, npt.NDArray[Any]] = field(default_factory=dict)


def _record(value: Any, number: int) -> Row:
    """A row read as ``value``, with its record converted for JSON as ``from_records`` does
    (NaN as null, dates as ISO strings); a value JSON cannot carry fails this row only."""
    if not isinstance(value, dict):
        return Row(value, value)
    try:
        return Row(value, json_record(value, number))
    except UsageError as exc:
        return Row(value, error=str(exc))


_BOOLS = {"true": True, "false": False}


def _csv_value(text: str) -> Any:
    """A CSV cell typed, once, for every use (the request, Parquet output): as JSON lines
    would carry it. Integers and decimals as numbers (a scorecard wants numbers), ``true``
    and ``false`` (any case) as booleans, '' as null, anything else as text."""
    if text == "":
        return None
    if text.lower() in _BOOLS:
        return _BOOLS[text.lower()]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


@contextlib.contextmanager
def _text(path: str) -> Iterator[TextIO]:
    """``path`` (``-``: stdin) as UTF-8 text, CSV-ready; stdin is left open after."""
    if path == "-":
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline="")
        try:
            yield stream
        finally:
            stream.detach()
    else:
        with open(path, encoding="utf-8", newline="") as f:
            yield f


def _not_utf8(path: str, exc: UnicodeDecodeError) -> click.UsageError:
    """A text input that is not UTF-8 (a CSV saved as Latin-1 or UTF-16): one usage
    error naming the file and, when it can be read again, the first line at fault (the
    decoder's own position is within a buffer, not the file)."""
    where = "stdin" if path == "-" else path
    bad = f"byte 0x{exc.object[exc.start]:02x}" if exc.start < len(exc.object) else "its end"
    if path != "-":
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as at:
                    bad = f"line {number}, byte 0x{line[at.start]:02x}"
                    break
    return click.UsageError(f"{where} is not UTF-8 text ({bad}): save it as UTF-8")


def _binary(path: str) -> Any:
    """``path``, or stdin read whole (Parquet and .npy readers need to seek)."""
    return io.BytesIO(sys.stdin.buffer.read()) if path == "-" else path


class RowSource:
    """The rows of a JSON lines, CSV or Parquet file (``-``: JSON lines on stdin)."""

    def __init__(self, path: str, fmt: str) -> None:
        if fmt not in ROW_FORMATS:
            raise ValueError(f"not a row format: {fmt}")
        self.path = path
        self.fmt = fmt
        #: The input's column names in order (CSV header, Parquet schema; JSON lines: the
        #: keys of the objects, as they are first seen).
        self.columns: list[str] = []
        self._seen: dict[str, None] = {}
        self._array: list[Any] | None = None  # a JSON array, parsed once
        if fmt == "parquet":
            self._parquet_file = _parquet().ParquetFile(_binary(path))
            self.columns = list(self._parquet_file.schema_arrow.names)

    @property
    def arrow_schema(self) -> Any:
        """A Parquet file's Arrow schema; None for text formats (typed cell by cell)."""
        return self._parquet_file.schema_arrow if self.fmt == "parquet" else None

    def close(self) -> None:
        """Let go of the input file (a Parquet file is held open from the start)."""
        if self.fmt == "parquet":
            self._parquet_file.close()

    def count(self) -> int | None:
        """How many rows there are (a quick pass; ``None`` for stdin)."""
        if self.path == "-":
            return None
        if self.fmt == "parquet":
            return int(self._parquet_file.metadata.num_rows)
        if self.fmt == "json":
            return len(self._json_array())
        if self.fmt == "csv":
            try:
                with open(self.path, newline="", encoding="utf-8") as f:
                    return max(0, sum(1 for _ in csv.reader(f)) - 1)
            except UnicodeDecodeError as exc:
                raise _not_utf8(self.path, exc) from None
        with open(self.path, "rb") as fb:
            return sum(1 for line in fb if line.strip())

    def batches(self, size: int) -> Generator[RowBatch, None, None]:
        """The rows, ``size`` at a time, numbered from 0. Closing this generator closes the
        input file at once (not whenever the garbage collector finds it: a run stopped by an
        error keeps its frames alive in the exception's traceback)."""
        rows: list[Row] = []
        first = 0
        reader = self._rows()
        try:
            for row in reader:
                rows.append(row)
                if len(rows) == size:
                    yield RowBatch(first, rows)
                    first += size
                    rows = []
            if rows:
                yield RowBatch(first, rows)
        finally:
            reader.close()

    def _rows(self) -> Generator[Row, None, None]:
        if self.fmt == "jsonl":
            yield from self._json_rows()
        elif self.fmt == "json":
            for number, value in enumerate(self._json_array()):
                self._see_columns(value)
                yield _record(value, number)
        elif self.fmt == "csv":
            yield from self._csv_rows()
        else:
            number = 0
            for batch in self._parquet_file.iter_batches(batch_size=4096):
                for item in batch.to_pylist():
                    yield _record(item, number)
                    number += 1

    def _json_rows(self) -> Iterator[Row]:
        """Read as bytes and decoded line by line: a line that is not UTF-8 fails alone, at
        its place, as a line that is not JSON does (decoding the whole stream stopped the
        run at the first bad byte, with rows before it in the same buffer unread)."""
        stream: BinaryIO
        if self.path == "-":
            stream = sys.stdin.buffer
            close = False
        else:
            stream = open(self.path, "rb")  # noqa: SIM115 - closed below
            close = True
        row = -1
        try:
            for number, raw in enumerate(stream, 1):
                if not raw.strip():
                    continue
                row += 1
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    byte = raw[exc.start]
                    yield Row(None, error=f"line {number} is not UTF-8 text (byte 0x{byte:02x})")
                    continue
                try:
                    value = json.loads(line)
                except ValueError as exc:
                    yield Row(None, error=f"line {number} is not JSON: {exc}")
                    continue
                self._see_columns(value)
                yield _record(value, row)
        finally:
            if close:
                stream.close()

    def _see_columns(self, value: Any) -> None:
        """JSON rows' columns: the objects' keys, in the order they are first seen."""
        if isinstance(value, dict):
            for key in value:
                if key not in self._seen:
                    self._seen[key] = None
                    self.columns.append(key)

    def _json_array(self) -> list[Any]:
        """A JSON document's rows: the items of an array, or one object as one row."""
        if self._array is None:
            try:
                with _text(self.path) as stream:
                    document = json.load(stream)
            except ValueError as exc:
                raise click.UsageError(f"{self.path} is not one JSON document: {exc}") from None
            self._array = document if isinstance(document, list) else [document]
        return self._array

    def _csv_rows(self) -> Iterator[Row]:
        try:
            yield from self._csv_text_rows()
        except UnicodeDecodeError as exc:
            raise _not_utf8(self.path, exc) from None

    def _csv_text_rows(self) -> Iterator[Row]:
        with _text(self.path) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                return
            self.columns = header
            for number, cells in enumerate(reader, 2):
                if len(cells) != len(header):
                    value = dict(zip(header, cells, strict=False))
                    yield Row(
                        value,
                        error=f"line {number} has {count(len(cells), 'cell')}, the header {len(header)}",
                        cells={k: _csv_value(v) for k, v in value.items()},
                    )
                    continue
                value = dict(zip(header, cells, strict=True))
                typed = {k: _csv_value(v) for k, v in value.items()}
                yield Row(value, typed, cells=typed)


def _parse_inputs(specs: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """``--input NAME`` or ``--input NAME=KEY`` (KEY: the array's name in the .npz)."""
    out = []
    for spec in specs:
        name, sep, key = spec.partition("=")
        if not name or (sep and not key):
            raise click.BadParameter(
                f"an input is NAME or NAME=KEY, got {spec!r}", param_hint="--input"
            )
        out.append((name, key if sep else None))
    return out


class ArraySource:
    """The arrays of a .npy (one input) or .npz (one input per array) file.

    ``inputs``: for a .npy, the one input's name (TF) or index (PyTorch, ``0`` by default);
    for a .npz, which of its arrays to send, as ``NAME`` or ``NAME=KEY`` (all by default,
    each under its own key).
    """

    def __init__(self, path: str, fmt: str, inputs: tuple[str, ...], default_name: str | None):
        specs = _parse_inputs(inputs)
        self.columns: list[str] = []  # arrays have no columns; tabular output is for rows
        self.arrays: dict[str, npt.NDArray[Any]] = {}
        if fmt == "npy":
            if len(specs) > 1 or any(key for _, key in specs):
                raise click.BadParameter(
                    "a .npy holds one array: give one --input NAME", param_hint="--input"
                )
            name = specs[0][0] if specs else default_name
            if name is None:
                raise click.UsageError(
                    "a .npy needs --input NAME: the service's input to send it as"
                )
            if path == "-":
                self.arrays[name] = np.load(_binary(path), allow_pickle=False)
            else:
                self.arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        elif fmt == "npz":
            with np.load(_binary(path), allow_pickle=False) as archive:
                keys = list(archive.files)
                wanted = specs or [(key, None) for key in keys]
                for name, key in wanted:
                    source = key or name
                    if source not in keys:
                        raise click.BadParameter(
                            f"{path} has no array {source!r} (it has {', '.join(keys)})",
                            param_hint="--input",
                        )
                    self.arrays[name] = archive[source]
        else:
            raise ValueError(f"not an array format: {fmt}")
        if not self.arrays:
            raise click.UsageError(f"{path} holds no arrays")
        lengths = {name: (a.shape[0] if a.ndim else -1) for name, a in self.arrays.items()}
        if any(n < 0 for n in lengths.values()) or len(set(lengths.values())) != 1:
            shown = ", ".join(f"{k}: {list(a.shape)}" for k, a in self.arrays.items())
            raise click.UsageError(
                f"the input arrays need the same first dimension, to be split in rows ({shown})"
            )
        self.total = next(iter(lengths.values()))

    def close(self) -> None:
        """Nothing held: a .npz is read whole, a .npy mapped (the mapping needs no file)."""

    def count(self) -> int:
        return self.total

    def batches(self, size: int) -> Generator[ArrayBatch, None, None]:
        for first in range(0, self.total, size):
            stop = min(first + size, self.total)
            arrays = {k: np.ascontiguousarray(a[first:stop]) for k, a in self.arrays.items()}
            yield ArrayBatch(first, stop - first, arrays)
