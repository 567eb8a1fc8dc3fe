"""The three batch formats of Ray Data (numpy dict, pandas, Arrow), read and extended alike.

``Predictor`` works on rows and columns; this module is the only place that knows how each
format holds them, so that a batch comes back in the format it came in, with its rows in
the same order and the new columns appended. Tensor columns are read through Ray's own
converter (``BlockAccessor``), which knows Ray's tensor extension types; rows for JSON
records through each format's own ``to_pylist`` / ``to_dict``, which give the Python values
(datetimes, None for missing) that ``aioeas.requests.string.json_record`` converts, as it
does for ``StringRequest.from_records`` and ``aioeas predict``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from aioeas.errors import UsageError

__all__ = [
    "batch_format",
    "column_array",
    "column_names",
    "column_values",
    "num_rows",
    "rows_of",
    "with_columns",
]


def batch_format(batch: Any) -> str:
    """``numpy``, ``pandas`` or ``pyarrow``: the format of a batch Ray Data handed over."""
    if isinstance(batch, Mapping):
        return "numpy"
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(batch, pd.DataFrame):
        return "pandas"
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(batch, pa.Table):
        return "pyarrow"
    raise UsageError(
        "a batch is a dict of numpy arrays, a pandas DataFrame or a pyarrow Table "
        f"(map_batches' batch_format), got {type(batch).__name__}"
    )


def num_rows(batch: Any, fmt: str) -> int:
    if fmt == "numpy":
        return len(next(iter(batch.values()))) if batch else 0
    if fmt == "pandas":
        return len(batch)
    return int(batch.num_rows)


def column_names(batch: Any, fmt: str) -> list[str]:
    if fmt == "pyarrow":
        return list(batch.column_names)
    return [str(c) for c in (batch.keys() if fmt == "numpy" else batch.columns)]


def rows_of(batch: Any, fmt: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The batch's rows as dicts of ``columns``, in order, values as the format gives them."""
    if fmt == "pyarrow":
        rows: list[dict[str, Any]] = batch.select(list(columns)).to_pylist()
        return rows
    if fmt == "pandas":
        records: list[dict[str, Any]] = batch[list(columns)].to_dict(orient="records")
        return records
    arrays = [(c, batch[c]) for c in columns]
    return [{c: a[i] for c, a in arrays} for i in range(num_rows(batch, fmt))]


def column_values(batch: Any, fmt: str, column: str) -> list[Any]:
    """One column's cells as Python values, in row order."""
    if fmt == "pyarrow":
        values: list[Any] = batch.column(column).to_pylist()
        return values
    if fmt == "pandas":
        return list(batch[column].tolist())
    return list(batch[column])


def column_array(batch: Any, fmt: str, column: str) -> npt.NDArray[Any]:
    """One column as a numpy array, rows along axis 0 (an object array for ragged rows)."""
    if fmt == "numpy":
        array = np.asarray(batch[column])
    else:
        from ray.data.block import BlockAccessor

        selected = batch[[column]] if fmt == "pandas" else batch.select([column])
        array = np.asarray(BlockAccessor.for_block(selected).to_batch_format("numpy")[column])
    if array.dtype == object and len(array) and isinstance(array[0], np.ndarray):
        # ragged rows stay apart (an object array): only per-row requests carry them
        with contextlib.suppress(ValueError):
            array = np.stack(list(array))
    return array


def with_columns(batch: Any, fmt: str, new: Mapping[str, Any], drop: Sequence[str] = ()) -> Any:
    """``batch`` with ``new`` columns (numpy arrays, or lists of str/None) appended (a column
    of the same name replaced) and the ``drop`` columns left out, in the batch's own format;
    the input is not changed."""
    if fmt == "numpy":
        out = {name: values for name, values in batch.items() if name not in drop}
        for name, values in new.items():
            out[name] = values if isinstance(values, np.ndarray) else _objects(values)
        return out
    if fmt == "pandas":
        columns = {
            name: list(values) if isinstance(values, np.ndarray) and values.ndim > 1 else values
            for name, values in new.items()
        }
        return batch.drop(columns=list(drop)).assign(**columns)
    import pyarrow as pa

    table = batch.drop_columns(list(drop)) if drop else batch
    for name, values in new.items():
        if isinstance(values, np.ndarray) and values.ndim > 1:
            from ray.data.extensions import ArrowTensorArray

            column: Any = ArrowTensorArray.from_numpy(values)
        elif isinstance(values, np.ndarray) and values.dtype != object:
            column = pa.array(values)
        elif all(v is None or isinstance(v, str) for v in values):
            column = pa.array(list(values), type=pa.string())  # all None: still text
        else:
            column = pa.array(list(values))
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, name, column)
        else:
            table = table.append_column(name, column)
    return table


def _objects(values: Any) -> npt.NDArray[Any]:
    """A list as a 1-D object array (``np.array`` would make a list of lists 2-D)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out
