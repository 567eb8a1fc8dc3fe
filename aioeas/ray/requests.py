"""Rows of a batch into requests (``Unit``s), and tensor answers back into rows.

String services get JSON records made by ``aioeas.requests.string.json_record``, the one
conversion of ``StringRequest.from_records`` and ``aioeas predict`` (NaN and None as null,
dates and times as ISO strings, numpy scalars as Python values): a row it cannot carry
fails alone, at its place, and is not sent. Tensor services get each input column's rows,
one row (with a batch axis of 1) or ``rows_per_request`` rows stacked along axis 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from aioeas.errors import EASError, UsageError
from aioeas.ray import batches as fmt
from aioeas.requests import (
    BladeRequest,
    StringRequest,
    TFRequest,
    TorchRequest,
    TorchResponse,
)
from aioeas.requests.string import json_record

if TYPE_CHECKING:
    from aioeas.ray.predictor import Predictor

__all__ = ["KINDS", "Unit", "build_units", "outputs_of", "split_outputs"]

KINDS = ("string", "tf", "torch", "blade")
_INDEX = re.compile(r"\d+")


@dataclass
class Unit:
    """Rows of the batch (their positions) sent as one request; ``request`` is None when
    they cannot be sent, ``error`` says why. ``payload``: what the request was made of
    (records, or arrays by input), to make halves of it."""

    rows: list[int]
    request: Any = None
    error: str | None = None
    payload: Any = None
    as_list: bool = False

    def halves(self, predictor: Predictor) -> list[Unit]:
        half = len(self.rows) // 2
        parts: list[Any]
        if isinstance(self.payload, list):
            parts = [self.payload[:half], self.payload[half:]]
        else:
            parts = [
                {k: a[:half] for k, a in self.payload.items()},
                {k: a[half:] for k, a in self.payload.items()},
            ]
        rows = [self.rows[:half], self.rows[half:]]
        return [_unit(predictor, r, p, self.as_list) for r, p in zip(rows, parts, strict=True)]


def build_units(predictor: Predictor, batch: Any, kind: str, n: int) -> list[Unit]:
    """The requests for every row of ``batch``, in row order."""
    names = fmt.column_names(batch, kind)
    wanted = predictor.columns if predictor.kind == "string" else list(predictor.inputs.values())
    made = [predictor.json_column, predictor.unread_column]
    wanted = [*(wanted or []), *(c for c in made if c is not None)]
    missing = [c for c in (wanted or []) if c not in names]
    if missing:
        raise UsageError(f"the batch has no column {missing[0]!r} (it has {', '.join(names)})")
    added = [predictor.error_column]
    added += [predictor.result_column] if predictor.kind == "string" else []
    taken = [c for c in added if c in names]
    if taken:
        raise UsageError(
            f"the batch has a column {taken[0]!r} already, which the predictions would "
            "replace: name the new ones apart (result_column=, error_column=)"
        )
    if predictor.json_column is not None:
        return _json_units(predictor, batch, kind)
    if predictor.kind == "string":
        return _string_units(predictor, batch, kind, n, predictor.columns or names)
    return _tensor_units(predictor, batch, kind, n)


def _string_units(
    predictor: Predictor, batch: Any, kind: str, n: int, columns: list[str]
) -> list[Unit]:
    items: list[Unit | tuple[int, Any]] = []
    for row, values in enumerate(fmt.rows_of(batch, kind, columns)):
        try:
            record = predictor.record(values) if predictor.record is not None else values
            if isinstance(record, Mapping):
                record = json_record(record, row)
        except UsageError as exc:
            items.append(Unit([row], error=str(exc)))
            continue
        items.append((row, record))
    return _pack(predictor, items)


def _json_units(predictor: Predictor, batch: Any, kind: str) -> list[Unit]:
    """Records made JSON text by a reader: sent as they are (no conversion here); a row
    the reader could not read fails alone with the reader's reason."""
    assert predictor.json_column is not None
    texts = fmt.column_values(batch, kind, predictor.json_column)
    reasons: list[Any] = [None] * len(texts)
    if predictor.unread_column is not None:
        reasons = fmt.column_values(batch, kind, predictor.unread_column)
    items: list[Unit | tuple[int, Any]] = []
    for row, (text, reason) in enumerate(zip(texts, reasons, strict=True)):
        if isinstance(reason, str):
            items.append(Unit([row], error=reason))
        elif not isinstance(text, str):
            items.append(Unit([row], error=f"no record in {predictor.json_column!r}"))
        else:
            items.append((row, text))
    return _pack(predictor, items)


def _pack(predictor: Predictor, items: list[Unit | tuple[int, Any]]) -> list[Unit]:
    """Rows' records, in order, as requests: one a row, or ``rows_per_request`` to a list
    (the last one shorter). A ``Unit`` among them is a row failed already, kept as it is."""
    units: list[Unit] = []
    ready: list[tuple[int, Any]] = []
    size = predictor.rows_per_request
    for item in items:
        if isinstance(item, Unit):
            units.append(item)
        elif size is None:
            units.append(_unit(predictor, [item[0]], [item[1]], as_list=False))
        else:
            ready.append(item)
            if len(ready) == size:
                units.append(_unit(predictor, [r for r, _ in ready], [v for _, v in ready], True))
                ready = []
    if ready:
        units.append(_unit(predictor, [r for r, _ in ready], [v for _, v in ready], True))
    return units


def _tensor_units(predictor: Predictor, batch: Any, kind: str, n: int) -> list[Unit]:
    arrays = {
        name: fmt.column_array(batch, kind, column) for name, column in predictor.inputs.items()
    }
    size = predictor.rows_per_request or 1
    units = []
    for first in range(0, n, size):
        rows = list(range(first, min(first + size, n)))
        try:
            part = {name: _rows(array, rows) for name, array in arrays.items()}
        except ValueError as exc:
            units.append(Unit(rows, error=f"these rows cannot be stacked: {exc}"))
            continue
        units.append(_unit(predictor, rows, part, predictor.rows_per_request is not None))
    return units


def _rows(array: npt.NDArray[Any], rows: list[int]) -> npt.NDArray[Any]:
    """``array``'s rows ``rows`` (consecutive) with the batch axis first."""
    if array.dtype == object:  # ragged rows: stacked only when they agree
        return np.stack([np.asarray(array[i]) for i in rows])
    return np.ascontiguousarray(array[rows[0] : rows[-1] + 1])


def _unit(predictor: Predictor, rows: list[int], payload: Any, as_list: bool) -> Unit:
    try:
        request = _request(predictor, payload, as_list)
    except EASError as exc:
        return Unit(rows, error=f"cannot build the request: {exc}", payload=payload)
    return Unit(rows, request, payload=payload, as_list=as_list)


def _request(predictor: Predictor, payload: Any, as_list: bool) -> Any:
    if predictor.json_column is not None:  # JSON texts: a list is them joined
        return StringRequest("[" + ", ".join(payload) + "]" if as_list else payload[0])
    if predictor.kind == "string":
        value = payload if as_list else payload[0]
        if isinstance(value, (str, bytes)) and not as_list:
            return StringRequest(value)  # a record function that made the body itself
        try:
            text = json.dumps(value, separators=(", ", ": "), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"cannot send this row as JSON: {exc}") from None
        return StringRequest(text)
    if predictor.kind == "tf":
        tf = TFRequest(predictor.signature)
        for name, array in payload.items():
            tf.add_feed(str(name), array)
        for output in predictor.outputs:
            tf.add_fetch(str(output))
        return tf
    if predictor.kind == "blade":
        blade = BladeRequest(predictor.signature)
        for name, array in payload.items():
            blade.add_feed(str(name), array)
        for output in predictor.outputs:
            blade.add_fetch(str(output))
        return blade
    torch = TorchRequest()
    for key, array in payload.items():
        if isinstance(key, int) or _INDEX.fullmatch(str(key)):
            torch.add_feed(int(key), array)
        else:
            torch.add_feed_map(str(key), array)
    for output in predictor.outputs:
        torch.add_fetch(int(output))
    return torch


def outputs_of(predictor: Predictor, answer: Any) -> dict[str, npt.NDArray[Any]]:
    """A tensor answer's outputs by name (PyTorch: by the fetched index, or position)."""
    if isinstance(answer, TorchResponse):
        arrays = answer.outputs
        names = predictor.outputs if len(predictor.outputs) == len(arrays) else range(len(arrays))
        out = {str(name): array for name, array in zip(names, arrays, strict=False)}
        out.update(answer.map_outputs)
        return out
    return {name: answer[name] for name in answer}


def split_outputs(
    outputs: dict[str, npt.NDArray[Any]], rows: int
) -> tuple[dict[str, npt.NDArray[Any]], str | None]:
    """The outputs, each with one entry per row sent (axis 0), or why they do not split."""
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != rows:
            return {}, (
                f"output {name!r} has shape {list(array.shape)}, not one entry for each of "
                f"the {rows} rows sent"
            )
    return outputs, None
