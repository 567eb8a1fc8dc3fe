"""Fuzzing the protobuf decoders: hostile bytes raise ``DecodeError`` and nothing else.

Every decoder that reads bytes from the network (TF, PyTorch, Blade and Blade-TF responses;
the served request decoders the emulator and users' test doubles run; queue frames, frame
lists and ``AttributesProto``) is fed

- random bytes;
- valid messages (made by aioeas's own encoders from random tensors and records), then
  bit-flipped, truncated, with bytes inserted, deleted or overwritten;
- messages built field by field from a protobuf grammar whose lengths may lie (past the
  end, short), with any wire type on any field number, nested a few levels deep;
- hand-made malicious ones (``MALICIOUS``): a length prefix 2**60 past the end, a shape of
  2**40 elements with two values, 70 dimensions, 5,000 dimensions of 2**62, a zero next to
  two dimensions of 2**62, ten-byte and eleven-byte varints, map entries whose key or value
  has the wrong wire type, 3,000 nested messages, 10,000 unpacked values...

and each call must either return a well-formed result or raise ``aioeas.DecodeError``;
any other exception fails the test. Each call is also measured:

- work: every varint the decoders read is counted (``read_varint`` is wrapped where the
  decoders call it); a decoder reads each byte at most in a few passes, so the count stays
  under ``PASSES * len(input) + 8``: no re-scanning, no loop that does not move forward;
- memory: tracemalloc's peak during the call stays under ``MEMORY_PER_BYTE * len(input) +
  MEMORY_BASE``: nothing is allocated for a size the input declares but does not carry.
  The factor is the cost of one Python object per smallest wire element (two bytes: a key
  and an empty payload) -- an empty output's ndarray header, a ``Frame`` and its dict;
- lines and calls: the Python lines run and the functions called (built-in ones too) during
  the call, counted through the trace and profile hooks, stay under ``WORK_PER_BYTE *
  len(input) + WORK_BASE``: a backstop to the varint count for work that reads no varint
  (a loop over elements, a loop that does not advance). A count, not seconds: the same on a
  fast, a slow or a busy machine, so the bound can be tight.

Hypothesis runs derandomized (the same examples on every run), without a database and
without a deadline (the profile in tests/conftest.py), so the suite is deterministic in CI.
"""

from __future__ import annotations

import contextlib
import math
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aioeas.codecs.arrays
import aioeas.codecs.wire
from aioeas.codecs.dtypes import BladeDataType
from aioeas.codecs.frames import (
    Frame,
    decode_attributes,
    decode_frame,
    decode_frame_list,
    encode_attributes,
    encode_frame,
    encode_frame_list,
)
from aioeas.codecs.varint import encode_varint
from aioeas.codecs.wire import I32, I64, LEN, VARINT, tag
from aioeas.errors import DecodeError
from aioeas.queue.protocol import ACCEPT_PROTOBUF, parse_attributes
from aioeas.requests import (
    BladeRequest,
    BladeResponse,
    BladeTFResponse,
    TFRequest,
    TFResponse,
    TorchRequest,
    TorchResponse,
)
from aioeas.requests.served import (
    BladePredictRequest,
    TFPredictRequest,
    TorchPredictRequest,
    decode_blade_request,
    decode_tf_request,
    decode_torch_request,
    encode_blade_response,
    encode_tf_response,
    encode_torch_response,
)
from tests.reliability.conftest import WorkCounter
from tests.reliability.conftest import warm as _warm

#: Passes a decoder may make over its input (PyTorch reads the body twice: positional then
#: named outputs; a Blade output with a type hint is read again), with room to spare.
PASSES = 4
MEMORY_PER_BYTE = 100
MEMORY_BASE = 256 * 1024
#: Lines run and calls made (``WorkCounter``) per input byte, and for any input: at most
#: about 40 a byte (an empty output, two bytes on the wire, becomes an ndarray and is
#: checked) and 200 for the shortest inputs.
WORK_PER_BYTE = 48
WORK_BASE = 300

pytestmark = pytest.mark.long

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ------------------------------------------------------------------------ the decoders


def _check_tf(resp: TFResponse) -> None:
    for name in resp:
        arr = resp[name]
        assert isinstance(name, str)
        assert isinstance(arr, np.ndarray)
        assert arr.size == math.prod(resp.get_tensor_shape(name))


def _check_torch(resp: TorchResponse) -> None:
    for arr in [*resp.outputs, *resp.map_outputs.values()]:
        assert isinstance(arr, np.ndarray)
        assert arr.size == math.prod(arr.shape)


def _check_blade(resp: BladeResponse) -> None:
    for name in resp:
        arr = resp[name]
        assert isinstance(arr, np.ndarray)
        assert arr.size == math.prod(arr.shape)
        assert isinstance(resp.batch_size(name), int)
        assert isinstance(resp.dtype(name), BladeDataType)


def _check_frame(frame: Frame) -> None:
    assert 0 <= frame.index < 1 << 64
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in frame.tags.items())
    assert isinstance(frame.data, bytes)
    assert isinstance(frame.message, str)


def _check_strings(attrs: dict[str, str]) -> None:
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in attrs.items())


def _tf(data: bytes) -> object:
    resp = TFResponse(data)
    _check_tf(resp)
    return resp


def _torch(data: bytes) -> object:
    resp = TorchResponse(data)
    _check_torch(resp)
    return resp


def _blade(data: bytes) -> object:
    resp = BladeResponse(data)
    _check_blade(resp)
    return resp


def _blade_hinted(data: bytes) -> object:
    hints = {"": BladeDataType.DT_INT64, "y": BladeDataType.DT_STRING}
    resp = BladeResponse(data, hints=hints)
    _check_blade(resp)
    return resp


def _blade_tf(data: bytes) -> object:
    resp = BladeTFResponse(data)
    _check_blade(resp)
    return resp


def _tf_request(data: bytes) -> object:
    req = decode_tf_request(data)
    assert isinstance(req, TFPredictRequest)
    assert all(isinstance(a, np.ndarray) for a in req.inputs.values())
    return req


def _torch_request(data: bytes) -> object:
    req = decode_torch_request(data)
    assert isinstance(req, TorchPredictRequest)
    assert all(isinstance(i, int) for i in req.output_filter)
    return req


def _blade_request(data: bytes) -> object:
    req = decode_blade_request(data)
    assert isinstance(req, BladePredictRequest)
    assert all(isinstance(t, BladeDataType) for _, t in req.output_info)
    return req


def _frame(data: bytes) -> object:
    frame = decode_frame(data)
    _check_frame(frame)
    return frame


def _frame_list(data: bytes) -> object:
    frames = decode_frame_list(data)
    for frame in frames:
        _check_frame(frame)
    return frames


def _attributes(data: bytes) -> object:
    attrs = decode_attributes(data)
    _check_strings(attrs)
    return attrs


def _attributes_answer(data: bytes) -> object:
    attrs = parse_attributes(data, ACCEPT_PROTOBUF)
    _check_strings(attrs)
    return attrs


#: Each decodes, checks what it got (reading every output: some decode lazily) and returns
#: it, for ``decode_measured`` to ``repr`` outside the measured call.
DECODERS: dict[str, Callable[[bytes], object]] = {
    "TFResponse": _tf,
    "TorchResponse": _torch,
    "BladeResponse": _blade,
    "BladeResponse(hints)": _blade_hinted,
    "BladeTFResponse": _blade_tf,
    "decode_tf_request": _tf_request,
    "decode_torch_request": _torch_request,
    "decode_blade_request": _blade_request,
    "decode_frame": _frame,
    "decode_frame_list": _frame_list,
    "decode_attributes": _attributes,
    "parse_attributes(protobuf)": _attributes_answer,
}


# ---------------------------------------------------------------- the call, measured


class _VarintCounter:
    """``read_varint`` wrapped where the decoders call it: how many varints were read."""

    def __init__(self) -> None:
        self.reads = 0
        self._real = aioeas.codecs.wire.read_varint

    def __call__(self, buf: Any, pos: int, end: int) -> tuple[int, int]:
        self.reads += 1
        return self._real(buf, pos, end)

    @contextlib.contextmanager
    def installed(self) -> Iterator[_VarintCounter]:
        modules = (aioeas.codecs.wire, aioeas.codecs.arrays)
        for module in modules:
            module.read_varint = self  # type: ignore[attr-defined]
        try:
            yield self
        finally:
            for module in modules:
                module.read_varint = self._real  # type: ignore[attr-defined]


def decode_measured(name: str, data: bytes) -> str:
    """Run decoder ``name`` on ``data``: ``"ok"`` or ``"DecodeError"``; any other exception
    propagates. Asserts the work (varints read, lines run and calls made) and memory bounds."""
    decoder = DECODERS[name]
    counter = _VarintCounter()
    work = WorkCounter()
    outcome, result = "ok", None
    _warm(decoder, data)
    # traced only around the call: tracing hypothesis's own work would slow it tenfold
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        with counter.installed(), work.counting():
            try:
                result = decoder(data)
            except DecodeError:
                outcome = "DecodeError"
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    repr(result)  # whatever came out can be shown; the test's own work, not measured
    n = len(data)
    assert counter.reads <= PASSES * n + 8, (
        f"{name} read {counter.reads} varints from {n} bytes: it does not move forward"
    )
    assert work.events <= WORK_PER_BYTE * n + WORK_BASE, (
        f"{name} ran {work.events} lines and calls on {n} bytes: out of proportion to its input"
    )
    assert peak <= MEMORY_PER_BYTE * n + MEMORY_BASE, (
        f"{name} allocated {peak} bytes at peak for {n} bytes of input"
    )
    return outcome


# ------------------------------------------------------------------ valid messages


_NUMERIC = st.sampled_from(["float32", "float64", "int32", "int64", "int8", "uint8", "int16"])


@st.composite
def arrays(draw: st.DrawFn, *, allow_strings: bool = True) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    size = math.prod(shape)
    if allow_strings and draw(st.booleans()):
        items = draw(st.lists(st.binary(max_size=6), min_size=size, max_size=size))
        out = np.empty(size, dtype=object)
        out[:] = items
        return out.reshape(shape)
    dtype = np.dtype(draw(_NUMERIC))
    ints = draw(st.lists(st.integers(-100, 100), min_size=size, max_size=size))
    return np.array(ints, dtype=np.int64).astype(dtype).reshape(shape)


_NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=4)


@st.composite
def valid_tf_response(draw: st.DrawFn) -> bytes:
    outputs = draw(st.dictionaries(_NAMES, arrays(), max_size=3))
    return encode_tf_response(outputs)


@st.composite
def valid_torch_response(draw: st.DrawFn) -> bytes:
    plain = arrays(allow_strings=False)
    outputs = draw(st.lists(plain, max_size=3))
    named = draw(st.dictionaries(_NAMES, plain, max_size=2))
    return encode_torch_response(outputs, named)


@st.composite
def valid_blade_response(draw: st.DrawFn) -> bytes:
    kinds = st.sampled_from(["float32", "int32", "int64"])
    outputs: dict[str, Any] = {}
    for name in draw(st.lists(_NAMES, max_size=3, unique=True)):
        shape = (draw(st.integers(1, 3)), draw(st.integers(0, 3)))
        outputs[name] = np.arange(math.prod(shape)).astype(draw(kinds)).reshape(shape)
    return encode_blade_response(outputs, batch_size=draw(st.integers(0, 2**40)))


@st.composite
def valid_tf_request(draw: st.DrawFn) -> bytes:
    req = TFRequest(draw(st.one_of(st.none(), _NAMES)))
    for name in draw(st.lists(_NAMES.filter(bool), max_size=3, unique=True)):
        req.add_feed(name, draw(arrays()))
    for fetch in draw(st.lists(_NAMES.filter(bool), max_size=2)):
        req.add_fetch(fetch)
    return req.to_bytes()


@st.composite
def valid_torch_request(draw: st.DrawFn) -> bytes:
    req = TorchRequest(debug_level=draw(st.integers(0, 3)))
    for i in range(draw(st.integers(0, 3))):
        req.add_feed(i, draw(arrays(allow_strings=False)))
    for fetch in draw(st.lists(st.integers(0, 2**40), max_size=3)):
        req.add_fetch(fetch)
    return req.to_bytes()


@st.composite
def valid_blade_request(draw: st.DrawFn) -> bytes:
    req = BladeRequest()
    for name in draw(st.lists(_NAMES.filter(bool), max_size=3, unique=True)):
        shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        req.add_feed(name, np.ones(shape, np.float32))
    for fetch in draw(st.lists(_NAMES.filter(bool), max_size=2)):
        req.add_fetch(fetch, draw(st.sampled_from(list(BladeDataType))))
    return req.to_bytes()


_STR = st.text(max_size=6)
_TAGS = st.dictionaries(_STR, _STR, max_size=3)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    return Frame(
        draw(st.integers(0, 2**64 - 1)), draw(_TAGS), draw(st.binary(max_size=16)), draw(_STR)
    )


@st.composite
def valid_frame(draw: st.DrawFn) -> bytes:
    f = draw(frames())
    return encode_frame(f.index, f.tags, f.data, f.message)


@st.composite
def valid_frame_list(draw: st.DrawFn) -> bytes:
    return encode_frame_list(draw(st.lists(frames(), max_size=4)))


@st.composite
def valid_attributes(draw: st.DrawFn) -> bytes:
    return encode_attributes(draw(_TAGS))


VALID: dict[str, st.SearchStrategy[bytes]] = {
    "TFResponse": valid_tf_response(),
    "TorchResponse": valid_torch_response(),
    "BladeResponse": valid_blade_response(),
    "BladeResponse(hints)": valid_blade_response(),
    "BladeTFResponse": valid_blade_response(),
    "decode_tf_request": valid_tf_request(),
    "decode_torch_request": valid_torch_request(),
    "decode_blade_request": valid_blade_request(),
    "decode_frame": valid_frame(),
    "decode_frame_list": valid_frame_list(),
    "decode_attributes": valid_attributes(),
    "parse_attributes(protobuf)": valid_attributes(),
}


# -------------------------------------------------------------------------- mutations


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid message with one to four damages: bit flips, a truncation, bytes inserted,
    deleted or overwritten (varint-looking bytes among them, 0x80 and 0xff)."""
    data = bytearray(draw(valid))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(pos, len(data) - 1)
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(_NASTY))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif op == "overwrite":
            chunk = draw(st.sampled_from(_NASTY))
            data[pos : pos + len(chunk)] = chunk
    return bytes(data)


#: Byte runs that mean something to a protobuf reader: unfinished and maximal varints,
#: groups, wire types 6 and 7, field number 0, huge lengths.
_NASTY = [
    b"\x80",
    b"\xff" * 9 + b"\x01",
    b"\xff" * 11,
    b"\x0b",  # field 1, start group
    b"\x0e",  # field 1, wire type 6
    b"\x07",  # field 0, wire type 7
    b"\x00",
    b"\x0a\xff\xff\xff\xff\x0f",  # field 1, 2**32 - 1 bytes
    b"\x12\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # field 2, 2**63 bytes
]


# ------------------------------------------------------------------ grammar messages


def _key(field: int, wire: int) -> bytes:
    return encode_varint((field << 3) | wire)


@st.composite
def _field(draw: st.DrawFn, inner: st.SearchStrategy[bytes]) -> bytes:
    field = draw(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 100]) | st.integers(0, 2**29))
    wire = draw(st.sampled_from([VARINT, LEN, LEN, LEN, I32, I64]) | st.integers(0, 7))
    if wire == LEN:
        payload = draw(inner | st.binary(max_size=24))
        lie = draw(st.sampled_from([0, 0, 0, 1, -1, 2**31, 2**62]))
        return _key(field, wire) + encode_varint(max(0, len(payload) + lie)) + payload
    if wire == VARINT:
        return _key(field, wire) + encode_varint(
            draw(st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**63, 2**64 - 1]))
        )
    if wire == I32:
        return _key(field, wire) + draw(st.binary(min_size=0, max_size=4))
    if wire == I64:
        return _key(field, wire) + draw(st.binary(min_size=0, max_size=8))
    return _key(field, wire) + draw(st.binary(max_size=4))


def _message(inner: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.lists(_field(inner), max_size=5).map(b"".join)


#: Messages nested a few levels deep, any field number with any wire type, lengths that
#: may lie: reaches the inner decoders (array, shape, map entry) with hostile content.
GRAMMAR = st.recursive(st.just(b""), _message, max_leaves=12)


# ------------------------------------------------------------------ hand-made inputs


def _ld(field: int, payload: bytes) -> bytes:
    return tag(field, LEN) + encode_varint(len(payload)) + payload


def _vi(field: int, value: int) -> bytes:
    return tag(field, VARINT) + encode_varint(value)


def _tf_output(array_proto: bytes, name: bytes = b"y") -> bytes:
    return _ld(1, _ld(1, name) + _ld(2, array_proto))


def _shape(*dims: int) -> bytes:
    return _ld(2, _ld(1, b"".join(encode_varint(d) for d in dims)))


def _blade_output(body: bytes) -> bytes:
    return _ld(1, _ld(2, b"y") + _vi(3, 1) + body)


def _nested(depth: int) -> bytes:
    msg = b""
    for _ in range(depth):
        msg = _ld(1, msg)
    return msg


_DEEP = _nested(3_000)

MALICIOUS: dict[str, bytes] = {
    "length 2**60 past the end": _key(1, LEN) + encode_varint(2**60) + b"x",
    "length one past the end": _ld(1, b"abc")[:-1],
    "shape of 2**40 elements, two values": _tf_output(_vi(1, 1) + _shape(2**40) + _ld(3, bytes(8))),
    "shape of 2**63 - 1 elements": _tf_output(_vi(1, 2) + _shape(2**63 - 1)),
    "shape of 70 dimensions": _tf_output(_vi(1, 1) + _shape(*[1] * 70) + _ld(3, bytes(4))),
    "5,000 dimensions of 2**62": _tf_output(_vi(1, 1) + _shape(*[2**62] * 5_000)),
    "zero next to dimensions of 2**62": _tf_output(_vi(1, 1) + _shape(0, 2**62, 2**62)),
    "negative dimension": _tf_output(_vi(1, 1) + _shape(2**64 - 1)),
    "dims as fixed64": _tf_output(_vi(1, 1) + _ld(2, _key(1, I64) + bytes(8))),
    "huge dtype code": _tf_output(_vi(1, 2**64 - 1)),
    "dtype without a field": _tf_output(_vi(1, 8) + _ld(3, bytes(8))),
    "floats not a multiple of 4": _tf_output(_vi(1, 1) + _ld(3, bytes(7))),
    "string element as varint": _tf_output(_vi(1, 7) + _vi(6, 1)),
    "int8 out of range": _tf_output(_vi(1, 6) + _ld(5, encode_varint(300))),
    "ten-byte varints": _tf_output(_vi(1, 9) + _ld(7, b"\xff" * 9 + b"\x01")),
    "eleven-byte varint": b"\xff" * 10 + b"\x01",
    "packed varint cut short": _tf_output(_vi(1, 9) + _ld(7, b"\x81\x81")),
    "10,000 unpacked int64 values": _tf_output(_vi(1, 9) + _shape(10_000) + _vi(7, 1) * 10_000),
    "5,000 unpacked floats": _tf_output(
        _vi(1, 1) + _shape(5_000) + (_key(3, I32) + bytes(4)) * 5_000
    ),
    "10,000 empty strings": _tf_output(_vi(1, 7) + _shape(10_000) + _ld(6, b"") * 10_000),
    "10,000 empty outputs": _ld(1, b"") * 10_000,
    "3,000 nested messages": _DEEP,
    "map entry key as varint": _ld(1, _vi(1, 5) + _ld(2, b"")),
    "map value as fixed32": _ld(1, _ld(1, b"k") + _key(2, I32) + bytes(4)),
    "blade batch missing": _ld(1, _ld(2, b"y")),
    "blade 70 dimensions": _blade_output(_ld(4, _ld(1, b"\x01" * 70)) + _ld(5, bytes(4))),
    "blade two value fields": _blade_output(_ld(5, bytes(4)) + _ld(6, b"\x01")),
    "blade name not UTF-8": _ld(1, _ld(2, b"\xff\xfe") + _vi(3, 1)),
    "blade output type 2**63": _ld(3, _vi(3, 2**63)),
    "torch output filter 20,000 long": _ld(2, b"\x01" * 20_000),
    "frame tags entry as varint": _vi(1, 5) + _vi(2, 7),
    "frame tag key as fixed64": _ld(2, _key(1, I64) + bytes(8)),
    "frame index as bytes": _ld(1, b"12"),
    "frame message not UTF-8": _ld(4, b"\xc3\x28"),
    "10,000 empty frames": _ld(1, b"") * 10_000,
    "5,000 distinct attributes": b"".join(_ld(1, _ld(1, str(i).encode())) for i in range(5_000)),
    "start group": b"\x0b\x0c",
    "wire type 7": b"\x0f",
    "field number 0": b"\x02\x00",
}


# ------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", list(DECODERS))
@FUZZ
@given(data=st.binary(max_size=512))
def test_random_bytes_raise_only_decode_error(name: str, data: bytes) -> None:
    decode_measured(name, data)


@pytest.mark.parametrize("name", list(DECODERS))
@FUZZ
@given(data=st.data())
def test_damaged_valid_messages_raise_only_decode_error(name: str, data: st.DataObject) -> None:
    decode_measured(name, data.draw(mutated(VALID[name])))


@pytest.mark.parametrize("name", list(DECODERS))
@FUZZ
@given(data=GRAMMAR)
def test_messages_with_lying_fields_raise_only_decode_error(name: str, data: bytes) -> None:
    decode_measured(name, data)


@pytest.mark.parametrize("name", list(DECODERS))
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_valid_messages_decode(name: str, data: st.DataObject) -> None:
    """The generators make what the decoders accept: the damage above starts from valid."""
    assert decode_measured(name, data.draw(VALID[name])) == "ok"


@pytest.mark.parametrize("case", list(MALICIOUS))
@pytest.mark.parametrize("name", list(DECODERS))
def test_malicious_messages_are_refused_cheaply(name: str, case: str) -> None:
    decode_measured(name, MALICIOUS[case])


def test_a_declared_length_past_the_end_is_an_error_not_an_allocation() -> None:
    for name in ("TFResponse", "decode_frame_list", "decode_attributes"):
        assert decode_measured(name, MALICIOUS["length 2**60 past the end"]) == "DecodeError"
    assert decode_measured("TFResponse", MALICIOUS["shape of 2**40 elements, two values"]) == (
        "DecodeError"
    )
    with pytest.raises(DecodeError, match="needs 1099511627776 values but 2 came"):
        TFResponse(MALICIOUS["shape of 2**40 elements, two values"])
    with pytest.raises(DecodeError, match="more than"):
        TFResponse(MALICIOUS["shape of 70 dimensions"])
    with pytest.raises(DecodeError, match="too large"):
        TFResponse(MALICIOUS["zero next to dimensions of 2**62"])
