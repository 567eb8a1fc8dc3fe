"""The plain paths (``aioeas.codecs.plain``) against the general reader and writer.

Each function in ``plain`` either declines (``None``) or gives exactly what the general
path gives, and it must not decline the layouts it exists for (else the hot path is lost
without a test failing). Three kinds of check: requests of every dtype and memory layout
(C, Fortran, strided, reversed, big-endian, 0-d, 0-sized) are byte-identical to protobuf's
serialization; plain bodies read the same by both paths, as views of the body; damaged
bodies are either declined by the plain reader or read by it exactly as the general reader
reads them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aioeas import DataType, DecodeError, TFRequest, TFResponse, TorchRequest, TorchResponse
from aioeas._proto import pytorch_predict_pb2 as torch_pb
from aioeas._proto import tf_predict_pb2 as tf_pb
from aioeas.codecs import plain
from aioeas.codecs.arrays import (
    MAX_DIMS,
    NO_VALUES,
    TF_FIELDS,
    decode_array_proto,
    write_array_proto,
)
from aioeas.codecs.convert import prepare
from aioeas.codecs.wire import LEN, iter_fields, map_entry, utf8
from aioeas.requests import served
from tests.unit import (
    NUMERIC,
    PROPERTY,
    assert_same_tensor,
    fill_proto,
    ld,
    packed_varints,
    varint,
    vi,
)

# ------------------------------------------------------------------ strategies

#: Every dtype a user may hand over, in both byte orders where there is one.
DTYPES = [d.str for d in NUMERIC] + [d.newbyteorder(">").str for d in NUMERIC if d.itemsize > 1]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


@st.composite
def laid_out(draw: st.DrawFn, dtypes: list[str] = DTYPES) -> np.ndarray[Any, Any]:
    """An array of any dtype, in any memory layout a caller can produce (no NaN: protobuf's
    Python floats quiet signalling NaNs, and the bytes are compared with protobuf's)."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = draw(SHAPES)
    elements = hnp.from_dtype(dtype, allow_nan=False) if dtype.kind == "f" else None
    base = draw(hnp.arrays(dtype, shape, elements=elements))
    layout = draw(st.sampled_from(["C", "F", "strided", "reversed"]))
    if layout == "F":
        return np.asfortranarray(base)
    if layout == "strided" and base.ndim:
        wide = np.zeros((*base.shape[:-1], base.shape[-1] * 2), dtype)
        wide[..., ::2] = base
        return wide[..., ::2]
    if layout == "reversed" and base.ndim:
        return base[::-1].copy()[::-1]
    return base


def floats(dtype: str) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    """C-contiguous float arrays with at least one value, any bits (NaN payloads too)."""
    return hnp.arrays(
        np.dtype(dtype),
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5),
        elements=hnp.from_dtype(np.dtype(dtype)),
    )


def is_plain(arr: np.ndarray[Any, Any]) -> bool:
    return arr.flags.c_contiguous and arr.dtype.str in ("<f4", "<f8")


# ------------------------------------------------------------------ the general reader


def general_entries(body: bytes, field: int = 1) -> dict[str, tuple[DataType, np.ndarray]]:
    """A ``map<string, ArrayProto>`` read field by field, with no plain path."""
    buf = memoryview(body)
    out: dict[str, tuple[DataType, np.ndarray]] = {}
    for f, wire, a, b in iter_fields(buf, 0, len(buf), "test"):
        if f != field:
            continue
        if wire != LEN:
            raise DecodeError("test", "wire type")
        key, value = "", (DataType.DT_INVALID, NO_VALUES)
        for ef, ewire, x, y in iter_fields(buf, a, b, "test"):
            if ef == 1 and ewire == LEN:
                key = utf8(buf, x, y, "test")
            elif ef == 2 and ewire == LEN:
                value = decode_array_proto(buf, x, y, TF_FIELDS, "test")
        out[key] = value
    return out


def same(got: tuple[DataType, np.ndarray], want: tuple[DataType, np.ndarray]) -> None:
    assert got[0] == want[0]
    assert_same_tensor(got[1], want[1])


def is_view_of(arr: np.ndarray, body: bytes) -> bool:
    return np.shares_memory(arr, np.frombuffer(body, np.uint8))


def fill(proto: Any, arr: np.ndarray) -> None:
    """``fill_proto``, with the shape set even for a 0-d array, as the official client sends it."""
    fill_proto(proto, arr, NUMERIC[arr.dtype.newbyteorder("=")])
    proto.array_shape.SetInParent()


def tf_response(arr: np.ndarray, name: str = "y") -> bytes:
    resp = tf_pb.PredictResponse()
    fill(resp.outputs[name], arr)
    return resp.SerializeToString()


# ------------------------------------------------------------------ writing


@PROPERTY
@given(laid_out())
def test_requests_of_any_layout_are_protobufs_bytes(arr: np.ndarray) -> None:
    want = tf_pb.PredictRequest(signature_name="sig")
    fill(want.inputs["x"], arr)
    assert TFRequest("sig").add_feed("x", arr).to_bytes() == want.SerializeToString()

    if arr.dtype.kind != "b":  # the PyTorch schema has no bool field
        torch = torch_pb.PredictRequest()
        fill(torch.inputs.add(), arr)
        fill(torch.map_inputs["m"], arr)
        got = TorchRequest().add_feed(0, arr).add_feed_map("m", arr).to_bytes()
        assert got == torch.SerializeToString()

    # served bodies: TF response and PyTorch response, the same bytes as protobuf's
    assert served.encode_tf_response({"y": arr}) == tf_response(arr)


@PROPERTY
@given(laid_out())
def test_the_plain_writers_take_exactly_plain_arrays_and_agree(arr: np.ndarray) -> None:
    pieces = plain.write_plain_entry(2, "x", arr)
    array = plain.write_plain_array(arr)
    assert (pieces is not None) == is_plain(arr) == (array is not None)
    general = write_array_proto(prepare(arr))
    if array is not None:
        assert array.size == general.size
        assert b"".join(array.parts) == b"".join(general.parts)
    if pieces is not None:
        assert b"".join(pieces) == b"".join(map_entry(2, "x", general).parts)
        # the tensor is a view of the caller's array, copied once when the body is joined
        assert len(pieces) == 2
        assert arr.size == 0 or np.shares_memory(np.asarray(pieces[1]), arr)


def test_the_plain_writers_decline_what_prepare_must_check() -> None:
    decline = [
        [1.0, 2.0],  # a list
        np.float32(1.0),  # a numpy scalar, not an array
        np.ma.masked_array(np.ones(3, np.float32)),  # a subclass
        np.ones(3, ">f4"),
        np.ones((2, 3), np.float32, order="F"),
        np.ones((2, 6), np.float32)[:, ::2],
        np.ones(3, np.float16),
        np.ones(3, np.int32),
    ]
    for data in decline:
        assert plain.write_plain_array(data) is None
        assert plain.write_plain_entry(1, "y", data) is None
    column = np.ones((3, 1), np.float32)  # Fortran- and C-contiguous at once
    assert plain.write_plain_array(column) is not None


# ------------------------------------------------------------------ reading


@PROPERTY
@given(st.sampled_from(["<f4", "<f8"]).flatmap(floats), st.text(min_size=1, max_size=8))
def test_plain_bodies_take_the_plain_path_as_views(arr: np.ndarray, name: str) -> None:
    for body in (served.encode_tf_response({name: arr}), tf_response(arr.copy(), name)):
        # protobuf writes every float bit as it is but quiets signalling NaNs: compare
        # against what the body holds, read by the general reader
        want = general_entries(body)[name]
        sole = plain.read_sole_entry(memoryview(body), 0x0A)
        assert sole is not None
        assert sole[0] == name
        same(sole[1], want)
        assert is_view_of(sole[1][1], body)
        assert not sole[1][1].flags.writeable
        got = TFResponse(body)
        same((got.dtype(name), got[name]), want)
        assert is_view_of(got[name], body)
        # the same array inside an entry that is not alone: split, then the array
        two = body + served.encode_tf_response({name + "2": arr})
        buf = memoryview(two)
        assert plain.read_sole_entry(buf, 0x0A) is None
        (_, _, a, b), _ = list(iter_fields(buf, 0, len(buf), "test"))
        split = plain.split_plain_entry(buf, a, b)
        assert split is not None
        key_end, start = split
        assert str(buf[a + 2 : key_end], "utf-8") == name
        array = plain.read_plain_array(buf, start, b)
        assert array is not None
        same(array, want)
        assert is_view_of(array[1], two)
        both = TFResponse(two)
        assert list(both) == [name, name + "2"]
        same((both.dtype(name), both[name]), want)


@PROPERTY
@given(laid_out())
def test_every_body_reads_the_same_both_ways(arr: np.ndarray) -> None:
    body = tf_response(arr)
    want = general_entries(body)["y"]
    assert_same_tensor(want[1], arr)
    sole = plain.read_sole_entry(memoryview(body), 0x0A)
    assert (sole is not None) == (arr.dtype.kind == "f" and arr.size > 0)
    same(TFResponse(body)._get("y"), want)
    if arr.dtype.kind != "b":
        torch = TorchResponse(served.encode_torch_response([arr], {"m": arr}))
        same((torch.dtype(0), torch[0]), want)
        same((torch.dtype("m"), torch["m"]), want)


def _damage(body: bytes, data: st.DataObject) -> bytes:
    how = data.draw(st.sampled_from(["set", "insert", "delete", "cut"]))
    at = data.draw(st.integers(0, len(body) - 1))
    if how == "cut":
        return body[:at]
    if how == "delete":
        return body[:at] + body[at + 1 :]
    byte = bytes([data.draw(st.integers(0, 255))])
    if how == "insert":
        return body[:at] + byte + body[at:]
    return body[:at] + byte + body[at + 1 :]


@PROPERTY
@given(st.sampled_from(["<f4", "<f8"]).flatmap(floats), st.data())
def test_damaged_bodies_are_declined_or_read_as_the_general_reader_reads_them(
    arr: np.ndarray, data: st.DataObject
) -> None:
    arr = arr.reshape(-1)[:6].reshape(data.draw(st.sampled_from([(-1,), (1, -1)])))
    body = served.encode_tf_response({"y": arr})
    for _ in range(8):  # most damage hits the header: it is most of a small body
        damaged = _damage(body, data)
        try:
            want: dict[str, tuple[DataType, np.ndarray]] | None = general_entries(damaged)
        except DecodeError:
            want = None
        buf = memoryview(damaged)
        sole = plain.read_sole_entry(buf, 0x0A)
        if sole is not None:
            assert want is not None
            assert list(want) == [sole[0]]
            same(sole[1], want[sole[0]])
        # each entry alone, and its array alone, against the walk and decode_array_proto
        try:
            top = list(iter_fields(buf, 0, len(buf), "test"))
        except DecodeError:
            top = []
        for _, wire, a, b in top:
            split = plain.split_plain_entry(buf, a, b) if wire == LEN else None
            if split is None:
                continue
            fields = list(iter_fields(buf, a, b, "test"))
            assert fields == [(1, LEN, a + 2, split[0]), (2, LEN, split[1], b)]
            array = plain.read_plain_array(buf, split[1], b)
            if array is not None:
                same(array, decode_array_proto(buf, split[1], b, TF_FIELDS, "test"))
        if want is not None:  # the public reader agrees with the general one
            got = TFResponse(damaged)
            assert list(got) == list(want)
            for key in want:
                same((got.dtype(key), got[key]), want[key])
        else:
            with pytest.raises(DecodeError):
                TFResponse(damaged)


# ------------------------------------------------------------------ what the readers decline

F32 = np.arange(6, dtype=np.float32)
ARRAY = vi(1, 1) + ld(2, ld(1, packed_varints([2, 3]))) + ld(3, F32.tobytes())


def test_the_plain_array_layout_itself() -> None:
    buf = memoryview(ARRAY)
    got = plain.read_plain_array(buf, 0, len(buf))
    assert got is not None
    assert got[0] == DataType.DT_FLOAT
    assert got[1].shape == (2, 3)
    assert got[1].tolist() == F32.reshape(2, 3).tolist()
    # a scalar (an empty shape message), doubles, dimensions of several bytes
    for array, shape, dtype in [
        (vi(1, 1) + ld(2, b"") + ld(3, F32[:1].tobytes()), (), DataType.DT_FLOAT),
        (vi(1, 2) + ld(2, b"") + ld(4, np.ones(1).tobytes()), (), DataType.DT_DOUBLE),
        (
            vi(1, 1) + ld(2, ld(1, packed_varints([1, 300, 1]))) + ld(3, bytes(1200)),
            (1, 300, 1),
            DataType.DT_FLOAT,
        ),
    ]:
        got = plain.read_plain_array(memoryview(array), 0, len(array))
        assert got is not None
        assert got[0] == dtype
        assert got[1].shape == shape
    # as many dimensions as numpy takes
    most = vi(1, 1) + ld(2, ld(1, bytes([1] * MAX_DIMS))) + ld(3, F32[:1].tobytes())
    got = plain.read_plain_array(memoryview(most), 0, len(most))
    assert got is not None
    assert got[1].shape == (1,) * MAX_DIMS
    # the array inside a larger buffer: offsets count from the buffer's start
    padded = memoryview(b"\xff" * 3 + ARRAY + b"\xff")
    got = plain.read_plain_array(padded, 3, 3 + len(ARRAY))
    assert got is not None
    assert got[1].tolist() == F32.reshape(2, 3).tolist()


DIMS = ld(2, ld(1, packed_varints([2, 3])))
VALUES = ld(3, F32.tobytes())


@pytest.mark.parametrize(
    ("case", "array"),
    [
        ("no dtype", DIMS + VALUES),
        ("int32", vi(1, 3) + DIMS + ld(5, packed_varints(list(range(6))))),
        ("dtype code of two bytes", b"\x08\x81\x00" + DIMS + VALUES),
        ("shape before dtype", DIMS + vi(1, 1) + VALUES),
        ("unpacked dims", vi(1, 1) + ld(2, vi(1, 2) + vi(1, 3)) + VALUES),
        ("dims in two runs", vi(1, 1) + ld(2, ld(1, varint(2)) + ld(1, varint(3))) + VALUES),
        ("unknown field in shape", vi(1, 1) + ld(2, ld(1, varint(6)) + vi(9, 1)) + VALUES),
        ("a dimension of 0", vi(1, 1) + ld(2, ld(1, packed_varints([0, 6]))) + ld(3, b"")),
        ("no values", vi(1, 1) + ld(2, ld(1, packed_varints([0])))),
        ("double field for float", vi(1, 1) + DIMS + ld(4, F32.tobytes())),
        ("too few values", vi(1, 1) + DIMS + ld(3, F32[:5].tobytes())),
        ("too many values", vi(1, 1) + DIMS + ld(3, F32.tobytes() + F32[:1].tobytes())),
        (
            "values in two runs",
            vi(1, 1) + DIMS + ld(3, F32[:3].tobytes()) + ld(3, F32[3:].tobytes()),
        ),
        ("trailing field", vi(1, 1) + DIMS + VALUES + vi(1, 1)),
        ("padded value length", vi(1, 1) + DIMS + b"\x1a\x98\x80\x00" + F32.tobytes()),
        ("negative dimension", vi(1, 1) + ld(2, ld(1, packed_varints([-1]))) + VALUES),
        (
            "too many dimensions",
            vi(1, 1) + ld(2, ld(1, bytes([1] * (MAX_DIMS + 1)))) + ld(3, F32[:1].tobytes()),
        ),
        (
            "shape length of two bytes",  # read as one byte, it would frame 64 dims of 1
            b"\x08\x01\x12\x82\x0a\x80" + b"\x81\x00" * 64 + ld(3, F32[:1].tobytes()),
        ),
        ("unknown field 2 in the shape", vi(1, 1) + ld(2, ld(2, packed_varints([2, 3]))) + VALUES),
        ("shape message of one byte", vi(1, 1) + ld(2, b"\x0a") + VALUES),
        ("dims length that lies", vi(1, 1) + ld(2, b"\x0a\x05\x02\x03") + VALUES),
        ("dimension cut short", vi(1, 1) + ld(2, ld(1, b"\x02\x83")) + ld(3, F32[:2].tobytes())),
        ("dimension of 2**64 - 1", vi(1, 1) + ld(2, ld(1, packed_varints([-1]))) + VALUES),
        (
            "dimensions whose product wraps around 2**64",
            vi(1, 1) + ld(2, ld(1, packed_varints([2**32, 2**32, 6]))) + VALUES,
        ),
        (
            "shape length of two bytes, the first 0x80",
            b"\x08\x01\x12\x80\x0a\x7e" + b"\x81\x00" * 63 + ld(3, F32[:1].tobytes()),
        ),
        ("shape in another field", vi(1, 1) + ld(5, ld(1, packed_varints([2, 3]))) + VALUES),
        ("three bytes", b"\x08\x01\x12"),
        ("an empty run of dims", vi(1, 1) + ld(2, ld(1, b"")) + ld(3, F32[:1].tobytes())),
        ("a dimension in two bytes", vi(1, 1) + ld(2, ld(1, b"\x86\x00")) + VALUES),
    ],
)
def test_other_array_layouts_are_declined(case: str, array: bytes) -> None:
    buf = memoryview(array)
    assert plain.read_plain_array(buf, 0, len(buf)) is None, case
    body = ld(1, ld(1, b"y") + ld(2, array))
    assert plain.read_sole_entry(memoryview(body), 0x0A) is None, case
    try:
        want = general_entries(body)["y"]
    except DecodeError:
        # the error says what was read (a packed dimension cut short says "varint": the
        # general reader's _read_dims does not rename read_varint's error)
        with pytest.raises(DecodeError, match=r"TFResponse|varint"):
            TFResponse(body)
        with pytest.raises(DecodeError, match=r"TorchResponse|varint"):
            TorchResponse(ld(1, array))
        return
    same(TFResponse(body)._get("y"), want)


def test_the_dims_of_a_declined_layout_are_still_read() -> None:
    # [2, 3] unpacked: the general reader's answer, not the plain one's
    body = ld(1, ld(1, b"y") + ld(2, vi(1, 1) + ld(2, vi(1, 2) + vi(1, 3)) + VALUES))
    assert TFResponse(body)["y"].shape == (2, 3)


ENTRY = ld(1, b"y") + ld(2, ARRAY)


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("another field", ld(2, ENTRY)),
        ("two entries", ld(1, ENTRY) + ld(1, ENTRY)),
        ("a field after the entry", ld(1, ENTRY) + vi(9, 1)),
        ("value before key", ld(1, ld(2, ARRAY) + ld(1, b"y"))),
        ("no key", ld(1, ld(2, ARRAY))),
        ("key of 128 bytes", ld(1, ld(1, b"k" * 128) + ld(2, ARRAY))),
        ("key not UTF-8", ld(1, ld(1, b"\xff") + ld(2, ARRAY))),
        ("entry length that lies", b"\x0a" + varint(len(ENTRY) + 1) + ENTRY),
        ("entry length short", b"\x0a" + varint(len(ENTRY) - 1) + ENTRY),
        ("padded entry length", b"\x0a" + varint(len(ENTRY))[:-1] + b"\x80\x80\x00" + ENTRY),
        ("value length that lies", ld(1, ld(1, b"y") + b"\x12" + varint(len(ARRAY) - 1) + ARRAY)),
        ("a field in the entry", ld(1, ENTRY + vi(3, 1))),
        ("empty", b""),
        ("cut short", ld(1, ENTRY)[:12]),
    ],
)
def test_other_entry_layouts_are_declined(case: str, body: bytes) -> None:
    buf = memoryview(body)
    assert plain.read_sole_entry(buf, 0x0A) is None, case
    try:
        want = general_entries(body)
    except DecodeError:
        with pytest.raises(DecodeError):
            TFResponse(body)
        return
    got = TFResponse(body)
    assert list(got) == list(want)
    for key in want:
        same((got.dtype(key), got[key]), want[key])


def test_split_plain_entry_declines_other_entries() -> None:
    for entry in [
        ld(2, ARRAY) + ld(1, b"y"),
        ld(1, b"y") + ld(2, ARRAY) + vi(3, 1),
        # a key of 128 bytes: its length takes two bytes (80 01); read as one, the key
        # would end at its last byte (12), which would frame 18 bytes up to the end
        ld(1, b"k" * 127 + b"\x12") + ld(2, bytes(17)),
        ld(1, b"y") + b"\x12" + varint(len(ARRAY) + 1) + ARRAY,
        ld(1, b"y") + b"\x12",
        ld(1, b"y") + vi(2, 1),
        b"\x0a\x01",
        ld(1, b"y") + b"\x12\x80",
    ]:
        assert plain.split_plain_entry(memoryview(entry), 0, len(entry)) is None, entry
    for entry in [b"\x0a", b"\x0a\x01y\x12"]:  # cut short at the end of the buffer
        assert plain.split_plain_entry(memoryview(entry), 0, len(entry)) is None
    longer = ld(1, b"y") + b"\x12" + varint(len(ARRAY) + 1) + ARRAY + b"\x01"
    inside = memoryview(longer)  # the value's length says more than the entry holds
    assert plain.split_plain_entry(inside, 0, len(inside) - 1) is None
    for key, array in [(b"", b""), (b"y", ARRAY), (b"k" * 127, ARRAY * 3)]:
        entry = ld(1, key) + ld(2, array)
        got = plain.split_plain_entry(memoryview(entry), 0, len(entry))
        assert got == (2 + len(key), len(entry) - len(array))


def test_a_request_with_one_input_and_no_signature_reads_plainly() -> None:
    arr = np.arange(12, dtype=np.float64).reshape(3, 4)
    body = TFRequest().add_feed("x", arr).to_bytes()
    sole = plain.read_sole_entry(memoryview(body), 0x12)
    assert sole is not None
    assert sole[0] == "x"
    got = served.decode_tf_request(body)
    assert_same_tensor(got.inputs["x"], arr)
    assert got.dtypes == {"x": DataType.DT_DOUBLE}


def test_shapes_the_cache_has_not_seen_still_read() -> None:
    # distinct shapes and names, more than a handful: each read right, none from another's entry
    for n in range(1, 40):
        arr = np.full((n, 2), n, np.float32)
        name = f"out{n}"
        resp = TFResponse(served.encode_tf_response({name: arr}))
        assert list(resp) == [name]
        assert resp[name].shape == (n, 2)
        assert float(resp[name][0, 0]) == n
        assert math.prod(resp.get_tensor_shape(name)) == 2 * n


def test_plain_bodies_never_walk_their_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path is taken: a plain body read without the general reader."""
    from aioeas.requests import tf, torch

    def walk(*args: object) -> None:
        raise AssertionError("the general reader was used")

    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    one = served.encode_tf_response({"y": arr})
    two = served.encode_tf_response({"y": arr, "z": arr[0]})
    torch_body = served.encode_torch_response([arr, arr], {"m": arr})
    monkeypatch.setattr(plain, "decode_array_proto", walk)
    walks: list[int] = []

    def count_walks(buf: memoryview, a: int, b: int, what: str) -> Any:
        walks.append(a)
        return iter_fields(buf, a, b, what)

    monkeypatch.setattr(tf, "iter_fields", count_walks)
    assert TFResponse(two)["z"].tolist() == arr[0].tolist()
    assert walks == [0]  # the body's fields, not each entry's
    got = TorchResponse(torch_body)
    assert got[1].shape == got["m"].shape == (3, 4)
    monkeypatch.setattr(tf, "iter_fields", walk)
    assert TFResponse(one)["y"].tolist() == arr.tolist()
    # and a plain request is built without prepare's checks and conversions
    monkeypatch.setattr(tf, "prepare", walk)
    monkeypatch.setattr(torch, "prepare", walk)
    want = tf_pb.PredictRequest()
    fill(want.inputs["x"], arr)
    assert TFRequest().add_feed("x", arr).to_bytes() == want.SerializeToString()
    torch_want = torch_pb.PredictRequest()
    fill(torch_want.inputs.add(), arr)
    fill(torch_want.map_inputs["m"], arr)
    got_torch = TorchRequest().add_feed(0, arr).add_feed_map("m", arr).to_bytes()
    assert got_torch == torch_want.SerializeToString()


def test_writer_sizes_count_the_bytes_they_join() -> None:
    """A Writer's size is what a parent message's length prefix is made of."""
    for arr in (np.ones((2, 3), np.float32), np.ones(0), np.arange(5), np.array(["a", "bc"])):
        array = write_array_proto(prepare(arr))
        entry = map_entry(2, "x", array)
        for w in (array, entry):
            assert w.size == len(b"".join(w.parts))
    plain_array = plain.write_plain_array(np.ones((4, 4)))
    assert plain_array is not None
    assert plain_array.size == len(b"".join(plain_array.parts)) > 128


class _CountingBuffer:
    """A body that counts the bytes read from it one by one."""

    def __init__(self, data: bytes) -> None:
        self.data, self.reads = memoryview(data), 0

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, int):
            self.reads += 1
        return self.data[i]

    def __len__(self) -> int:
        return len(self.data)


@pytest.mark.parametrize("skip", [0, 1, 2])
def test_skipping_to_the_values_reads_a_few_bytes_whatever_the_body(skip: int) -> None:
    # a body laid out otherwise, where each skip in turn lands on a long run of bytes
    # >= 0x80 (values of -NaN, say): the skip stops at a varint's 10 bytes
    run = b"\xff" * 100_000
    bodies = [
        b"\x0a" + run,
        b"\x0a\x05\x0a\x01y\x12" + run,
        b"\x0a\x05\x0a\x01y\x12\x05\x08\x01\x12\x00\x1a" + run,
    ]
    buf = _CountingBuffer(bodies[skip])
    assert plain.read_sole_entry(buf, 0x0A) is None  # type: ignore[arg-type]
    assert buf.reads < 50


def test_other_dtypes_are_declined_before_any_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """An integer or string answer costs the plain reader a glance, not a cache lookup."""

    def lookup(*args: object) -> None:
        raise AssertionError("looked up")

    monkeypatch.setattr(plain, "_sole_layout", lookup)
    monkeypatch.setattr(plain, "_layout", lookup)
    for arr in (np.arange(6, dtype=np.int32).reshape(2, 3), np.array([b"a", b"bc"], dtype=object)):
        one = served.encode_tf_response({"y": arr})
        assert plain.read_sole_entry(memoryview(one), 0x0A) is None
        two = served.encode_tf_response({"y": arr, "z": arr})
        assert list(TFResponse(two)) == ["y", "z"]
        assert_same_tensor(TFResponse(one)["y"], arr)


def test_lengths_with_a_byte_of_0x80_still_read_plainly() -> None:
    """A length of 128 * k is a varint whose first byte is 0x80 (a continuation byte with
    no bits): each length of a plain body can be one, and the body still reads plainly."""
    found: dict[str, bytes] = {}
    for n in range(32, 200):
        for name, ones in (("y", 0), ("yy", 1), ("yyy", 2), ("yyyy", 3)):
            # leading dimensions of 1 move the array's header by a byte each
            body = served.encode_tf_response({name: np.ones((1,) * ones + (n,), np.float32)})
            buf = memoryview(body)
            ((_, _, a, b),) = list(iter_fields(buf, 0, len(buf), "t"))
            (_, (_, _, x, y)) = list(iter_fields(buf, a, b, "t"))
            for which, size in (("entry", b - a), ("value", y - x), ("values", 4 * n)):
                if size % 128 == 0:
                    found.setdefault(which, body)
    assert sorted(found) == ["entry", "value", "values"]
    for which, body in found.items():
        sole = plain.read_sole_entry(memoryview(body), 0x0A)
        assert sole is not None, which
        assert sole[1][1].reshape(-1).tolist() == [1.0] * sole[1][1].size
