"""``aioeas predict --ray``'s reader: each input file read by aioeas's own ``RowSource``.

Ray Data runs ``read_files`` as a generator UDF of ``map_batches`` over a dataset of file
paths (one item per file, ``batch_size=1``, tasks): a file is read by one task, streamed
``rows`` rows at a time (a file larger than memory never is held whole), so reading is
parallel across files. The reader is the single-process command's, so the rows are
typed, converted and numbered exactly as ``aioeas predict`` numbers its output rows: a
CSV typed cell by cell, NaN as null, dates as ISO text, a JSON lines line that is not
JSON kept at its place with its error.

Each yielded table has ``file`` (the path as given) and ``row`` (the row's number in its
file) to join results back, the input's columns (or only ``--id``'s), and two columns for
the ``Predictor``: each row's record already as JSON text (converted once, here, not again
on the actor) and why a row could not be read. A CSV's or JSON lines' input columns are
kept as text (a value of JSON lines that is not a string as its JSON text): one column of
one file may mix numbers and text, which a Parquet column cannot hold, and a type guessed
from one batch could differ in the next. Parquet columns keep the file's types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from aioeas.cli.inputs import Row, RowBatch, RowSource, pyarrow
from aioeas.errors import UsageError

__all__ = ["ADDED", "ID_COLUMNS", "RECORD", "UNREAD", "check_columns", "read_files"]

#: The columns that say where a row came from: its file, and its number in that file.
ID_COLUMNS = ("file", "row")
#: The Predictor's columns: each row's record as JSON text, and why a row was not read.
RECORD = "__aioeas_record__"
UNREAD = "__aioeas_unread__"
#: What the run adds to the input's columns (an input column of one of these names would
#: be lost in the output).
ADDED = (*ID_COLUMNS, "result", "error", RECORD, UNREAD)


def check_columns(path: str, columns: Sequence[str], id_column: str | None) -> str | None:
    """Why the input's ``columns`` cannot be run, or None."""
    taken = [c for c in ADDED if c in columns]
    if taken:
        return (
            f"{path} has a column {taken[0]!r}: --ray adds {', '.join(ADDED[:4])} to the "
            "input's columns (rename it first)"
        )
    if id_column is not None and id_column not in columns:
        return f"{path} has no column {id_column!r} for --id (it has {', '.join(columns)})"
    return None


def read_files(batch: Any, *, fmt: str, rows: int, id_column: str | None) -> Iterator[Any]:
    """A batch of file paths (a pyarrow Table with a ``file`` column) as tables of their
    rows, ``rows`` at a time."""
    for path in batch.column("file").to_pylist():
        yield from _read_file(path, fmt, rows, id_column)


def _read_file(path: str, fmt: str, rows: int, id_column: str | None) -> Iterator[Any]:
    source = RowSource(path, fmt)
    schema = source.arrow_schema
    batches = source.batches(rows)
    try:
        for part in batches:
            problem = check_columns(path, source.columns, id_column)
            if problem is not None:
                raise UsageError(problem)
            columns = [id_column] if id_column is not None else list(source.columns)
            yield _table(path, part, columns, schema)
    finally:
        batches.close()
        source.close()


def _table(path: str, part: RowBatch, columns: list[str], schema: Any) -> Any:
    pa = pyarrow()
    n = len(part.rows)
    records: list[str | None] = []
    unread: list[str | None] = []
    for row in part.rows:
        text, reason = _record_text(row)
        records.append(text)
        unread.append(reason)
    arrays: dict[str, Any] = {
        "file": pa.array([path] * n, pa.string()),
        "row": pa.array(range(part.first, part.first + n), pa.int64()),
    }
    if schema is not None:  # Parquet: the file's own types
        typed = pa.Table.from_pylist(
            [row.typed if isinstance(row.typed, dict) else {} for row in part.rows],
            schema=pa.schema([schema.field(c) for c in columns]),
        )
        arrays.update(zip(columns, typed.columns, strict=True))
    else:
        for column in columns:
            arrays[column] = pa.array([_text(row, column) for row in part.rows], pa.string())
    arrays[RECORD] = pa.array(records, pa.string())
    arrays[UNREAD] = pa.array(unread, pa.string())
    return pa.table(arrays)


def _record_text(row: Row) -> tuple[str | None, str | None]:
    """The row's record as JSON text, as the single-process command's request spaces it,
    or why it cannot be sent."""
    if row.error is not None:
        return None, row.error
    try:
        text = json.dumps(row.record, separators=(", ", ": "), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return None, f"cannot send this row as JSON: {exc}"
    return text, None


def _text(row: Row, column: str) -> str | None:
    """A CSV cell as in the file; a JSON lines value: a string as it is, else its JSON."""
    value = row.value.get(column) if isinstance(row.value, dict) else None
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
