"""Batch results out, in input order: JSON lines, CSV, Parquet, .npz.

Every input row is answered or reported, at its place:

- JSON lines (``-o out.jsonl``, or stdout): one line per input row, ``{"row": 7, "result":
  ...}`` or ``{"row": 7, "error": "..."}``; when a string service's answer to a batch is not
  a list with one item per row, that answer gets one line naming the rows it covers,
  ``{"rows": [0, 1, 2], "result": ...}``. Tensor outputs likewise: ``{"row": 7, "outputs":
  {"scores": [...]}}`` when every output has one entry per row, else ``{"rows": [...],
  "outputs": ...}``. Lines are flushed batch by batch, so a consumer can follow along.
- CSV / Parquet: the input's columns, then the result's (an object's keys as columns, or
  one ``result`` column), then ``error`` (empty when the row succeeded).
- .npz: each output concatenated along axis 0 over the batches that succeeded; ``_row``
  gives the input row of each output row (``arange(n)`` when none failed); ``_failed_rows``
  and ``_errors`` list the rows that failed and why.

Tabular and .npz files take their final form when the run ends (also when it is
interrupted): their columns, types and shapes are known only then. Until then each batch
goes to a scratch file beside the output as it comes, so memory holds one batch (and, at
the end, one chunk of rows) whatever the input's length; the file is written to a
temporary name and renamed, so a reader never sees half a file. It ends as ``open(path,
"w")`` would leave it: a symlink followed, permissions kept, a new file the umask's mode.
"""

from __future__ import annotations

import csv
import importlib
import json
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, TextIO

import numpy as np
import numpy.typing as npt

from aioeas.cli.inputs import ArrayBatch, RowBatch, pyarrow
from aioeas.cli.staging import PickleSpool, Staged

__all__ = ["ArrayOutcome", "RowOutcome", "Writer", "open_writer"]


@dataclass
class RowOutcome:
    """A string service's answer to a batch of rows.

    ``results``: one item per row that was sent, when the answer splits that way (a JSON
    list of as many items, or any answer to a single row); ``whole``: the answer as it is
    otherwise; ``error``: why the batch failed.
    """

    batch: RowBatch
    results: list[Any] | None = None
    whole: Any = None
    error: str | None = None


@dataclass
class ArrayOutcome:
    """A tensor service's answer to a batch: its outputs by name, or why it failed."""

    batch: ArrayBatch
    outputs: dict[str, npt.NDArray[Any]] | None = None
    error: str | None = None


Outcome = RowOutcome | ArrayOutcome


class Writer(Protocol):
    """Takes outcomes in input order; ``close`` writes what it holds. ``write`` returns how
    many rows of the batch failed; ``first_failure`` says the first (``row 7: reason``)."""

    first_failure: str | None

    def write(self, outcome: Outcome) -> int: ...

    def close(self) -> None: ...


def _row_items(outcome: RowOutcome) -> Iterable[tuple[int, Any, str | None]]:
    """(row number, per-row result, error) for each row; the result is ``_WHOLE`` where
    the answer does not split."""
    results = iter(outcome.results or ())
    for offset, row in enumerate(outcome.batch.rows):
        number = outcome.batch.first + offset
        if row.error is not None:
            yield number, None, row.error
        elif outcome.error is not None:
            yield number, None, outcome.error
        elif outcome.results is not None:
            yield number, next(results), None
        else:
            yield number, _WHOLE, None


_WHOLE = object()


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)  # dates and times from Parquet


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


class _Failures:
    """Remembers the first failed row a writer recorded, for the run's last line."""

    first_failure: str | None = None

    def failed(self, row: int, reason: str) -> None:
        if self.first_failure is None:
            self.first_failure = f"row {row}: {reason}"


class JsonLinesWriter(_Failures):
    """One JSON object per input row (or per batch, when the answer does not split)."""

    def __init__(self, path: str) -> None:
        self._stream: TextIO
        if path == "-":
            self._stream, self._close = sys.stdout, False
        else:
            self._stream, self._close = open(path, "w", encoding="utf-8"), True  # noqa: SIM115

    def write(self, outcome: Outcome) -> int:
        lines, failed = (
            self._rows(outcome) if isinstance(outcome, RowOutcome) else self._arrays(outcome)
        )
        self._stream.write("".join(line + "\n" for line in lines))
        self._stream.flush()
        return failed

    def _rows(self, outcome: RowOutcome) -> tuple[list[str], int]:
        lines, failed, covered = [], 0, []
        for number, result, error in _row_items(outcome):
            if error is not None:
                failed += 1
                self.failed(number, error)
                lines.append(_dumps({"row": number, "error": error}))
            elif result is _WHOLE:
                covered.append(number)
            else:
                lines.append(_dumps({"row": number, "result": result}))
        if covered:
            lines.append(_dumps({"rows": covered, "result": outcome.whole}))
        return lines, failed

    def _arrays(self, outcome: ArrayOutcome) -> tuple[list[str], int]:
        batch = outcome.batch
        numbers = range(batch.first, batch.first + batch.size)
        if outcome.outputs is None:
            self.failed(batch.first, outcome.error or "failed")
            return [_dumps({"row": n, "error": outcome.error}) for n in numbers], batch.size
        outputs = outcome.outputs
        if all(a.ndim and a.shape[0] == batch.size for a in outputs.values()):
            return [
                _dumps({"row": n, "outputs": {k: a[i].tolist() for k, a in outputs.items()}})
                for i, n in enumerate(numbers)
            ], 0
        whole = {k: a.tolist() for k, a in outputs.items()}
        return [_dumps({"rows": list(numbers), "outputs": whole})], 0

    def close(self) -> None:
        if self._close:
            self._stream.close()
        else:
            self._stream.flush()


#: Rows per Parquet row group (and per CSV write) when the spooled rows are written out.
CHUNK_ROWS = 4096


class _Kinds:
    """The Python types seen in a column, and one value of each, to type it at the end."""

    def __init__(self) -> None:
        self.types: set[type] = set()
        self.sample: Any = None

    def see(self, value: Any) -> None:
        if value is None:
            return
        kind = type(value)
        if kind is int and not -(2**63) <= value < 2**63:
            kind = _BigInt  # no int64 holds it: the column becomes text
        if kind not in self.types:
            self.types.add(kind)
            if self.sample is None:
                self.sample = value


class _BigInt:
    """Stands for an integer beyond int64 among a column's types."""


class TableWriter(_Failures):
    """Input columns, result columns, ``error``; CSV or Parquet.

    Each batch's rows go to a scratch file as they come (in memory: one batch at a time);
    ``close`` writes them out in chunks of ``chunk_rows``, so memory stays bounded by
    counts, whatever the input's length. ``max_rows_held``: the most rows held at once.
    """

    def __init__(
        self,
        path: str,
        fmt: str,
        input_columns: Callable[[], list[str]],
        *,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        if fmt == "parquet":
            pyarrow()  # fail before any request is sent
        self._fmt = fmt
        self._input_columns = input_columns
        self._chunk_rows = chunk_rows
        self._staged = Staged(path)
        self._spool = PickleSpool(self._staged.spool())
        self._result_columns: dict[str, None] = {}
        self._kinds: dict[str, _Kinds] = {}
        self.max_rows_held = 0

    def _held(self, rows: int) -> None:
        self.max_rows_held = max(self.max_rows_held, rows)

    def write(self, outcome: Outcome) -> int:
        if not isinstance(outcome, RowOutcome):
            raise TypeError("tabular output is for row inputs")
        inputs = set(self._input_columns())
        failed = 0
        rows: list[dict[str, Any]] = []
        for offset, (number, result, error) in enumerate(_row_items(outcome)):
            source = outcome.batch.rows[offset]
            value = source.value if self._fmt == "csv" else source.typed
            row: dict[str, Any] = dict(value) if isinstance(value, dict) else {}
            if error is None and result is _WHOLE:
                error = (
                    "the answer is not a list with one result per row; use --batch-size 1 "
                    "or JSON lines output"
                )
            if error is not None:
                failed += 1
                self.failed(number, error)
                row["\0error"] = error
            else:
                for key, item in self._flatten(result).items():
                    column = f"result.{key}" if key in inputs or key == "error" else key
                    self._result_columns.setdefault(column, None)
                    row["\0" + column] = item
            for key, item in row.items():
                self._kinds.setdefault(key, _Kinds()).see(item)
            rows.append(row)
        self._held(len(rows))
        self._spool.append(rows)
        return failed

    @staticmethod
    def _flatten(result: Any) -> dict[str, Any]:
        if isinstance(result, dict):
            return {str(k): v for k, v in result.items()}
        return {"result": result}

    def _layout(self) -> tuple[list[str], list[str]]:
        """The file's columns, and the key each is held under in a spooled row."""
        inputs = self._input_columns()
        columns = [*inputs, *self._result_columns, "error"]
        keys = [*inputs, *("\0" + c for c in self._result_columns), "\0error"]
        return columns, keys

    def _chunks(self, keys: list[str]) -> Iterator[list[list[Any]]]:
        """The spooled rows as lists of cells, at most ``chunk_rows`` rows at a time."""
        chunk: list[list[Any]] = []
        for rows in self._spool:
            for row in rows:
                chunk.append([row.get(k) for k in keys])
                if len(chunk) >= self._chunk_rows:
                    self._held(len(chunk))
                    yield chunk
                    chunk = []
        if chunk:
            self._held(len(chunk))
            yield chunk

    def close(self) -> None:
        columns, keys = self._layout()
        try:
            if self._fmt == "csv":
                self._staged.commit(lambda tmp: self._write_csv(tmp, columns, keys))
            else:
                self._staged.commit(lambda tmp: self._write_parquet(tmp, columns, keys))
        finally:
            self._spool.close()

    def _write_csv(self, path: str, columns: list[str], keys: list[str]) -> None:
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for chunk in self._chunks(keys):
                writer.writerows([_cell(v) for v in row] for row in chunk)

    def _write_parquet(self, path: str, columns: list[str], keys: list[str]) -> None:
        pa = pyarrow()
        parquet = importlib.import_module("pyarrow.parquet")
        types = [_arrow_type(pa, self._kinds.get(k, _Kinds())) for k in keys]
        schema = pa.schema([pa.field(c, t) for c, t in zip(columns, types, strict=True)])
        with parquet.ParquetWriter(path, schema) as writer:
            empty = True
            for chunk in self._chunks(keys):
                empty = False
                arrays = [
                    pa.array([_typed(row[i], t) for row in chunk], type=t)
                    for i, t in enumerate(types)
                ]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            if empty:
                writer.write_table(schema.empty_table())


_TEXT = "text"


def _arrow_type(pa: Any, kinds: _Kinds) -> Any:
    """One Arrow type for a column, from the Python types seen in it: int64, double, bool
    or string as JSON lines would give; text (JSON for objects) when they disagree."""
    seen = kinds.types
    if not seen:
        return pa.null()
    if seen == {bool}:
        return pa.bool_()
    if seen == {int}:
        return pa.int64()
    if seen <= {int, float}:
        return pa.float64()
    if seen == {str} or len(seen) > 1 or seen & {dict, list}:
        return pa.string()
    try:  # one other type (dates, times, bytes...): as Arrow types it
        return pa.array([kinds.sample]).type
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.string()


def _typed(value: Any, arrow_type: Any) -> Any:
    if value is None:
        return None
    if str(arrow_type) == "string" and not isinstance(value, str):
        return str(_cell(value))
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return _dumps(value)
    return value


class _ArraySpool:
    """One output's batches, in order, as .npy chunks in a scratch file; its dtype (the
    batches' common type) and its rows' shape are kept to write the header at the end."""

    def __init__(self, file: BinaryIO, name: str) -> None:
        self._file = file
        self.name = name
        self.rows = 0
        self.chunks = 0
        self.dtype: np.dtype[Any] | None = None
        self.shape: tuple[int, ...] | None = None

    def check(self, array: npt.NDArray[Any]) -> str | None:
        """Why ``array`` cannot follow the batches before it, or None."""
        if self.shape is not None and array.shape[1:] != self.shape:
            return (
                f"output {self.name!r} has rows of shape {list(array.shape[1:])}, "
                f"earlier batches {list(self.shape)}"
            )
        return None

    def append(self, array: npt.NDArray[Any]) -> None:
        if array.dtype == object:  # strings: fixed-width, so no pickle is needed to read
            array = np.asarray(array.tolist())
        self.shape = array.shape[1:]
        self.dtype = array.dtype if self.dtype is None else np.result_type(self.dtype, array)
        self.rows += array.shape[0]
        self.chunks += 1
        np.save(self._file, array, allow_pickle=False)

    def write_member(self, archive: zipfile.ZipFile, default: np.dtype[Any]) -> None:
        """The output as ``NAME.npy`` in ``archive``: header, then each chunk's bytes."""
        dtype = self.dtype if self.dtype is not None else default
        header = {
            "descr": np.lib.format.dtype_to_descr(dtype),
            "fortran_order": False,
            "shape": (self.rows, *(self.shape or ())),
        }
        self._file.flush()
        self._file.seek(0)
        with archive.open(f"{self.name}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_2_0(member, header)
            for _ in range(self.chunks):
                chunk = np.load(self._file, allow_pickle=False)
                member.write(np.ascontiguousarray(chunk, dtype=dtype).tobytes())

    def close(self) -> None:
        self._file.close()


class NpzWriter(_Failures):
    """Outputs concatenated along axis 0, with ``_row``, ``_failed_rows`` and ``_errors``.

    Each batch's arrays go to a scratch file per output as they come; ``close`` writes the
    .npz (a zip of .npy files, as ``np.savez`` makes) member by member, a batch at a
    time, so memory stays bounded by counts. ``max_rows_held``: the most rows at once.
    """

    def __init__(self, path: str) -> None:
        self._staged = Staged(path)
        self._outputs: dict[str, _ArraySpool] = {}
        self._rows = self._new("_row")
        self._failed = self._new("_failed_rows")
        self._errors = self._new("_errors")
        self.max_rows_held = 0

    def _new(self, name: str) -> _ArraySpool:
        return _ArraySpool(self._staged.spool(), name)

    def write(self, outcome: Outcome) -> int:
        if not isinstance(outcome, ArrayOutcome):
            raise TypeError(".npz output is for array inputs")
        batch = outcome.batch
        self.max_rows_held = max(self.max_rows_held, batch.size)
        error = outcome.error
        outputs = {
            name: array.reshape(1) if not array.ndim else array
            for name, array in (outcome.outputs or {}).items()
        }
        if error is None:
            for name, array in outputs.items():
                spool = self._outputs.get(name)
                reason = spool.check(array) if spool is not None else None
                if reason is not None:
                    error = reason
                    break
        if error is not None or outcome.outputs is None:
            rows = np.arange(batch.first, batch.first + batch.size, dtype=np.int64)
            self.failed(batch.first, error or "failed")
            self._failed.append(rows)
            self._errors.append(np.array([error or "failed"] * batch.size, np.str_))
            return batch.size
        for name, array in outputs.items():
            if name not in self._outputs:
                self._outputs[name] = self._new(name)
            self._outputs[name].append(array)
        self._rows.append(np.arange(batch.first, batch.first + batch.size, dtype=np.int64))
        return 0

    def close(self) -> None:
        spools = [*self._outputs.values(), self._rows, self._failed, self._errors]
        defaults = {"_row": np.dtype(np.int64), "_failed_rows": np.dtype(np.int64)}

        def write(tmp: str) -> None:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                for spool in spools:
                    spool.write_member(archive, defaults.get(spool.name, np.dtype(np.str_)))

        try:
            self._staged.commit(write)
        finally:
            for spool in spools:
                spool.close()


def open_writer(path: str, fmt: str, input_columns: Callable[[], list[str]]) -> Writer:
    """The writer for ``fmt`` (``jsonl``, ``csv``, ``parquet``, ``npz``) at ``path``."""
    if fmt == "jsonl":
        return JsonLinesWriter(path)
    if fmt in ("csv", "parquet"):
        return TableWriter(path, fmt, input_columns)
    if fmt == "npz":
        return NpzWriter(path)
    raise ValueError(f"no writer for {fmt}")
