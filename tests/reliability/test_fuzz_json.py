"""Fuzzing the JSON and text decoders: hostile bodies raise ``DecodeError`` and nothing else.

The decoders: the queue's attributes (``parse_attributes`` with a JSON Content-Type), its
search answer (``parse_search``), its put and count answers (``parse_put``,
``parse_count``), the discovery answer (``parse_upstreams``) and ``StringResponse.json``.
Each is fed random bytes, valid documents (random JSON values, and documents of the shape
it expects with random members) damaged by flips, truncations and insertions, and
hand-made hostile ones: nesting 100,000 deep, ``Infinity``/``NaN`` where a number goes,
numbers of 5,000 digits, ``1e999999``, lone surrogates, bodies that are not UTF-8, UTF-16
with a BOM. Each call returns a well-formed result or raises ``aioeas.DecodeError``, within
``MEMORY_PER_BYTE * len + MEMORY_BASE`` bytes of tracemalloc peak and ``WORK_PER_BYTE * len
+ WORK_BASE`` lines run and calls made (a count, the same on any machine, where a CPU-time
budget would fail on a busy one). Hypothesis runs derandomized, without a database and
without a deadline (the profile in tests/conftest.py).
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioeas.client.discovery import parse_upstreams
from aioeas.client.wrr import Backend
from aioeas.errors import DecodeError
from aioeas.queue.protocol import (
    SearchResult,
    parse_attributes,
    parse_count,
    parse_put,
    parse_search,
)
from aioeas.requests import StringResponse
from tests.reliability.conftest import WorkCounter
from tests.reliability.conftest import warm as _warm

pytestmark = pytest.mark.long

#: A JSON value costs more than its text (a list is 56 bytes for ``[]``; a dict more).
MEMORY_PER_BYTE = 100
MEMORY_BASE = 256 * 1024
#: Lines run and calls made (``WorkCounter``): per input byte, and for any input.
WORK_PER_BYTE = 48
WORK_BASE = 300

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _attributes(body: bytes) -> None:
    attrs = parse_attributes(body, "application/json")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in attrs.items())


def _search(body: bytes) -> None:
    found = parse_search(body)
    assert isinstance(found, SearchResult)
    assert isinstance(found.wait_count, int)


def _upstreams(body: bytes) -> None:
    backends = parse_upstreams(body)
    assert all(isinstance(b, Backend) and 0 < b.port < 65536 for b in backends)


def _json(body: bytes) -> None:
    StringResponse(body).json()


def _put(body: bytes) -> None:
    index, request_id = parse_put(body, {"x-eas-queueservice-request-id": "r"})
    assert isinstance(index, int)
    assert request_id == "r"


def _count(body: bytes) -> None:
    assert isinstance(parse_count(body), int)


DECODERS: dict[str, Callable[[bytes], None]] = {
    "parse_attributes(json)": _attributes,
    "parse_search": _search,
    "parse_upstreams": _upstreams,
    "StringResponse.json": _json,
    "parse_put": _put,
    "parse_count": _count,
}


def decode_measured(name: str, data: bytes) -> str:
    """``"ok"`` or ``"DecodeError"``; any other exception propagates; bounds asserted."""
    outcome = "ok"
    work = WorkCounter()
    _warm(DECODERS[name], data)
    tracemalloc.start()
    try:
        with work.counting():
            try:
                DECODERS[name](data)
            except DecodeError:
                outcome = "DecodeError"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= MEMORY_PER_BYTE * len(data) + MEMORY_BASE, (
        f"{name} allocated {peak} bytes at peak for {len(data)} bytes"
    )
    assert work.events <= WORK_PER_BYTE * len(data) + WORK_BASE, (
        f"{name} ran {work.events} lines and calls on {len(data)} bytes"
    )
    return outcome


# ---------------------------------------------------------------------------- inputs

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)
_ANY = JSON_VALUES


@st.composite
def expected_shapes(draw: st.DrawFn) -> Any:
    """Documents of the shapes the decoders expect, members random."""
    item = st.fixed_dictionaries(
        {},
        optional={
            "ip": _ANY | st.just("10.0.0.1"),
            "port": _ANY | st.integers(-1, 70000),
            "weight": _ANY | st.integers(-2, 5),
            "app": _ANY,
        },
    )
    return draw(
        st.sampled_from(["search", "upstreams", "attributes"]).flatmap(
            lambda kind: {
                "search": st.fixed_dictionaries(
                    {},
                    optional={
                        "ConsumerId": _ANY,
                        "IsPending": _ANY | st.just("TRUE"),
                        "WaitCount": _ANY | st.just("12"),
                    },
                ),
                "upstreams": st.fixed_dictionaries(
                    {
                        "endpoints": st.fixed_dictionaries(
                            {"items": st.lists(item, max_size=3) | _ANY}
                        )
                    }
                ),
                "attributes": st.dictionaries(st.text(max_size=8), _ANY, max_size=5),
            }[kind]
        )
    )


def _dump(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(_dump(draw(expected_shapes() | JSON_VALUES)))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "insert"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[min(pos, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        else:
            data[pos:pos] = draw(
                st.sampled_from(
                    [b"[", b"{", b"}", b'"', b"\\", b"\\ud800", b"\xff", b"NaN", b"1e999"]
                )
                | st.binary(min_size=1, max_size=4)
            )
    return bytes(data)


HOSTILE: dict[str, bytes] = {
    "arrays nested 100,000 deep": b"[" * 100_000,
    "objects nested 100,000 deep": b'{"a":' * 100_000,
    "closed arrays nested 5,000 deep": b"[" * 5_000 + b"]" * 5_000,
    "attributes value nested 900 deep": b'{"a":' + b"[" * 900 + b"]" * 900 + b"}",
    "port Infinity": b'{"endpoints":{"items":[{"ip":"a","port":Infinity}]}}',
    "port -Infinity": b'{"endpoints":{"items":[{"ip":"a","port":-Infinity}]}}',
    "port NaN": b'{"endpoints":{"items":[{"ip":"a","port":NaN}]}}',
    "port 1e999999": b'{"endpoints":{"items":[{"ip":"a","port":1e999999}]}}',
    "weight of 5,000 digits": b'{"endpoints":{"items":[{"ip":"a","port":1,"weight":'
    + b"9" * 5_000
    + b"}]}}",
    "items an object": b'{"endpoints":{"items":{"ip":"a"}}}',
    "item a list": b'{"endpoints":{"items":[[1,2]]}}',
    "endpoints a string": b'{"endpoints":"x"}',
    "WaitCount Infinity": b'{"WaitCount":Infinity}',
    "WaitCount NaN": b'{"WaitCount":NaN}',
    "WaitCount a list": b'{"WaitCount":[1]}',
    "WaitCount of 5,000 digits": b'{"WaitCount":"' + b"9" * 5_000 + b'"}',
    "lone surrogate": b'{"a":"\\ud800"}',
    "not UTF-8": b'{"a":"\xff\xfe"}',
    "UTF-16 with BOM": '{"a": "b"}'.encode("utf-16"),
    "UTF-32": '{"a": 1}'.encode("utf-32"),
    "empty": b"",
    "whitespace": b" \r\n\t",
    "NUL": b"\x00",
    "number of 5,000 digits": b"9" * 5_000,
    "negative index": b"-5",
    "underscored number": b"1_000",
    "a number 2**70": str(2**70).encode(),
    "html page": b"<html><body>502 Bad Gateway</body></html>",
}


# ------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", list(DECODERS))
@FUZZ
@given(data=st.binary(max_size=256))
def test_random_bytes_raise_only_decode_error(name: str, data: bytes) -> None:
    decode_measured(name, data)


@pytest.mark.parametrize("name", list(DECODERS))
@FUZZ
@given(data=damaged())
def test_damaged_documents_raise_only_decode_error(name: str, data: bytes) -> None:
    decode_measured(name, data)


@pytest.mark.parametrize("case", list(HOSTILE))
@pytest.mark.parametrize("name", list(DECODERS))
def test_hostile_documents_are_refused_cheaply(name: str, case: str) -> None:
    decode_measured(name, HOSTILE[case])


def test_what_the_fixes_refuse() -> None:
    """The faults this suite found, each now a ``DecodeError`` (they were RecursionError,
    OverflowError)."""
    with pytest.raises(DecodeError, match="recursion"):
        StringResponse(HOSTILE["arrays nested 100,000 deep"]).json()
    with pytest.raises(DecodeError, match="not JSON"):
        parse_attributes(HOSTILE["objects nested 100,000 deep"], "application/json")
    with pytest.raises(DecodeError, match="not JSON"):
        parse_search(HOSTILE["arrays nested 100,000 deep"])
    with pytest.raises(DecodeError, match="not JSON"):
        parse_upstreams(HOSTILE["arrays nested 100,000 deep"])
    with pytest.raises(DecodeError, match="bad item"):
        parse_upstreams(HOSTILE["port Infinity"])
    with pytest.raises(DecodeError, match="WaitCount"):
        parse_search(HOSTILE["WaitCount Infinity"])
