"""Errors: the tree in aioeas.errors, bad input refused before any I/O, bad bytes refused
with a DecodeError (and nothing else) that quotes the start of the body."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aioeas
from aioeas import (
    AuthError,
    BladeRequest,
    BladeResponse,
    BladeTFRequest,
    ConnectError,
    DataType,
    DecodeError,
    EASError,
    InvalidTensorError,
    QueueError,
    RequestTimeoutError,
    RetryableServiceError,
    ServiceError,
    TFRequest,
    TFResponse,
    TorchRequest,
    TorchResponse,
    TransportError,
    UnknownOutputError,
    UsageError,
)
from aioeas.errors import QUOTE_BYTES, EASTimeoutError, quote_bytes
from aioeas.queue.errors import ResultTimeoutError
from aioeas.requests import served
from tests.unit import PROPERTY, fixed32, fixed64, key, ld, packed_varints, varint, vi

# ------------------------------------------------------------------------ the tree


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (UsageError, (EASError, ValueError)),
        (InvalidTensorError, (UsageError, EASError, ValueError)),
        (UnknownOutputError, (UsageError, KeyError, LookupError, ValueError, EASError)),
        (TransportError, (EASError,)),
        (ConnectError, (TransportError, ConnectionError, OSError)),
        (RequestTimeoutError, (TransportError, EASTimeoutError)),
        (EASTimeoutError, (EASError, TimeoutError, asyncio.TimeoutError)),
        (ResultTimeoutError, (QueueError, EASTimeoutError)),
        (ServiceError, (EASError,)),
        (AuthError, (ServiceError,)),
        (RetryableServiceError, (ServiceError,)),
        (DecodeError, (EASError, ValueError)),
        (QueueError, (EASError,)),
        (EASError, (Exception,)),
    ],
)
def test_hierarchy(cls: type, bases: tuple[type, ...]) -> None:
    for base in bases:
        assert issubclass(cls, base), (cls, base)


@pytest.mark.parametrize(
    ("cls", "not_a"),
    [
        (TransportError, ValueError),
        (ServiceError, TransportError),
        (DecodeError, UsageError),
        (QueueError, ServiceError),
        (AuthError, RetryableServiceError),
        (UsageError, TransportError),
        (EASTimeoutError, TransportError),
        (EASTimeoutError, QueueError),
    ],
)
def test_branches_are_apart(cls: type, not_a: type) -> None:
    assert not issubclass(cls, not_a)


def test_instances_are_caught_by_builtin_handlers() -> None:
    with pytest.raises(ValueError, match="bad"):
        raise InvalidTensorError("bad")
    with pytest.raises(ConnectionError):
        raise ConnectError("refused")
    with pytest.raises(KeyError):
        raise UnknownOutputError("x", ["a"])


TIMEOUTS = [
    RequestTimeoutError("slow"),
    ResultTimeoutError(3, "r-3", 0.5),
    EASTimeoutError("no record within 0.5 s"),  # what Watcher.next(timeout=) raises
]


@pytest.mark.parametrize("exc", TIMEOUTS, ids=lambda e: type(e).__name__)
def test_every_timeout_is_caught_by_both_timeout_handlers(exc: Exception) -> None:
    """On 3.10 ``asyncio.TimeoutError`` and ``TimeoutError`` are unrelated classes (one
    since 3.11): each ``except`` must catch the library's timeouts on every Python."""
    caught = []
    try:
        raise exc
    except asyncio.TimeoutError as e:
        caught.append(e)
    try:
        raise exc
    except TimeoutError as e:
        caught.append(e)
    assert caught == [exc, exc]
    assert isinstance(exc, EASTimeoutError)


def test_service_error_carries_status_body_and_url() -> None:
    exc = RetryableServiceError(503, b"<html>busy</html>", url="http://h/api/predict/s")
    assert (exc.status, exc.body, exc.url) == (503, b"<html>busy</html>", "http://h/api/predict/s")
    assert "503" in str(exc)
    assert "http://h/api/predict/s" in str(exc)
    assert "b'<html>busy</html>'" in str(exc)
    assert str(AuthError(401)) == "HTTP 401: b''"


def test_quote_bytes_shows_the_start_and_the_rest_length() -> None:
    body = b"x" * (QUOTE_BYTES + 30)
    assert quote_bytes(body) == repr(b"x" * QUOTE_BYTES) + " ... (+30 bytes)"
    assert quote_bytes(b"short") == "b'short'"
    assert quote_bytes(memoryview(b"ab")) == "b'ab'"


def test_decode_error_fields() -> None:
    exc = DecodeError("TFResponse", "it broke", b"\x00\x01")
    assert (exc.what, exc.reason, exc.body) == ("TFResponse", "it broke", b"\x00\x01")
    assert str(exc) == "cannot decode TFResponse: it broke; body starts b'\\x00\\x01'"


def test_every_error_is_exported() -> None:
    for name in aioeas.errors.__all__:
        assert getattr(aioeas, name) is getattr(aioeas.errors, name)


# ------------------------------------------------------------------------ unknown outputs


def _tf() -> TFResponse:
    return TFResponse(
        served.encode_tf_response({"scores": np.zeros(2, np.float32), "ids": np.arange(2)})
    )


def _torch() -> TorchResponse:
    return TorchResponse(
        served.encode_torch_response([np.zeros(1, np.float32)], {"m": np.arange(2)})
    )


def _blade() -> BladeResponse:
    return BladeResponse(served.encode_blade_response({"prob": np.zeros(1, np.float32)}))


@pytest.mark.parametrize(
    ("make", "name", "listed"),
    [
        (_tf, "nope", "scores, ids"),
        (_blade, "nope", "prob"),
        (_torch, "nope", "m"),
        (_torch, 5, "0, m"),
        (_torch, -1, "0, m"),
    ],
)
def test_unknown_output(make: Callable[[], Any], name: Any, listed: str) -> None:
    resp = make()
    with pytest.raises(UnknownOutputError) as info:
        resp[name]
    assert info.value.name == name
    assert f"outputs: {listed}" in str(info.value)
    assert repr(name) in str(info.value)
    with pytest.raises(KeyError):
        resp.dtype(name)
    with pytest.raises(LookupError):
        resp.get_values(name)


@pytest.mark.parametrize("make", [_tf, _blade])
def test_mapping_protocol_on_missing_outputs(make: Callable[[], Any]) -> None:
    resp = make()
    assert resp.get("nope") is None
    assert resp.get("nope", 1) == 1
    assert "nope" not in resp
    first = next(iter(resp))
    assert first in resp
    assert resp.get(first) is not None
    assert len(dict(resp.items())) == len(resp)


def test_empty_response_lists_no_outputs() -> None:
    with pytest.raises(UnknownOutputError, match=r"\(outputs: none\)"):
        TFResponse(b"")["x"]


def test_blade_get_values_with_the_wrong_type() -> None:
    resp = _blade()
    with pytest.raises(UsageError, match="DT_FLOAT, not DT_INT64"):
        resp.get_values("prob", BladeRequest.DT_INT64)


# ------------------------------------------------------------------------ bad input

F = TFRequest.DT_FLOAT

BAD_INPUTS: list[tuple[str, Callable[[], Any], str]] = [
    # shape and content disagree
    (
        "tf-shape-mismatch",
        lambda: TFRequest().add_feed("x", [2, 3], F, [1.0] * 5),
        r"needs 6 values, but the content holds 5",
    ),
    (
        "tf-shape-mismatch-2d",
        lambda: TFRequest().add_feed("x", [4], F, np.zeros((2, 3))),
        r"needs 4 values.*holds 6",
    ),
    ("torch-shape-mismatch", lambda: TorchRequest().add_feed(0, [3], F, [1.0]), r"needs 3 values"),
    (
        "torch-map-shape-mismatch",
        lambda: TorchRequest().add_feed_map("m", [3], F, [1.0]),
        r"needs 3 values",
    ),
    (
        "blade-shape-mismatch",
        lambda: BladeRequest().add_feed("x", 1, [1, 2], BladeRequest.DT_FLOAT, [1.0]),
        r"needs 2 values",
    ),
    (
        "blade-tf-shape-mismatch",
        lambda: BladeTFRequest().add_feed("x", [1, 2], BladeTFRequest.DT_FLOAT, [1.0]),
        r"needs 2 values",
    ),
    # dims
    ("negative-dim", lambda: TFRequest().add_feed("x", [-1, 2], F, [1.0]), r"negative dimension"),
    (
        "float-dim",
        lambda: TFRequest().add_feed("x", [1.0], F, [1.0]),
        r"non-integer dimension 1\.0",
    ),
    ("str-dim", lambda: TFRequest().add_feed("x", ["1"], F, [1.0]), r"non-integer dimension '1'"),
    (
        "bool-dim",
        lambda: TFRequest().add_feed("x", [True], F, [1.0]),
        r"non-integer dimension True",
    ),
    (
        "none-dim",
        lambda: TFRequest().add_feed("x", [None], F, [1.0]),
        r"non-integer dimension None",
    ),
    ("str-shape", lambda: TFRequest().add_feed("x", "12", F, [1.0]), r"a shape is a list of ints"),
    ("int-shape", lambda: TFRequest().add_feed("x", 12, F, [1.0]), r"a shape is a list of ints"),
    # names
    ("empty-name", lambda: TFRequest().add_feed("", np.zeros(1)), r"non-empty str, got ''"),
    ("none-name", lambda: TFRequest().add_feed(None, np.zeros(1)), r"non-empty str, got None"),  # type: ignore[call-overload]
    ("int-name", lambda: TFRequest().add_feed(3, np.zeros(1)), r"non-empty str, got 3"),  # type: ignore[call-overload]
    ("bytes-name", lambda: TFRequest().add_feed(b"x", np.zeros(1)), r"non-empty str, got b'x'"),  # type: ignore[call-overload]
    ("empty-fetch", lambda: TFRequest().add_fetch(""), r"output name must be a non-empty str"),
    (
        "torch-map-empty-name",
        lambda: TorchRequest().add_feed_map("", np.zeros(1)),
        r"non-empty str",
    ),
    (
        "blade-empty-name",
        lambda: BladeRequest().add_feed("", np.zeros((1,), np.float32)),
        r"non-empty str",
    ),
    ("blade-empty-fetch", lambda: BladeRequest().add_fetch(""), r"output name"),
    # data type codes
    (
        "unknown-code",
        lambda: TFRequest().add_feed("x", [1], 99, [1.0]),
        r"99 is not an EAS data type code",
    ),
    (
        "negative-code",
        lambda: TFRequest().add_feed("x", [1], -1, [1.0]),
        r"-1 is not an EAS data type code",
    ),
    (
        "not-a-dtype",
        lambda: TFRequest().add_feed("x", [1], "wat", [1.0]),
        r"neither an EAS DT_\* code nor a numpy dtype",
    ),
    (
        "half",
        lambda: TFRequest().add_feed("x", [1], DataType.DT_HALF, [1.0]),
        r"DT_HALF cannot be carried by the TensorFlow schema",
    ),
    (
        "complex64",
        lambda: TFRequest().add_feed("x", [1], DataType.DT_COMPLEX64, [1.0]),
        r"DT_COMPLEX64 cannot be carried",
    ),
    (
        "bfloat16",
        lambda: TFRequest().add_feed("x", np.zeros(1), DataType.DT_BFLOAT16),
        r"DT_BFLOAT16 cannot be carried",
    ),
    (
        "invalid",
        lambda: TFRequest().add_feed("x", np.zeros(1), DataType.DT_INVALID),
        r"DT_INVALID cannot be carried",
    ),
    (
        "torch-half",
        lambda: TorchRequest().add_feed(0, [1], DataType.DT_HALF, [1.0]),
        r"PyTorch schema",
    ),
    (
        "blade-code",
        lambda: BladeRequest().add_feed("x", 1, [1], 9, [1.0]),
        r"9 is not a Blade data type code",
    ),
    (
        "blade-tf-code",
        lambda: BladeRequest().add_feed("x", 1, [1], DataType.DT_DOUBLE, [1.0]),
        r"Blade carries float32, int32, int64 and strings, not DT_DOUBLE",
    ),
    (
        "blade-np-dtype",
        lambda: BladeRequest().add_feed("x", np.zeros(1, np.float32), dtype=np.float64),
        r"not float64",
    ),
    # array dtypes the schema has no field for
    (
        "float16",
        lambda: TFRequest().add_feed("x", np.zeros(2, np.float16)),
        r"float16 cannot be sent.*astype\(np\.float32\)",
    ),
    (
        "complex64",
        lambda: TFRequest().add_feed("x", np.zeros(2, np.complex64)),
        r"complex64 cannot be sent.*real and imaginary parts",
    ),
    (
        "complex128",
        lambda: TFRequest().add_feed("x", np.zeros(2, np.complex128)),
        r"complex128.*two float64 inputs",
    ),
    (
        "uint32",
        lambda: TFRequest().add_feed("x", np.zeros(2, np.uint32)),
        r"uint32 cannot be sent.*astype\(np\.int64\)",
    ),
    (
        "uint64",
        lambda: TFRequest().add_feed("x", np.zeros(2, np.uint64)),
        r"uint64 cannot be sent.*if the values fit",
    ),
    (
        "datetime",
        lambda: TFRequest().add_feed("x", np.zeros(2, "M8[s]")),
        r"datetime64\[s\] cannot be sent: convert it",
    ),
    (
        "object-mixed",
        lambda: TFRequest().add_feed("x", np.array([1, "a", None], object)),
        r"holds NoneType, int, str; convert it",
    ),
    (
        "object-floats",
        lambda: TFRequest().add_feed("x", np.array([1.5], object)),
        r"object array can only carry strings",
    ),
    (
        "string-non-str",
        lambda: TFRequest().add_feed("x", [2], TFRequest.DT_STRING, ["a", 1]),
        r"DT_STRING tensor takes str or bytes elements, got int",
    ),
    (
        "ragged",
        lambda: TFRequest().add_feed("x", [[1, 2], [3]]),
        r"cannot make a tensor of the given content",
    ),
    ("text-as-float", lambda: TFRequest().add_feed("x", [1], F, ["a"]), r"DT_FLOAT takes numbers"),
    (
        "text-array-as-int",
        lambda: TFRequest().add_feed("x", np.array(["1"]), DataType.DT_INT32),
        r"DT_INT32 takes numbers",
    ),
    # floats for an integer type
    (
        "float-array-as-int",
        lambda: TFRequest().add_feed("x", np.array([1.5]), DataType.DT_INT32),
        r"DT_INT32 takes integers.*astype\(np\.int32\)",
    ),
    (
        "float-list-as-int",
        lambda: TFRequest().add_feed("x", [2], DataType.DT_INT32, [1.5, 2.0]),
        r"DT_INT32 takes integers",
    ),
    (
        "float-list-as-int64",
        lambda: TFRequest().add_feed("x", [1], DataType.DT_INT64, [1.0]),
        r"DT_INT64 takes integers",
    ),
    (
        "float-as-qint8",
        lambda: TFRequest().add_feed("x", np.zeros(1, np.float32), DataType.DT_QINT8),
        r"DT_QINT8 takes integers",
    ),
    (
        "blade-float-as-int",
        lambda: BladeRequest().add_feed("x", 1, [1], BladeRequest.DT_INT32, [0.5]),
        r"DT_INT32 takes integers",
    ),
    # floats for bool: 0.5 and nan are != 0, and would all arrive as True
    (
        "float-array-as-bool",
        lambda: TFRequest().add_feed("x", np.array([0.5, 2.7, -1.0, np.nan]), TFRequest.DT_BOOL),
        r"DT_BOOL takes bools.*arr > 0\.5",
    ),
    (
        "float-list-as-bool",
        lambda: TFRequest().add_feed("x", [2], DataType.DT_BOOL, [0.0, 1.0]),
        r"DT_BOOL takes bools",
    ),
    # integers out of range
    (
        "300-int8-list",
        lambda: TFRequest().add_feed("x", [1], DataType.DT_INT8, [300]),
        r"DT_INT8 holds -128..127, but the values span 300..300",
    ),
    (
        "300-int8-array",
        lambda: TFRequest().add_feed("x", np.array([1, 300]), DataType.DT_INT8),
        r"DT_INT8 holds -128..127, but the values span 1..300",
    ),
    (
        "neg-uint8",
        lambda: TFRequest().add_feed("x", np.array([-1]), DataType.DT_UINT8),
        r"DT_UINT8 holds 0..255",
    ),
    (
        "big-uint16",
        lambda: TFRequest().add_feed("x", np.array([70000]), DataType.DT_UINT16),
        r"DT_UINT16 holds 0..65535",
    ),
    (
        "big-int32",
        lambda: TFRequest().add_feed("x", np.array([2**31]), DataType.DT_INT32),
        r"DT_INT32 holds",
    ),
    (
        "big-qint32",
        lambda: TFRequest().add_feed("x", [1], DataType.DT_QINT32, [2**31]),
        r"DT_QINT32 holds",
    ),
    (
        "uint64-to-int64",
        lambda: TFRequest().add_feed("x", np.array([2**63], np.uint64), DataType.DT_INT64),
        r"DT_INT64 holds",
    ),
    (
        "big-python-int",
        lambda: TFRequest().add_feed("x", [1], DataType.DT_INT64, [2**63]),
        r"DT_INT64 holds",
    ),
    (
        "blade-big-int32",
        lambda: BladeRequest().add_feed("x", np.array([2**40]), dtype=BladeRequest.DT_INT32),
        r"DT_INT32 holds",
    ),
    # what the schema cannot carry
    (
        "torch-bool",
        lambda: TorchRequest().add_feed(0, np.array([True])),
        r"PyTorch schema cannot carry DT_BOOL",
    ),
    (
        "torch-bool-code",
        lambda: TorchRequest().add_feed(0, [1], DataType.DT_BOOL, [1]),
        r"cannot carry DT_BOOL",
    ),
    (
        "torch-map-bool",
        lambda: TorchRequest().add_feed_map("m", np.array([True])),
        r"cannot carry DT_BOOL",
    ),
    (
        "blade-int16",
        lambda: BladeRequest().add_feed("x", np.zeros(2, np.int16)),
        r"Blade schema cannot carry DT_INT16; it takes DT_FLOAT, DT_INT32, DT_INT64, DT_STRING",
    ),
    (
        "blade-float64",
        lambda: BladeRequest().add_feed("x", np.zeros(2)),
        r"Blade schema cannot carry DT_DOUBLE",
    ),
    (
        "blade-bool",
        lambda: BladeRequest().add_feed("x", np.zeros(2, bool)),
        r"cannot carry DT_BOOL",
    ),
    # batch sizes and indexes
    (
        "batch-zero",
        lambda: BladeRequest().add_feed("x", 0, [1], BladeRequest.DT_FLOAT, [1.0]),
        r"batch size is an int > 0, got 0",
    ),
    (
        "batch-negative",
        lambda: BladeRequest().add_feed("x", np.zeros((1,), np.float32), -2),
        r"got -2",
    ),
    (
        "batch-float",
        lambda: BladeRequest().add_feed("x", np.zeros((1,), np.float32), 1.5),
        r"got 1\.5",
    ),
    (
        "batch-bool",
        lambda: BladeRequest().add_feed("x", np.zeros((1,), np.float32), True),
        r"got True",
    ),
    (
        "batch-from-empty-dim",
        lambda: BladeTFRequest().add_feed("x", np.zeros((0, 2), np.float32)),
        r"got 0",
    ),
    (
        "batch-of-scalar",
        lambda: BladeRequest().add_feed("x", np.float32(1)),
        r"Blade needs a batch dimension",
    ),
    (
        "torch-negative-index",
        lambda: TorchRequest().add_feed(-1, np.zeros(1)),
        r"PyTorch input index is an int >= 0, got -1",
    ),
    ("torch-bool-index", lambda: TorchRequest().add_feed(True, np.zeros(1)), r"got True"),
    ("torch-str-index", lambda: TorchRequest().add_feed("0", np.zeros(1)), r"got '0'"),  # type: ignore[call-overload]
    ("torch-negative-fetch", lambda: TorchRequest().add_fetch(-1), r"PyTorch output index"),
]


@pytest.mark.parametrize(
    ("call", "message"), [(c, m) for _, c, m in BAD_INPUTS], ids=[i for i, _, _ in BAD_INPUTS]
)
def test_bad_input_raises_invalid_tensor_error(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(InvalidTensorError, match=message):
        call()


def test_a_refused_input_leaves_the_request_as_it_was() -> None:
    req = TFRequest().add_feed("ok", np.zeros(2, np.float32))
    body = req.to_bytes()
    with pytest.raises(InvalidTensorError):
        req.add_feed("bad", np.zeros(2, np.float16))
    with pytest.raises(InvalidTensorError):
        req.add_feed("ok", [3], F, [1.0])
    assert req.input_names == ["ok"]
    assert req.to_bytes() == body


def test_blade_argument_forms_are_checked() -> None:
    with pytest.raises(
        UsageError, match=r"add_feed\(name, batch_size, shape, data_type, content\)"
    ):
        BladeRequest().add_feed("x", 1, [1])
    with pytest.raises(UsageError, match=r"with an array, add_feed takes"):
        BladeRequest().add_feed("x", np.zeros(1, np.float32), 1, BladeRequest.DT_FLOAT)


# ------------------------------------------------------------------------ bad bytes

PARSERS: list[tuple[str, Callable[[bytes], Any]]] = [
    ("TFResponse", TFResponse),
    ("TorchResponse", TorchResponse),
    ("BladeResponse", BladeResponse),
    ("BladeTFResponse", lambda b: BladeTFRequest().parse_response(b)),
    ("TF PredictRequest", served.decode_tf_request),
    ("PyTorch PredictRequest", served.decode_torch_request),
    ("Blade Request", served.decode_blade_request),
]
PARSER_IDS = [name for name, _ in PARSERS]

HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n" * 3
)


@pytest.mark.parametrize(("what", "parse"), PARSERS, ids=PARSER_IDS)
@pytest.mark.parametrize(
    "body", [HTML, b"upstream connect error", b'{"error": "model not found"}', b"\xff" * 12]
)
def test_non_protobuf_bodies(what: str, parse: Callable[[bytes], Any], body: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        parse(body)
    message = str(info.value)
    assert message.startswith(f"cannot decode {what}")
    assert f"body starts {quote_bytes(body)}" in message
    assert repr(body[:20])[:-1] in message  # the first bytes are there to be recognised
    assert info.value.body == body


def test_html_page_quote_is_short() -> None:
    with pytest.raises(DecodeError) as info:
        TFResponse(HTML)
    assert "b'<html>\\r\\n<head><title>502 Bad Gateway</title>" in str(info.value)
    assert f"(+{len(HTML) - QUOTE_BYTES} bytes)" in str(info.value)


def _valid_bodies() -> list[tuple[str, Callable[[bytes], Any], bytes]]:
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    return [
        ("tf", TFResponse, served.encode_tf_response({"out": arr})),
        ("tf-int", TFResponse, served.encode_tf_response({"o": np.array([1, -1, 2**40])})),
        ("tf-str", TFResponse, served.encode_tf_response({"o": np.array(["ab", "c"])})),
        ("tf-bool", TFResponse, served.encode_tf_response({"o": np.array([True, False])})),
        ("torch", TorchResponse, served.encode_torch_response([arr])),
        (
            "torch-map",
            TorchResponse,
            served.encode_torch_response([], {"m": np.array([-5], np.int16)}),
        ),
        ("blade", BladeResponse, served.encode_blade_response({"o": arr})),
        (
            "blade-int64",
            BladeResponse,
            served.encode_blade_response({"o": np.array([[-1, 2**33]])}),
        ),
        ("tf-request", served.decode_tf_request, TFRequest().add_feed("x", arr).to_bytes()),
        ("torch-request", served.decode_torch_request, TorchRequest().add_feed(0, arr).to_bytes()),
        (
            "blade-request",
            served.decode_blade_request,
            BladeRequest().add_feed("x", arr).to_bytes(),
        ),
    ]


@pytest.mark.parametrize(
    ("parse", "body"),
    [(p, b) for _, p, b in _valid_bodies()],
    ids=[i for i, _, _ in _valid_bodies()],
)
def test_truncated_at_every_cut_point(parse: Callable[[bytes], Any], body: bytes) -> None:
    parse(body)  # the whole body is fine
    for cut in range(1, len(body)):
        # one top-level field: any shorter body declares more bytes than it has
        with pytest.raises(DecodeError):
            parse(body[:cut])


def test_truncated_multi_output_bodies_decode_or_raise_decode_error() -> None:
    body = served.encode_tf_response(
        {"a": np.arange(5, dtype=np.float64), "b": np.array(["x"]), "c": np.array([1, 2], np.int8)}
    )
    decoded = 0
    for cut in range(len(body)):
        try:
            resp = TFResponse(body[:cut])
        except DecodeError:
            continue
        decoded += 1
        assert set(resp) <= {"a", "b", "c"}
    assert decoded == 3  # the empty body and after each whole output but the last


@PROPERTY
@given(st.binary(max_size=80))
def test_random_bytes_decode_or_raise_decode_error(body: bytes) -> None:
    for _, parse in PARSERS:
        caught: DecodeError | None = None
        try:
            parse(body)
        except DecodeError as exc:
            caught = exc
        assert caught is None or caught.body == body


@PROPERTY
@given(st.data())
def test_corrupted_bodies_decode_or_raise_decode_error(data: st.DataObject) -> None:
    _, parse, body = data.draw(st.sampled_from(_valid_bodies()))
    corrupt = bytearray(body)
    for _ in range(data.draw(st.integers(1, 4))):
        corrupt[data.draw(st.integers(0, len(corrupt) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(DecodeError):  # anything else fails the test
        parse(bytes(corrupt))


def _entry(array: bytes, name: bytes = b"y") -> bytes:
    return ld(1, ld(1, name) + ld(2, array))


def _shape(*dims: int) -> bytes:
    return ld(2, ld(1, packed_varints(list(dims))))


MALFORMED: list[tuple[str, bytes, str]] = [
    (
        "shape-too-big",
        _entry(vi(1, 1) + _shape(2, 3) + ld(3, bytes(20))),
        r"shape \[2, 3\] needs 6 values but 5 came",
    ),
    (
        "shape-too-small",
        _entry(vi(1, 9) + _shape(1) + ld(7, packed_varints([1, 2]))),
        r"needs 1 values but 2 came",
    ),
    (
        "scalar-with-two",
        _entry(vi(1, 3) + ld(5, packed_varints([1, 2]))),
        r"shape \[\] needs 1 values but 2 came",
    ),
    (
        "huge-shape",
        _entry(vi(1, 1) + _shape(2**40, 2**40) + ld(3, bytes(4))),
        r"needs 1208925819614629174706176 values",
    ),
    ("negative-dim", _entry(vi(1, 1) + _shape(-1) + ld(3, bytes(4))), r"negative dimension"),
    ("length-past-end", b"\x0a\x05\x0a\x01y", r"field 1 declares 5 bytes but only 3 remain"),
    (
        "inner-length-past-end",
        ld(1, key(1, 2) + varint(50) + b"y"),
        r"field 1 declares 50 bytes but only 1 remain",
    ),
    (
        "array-length-past-end",
        _entry(vi(1, 1) + key(3, 2) + varint(9) + bytes(4)),
        r"declares 9 bytes",
    ),
    ("outputs-as-varint", vi(1, 5), r"field 1 has wire type 0"),
    ("outputs-as-fixed32", fixed32(1, 1.0), r"field 1 has wire type 5"),
    ("float-as-varint", _entry(vi(1, 1) + vi(3, 7)), r"f4 value has wire type 0"),
    ("double-as-fixed32", _entry(vi(1, 2) + fixed32(4, 1.0)), r"f8 value has wire type 5"),
    ("int-as-fixed64", _entry(vi(1, 3) + fixed64(5, 1.0)), r"integer value has wire type 1"),
    ("string-as-varint", _entry(vi(1, 7) + vi(6, 1)), r"string element has wire type 0"),
    (
        "dim-as-fixed32",
        _entry(vi(1, 1) + ld(2, fixed32(1, 1.0)) + fixed32(3, 1.0)),
        r"shape dimension has wire type 5",
    ),
    ("group-start", key(1, 3), r"wire type 3"),
    ("group-end", _entry(vi(1, 1) + key(9, 4)), r"wire type 4"),
    ("wire-type-6", key(2, 6) + b"\x00", r"wire type 6"),
    ("wire-type-7", key(2, 7), r"wire type 7"),
    ("field-zero", b"\x00\x00", r"field number 0"),
    ("key-too-long", b"\x80" * 11, r"longer than 10 bytes"),
    ("key-cut-short", b"\x80", r"runs past the end"),
    ("fixed64-cut-short", key(2, 1) + bytes(7), r"fixed64 field 2 is cut short"),
    ("fixed32-cut-short", key(2, 5) + bytes(3), r"fixed32 field 2 is cut short"),
    (
        "packed-not-whole",
        _entry(vi(1, 1) + _shape(1) + ld(3, bytes(5))),
        r"5 bytes is not a whole number of f4 values",
    ),
    ("packed-varint-cut", _entry(vi(1, 3) + ld(5, b"\x01\x80")), r"cut short"),
    ("unknown-dtype", _entry(vi(1, 99) + ld(3, bytes(4))), r"unknown dtype code 99"),
    ("half-dtype", _entry(vi(1, 19) + ld(5, b"\x01")), r"DT_HALF is not carried"),
    (
        "wrong-value-field",
        _entry(vi(1, 1) + ld(5, b"\x01")),
        r"dtype DT_FLOAT but values came in the v32 field",
    ),
    ("two-fields-no-dtype", _entry(ld(3, bytes(4)) + ld(5, b"\x01")), r"several value fields"),
    (
        "int8-out-of-range",
        _entry(vi(1, 6) + ld(5, packed_varints([300]))),
        r"out of range for int8",
    ),
    ("uint8-negative", _entry(vi(1, 4) + ld(5, packed_varints([-1]))), r"out of range for uint8"),
    ("key-not-utf8", _entry(vi(1, 1), name=b"\xff\xfe"), r"not UTF-8"),
]


@pytest.mark.parametrize(
    ("body", "message"), [(b, m) for _, b, m in MALFORMED], ids=[i for i, _, _ in MALFORMED]
)
def test_malformed_tf_responses(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as info:
        TFResponse(body)
    assert info.value.body == body
    assert "body starts b'" in str(info.value)


def test_bool_field_in_a_torch_response_is_unknown_and_skipped() -> None:
    # PyTorch's ArrayProto has no bool_val: field 8 is an unknown field there
    body = ld(1, vi(1, 3) + ld(5, b"\x01") + ld(8, b"\x01"))
    assert TorchResponse(body)[0].tolist() == 1
    with pytest.raises(DecodeError, match="DT_BOOL has no field in this schema"):
        TorchResponse(ld(1, vi(1, 10) + ld(8, b"\x01")))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ld(1, ld(2, b"o") + ld(5, bytes(4))), r"required field batchsize is missing"),
        (ld(1, vi(3, 1) + ld(5, bytes(4)) + ld(6, b"\x01")), r"fills several value fields"),
        (ld(1, vi(3, 1) + ld(2, b"\xff")), r"not UTF-8"),
        (vi(1, 1), r"output has wire type 0"),
        (
            ld(1, vi(3, 1) + ld(4, ld(1, packed_varints([2]))) + ld(5, bytes(4))),
            r"needs 2 values but 1",
        ),
    ],
)
def test_malformed_blade_responses(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        BladeResponse(body)


def test_malformed_torch_and_requests() -> None:
    with pytest.raises(DecodeError, match="output has wire type 0"):
        TorchResponse(vi(1, 1))
    with pytest.raises(DecodeError, match="unknown Blade data type 7"):
        served.decode_blade_request(ld(3, ld(1, b"o") + vi(3, 7)))
    with pytest.raises(DecodeError, match="not UTF-8"):
        served.decode_tf_request(ld(1, b"\xc3"))
    with pytest.raises(DecodeError, match="cut short"):
        served.decode_torch_request(ld(2, b"\x81"))


def test_decode_error_is_the_only_exception_for_non_bytes() -> None:
    with pytest.raises(DecodeError, match="expected bytes, got int"):
        served.decode_tf_request(5)  # type: ignore[arg-type]


def test_float32_overflow_is_refused_not_sent_as_inf() -> None:
    with pytest.raises(aioeas.InvalidTensorError, match="inf"):
        aioeas.TFRequest().add_feed("x", [1], aioeas.TFRequest.DT_FLOAT, [1e40])
    # an inf that is already there is a value like any other
    req = aioeas.TFRequest().add_feed("x", [2], aioeas.TFRequest.DT_FLOAT, [float("inf"), 1.0])
    assert req.to_bytes()
