"""``StringRequest.from_records``: a DataFrame as pandas holds it (NaN, NaT, Timestamps,
numpy scalars) is sent as ``aioeas predict`` sends the same rows: missing values as null,
dates as ISO strings; what JSON cannot carry is refused naming the row and the column."""

from __future__ import annotations

import datetime
import json
import math

import numpy as np
import pytest

from aioeas import StringRequest, UsageError
from aioeas.requests.string import json_record


def _sent(records: object) -> list[dict[str, object]]:
    return json.loads(StringRequest.from_records(records).to_bytes())  # type: ignore[arg-type]


def test_a_dataframe_with_nan_nat_and_timestamps() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "fea1": [1.5, math.nan],
            "when": [pd.Timestamp("2024-05-01 12:30:00"), pd.NaT],
            "name": ["a", None],
            "count": pd.array([1, None], dtype="Int64"),  # pandas' NA
        }
    )
    assert _sent(df) == [
        {"fea1": 1.5, "when": "2024-05-01T12:30:00", "name": "a", "count": 1},
        {"fea1": None, "when": None, "name": None, "count": None},
    ]


def test_numpy_values_and_dates_in_plain_records() -> None:
    rows = [
        {
            "f": np.float32("nan"),
            "i": np.int64(3),
            "b": np.bool_(True),
            "d": datetime.date(2024, 1, 2),
            "t": np.datetime64("2024-01-02T03:04:05"),
            "nat": np.datetime64("NaT", "s"),
            "raw": b"text",
            "nested": {"xs": [np.int32(1), float("nan")]},
        }
    ]
    assert _sent(rows) == [
        {
            "f": None,
            "i": 3,
            "b": True,
            "d": "2024-01-02",
            "t": "2024-01-02T03:04:05",
            "nat": None,
            "raw": "text",
            "nested": {"xs": [1, None]},
        }
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.inf, "inf cannot be sent as JSON"),
        (object(), "a object cannot be sent as JSON"),
        (b"\xff", "bytes that are not UTF-8"),
    ],
)
def test_what_json_cannot_carry_names_row_and_column(value: object, reason: str) -> None:
    rows = [{"ok": 1, "x": 1.0}, {"ok": 2, "x": value}]
    with pytest.raises(UsageError, match=rf"^row 1, column 'x': {reason}"):
        StringRequest.from_records(rows)
    with pytest.raises(UsageError, match=r"^row 7, column 'x'"):
        json_record(rows[1], 7)
