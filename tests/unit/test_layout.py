"""Memory layout: byte order, strides and order on the way in; zero-copy views on the way out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aioeas import BladeRequest, DataType, TFRequest, TFResponse, TorchRequest, TorchResponse
from aioeas._proto import tf_predict_pb2 as tf_pb
from aioeas.requests import served
from tests.unit import PROPERTY, assert_same_tensor


def tf_round_trip(arr: Any, dtype: DataType | None = None) -> np.ndarray:
    return served.decode_tf_request(TFRequest().add_feed("x", arr, dtype).to_bytes()).inputs["x"]


SPECIAL_F = [1.5, -0.0, np.inf, -np.inf, np.nan, 3.4e38, 1e-45]


@pytest.mark.parametrize(
    "arr",
    [
        np.array(SPECIAL_F, dtype=">f4"),
        np.array(SPECIAL_F, dtype=">f8"),
        np.array([-(2**63), -1, 0, 2**63 - 1], dtype=">i8"),
        np.array([-(2**31), 2**31 - 1], dtype=">i4"),
        np.array([-(2**15), 2**15 - 1], dtype=">i2"),
        np.array([0, 65535], dtype=">u2"),
    ],
    ids=lambda a: a.dtype.str,
)
def test_big_endian_arrays(arr: np.ndarray) -> None:
    native = arr.astype(arr.dtype.newbyteorder("="))
    assert_same_tensor(tf_round_trip(arr), native)
    assert_same_tensor(TFResponse(served.encode_tf_response({"y": arr}))["y"], native)
    assert_same_tensor(
        served.decode_torch_request(TorchRequest().add_feed(0, arr).to_bytes()).inputs[0], native
    )
    body = TFRequest().add_feed("x", arr).to_bytes()
    proto = tf_pb.PredictRequest.FromString(body).inputs["x"]
    if arr.dtype.kind == "f":
        # packed float_val is byte for byte the array's little-endian buffer
        assert native.astype(arr.dtype.newbyteorder("<")).tobytes() in body
        values = proto.float_val if arr.dtype.itemsize == 4 else proto.double_val
        np.testing.assert_array_equal(np.array(values, native.dtype), native)
    else:
        values = proto.int64_val if arr.dtype.itemsize == 8 else proto.int_val
        assert list(values) == native.tolist()


def test_big_endian_for_blade() -> None:
    arr = np.array([[1.25, -0.0, np.inf]], dtype=">f4")
    got = served.decode_blade_request(BladeRequest().add_feed("x", arr).to_bytes())
    assert_same_tensor(got.inputs["x"].array, arr.astype("<f4"))
    ints = np.array([[2**40, -5]], dtype=">i8")
    got = served.decode_blade_request(BladeRequest().add_feed("x", ints).to_bytes())
    assert_same_tensor(got.inputs["x"].array, ints.astype("<i8"))


def _views() -> list[tuple[str, np.ndarray]]:
    base = np.arange(60, dtype=np.float64).reshape(3, 4, 5) - 30.5
    return [
        ("every-other", base[:, :, ::2]),
        ("transpose", base.T),
        ("column", base[:, 1, :]),
        ("reversed", base[::-1, ::-1]),
        ("fortran", np.asfortranarray(base)),
        ("fortran-int", np.asfortranarray(base.astype(np.int16))),
        ("swapaxes-f32", base.astype(np.float32).swapaxes(0, 2)),
        ("strided-int64", (base * 1e15).astype(np.int64)[1:, ::3]),
        ("broadcast", np.broadcast_to(np.arange(4, dtype=np.float32), (3, 4))),
        ("big-endian-transpose", base.astype(">f4").T),
    ]


@pytest.mark.parametrize(("label", "arr"), _views(), ids=[label for label, _ in _views()])
def test_non_contiguous_arrays(label: str, arr: np.ndarray) -> None:
    assert not arr.flags.c_contiguous  # the point of each case
    before = arr.copy()
    want = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("="))
    assert_same_tensor(tf_round_trip(arr), want)
    assert_same_tensor(TFResponse(served.encode_tf_response({"y": arr}))["y"], want)
    assert_same_tensor(TorchResponse(served.encode_torch_response([arr]))[0], want)
    np.testing.assert_array_equal(arr, before)  # the input is left as it was


@PROPERTY
@given(
    hnp.arrays(
        st.sampled_from([np.dtype(t) for t in ("<f4", ">f4", "<f8", ">f8", "<i8", ">i8", "<i2")]),
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
    ),
    st.data(),
)
def test_any_strided_view_encodes_its_logical_values(arr: np.ndarray, data: st.DataObject) -> None:
    slices = tuple(slice(None, None, data.draw(st.sampled_from([1, 2, -1, -2]))) for _ in arr.shape)
    order = data.draw(st.permutations(range(arr.ndim)))
    view = arr[slices].transpose(order)
    want = np.ascontiguousarray(view).astype(view.dtype.newbyteorder("="))
    assert_same_tensor(tf_round_trip(view), want)


@pytest.mark.parametrize(
    ("value", "dtype", "code"),
    [
        (np.array(3.5, np.float32), np.float32, DataType.DT_FLOAT),
        (np.float32(-0.0), np.float32, DataType.DT_FLOAT),
        (np.array(2.5), np.float64, DataType.DT_DOUBLE),
        (np.array(-7, np.int64), np.int64, DataType.DT_INT64),
        (np.int8(-128), np.int8, DataType.DT_INT8),
        (np.array(True), np.bool_, DataType.DT_BOOL),
        (7, np.int64, DataType.DT_INT64),
        (1.5, np.float64, DataType.DT_DOUBLE),
    ],
)
def test_zero_dimensional(value: Any, dtype: type, code: DataType) -> None:
    got = served.decode_tf_request(TFRequest().add_feed("x", value).to_bytes())
    assert got.dtypes["x"] == code
    assert_same_tensor(got.inputs["x"], np.asarray(value, dtype))
    resp = TFResponse(served.encode_tf_response({"y": np.asarray(value)}))
    assert resp["y"].shape == ()
    assert resp.get_tensor_shape("y") == []
    assert_same_tensor(resp["y"], np.asarray(value, dtype))


def test_zero_dimensional_string() -> None:
    got = served.decode_tf_request(TFRequest().add_feed("x", np.array("héllo")).to_bytes())
    assert got.inputs["x"].shape == ()
    assert got.inputs["x"][()] == "héllo".encode()


def test_familiar_api_takes_content_in_c_order() -> None:
    content = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(3, 2))
    got = tf_round_trip_familiar([2, 3], DataType.DT_FLOAT, content)
    assert got.tolist() == [[0, 1, 2], [3, 4, 5]]


def tf_round_trip_familiar(shape: list[int], dtype: DataType, content: Any) -> np.ndarray:
    body = TFRequest().add_feed("x", shape, dtype, content).to_bytes()
    return served.decode_tf_request(body).inputs["x"]


def test_numpy_integers_and_float_subtypes_widen() -> None:
    assert (
        tf_round_trip_familiar([3], DataType.DT_INT64, np.array([1, 2, 3], np.int8)).dtype
        == np.int64
    )
    got = tf_round_trip_familiar([2], DataType.DT_DOUBLE, np.array([1.5, -2.5], np.float32))
    assert_same_tensor(got, np.array([1.5, -2.5], np.float64))
    got = tf_round_trip_familiar([2], DataType.DT_FLOAT, [1, 2])
    assert_same_tensor(got, np.array([1, 2], np.float32))
    got = tf_round_trip(np.array([0, 3, -1]), DataType.DT_BOOL)
    assert_same_tensor(got, np.array([False, True, True]))


# ------------------------------------------------------------------- zero-copy outputs


def _body_bytes(content: bytes) -> np.ndarray:
    return np.frombuffer(content, np.uint8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("source", [bytes, bytearray, memoryview])
def test_float_outputs_are_read_only_views_of_the_body(dtype: type, source: type) -> None:
    arr = np.linspace(-1, 1, 48, dtype=dtype).reshape(4, 12)
    body = source(served.encode_tf_response({"a": np.int8(1), "y": arr}))
    resp = TFResponse(body)
    out = resp["y"]
    assert out.dtype == np.dtype(dtype)
    assert np.shares_memory(out, _body_bytes(resp.content))
    assert not out.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        out[0, 0] = 5
    assert np.shares_memory(resp.get_values("y"), _body_bytes(resp.content))
    np.testing.assert_array_equal(out, arr)
    np.testing.assert_array_equal(out * 2, arr * 2)  # usable for arithmetic though unaligned


def test_torch_and_blade_float_outputs_are_views() -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    torch = TorchResponse(served.encode_torch_response([arr], {"m": arr.astype(np.float64)}))
    for out in (torch[0], torch["m"]):
        assert np.shares_memory(out, _body_bytes(torch.content))
        assert not out.flags.writeable
    blade = BladeRequest().parse_response(served.encode_blade_response({"y": arr}))
    assert np.shares_memory(blade["y"], _body_bytes(blade.content))
    assert not blade["y"].flags.writeable


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.array([1, -2], np.int8), np.int8),
        (np.array([1, 2], np.uint8), np.uint8),
        (np.array([-300, 2], np.int16), np.int16),
        (np.array([65535], np.uint16), np.uint16),
        (np.array([-(2**31)], np.int32), np.int32),
        (np.array([2**62], np.int64), np.int64),
        (np.array([True, False]), np.bool_),
        ((DataType.DT_QINT8, np.array([-1], np.int8)), np.int8),
        ((DataType.DT_QUINT16, np.array([9], np.uint16)), np.uint16),
        ((DataType.DT_INT8, np.array([1, 2])), np.int8),
    ],
)
def test_integer_outputs_have_their_dtype(value: Any, expected: type) -> None:
    out = TFResponse(served.encode_tf_response({"y": value}))["y"]
    assert out.dtype == np.dtype(expected)
    want = value[1] if isinstance(value, tuple) else value
    np.testing.assert_array_equal(out, want)


def test_inputs_are_not_changed_by_encoding() -> None:
    arr = np.array([[1.0, -0.0], [np.nan, 3.0]], dtype=">f8").T
    before = arr.copy()
    TFRequest().add_feed("x", arr).to_bytes()
    np.testing.assert_array_equal(arr.view(np.uint64), before.view(np.uint64))
    assert arr.dtype == np.dtype(">f8")
