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

Tabular and .npz files are written when the run ends (also when it is interrupted), to a
temporary name first and then renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np
import numpy.typing as npt

from aioeas.cli.inputs import ArrayBatch, RowBatch, pyarrow
from aioeas.cli.options import CLIError

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
    many rows of the batch failed."""

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


class JsonLinesWriter:
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


def _new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the umask (0o644 usually)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _replace_atomically(path: str, write: Callable[[str], None]) -> None:
    """Write through ``write(tmp_path)`` next to ``path``'s target, then rename over it.

    A reader never sees half a file, and the result is what ``open(path, "w")`` would have
    left: a symlink is followed (its target is replaced, the link stays), an existing
    file keeps its permissions, a new one gets the umask's. Errors name ``path``, never
    the temporary file.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = _new_file_mode()
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


class TableWriter:
    """Input columns, result columns, ``error``; written as CSV or Parquet on ``close``."""

    def __init__(self, path: str, fmt: str, input_columns: Callable[[], list[str]]) -> None:
        if fmt == "parquet":
            pyarrow()  # fail before any request is sent
        self._path = path
        self._fmt = fmt
        self._input_columns = input_columns
        self._rows: list[dict[str, Any]] = []
        self._result_columns: dict[str, None] = {}

    def write(self, outcome: Outcome) -> int:
        if not isinstance(outcome, RowOutcome):
            raise TypeError("tabular output is for row inputs")
        inputs = set(self._input_columns())
        failed = 0
        for offset, (_, result, error) in enumerate(_row_items(outcome)):
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
                row["\0error"] = error
            else:
                for key, item in self._flatten(result).items():
                    column = f"result.{key}" if key in inputs or key == "error" else key
                    self._result_columns.setdefault(column, None)
                    row["\0" + column] = item
            self._rows.append(row)
        return failed

    @staticmethod
    def _flatten(result: Any) -> dict[str, Any]:
        if isinstance(result, dict):
            return {str(k): v for k, v in result.items()}
        return {"result": result}

    def _table(self) -> tuple[list[str], list[dict[str, Any]]]:
        inputs = self._input_columns()
        columns = [*inputs, *self._result_columns, "error"]
        keys = [*inputs, *("\0" + c for c in self._result_columns), "\0error"]
        rows = [{c: row.get(k) for c, k in zip(columns, keys, strict=True)} for row in self._rows]
        return columns, rows

    def close(self) -> None:
        columns, rows = self._table()
        if self._fmt == "csv":
            _replace_atomically(self._path, lambda tmp: _write_csv(tmp, columns, rows))
        else:
            _replace_atomically(self._path, lambda tmp: _write_parquet(tmp, columns, rows))


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return _dumps(value)
    return value


def _write_csv(path: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns])


def _write_parquet(path: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    pa = pyarrow()
    parquet = __import__("pyarrow.parquet", fromlist=["write_table"])
    data: dict[str, list[Any]] = {}
    for column in columns:
        values = [row[column] for row in rows]
        kinds = {type(v) for v in values if v is not None}
        if (kinds - {int, float} and len(kinds) > 1) or kinds & {dict, list}:
            # a column Arrow cannot type as one thing: keep it as text
            values = [None if v is None else _cell(v) for v in values]
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        data[column] = values
    table = pa.table(data) if rows else pa.table({c: pa.array([], pa.null()) for c in columns})
    parquet.write_table(table, path)


class NpzWriter:
    """Outputs concatenated along axis 0, with ``_row``, ``_failed_rows`` and ``_errors``."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._outputs: dict[str, list[npt.NDArray[Any]]] = {}
        self._rows: list[npt.NDArray[np.int64]] = []
        self._failed: list[int] = []
        self._errors: list[str] = []

    def write(self, outcome: Outcome) -> int:
        if not isinstance(outcome, ArrayOutcome):
            raise TypeError(".npz output is for array inputs")
        batch = outcome.batch
        if outcome.outputs is None:
            self._failed.extend(range(batch.first, batch.first + batch.size))
            self._errors.extend([outcome.error or "failed"] * batch.size)
            return batch.size
        for name, array in outcome.outputs.items():
            self._outputs.setdefault(name, []).append(array.reshape(1) if not array.ndim else array)
        self._rows.append(np.arange(batch.first, batch.first + batch.size, dtype=np.int64))
        return 0

    def close(self) -> None:
        arrays: dict[str, npt.NDArray[Any]] = {
            name: np.concatenate(parts) for name, parts in self._outputs.items()
        }
        arrays["_row"] = np.concatenate(self._rows) if self._rows else np.zeros(0, np.int64)
        arrays["_failed_rows"] = np.array(self._failed, dtype=np.int64)
        arrays["_errors"] = np.array(self._errors, dtype=np.str_)

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]

        _replace_atomically(self._path, write)


def open_writer(path: str, fmt: str, input_columns: Callable[[], list[str]]) -> Writer:
    """The writer for ``fmt`` (``jsonl``, ``csv``, ``parquet``, ``npz``) at ``path``."""
    if fmt == "jsonl":
        return JsonLinesWriter(path)
    if fmt in ("csv", "parquet"):
        return TableWriter(path, fmt, input_columns)
    if fmt == "npz":
        return NpzWriter(path)
    raise ValueError(f"no writer for {fmt}")
