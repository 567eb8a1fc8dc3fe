"""Tensor round trips for every dtype and shape, checked against protobuf 7 both ways.

aioeas writes and reads the three tensor schemas itself; the generated modules in
``aioeas._proto`` are a second implementation of the same wire format, so each body aioeas
writes must parse there to the same values, and each body protobuf writes must decode here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioeas import (
    BladeDataType,
    BladeRequest,
    BladeResponse,
    BladeTFRequest,
    DataType,
    DecodeError,
    TFRequest,
    TFResponse,
    TorchRequest,
    TorchResponse,
)
from aioeas._proto import blade_pb2 as blade_pb
from aioeas._proto import pytorch_predict_pb2 as torch_pb
from aioeas._proto import tf_predict_pb2 as tf_pb
from aioeas.requests import served
from tests.unit import (
    PROPERTY,
    QUANTIZED,
    array_of_proto,
    assert_close_tensor,
    assert_same_tensor,
    expected_strings,
    fill_proto,
    numeric_arrays,
    string_arrays,
    tensors,
)

Tensor = tuple[np.ndarray[Any, Any], DataType | None, DataType]

# ------------------------------------------------------------------------ TensorFlow


@PROPERTY
@given(tensors())
def test_tf_request_round_trip(tensor: Tensor) -> None:
    arr, send_as, code = tensor
    body = TFRequest("serving_default").add_feed("x", arr, send_as).add_fetch("y").to_bytes()
    got = served.decode_tf_request(body)
    assert got.signature_name == "serving_default"
    assert got.output_filter == ["y"]
    assert got.dtypes == {"x": code}
    assert_same_tensor(got.inputs["x"], arr)
    # protobuf reads the same bytes to the same tensor
    msg = tf_pb.PredictRequest.FromString(body)
    assert msg.signature_name == "serving_default"
    assert list(msg.output_filter) == ["y"]
    assert msg.inputs["x"].dtype == code
    assert_close_tensor(array_of_proto(msg.inputs["x"]), arr)


@PROPERTY
@given(tensors())
def test_tf_response_round_trip(tensor: Tensor) -> None:
    arr, send_as, code = tensor
    body = served.encode_tf_response({"y": arr if send_as is None else (send_as, arr)})
    resp = TFResponse(body)
    assert list(resp) == ["y"]
    assert resp.dtype("y") == code
    assert_same_tensor(resp["y"], arr)
    assert resp.get_tensor_shape("y") == list(arr.shape)
    assert_same_tensor(resp.get_values("y"), arr.reshape(-1))
    msg = tf_pb.PredictResponse.FromString(body)
    assert msg.outputs["y"].dtype == code
    assert_close_tensor(array_of_proto(msg.outputs["y"]), arr)


@PROPERTY
@given(tensors())
def test_protobuf_tf_messages_decode(tensor: Tensor) -> None:
    arr, _, code = tensor
    req = tf_pb.PredictRequest(signature_name="s", output_filter=["a", "b"])
    fill_proto(req.inputs["x"], arr, code)
    got = served.decode_tf_request(req.SerializeToString())
    assert (got.signature_name, got.output_filter, got.dtypes) == ("s", ["a", "b"], {"x": code})
    assert_close_tensor(got.inputs["x"], arr)

    resp = tf_pb.PredictResponse()
    fill_proto(resp.outputs["y"], arr, code)
    fill_proto(resp.outputs["z"], arr, code)
    decoded = TFResponse(resp.SerializeToString())
    assert sorted(decoded) == ["y", "z"]
    assert decoded.dtype("z") == code
    assert_close_tensor(decoded["y"], arr)


def test_tf_several_inputs_and_replacement() -> None:
    req = TFRequest()
    req.add_feed("a", np.arange(3, dtype=np.int32))
    req.add_feed("b", np.ones((2, 2), np.float64))
    req.add_feed("a", np.array([9.5], np.float32))  # replaces "a"
    assert req.input_names == ["a", "b"]
    got = served.decode_tf_request(req.to_bytes())
    assert got.signature_name == ""
    assert got.dtypes == {"a": DataType.DT_FLOAT, "b": DataType.DT_DOUBLE}
    assert got.inputs["a"].tolist() == [9.5]
    msg = tf_pb.PredictRequest.FromString(req.to_bytes())
    assert set(msg.inputs) == {"a", "b"}


def test_tf_familiar_api_matches_array_api() -> None:
    familiar = TFRequest().add_feed("x", [2, 3], TFRequest.DT_FLOAT, [1, 2, 3, 4, 5, 6])
    array = TFRequest().add_feed("x", np.arange(1, 7, dtype=np.float32).reshape(2, 3))
    assert familiar.to_bytes() == array.to_bytes()


@pytest.mark.parametrize(
    ("code", "np_dtype"),
    [
        (DataType.DT_QINT8, np.int8),
        (DataType.DT_QUINT8, np.uint8),
        (DataType.DT_QINT16, np.int16),
        (DataType.DT_QUINT16, np.uint16),
        (DataType.DT_QINT32, np.int32),
    ],
)
def test_quantized_types_travel_in_int_val(code: DataType, np_dtype: type) -> None:
    info = np.iinfo(np_dtype)
    arr = np.array([info.min, 0, info.max], dtype=np_dtype)
    body = TFRequest().add_feed("q", arr, code).to_bytes()
    msg = tf_pb.PredictRequest.FromString(body)
    assert msg.inputs["q"].dtype == code
    assert list(msg.inputs["q"].int_val) == arr.tolist()
    assert served.decode_tf_request(body).dtypes["q"] == code
    resp = TFResponse(served.encode_tf_response({"q": (code, arr)}))
    assert resp.dtype("q") == code
    assert_same_tensor(resp["q"], arr)
    assert QUANTIZED[code] == np.dtype(np_dtype)


@pytest.mark.parametrize("kinds", ["str", "bytes"])
def test_string_tensors(kinds: str) -> None:
    values = ["", "a", "héllo", "\x00\n", "日本"] if kinds == "str" else [b"", b"\xff\x00", b"x"]
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    got = served.decode_tf_request(TFRequest().add_feed("s", arr).to_bytes())
    assert got.dtypes["s"] == DataType.DT_STRING
    assert list(got.inputs["s"]) == expected_strings(arr)
    # numpy's fixed-width text arrays and plain lists are strings too
    listed = served.decode_tf_request(TFRequest().add_feed("s", values).to_bytes())
    assert list(listed.inputs["s"]) == expected_strings(arr)
    if kinds == "str":
        fixed = served.decode_tf_request(TFRequest().add_feed("s", np.array(values)).to_bytes())
        assert list(fixed.inputs["s"]) == expected_strings(arr)


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(64_000, dtype=np.float32).reshape(64, 1000),
        np.linspace(-1e300, 1e300, 64_000).reshape(64, 1000),
        (np.arange(64_000, dtype=np.int64) * 7_919_000_000_001 - 2**62).reshape(64, 1000),
        (np.arange(64_000) % 256 - 128).astype(np.int8).reshape(64, 1000),
        (np.arange(64_000) % 3 == 0).reshape(64, 1000),
    ],
    ids=["float32", "float64", "int64", "int8", "bool"],
)
def test_large_tensors(arr: np.ndarray) -> None:
    got = served.decode_tf_request(TFRequest().add_feed("x", arr).to_bytes())
    assert_same_tensor(got.inputs["x"], arr)
    resp = TFResponse(served.encode_tf_response({"y": arr}))
    assert_same_tensor(resp["y"], arr)
    assert_same_tensor(
        array_of_proto(tf_pb.PredictResponse.FromString(resp.content).outputs["y"]), arr
    )


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (3, 0), (2, 0, 4), (1,), (1, 1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint16, np.bool_])
def test_empty_and_degenerate_shapes(shape: tuple[int, ...], dtype: type) -> None:
    arr = np.ones(shape, dtype=dtype)
    got = served.decode_tf_request(TFRequest().add_feed("x", arr).to_bytes())
    assert_same_tensor(got.inputs["x"], arr)
    resp = TFResponse(served.encode_tf_response({"y": arr}))
    assert_same_tensor(resp["y"], arr)
    torch_arr = arr.astype(np.uint8) if dtype is np.bool_ else arr
    torch = TorchResponse(served.encode_torch_response([torch_arr]))
    assert_same_tensor(torch[0], torch_arr)


def test_special_float_values_bit_for_bit() -> None:
    for dtype, bits in [(np.float32, np.uint32), (np.float64, np.uint64)]:
        info = np.finfo(dtype)
        arr = np.array(
            [
                np.nan,
                -np.nan,
                np.inf,
                -np.inf,
                -0.0,
                0.0,
                info.max,
                info.min,
                info.tiny,
                info.smallest_subnormal,
                -info.smallest_subnormal,
            ],
            dtype=dtype,
        )
        # a NaN with a payload, and a signalling NaN: bits survive a byte copy
        odd_nans = np.array(
            [0x7FC00001, 0x7F800001]
            if dtype is np.float32
            else [0x7FF8000000000001, 0x7FF0000000000001],
            dtype=bits,
        )
        arr = np.concatenate([arr, odd_nans.view(dtype)])
        for out in (
            served.decode_tf_request(TFRequest().add_feed("x", arr).to_bytes()).inputs["x"],
            TFResponse(served.encode_tf_response({"y": arr}))["y"],
            TorchResponse(served.encode_torch_response([arr]))[0],
        ):
            np.testing.assert_array_equal(out.view(bits), arr.view(bits))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16])
def test_integer_extremes(dtype: type) -> None:
    info = np.iinfo(dtype)
    arr = np.array(
        [info.min, info.min + 1, -1 if info.min else 0, 0, 1, info.max - 1, info.max], dtype=dtype
    )
    got = served.decode_tf_request(TFRequest().add_feed("x", arr).to_bytes())
    assert_same_tensor(got.inputs["x"], arr)
    assert_same_tensor(TFResponse(served.encode_tf_response({"y": arr}))["y"], arr)
    assert_same_tensor(TorchResponse(served.encode_torch_response([arr]))[0], arr)


# ------------------------------------------------------------------------ PyTorch


@PROPERTY
@given(tensors(bool_ok=False), tensors(bool_ok=False))
def test_torch_request_round_trip(first: Tensor, named: Tensor) -> None:
    arr, send_as, _ = first
    marr, msend_as, mcode = named
    req = TorchRequest().add_feed(0, arr, send_as).add_feed_map("m", marr, msend_as)
    req.add_fetch(0).add_fetch(3)
    req.set_debug_level(2)
    body = req.to_bytes()
    got = served.decode_torch_request(body)
    assert len(got.inputs) == 1
    assert_same_tensor(got.inputs[0], arr)
    assert_same_tensor(got.map_inputs["m"], marr)
    assert (got.output_filter, got.debug_level) == ([0, 3], 2)
    msg = torch_pb.PredictRequest.FromString(body)
    assert list(msg.output_filter) == [0, 3]
    assert msg.debug_level == 2
    assert msg.map_inputs["m"].dtype == mcode
    assert_close_tensor(array_of_proto(msg.inputs[0]), arr)
    assert_close_tensor(array_of_proto(msg.map_inputs["m"]), marr)


@PROPERTY
@given(st.lists(tensors(bool_ok=False), min_size=0, max_size=3), tensors(bool_ok=False))
def test_torch_response_round_trip(outputs: list[Tensor], named: Tensor) -> None:
    body = served.encode_torch_response(
        [a if s is None else (s, a) for a, s, _ in outputs],
        {"m": named[0] if named[1] is None else (named[1], named[0])},
    )
    resp = TorchResponse(body)
    assert len(resp) == len(outputs)
    for i, (arr, _, code) in enumerate(outputs):
        assert resp.dtype(i) == code
        assert_same_tensor(resp[i], arr)
        assert_same_tensor(resp.outputs[i], arr)
        assert resp.get_tensor_shape(i) == list(arr.shape)
        assert_same_tensor(resp.get_values(i), arr.reshape(-1))
    assert resp.dtype("m") == named[2]
    assert_same_tensor(resp["m"], named[0])
    assert_same_tensor(resp.map_outputs["m"], named[0])
    assert resp.get_tensor_shape_map("m") == list(named[0].shape)
    assert_same_tensor(resp.get_values_map("m"), named[0].reshape(-1))
    msg = torch_pb.PredictResponse.FromString(body)
    assert len(msg.outputs) == len(outputs)
    for proto, (arr, _, code) in zip(msg.outputs, outputs, strict=True):
        assert proto.dtype == code
        assert_close_tensor(array_of_proto(proto), arr)


@PROPERTY
@given(tensors(bool_ok=False))
def test_protobuf_torch_messages_decode(tensor: Tensor) -> None:
    arr, _, code = tensor
    req = torch_pb.PredictRequest(output_filter=[2, 0], debug_level=1)
    fill_proto(req.inputs.add(), arr, code)
    fill_proto(req.map_inputs["k"], arr, code)
    got = served.decode_torch_request(req.SerializeToString())
    assert (got.output_filter, got.debug_level) == ([2, 0], 1)
    assert_close_tensor(got.inputs[0], arr)
    assert_close_tensor(got.map_inputs["k"], arr)
    resp = torch_pb.PredictResponse()
    fill_proto(resp.outputs.add(), arr, code)
    fill_proto(resp.map_outputs["k"], arr, code)
    decoded = TorchResponse(resp.SerializeToString())
    assert decoded.dtype(0) == decoded.dtype("k") == code
    assert_close_tensor(decoded[0], arr)
    assert_close_tensor(decoded["k"], arr)


def test_torch_unset_inputs_go_as_empty_tensors() -> None:
    body = TorchRequest().add_feed(2, np.array([1.0], np.float32)).to_bytes()
    msg = torch_pb.PredictRequest.FromString(body)
    assert len(msg.inputs) == 3
    assert msg.inputs[0] == torch_pb.ArrayProto()
    got = served.decode_torch_request(body)
    assert [a.size for a in got.inputs] == [0, 0, 1]


def test_torch_snappy_flag_compresses_the_same_message() -> None:
    cramjam = pytest.importorskip("cramjam")
    arr = np.arange(100, dtype=np.float32)
    plain = TorchRequest().add_feed(0, arr).to_bytes()
    packed = TorchRequest(flag=True).add_feed(0, arr).to_bytes()
    assert bytes(cramjam.snappy.decompress_raw(packed)) == plain


# ------------------------------------------------------------------------ Blade

BLADE_TYPES = {
    np.dtype(np.float32): BladeDataType.DT_FLOAT,
    np.dtype(np.int32): BladeDataType.DT_INT32,
    np.dtype(np.int64): BladeDataType.DT_INT64,
}


@st.composite
def blade_tensors(draw: st.DrawFn) -> tuple[np.ndarray[Any, Any], BladeDataType]:
    pick = draw(st.sampled_from(["<f4", "<i4", "<i8", "bytes", "str"]))
    if pick in ("bytes", "str"):
        return draw(string_arrays(pick)), BladeDataType.DT_STRING
    dtype = np.dtype(pick)
    return draw(numeric_arrays(dtype)), BLADE_TYPES[dtype]


def _blade_batch(arr: np.ndarray) -> int:
    return arr.shape[0] if arr.shape and arr.shape[0] > 0 else 1


@PROPERTY
@given(blade_tensors())
def test_blade_request_round_trip(tensor: tuple[np.ndarray, BladeDataType]) -> None:
    arr, code = tensor
    batch = _blade_batch(arr)
    req = BladeRequest("sig").add_feed("in", arr, batch).add_fetch("out", code)
    body = req.to_bytes()
    got = served.decode_blade_request(body)
    assert got.signature_name == "sig"
    assert got.output_info == [("out", code)]
    decoded = got.inputs["in"]
    assert (decoded.name, decoded.blob_name, decoded.batch_size) == ("in", "in", batch)
    if arr.size:
        assert decoded.dtype == code
        assert_same_tensor(decoded.array, arr)
    else:  # a Blade Array has no dtype field: an empty one reads as float
        assert decoded.dtype == BladeDataType.DT_FLOAT
        assert decoded.array.shape == arr.shape
    msg = blade_pb.Request.FromString(body)
    assert msg.tf_signature_name == "sig"
    (proto,) = msg.inputs
    assert (proto.blade_blob_name, proto.name_in_dl_model, proto.batchsize) == ("in", "in", batch)
    assert list(proto.shape.dim) == list(arr.shape)
    (info,) = msg.output_info
    assert (info.blade_blob_name, info.name_in_dl_model, info.data_type) == ("out", "out", code)
    field = {
        BladeDataType.DT_FLOAT: "float_val",
        BladeDataType.DT_INT32: "int_val",
        BladeDataType.DT_INT64: "int64_val",
        BladeDataType.DT_STRING: "string_val",
    }[code]
    if code == BladeDataType.DT_STRING:
        assert list(proto.string_val) == expected_strings(arr)
    else:
        assert_close_tensor(np.array(getattr(proto, field), arr.dtype).reshape(arr.shape), arr)


@PROPERTY
@given(blade_tensors())
def test_blade_response_round_trip(tensor: tuple[np.ndarray, BladeDataType]) -> None:
    arr, code = tensor
    body = served.encode_blade_response({"out": arr}, batch_size=4)
    resp = BladeRequest().add_fetch("out", code).parse_response(body)
    assert isinstance(resp, BladeResponse)
    assert list(resp) == ["out"]
    assert resp.dtype("out") == code  # the requested type decides an empty output
    assert resp.batch_size("out") == 4
    assert_same_tensor(resp["out"], arr)
    assert_same_tensor(resp.get_values("out", code), arr.reshape(-1))
    assert resp.get_tensor_shape("out") == list(arr.shape)
    msg = blade_pb.Response.FromString(body)
    assert msg.outputs[0].name_in_dl_model == "out"
    assert msg.outputs[0].batchsize == 4


@PROPERTY
@given(blade_tensors())
def test_protobuf_blade_messages_decode(tensor: tuple[np.ndarray, BladeDataType]) -> None:
    arr, code = tensor
    msg = blade_pb.Response()
    out = msg.outputs.add(blade_blob_name="blob", name_in_dl_model="out", batchsize=2)
    out.shape.dim.extend(arr.shape)
    if code == BladeDataType.DT_STRING:
        out.string_val.extend(expected_strings(arr))
    else:
        field = {1: "float_val", 2: "int_val", 3: "int64_val"}[int(code)]
        getattr(out, field).extend(arr.reshape(-1).tolist())
    resp = BladeResponse(msg.SerializeToString(), hints={"out": code})
    assert resp.dtype("out") == code
    assert resp.batch_size("out") == 2
    assert_close_tensor(resp["out"], arr)

    req = blade_pb.Request(tf_signature_name="")
    req.inputs.append(out)
    req.output_info.add(blade_blob_name="o", name_in_dl_model="o", data_type=int(code))
    got = served.decode_blade_request(req.SerializeToString())
    assert got.signature_name == ""
    assert got.output_info == [("o", code)]
    assert got.inputs["out"].blob_name == "blob"
    if arr.size:  # an empty Blade Array carries no type: only a hint gives it one
        assert_close_tensor(got.inputs["out"].array, arr)
    else:
        assert got.inputs["out"].array.shape == arr.shape


def test_blade_sdk_form_and_tf_compatible_form() -> None:
    sdk = BladeRequest().add_feed("x", 2, [2, 3], BladeRequest.DT_INT32, list(range(6)))
    got = served.decode_blade_request(sdk.to_bytes()).inputs["x"]
    assert (got.batch_size, got.dtype) == (2, BladeDataType.DT_INT32)
    assert got.array.tolist() == [[0, 1, 2], [3, 4, 5]]

    tf_like = BladeTFRequest().add_feed("x", [3, 2], BladeTFRequest.DT_FLOAT, [0.5] * 6)
    tf_like.add_fetch("y")
    decoded = served.decode_blade_request(tf_like.to_bytes())
    assert decoded.inputs["x"].batch_size == 3  # the shape's first dimension
    assert decoded.inputs["x"].array.shape == (3, 2)
    assert decoded.output_info == [("y", BladeDataType.DT_UNKNOWN)]
    assert decoded.signature_name is None


def test_blade_tf_request_is_importable_by_the_sdk_path() -> None:
    from aioeas import blade_tf_request

    assert blade_tf_request.TFRequest is BladeTFRequest


def test_blade_batch_size_defaults_to_the_first_dimension() -> None:
    arr = np.zeros((5, 2), np.float32)
    got = served.decode_blade_request(BladeRequest().add_feed("x", arr).to_bytes())
    assert got.inputs["x"].batch_size == 5


# ------------------------------------------------------------ hand-crafted protobuf bytes
# Encodings protobuf parsers must accept but aioeas's writer never produces: unpacked
# repeated numerics, a packed field in several runs, fields out of order, unknown fields.

from tests.unit import fixed32, fixed64, ld, packed_varints, vi  # noqa: E402


def _tf_response(array_proto: bytes, name: str = "y", extra_entry: bytes = b"") -> bytes:
    return ld(1, ld(1, name.encode()) + ld(2, array_proto) + extra_entry)


def _both_tf(body: bytes) -> tuple[np.ndarray, Any]:
    """aioeas's reading and protobuf's reading of a one-output TF response."""
    return TFResponse(body)["y"], tf_pb.PredictResponse.FromString(body).outputs["y"]


def test_unpacked_float_and_double() -> None:
    values = [1.5, -2.0, float("inf"), -0.0]
    floats = (
        vi(1, 1) + ld(2, ld(1, packed_varints([2, 2]))) + b"".join(fixed32(3, v) for v in values)
    )
    got, proto = _both_tf(_tf_response(floats))
    assert list(proto.float_val) == values
    assert_same_tensor(got, np.array(values, np.float32).reshape(2, 2))

    doubles = vi(1, 2) + ld(2, ld(1, packed_varints([4]))) + b"".join(fixed64(4, v) for v in values)
    got, proto = _both_tf(_tf_response(doubles))
    assert list(proto.double_val) == values
    assert_same_tensor(got, np.array(values, np.float64))


@pytest.mark.parametrize(
    ("code", "field", "values", "np_dtype"),
    [
        (DataType.DT_INT32, 5, [0, -1, 2**31 - 1, -(2**31)], np.int32),
        (DataType.DT_INT8, 5, [-128, 127, 0, -1], np.int8),
        (DataType.DT_UINT16, 5, [0, 65535, 1, 300], np.uint16),
        (DataType.DT_INT64, 7, [0, -1, 2**63 - 1, -(2**63)], np.int64),
        (DataType.DT_BOOL, 8, [1, 0, 0, 1], np.bool_),
    ],
)
def test_unpacked_varint_fields(
    code: DataType, field: int, values: list[int], np_dtype: type
) -> None:
    body = _tf_response(
        vi(1, code) + ld(2, ld(1, packed_varints([4]))) + b"".join(vi(field, v) for v in values)
    )
    got, proto = _both_tf(body)
    assert list(getattr(proto, {5: "int_val", 7: "int64_val", 8: "bool_val"}[field])) == [
        bool(v) if code == DataType.DT_BOOL else v for v in values
    ]
    assert_same_tensor(got, np.array(values).astype(np_dtype))


def test_packed_field_split_in_several_runs() -> None:
    f32 = np.array([1, 2, 3, 4, 5], np.float32)
    floats = (
        vi(1, 1)
        + ld(3, f32[:2].tobytes())
        + ld(2, ld(1, packed_varints([5])))  # the shape between two runs
        + fixed32(3, 3.0)
        + ld(3, f32[3:].tobytes())
        + ld(3, b"")  # an empty run
    )
    got, proto = _both_tf(_tf_response(floats))
    assert list(proto.float_val) == f32.tolist()
    assert_same_tensor(got, f32)

    ints = (
        vi(1, DataType.DT_INT64)
        + ld(2, ld(1, packed_varints([4])))
        + ld(7, packed_varints([1, -1]))
        + vi(7, 2**40)
        + ld(7, packed_varints([-(2**63)]))
    )
    got, proto = _both_tf(_tf_response(ints))
    assert list(proto.int64_val) == [1, -1, 2**40, -(2**63)]
    assert_same_tensor(got, np.array([1, -1, 2**40, -(2**63)], np.int64))


def test_unknown_fields_are_skipped() -> None:
    unknown = vi(15, 7) + ld(16, b"\x01\x02") + fixed32(17, 1.0) + fixed64(18, 2.0) + vi(1000, 1)
    shape = ld(1, packed_varints([2])) + unknown
    array = (
        unknown + vi(1, 1) + ld(2, shape) + unknown + ld(3, np.array([1, 2], np.float32).tobytes())
    )
    body = unknown + _tf_response(array) + unknown
    got, proto = _both_tf(body)
    assert list(proto.float_val) == [1.0, 2.0]
    assert got.tolist() == [1.0, 2.0]
    assert list(TFResponse(body)) == ["y"]
    # Unknown fields inside a map entry: aioeas skips them and keeps the entry. (upb, protobuf
    # 7's parser, sets such an entry aside as an unknown field of the parent instead.)
    with_entry_unknowns = TFResponse(_tf_response(array, extra_entry=unknown))
    assert with_entry_unknowns["y"].tolist() == [1.0, 2.0]

    req = unknown + ld(1, b"sig") + ld(2, ld(1, b"x") + ld(2, array)) + ld(3, b"o") + unknown
    assert tf_pb.PredictRequest.FromString(req).inputs["x"].float_val[1] == 2.0
    decoded = served.decode_tf_request(req)
    assert (decoded.signature_name, decoded.output_filter) == ("sig", ["o"])
    assert decoded.inputs["x"].tolist() == [1.0, 2.0]


def test_fields_in_any_order_and_unpacked_dims() -> None:
    array = (
        ld(3, np.array([1, 2, 3, 4, 5, 6], np.float32).tobytes())
        + ld(2, vi(1, 3) + vi(1, 2))
        + vi(1, 1)
    )
    entry = ld(2, array) + ld(1, b"y")  # value before key
    body = ld(1, entry)
    got, proto = _both_tf(body)
    assert list(proto.array_shape.dim) == [3, 2]
    assert got.shape == (3, 2)
    assert got.tolist() == [[1, 2], [3, 4], [5, 6]]


def test_a_later_map_entry_wins_like_protobuf() -> None:
    first = ld(1, b"y") + ld(2, vi(1, 3) + ld(5, packed_varints([1])))
    second = ld(1, b"y") + ld(2, vi(1, 3) + ld(5, packed_varints([2])))
    body = ld(1, first) + ld(1, second)
    got, proto = _both_tf(body)
    assert list(proto.int_val) == [2]
    assert got.shape == ()  # no array_shape: a scalar
    assert got.tolist() == 2


def test_torch_output_filter_packed_and_unpacked() -> None:
    body = vi(2, 4) + ld(2, packed_varints([1, 2])) + vi(100, 3)
    assert list(torch_pb.PredictRequest.FromString(body).output_filter) == [4, 1, 2]
    got = served.decode_torch_request(body)
    assert (got.output_filter, got.debug_level, got.inputs) == ([4, 1, 2], 3, [])


def test_blade_fields_out_of_order_with_unknowns() -> None:
    array = (
        ld(6, packed_varints([7, -7]))
        + vi(99, 1)
        + ld(4, ld(1, packed_varints([1, 2])))
        + vi(3, 1)
        + ld(2, b"out")
        + ld(1, b"blob")
        + vi(6, 9)
    )
    body = ld(1, array) + vi(50, 1)
    proto = blade_pb.Response.FromString(body).outputs[0]
    assert list(proto.int_val) == [7, -7, 9]
    with pytest.raises(DecodeError, match="shape"):
        BladeResponse(body)  # three values for shape [1, 2]
    fixed = ld(1, array.replace(packed_varints([1, 2]), packed_varints([1, 3])))
    resp = BladeResponse(fixed)
    assert resp.dtype("out") == BladeDataType.DT_INT32
    assert resp["out"].tolist() == [[7, -7, 9]]
    assert resp.batch_size("out") == 1
