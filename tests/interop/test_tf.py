"""TensorFlow ``PredictRequest`` / ``PredictResponse``: aioeas and the official SDK, both ways.

(a) aioeas builds, the official pb2 parses; (b) the official TFRequest builds, aioeas's
server side decodes; (c) the official pb2 answers, aioeas's TFResponse reads; (d) aioeas's
server side answers, the official TFResponse reads. Single-input requests are also compared
byte for byte with the official SerializeToString().
"""

from __future__ import annotations

import numpy as np
import pytest

from aioeas import TFRequest, TFResponse
from aioeas.requests.served import decode_tf_request, encode_tf_response
from tests.interop.cases import (
    OFFICIAL_TF_READS,
    QUANTIZED,
    TF_CASES,
    TF_FIELDS,
    Case,
    assert_identical,
    assert_only_field,
    assert_values,
    bytes_cases,
)
from tests.support.official_peer import OfficialPeer, b64, encode_values

pytestmark = pytest.mark.interop

SIGNATURE = "serving_default"


def official_feed(case: Case, name: str = "x") -> dict[str, object]:
    return {"name": name, "shape": case.shape, "dtype": int(case.dtype), "content": case.values()}


def aioeas_request(case: Case, *, sdk_form: bool = False) -> TFRequest:
    req = TFRequest(SIGNATURE)
    if sdk_form:
        content = case.data.reshape(-1).tolist()
        req.add_feed("x", case.shape, int(case.dtype), content)
    else:
        req.add_feed("x", case.data, case.dtype)
    return req.add_fetch("probs").add_fetch("classes")


# ------------------------------------------------------------------- (a) aioeas -> official


@pytest.mark.parametrize("case", TF_CASES, ids=str)
def test_official_parses_aioeas_request(peer: OfficialPeer, case: Case) -> None:
    body = aioeas_request(case).to_bytes()
    assert aioeas_request(case, sdk_form=True).to_bytes() == body  # both add_feed forms agree
    got = peer.call("parse_tf_request", body=b64(body))
    assert got["signature_name"] == SIGNATURE
    assert got["output_filter"] == ["probs", "classes"]
    assert list(got["inputs"]) == ["x"]
    array = got["inputs"]["x"]
    assert array["dtype"] == case.dtype
    assert array["dims"] == case.shape
    assert_only_field(array, case.field, case.expected, TF_FIELDS)


@pytest.mark.parametrize("case", bytes_cases(TF_CASES), ids=str)
def test_request_bytes_equal_official(peer: OfficialPeer, case: Case) -> None:
    official = peer.body(
        "tf_request", signature=SIGNATURE, feeds=[official_feed(case)], fetches=["probs", "classes"]
    )
    assert aioeas_request(case).to_bytes() == official


def test_scalar_carries_an_empty_shape_like_the_official(peer: OfficialPeer) -> None:
    """A 0-d tensor: both writers put an empty ``array_shape`` before the value."""
    case = next(c for c in TF_CASES if c.name == "float32-scalar")
    official = peer.body("tf_request", signature="s", feeds=[official_feed(case)])
    mine = TFRequest("s").add_feed("x", case.data).to_bytes()
    value = b"\x1a\x04" + case.data.tobytes()
    assert mine.endswith(b"\x08\x01\x12\x00" + value)
    assert mine == official
    ours = peer.call("parse_tf_request", body=b64(mine))["inputs"]["x"]
    assert ours["has_shape"] is True
    assert ours["dims"] == []
    assert_identical(decode_tf_request(official).inputs["x"], case.expected)


def test_negative_int32_takes_ten_bytes(peer: OfficialPeer) -> None:
    """A negative int32 is sign-extended to a 10-byte varint, by both writers."""
    official = peer.body(
        "tf_request",
        signature="",
        feeds=[{"name": "x", "shape": [1], "dtype": 3, "content": {"i": [-1]}}],
    )
    mine = TFRequest().add_feed("x", np.array([-1], np.int32)).to_bytes()
    assert mine == official
    assert mine.endswith(b"\x2a\x0a" + b"\xff" * 9 + b"\x01")


def test_many_inputs_in_one_request(peer: OfficialPeer) -> None:
    """Every case as one input of a single request: map order differs, values must not."""
    req = TFRequest(SIGNATURE)
    for case in TF_CASES:
        req.add_feed(case.name, case.data, case.dtype)
    got = peer.call("parse_tf_request", body=b64(req.to_bytes()))
    assert sorted(got["inputs"]) == sorted(c.name for c in TF_CASES)
    for case in TF_CASES:
        array = got["inputs"][case.name]
        assert (array["dtype"], array["dims"]) == (case.dtype, case.shape), case.name
        assert_only_field(array, case.field, case.expected, TF_FIELDS)


def test_no_signature_and_no_fetch(peer: OfficialPeer) -> None:
    got = peer.call("parse_tf_request", body=b64(TFRequest().add_feed("x", [1.5]).to_bytes()))
    assert got["signature_name"] == ""
    assert got["output_filter"] == []


# ------------------------------------------------------------------- (b) official -> aioeas


@pytest.mark.parametrize("case", TF_CASES, ids=str)
def test_aioeas_decodes_official_request(peer: OfficialPeer, case: Case) -> None:
    body = peer.body(
        "tf_request", signature=SIGNATURE, feeds=[official_feed(case)], fetches=["probs"]
    )
    decoded = decode_tf_request(body)
    assert decoded.signature_name == SIGNATURE
    assert decoded.output_filter == ["probs"]
    assert list(decoded.inputs) == ["x"]
    assert decoded.dtypes["x"] == case.dtype
    assert_identical(decoded.inputs["x"], case.expected)


def test_aioeas_decodes_official_multi_input_request(peer: OfficialPeer) -> None:
    feeds = [official_feed(c, c.name) for c in TF_CASES]
    decoded = decode_tf_request(peer.body("tf_request", signature="s", feeds=feeds))
    assert sorted(decoded.inputs) == sorted(c.name for c in TF_CASES)
    for case in TF_CASES:
        assert decoded.dtypes[case.name] == case.dtype
        assert_identical(decoded.inputs[case.name], case.expected)


def test_official_tf_request_quirks(peer: OfficialPeer) -> None:
    """Where the official builder refuses what aioeas accepts (documented, not copied)."""
    feed = {"name": "x", "shape": [1], "dtype": 1, "content": {"f": b64(b"\0" * 8)}}
    # TFRequest() without a signature name cannot add a feed under protobuf 3.20.3.
    err = peer.error("tf_request", signature=None, feeds=[feed])
    assert err.type == "TypeError"
    assert decode_tf_request(TFRequest().add_feed("x", [0.0]).to_bytes()).signature_name == ""
    # string_val takes bytes only: str elements raise in the official client.
    text = {"name": "x", "shape": [1], "dtype": 7, "content": encode_values(["é"])}
    err = peer.error("tf_request", signature="s", feeds=[text])
    assert err.type == "TypeError"
    assert decode_tf_request(TFRequest().add_feed("x", ["é"]).to_bytes()).inputs["x"][0] == (
        "é".encode()
    )


# ------------------------------------------------------------------- (c) official -> aioeas


@pytest.mark.parametrize("case", TF_CASES, ids=str)
def test_aioeas_reads_official_response(peer: OfficialPeer, case: Case) -> None:
    body = peer.body(
        "pb_tf_response", outputs={"y": case.array_desc(), "other": {"dtype": 1, "dims": [0]}}
    )
    resp = TFResponse(body)
    assert sorted(resp) == ["other", "y"]
    assert resp.dtype("y") == case.dtype
    assert_identical(resp["y"], case.expected)
    assert resp.get_tensor_shape("y") == case.shape
    assert_identical(resp.get_values("y"), case.expected.reshape(-1))


def test_aioeas_reads_official_multi_output_response(peer: OfficialPeer) -> None:
    body = peer.body("pb_tf_response", outputs={c.name: c.array_desc() for c in TF_CASES})
    resp = TFResponse(body)
    assert sorted(resp) == sorted(c.name for c in TF_CASES)
    for case in TF_CASES:
        assert resp.dtype(case.name) == case.dtype
        assert_identical(resp[case.name], case.expected)


# ------------------------------------------------------------------- (d) aioeas -> official


@pytest.mark.parametrize("case", TF_CASES, ids=str)
def test_official_reads_aioeas_response(peer: OfficialPeer, case: Case) -> None:
    body = encode_tf_response({"y": (case.dtype, case.data)})
    got = peer.call("read_tf_response", body=b64(body), names=["y"])["y"]
    assert got["shape"] == case.shape
    if case.dtype in OFFICIAL_TF_READS:
        assert_values(got["values"], case.expected)
    else:  # the official get_values has no branch for uint8, uint16 and the quantized types
        assert got["values"] is None
    parsed = peer.call("parse_tf_response", body=b64(body))["outputs"]
    assert list(parsed) == ["y"]
    assert parsed["y"]["dtype"] == case.dtype
    assert parsed["y"]["dims"] == case.shape
    assert_only_field(parsed["y"], case.field, case.expected, TF_FIELDS)


def test_official_reads_aioeas_inferred_dtypes(peer: OfficialPeer) -> None:
    """Arrays without an explicit DataType: the dtype aioeas infers is the one the SDK expects."""
    plain = [c for c in TF_CASES if c.dtype not in QUANTIZED]
    body = encode_tf_response({c.name: c.data for c in plain})
    parsed = peer.call("parse_tf_response", body=b64(body))["outputs"]
    assert sorted(parsed) == sorted(c.name for c in plain)
    for case in plain:
        assert parsed[case.name]["dtype"] == case.dtype, case.name
        assert_only_field(parsed[case.name], case.field, case.expected, TF_FIELDS)
