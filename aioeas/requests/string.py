"""Requests and responses whose body is plain bytes: custom processors, PMML, JSON services."""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from aioeas._install import install_hint
from aioeas.errors import DecodeError, UsageError
from aioeas.requests.base import Request, Response

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StringRequest", "StringResponse", "json_record"]


def _records_of(records: object) -> list[dict[str, Any]]:
    """Rows as a list of JSON-ready dicts, from a DataFrame or any iterable of mappings."""
    to_dict = getattr(records, "to_dict", None)
    if callable(to_dict) and hasattr(records, "columns"):
        rows = to_dict(orient="records")
    elif isinstance(records, Mapping):
        rows = [dict(records)]
    elif isinstance(records, Iterable) and not isinstance(records, (str, bytes)):
        rows = [dict(r) for r in records]
    else:
        raise UsageError(
            f"records are a DataFrame or a list of dicts, got {type(records).__name__}"
        )
    return [json_record(row, number) for number, row in enumerate(rows)]


def json_record(row: Mapping[Any, Any], number: int) -> dict[str, Any]:
    """One row as a JSON object, the one conversion of ``from_records`` and ``aioeas
    predict``: a missing value (None, NaN, NaT, pandas' NA) becomes null, a date or time
    (``datetime``, pandas' ``Timestamp``, ``numpy.datetime64``) its ISO string, a numpy
    scalar its Python value, bytes their UTF-8 text. Anything else JSON cannot carry
    (infinity, other objects) is a ``UsageError`` naming row ``number`` and the column.
    """
    out: dict[str, Any] = {}
    for column, value in row.items():
        try:
            out[str(column)] = _json_value(value)
        except _NotJSONError as exc:
            raise UsageError(f"row {number}, column {str(column)!r}: {exc}") from None
    return out


class _NotJSONError(Exception):
    pass


_MISSING_TYPES = frozenset({"NaTType", "NAType"})  # pandas' NaT and NA, without pandas


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise _NotJSONError(f"{value} cannot be sent as JSON")
        return value
    if type(value).__name__ in _MISSING_TYPES:
        return None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else str(np.datetime_as_string(value))
    if isinstance(value, np.generic):
        return _json_value(value.item())
    if isinstance(value, (datetime.date, datetime.time)):  # pandas' Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _NotJSONError("bytes that are not UTF-8 cannot be sent as JSON") from None
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_value(v) for v in value]
    raise _NotJSONError(f"a {type(value).__name__} cannot be sent as JSON")


class StringRequest(Request["StringResponse"]):
    """A request whose body is given as it is: ``str`` (sent as UTF-8) or bytes.

    ``StringRequest('[{"fea1": 1, "fea2": 2}]')`` is the official PMML example;
    ``StringRequest.from_records(df)`` sends a DataFrame's rows as the same JSON records.
    """

    def __init__(
        self,
        request_data: str | bytes | bytearray | memoryview | None = None,
        *,
        content_type: str | None = None,
    ) -> None:
        if request_data is None:
            request_data = b""
        if isinstance(request_data, str):
            body = request_data.encode("utf-8")
        elif isinstance(request_data, (bytes, bytearray, memoryview)):
            body = bytes(request_data)
        else:
            raise UsageError(
                f"StringRequest takes str or bytes, got {type(request_data).__name__}; "
                "use StringRequest.from_json() for other objects"
            )
        self._body = body
        self.content_type = content_type

    @classmethod
    def from_json(cls, obj: Any, *, content_type: str | None = None) -> StringRequest:
        """A request whose body is ``obj`` as JSON, spaced as ``json.dumps`` spaces it."""
        try:
            text = json.dumps(obj, separators=(", ", ": "), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"cannot send this object as JSON: {exc}") from None
        return cls(text, content_type=content_type)

    @classmethod
    def from_records(cls, records: pd.DataFrame | Iterable[Mapping[str, Any]]) -> StringRequest:
        """JSON records, one object a row: ``[{"fea1": 1, "fea2": 2}]`` (PMML, scorecards).

        Missing values (NaN, None, NaT) are sent as null, dates and times as ISO strings;
        a value JSON cannot carry is a ``UsageError`` naming its row and column (see
        ``json_record``).
        """
        return cls.from_json(_records_of(records))

    def to_bytes(self) -> bytes:
        return self._body

    def parse_response(self, body: bytes) -> StringResponse:
        return StringResponse(body)

    def __repr__(self) -> str:
        return f"StringRequest({self._body[:60]!r}{'...' if len(self._body) > 60 else ''})"


class StringResponse(Response):
    """The body of an answer, with text, JSON and DataFrame views."""

    def __init__(self, response_data: bytes | bytearray | str | None = None) -> None:
        if response_data is None:
            response_data = b""
        if isinstance(response_data, str):
            response_data = response_data.encode("utf-8")
        self.content = bytes(response_data)

    @property
    def text(self) -> str:
        """The body as UTF-8 text (undecodable bytes shown as U+FFFD)."""
        return self.content.decode("utf-8", errors="replace")

    def to_string(self) -> str:
        return self.text

    def json(self) -> Any:
        """The body parsed as JSON; ``DecodeError`` when it is not JSON."""
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise DecodeError("a JSON response", str(exc), self.content) from None

    def to_dataframe(self) -> pd.DataFrame:
        """The JSON body as a DataFrame: a list of records, one record, or columns."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the environment
            raise UsageError(f"to_dataframe() needs pandas: {install_hint('pandas')}") from None
        data = self.json()
        if isinstance(data, dict):
            values = list(data.values())
            if values and all(isinstance(v, list) for v in values):
                columns: pd.DataFrame = pd.DataFrame(data)
                return columns
            data = [data]
        if not isinstance(data, list):
            raise DecodeError(
                "a JSON records response", "it is not a list or an object", self.content
            )
        rows: pd.DataFrame = pd.DataFrame(data)
        return rows

    def __str__(self) -> str:
        return self.text

    def __bytes__(self) -> bytes:
        return self.content

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StringResponse):
            return self.content == other.content
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        c = self.content
        return f"StringResponse({c[:60]!r}{'...' if len(c) > 60 else ''})"
