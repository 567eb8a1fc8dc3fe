"""PyTorch ``PredictRequest`` / ``PredictResponse``: aioeas and the official SDK, both ways.

Positional inputs and ``map_inputs``, ``output_filter``, ``debug_level``, and the snappy
body of ``TorchRequest(flag=True)``. PyTorch's schema has no bool field.
"""

from __future__ import annotations

import cramjam
import numpy as np
import pytest

from aioeas import DecodeError, InvalidTensorError, TorchRequest, TorchResponse
from aioeas.requests.served import decode_torch_request, encode_torch_response
from tests.interop.cases import (
    OFFICIAL_TORCH_TYPES,
    TORCH_CASES,
    TORCH_FIELDS,
    TORCH_OFFICIAL_CASES,
    Case,
    assert_identical,
    assert_only_field,
    assert_values,
    bytes_cases,
)
from tests.support.official_peer import OfficialPeer, b64

pytestmark = pytest.mark.interop


def _feed(case: Case, **where: object) -> dict[str, object]:
    return {**where, "shape": case.shape, "dtype": int(case.dtype), "content": case.values()}


def official_request(peer: OfficialPeer, case: Case, *, flag: bool = False) -> bytes:
    return peer.body(
        "torch_request",
        flag=flag,
        debug_level=2,
        feeds=[_feed(case, index=0)],
        map_feeds=[_feed(case, name="m")],
        fetches=[0, 3],
    )


def aioeas_request(case: Case, *, flag: bool = False) -> TorchRequest:
    req = TorchRequest(flag)
    req.add_feed(0, case.data, case.dtype)
    req.add_feed_map("m", case.data, case.dtype)
    req.add_fetch(0).add_fetch(3)
    req.set_debug_level(2)
    return req


def _check_parsed(got: dict[str, object], case: Case) -> None:
    assert got["output_filter"] == [0, 3]
    assert got["debug_level"] == 2
    inputs = got["inputs"]
    map_inputs = got["map_inputs"]
    assert isinstance(inputs, list)
    assert isinstance(map_inputs, dict)
    assert len(inputs) == 1
    assert list(map_inputs) == ["m"]
    for array in (inputs[0], map_inputs["m"]):
        assert array["dtype"] == case.dtype
        assert array["dims"] == case.shape
        assert_only_field(array, case.field, case.expected, TORCH_FIELDS)


# ------------------------------------------------------------------- (a) aioeas -> official


@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_official_parses_aioeas_request(peer: OfficialPeer, case: Case) -> None:
    body = aioeas_request(case).to_bytes()
    _check_parsed(peer.call("parse_torch_request", body=b64(body)), case)


@pytest.mark.parametrize("case", bytes_cases(TORCH_OFFICIAL_CASES), ids=str)
def test_request_bytes_equal_official(peer: OfficialPeer, case: Case) -> None:
    """One positional and one named input: protobuf's output is deterministic."""
    assert aioeas_request(case).to_bytes() == official_request(peer, case)


def test_gaps_in_input_indexes(peer: OfficialPeer) -> None:
    """add_feed(2, ...) alone sends inputs 0 and 1 as empty messages, as the official does."""
    mine = TorchRequest().add_feed(2, [1], TorchRequest.DT_INT32, [-5]).to_bytes()
    official = peer.body(
        "torch_request", feeds=[{"index": 2, "shape": [1], "dtype": 3, "content": {"i": [-5]}}]
    )
    assert mine == official
    got = peer.call("parse_torch_request", body=b64(mine))
    assert [a["dtype"] for a in got["inputs"]] == [0, 0, 3]


def test_aioeas_decodes_gaps_in_input_indexes(peer: OfficialPeer) -> None:
    """The empty messages before a later index decode as empty arrays."""
    official = peer.body(
        "torch_request", feeds=[{"index": 2, "shape": [1], "dtype": 3, "content": {"i": [-5]}}]
    )
    decoded = decode_torch_request(official)
    assert len(decoded.inputs) == 3
    assert [a.size for a in decoded.inputs[:2]] == [0, 0]
    assert_identical(decoded.inputs[2], np.array([-5], np.int32))


def test_many_inputs_in_one_request(peer: OfficialPeer) -> None:
    req = TorchRequest()
    for i, case in enumerate(TORCH_CASES):
        req.add_feed(i, case.data, case.dtype)
        req.add_feed_map(case.name, case.data, case.dtype)
    got = peer.call("parse_torch_request", body=b64(req.to_bytes()))
    assert len(got["inputs"]) == len(TORCH_CASES)
    assert sorted(got["map_inputs"]) == sorted(c.name for c in TORCH_CASES)
    for i, case in enumerate(TORCH_CASES):
        for array in (got["inputs"][i], got["map_inputs"][case.name]):
            assert (array["dtype"], array["dims"]) == (case.dtype, case.shape), case.name
            assert_only_field(array, case.field, case.expected, TORCH_FIELDS)


def test_bool_has_no_field_in_pytorch() -> None:
    with pytest.raises(InvalidTensorError, match="PyTorch"):
        TorchRequest().add_feed(0, np.array([True]))


# ------------------------------------------------------------------- snappy, both ways

SNAPPY_CASES = [
    c for c in TORCH_OFFICIAL_CASES if c.name in {"float32-1x784", "int64-extremes", "int32-0x3"}
] + [c for c in TORCH_OFFICIAL_CASES if c.name == "float64-8x3x32x32"]


@pytest.mark.parametrize("case", SNAPPY_CASES, ids=str)
def test_snappy_aioeas_to_official(peer: OfficialPeer, case: Case) -> None:
    body = aioeas_request(case, flag=True).to_bytes()
    assert body != aioeas_request(case).to_bytes()
    _check_parsed(peer.call("parse_torch_request", body=b64(body), snappy=True), case)


@pytest.mark.parametrize("case", SNAPPY_CASES, ids=str)
def test_snappy_official_to_aioeas(peer: OfficialPeer, case: Case) -> None:
    body = official_request(peer, case, flag=True)
    plain = bytes(cramjam.snappy.decompress_raw(body))
    assert plain == aioeas_request(case).to_bytes()
    decoded = decode_torch_request(plain)
    assert decoded.output_filter == [0, 3]
    assert decoded.debug_level == 2
    assert_identical(decoded.inputs[0], case.expected)
    assert_identical(decoded.map_inputs["m"], case.expected)


# ------------------------------------------------------------------- (b) official -> aioeas


@pytest.mark.parametrize("case", TORCH_OFFICIAL_CASES, ids=str)
def test_aioeas_decodes_official_request(peer: OfficialPeer, case: Case) -> None:
    decoded = decode_torch_request(official_request(peer, case))
    assert decoded.output_filter == [0, 3]
    assert decoded.debug_level == 2
    assert len(decoded.inputs) == 1
    assert list(decoded.map_inputs) == ["m"]
    assert_identical(decoded.inputs[0], case.expected)
    assert_identical(decoded.map_inputs["m"], case.expected)


OTHER_TYPES = [c for c in TORCH_CASES if c.dtype not in OFFICIAL_TORCH_TYPES]


@pytest.mark.parametrize("case", OTHER_TYPES, ids=str)
def test_aioeas_decodes_official_pb2_request(peer: OfficialPeer, case: Case) -> None:
    """uint16, quantized and string inputs, which the official builder cannot fill (below),
    made with the official pb2 instead."""
    body = peer.body(
        "pb_torch_request",
        inputs=[case.array_desc()],
        map_inputs={"m": case.array_desc()},
        output_filter=[1],
        debug_level=1,
    )
    decoded = decode_torch_request(body)
    assert (decoded.output_filter, decoded.debug_level) == ([1], 1)
    assert_identical(decoded.inputs[0], case.expected)
    assert_identical(decoded.map_inputs["m"], case.expected)


@pytest.mark.parametrize("case", [c for c in OTHER_TYPES if c.expected.size], ids=str)
def test_official_builder_drops_values_it_does_not_know(peer: OfficialPeer, case: Case) -> None:
    """The official add_feed sets dtype and shape but no values for uint16, the quantized types
    and strings: such a request is malformed, and aioeas's decoder says so."""
    body = peer.body("torch_request", feeds=[_feed(case, index=0)])
    got = peer.call("parse_torch_request", body=b64(body))["inputs"][0]
    assert (got["dtype"], got["dims"]) == (case.dtype, case.shape)
    assert all(got[f] == {"i": []} for f in TORCH_FIELDS)
    with pytest.raises(DecodeError, match="values"):
        decode_torch_request(body)


# ------------------------------------------------------------------- (c) official -> aioeas


@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_aioeas_reads_official_response(peer: OfficialPeer, case: Case) -> None:
    body = peer.body(
        "pb_torch_response",
        outputs=[case.array_desc(), {"dtype": 9, "dims": [1], "int64_val": {"i": [7]}}],
        map_outputs={"m": case.array_desc()},
    )
    resp = TorchResponse(body)
    assert len(resp) == 2
    assert resp.dtype(0) == resp.dtype("m") == case.dtype
    assert_identical(resp[0], case.expected)
    assert_identical(resp["m"], case.expected)
    assert_identical(resp.outputs[0], case.expected)
    assert_identical(resp.map_outputs["m"], case.expected)
    assert_identical(resp[1], np.array([7], np.int64))
    assert resp.get_tensor_shape(0) == resp.get_tensor_shape_map("m") == case.shape
    assert_identical(resp.get_values(0), case.expected.reshape(-1))
    assert_identical(resp.get_values_map("m"), case.expected.reshape(-1))


# ------------------------------------------------------------------- (d) aioeas -> official


@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_official_reads_aioeas_response(peer: OfficialPeer, case: Case) -> None:
    body = encode_torch_response([(case.dtype, case.data)], {"m": (case.dtype, case.data)})
    got = peer.call("read_torch_response", body=b64(body), indexes=[0], names=["m"])
    for out in (got["outputs"][0], got["map_outputs"]["m"]):
        assert out["shape"] == case.shape
        if case.dtype in OFFICIAL_TORCH_TYPES:
            assert_values(out["values"], case.expected)
        else:  # the official get_values has no branch for uint16, quantized types, strings
            assert out["values"] is None
    parsed = peer.call("parse_torch_response", body=b64(body))
    assert len(parsed["outputs"]) == 1
    assert list(parsed["map_outputs"]) == ["m"]
    for array in (parsed["outputs"][0], parsed["map_outputs"]["m"]):
        assert (array["dtype"], array["dims"]) == (case.dtype, case.shape)
        assert_only_field(array, case.field, case.expected, TORCH_FIELDS)
