"""Blade ``Request`` / ``Response`` (proto2): ``BladeRequest`` and the TF-compatible form.

Blade carries float32, int32, int64 and strings. Its ``Array`` has no dtype: the filled
field says it, and ``add_fetch``'s type names it for the official ``get_values``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aioeas import BladeDataType, BladeRequest, BladeResponse, BladeTFResponse, InvalidTensorError
from aioeas.blade_tf_request import TFRequest as BladeTFRequest
from aioeas.requests.served import decode_blade_request, encode_blade_response
from tests.interop.cases import (
    BLADE_CASES,
    BLADE_FIELD,
    BLADE_FIELDS,
    Case,
    assert_identical,
    assert_only_field,
    assert_values,
)
from tests.support.official_peer import OfficialPeer, b64

pytestmark = pytest.mark.interop

SIGNATURE = "predict_words"
BATCH = 3  # BladeRequest's batch size is independent of the shape


def _feed(case: Case, **extra: Any) -> dict[str, Any]:
    return {
        "name": "x",
        "shape": case.shape,
        "dtype": int(case.blade_type),
        "content": case.values(),
        **extra,
    }


def official_blade(peer: OfficialPeer, case: Case) -> bytes:
    return peer.body(
        "blade_request",
        signature=SIGNATURE,
        feeds=[_feed(case, batch_size=BATCH)],
        fetches=[{"name": "out", "dtype": int(case.blade_type)}],
    )


def official_blade_tf(peer: OfficialPeer, case: Case) -> bytes:
    return peer.body("blade_tf_request", signature=SIGNATURE, feeds=[_feed(case)], fetches=["out"])


def aioeas_blade(case: Case, *, sdk_form: bool = True) -> BladeRequest:
    req = BladeRequest(SIGNATURE)
    if sdk_form:
        req.add_feed("x", BATCH, case.shape, case.blade_type, case.flat)
    else:
        req.add_feed("x", case.data, BATCH, dtype=case.blade_type)
    return req.add_fetch("out", case.blade_type)


def aioeas_blade_tf(case: Case, *, sdk_form: bool = True) -> BladeTFRequest:
    req = BladeTFRequest(SIGNATURE)
    if sdk_form:
        req.add_feed("x", case.shape, case.blade_type, case.flat)
    else:
        req.add_feed("x", case.data)
    return req.add_fetch("out")


def _check_parsed(got: dict[str, Any], case: Case, batch: int, fetch_type: int) -> None:
    assert got["tf_signature_name"] == SIGNATURE
    assert len(got["inputs"]) == 1
    array = got["inputs"][0]
    assert array["blade_blob_name"] == array["name_in_dl_model"] == "x"
    assert array["batchsize"] == batch
    assert array["dims"] == case.shape
    assert_only_field(array, BLADE_FIELD[case.blade_type], case.expected, BLADE_FIELDS)
    assert got["output_info"] == [
        {"blade_blob_name": "out", "name_in_dl_model": "out", "data_type": fetch_type}
    ]


# ------------------------------------------------------------------- (a) aioeas -> official


@pytest.mark.parametrize("case", BLADE_CASES, ids=str)
def test_official_parses_aioeas_blade_request(peer: OfficialPeer, case: Case) -> None:
    body = aioeas_blade(case).to_bytes()
    assert aioeas_blade(case, sdk_form=False).to_bytes() == body
    got = peer.call("parse_blade_request", body=b64(body))
    _check_parsed(got, case, BATCH, int(case.blade_type))


@pytest.mark.parametrize("case", BLADE_CASES, ids=str)
def test_official_parses_aioeas_blade_tf_request(peer: OfficialPeer, case: Case) -> None:
    body = aioeas_blade_tf(case).to_bytes()
    assert aioeas_blade_tf(case, sdk_form=False).to_bytes() == body
    got = peer.call("parse_blade_request", body=b64(body))
    _check_parsed(got, case, case.shape[0], BladeDataType.DT_UNKNOWN)


@pytest.mark.parametrize("case", BLADE_CASES, ids=str)
def test_blade_request_bytes_equal_official(peer: OfficialPeer, case: Case) -> None:
    assert aioeas_blade(case).to_bytes() == official_blade(peer, case)


@pytest.mark.parametrize("case", BLADE_CASES, ids=str)
def test_blade_tf_request_bytes_equal_official(peer: OfficialPeer, case: Case) -> None:
    assert aioeas_blade_tf(case).to_bytes() == official_blade_tf(peer, case)


def test_many_inputs_in_one_request(peer: OfficialPeer) -> None:
    """Blade inputs are a repeated field, so even several inputs give identical bytes."""
    mine = BladeRequest(SIGNATURE)
    feeds = []
    for i, case in enumerate(BLADE_CASES):
        mine.add_feed(case.name, i + 1, case.shape, case.blade_type, case.flat)
        feeds.append({**_feed(case, batch_size=i + 1), "name": case.name})
    official = peer.body("blade_request", signature=SIGNATURE, feeds=feeds)
    assert mine.to_bytes() == official
    decoded = decode_blade_request(official)
    assert list(decoded.inputs) == [c.name for c in BLADE_CASES]
    for i, case in enumerate(BLADE_CASES):
        got = decoded.inputs[case.name]
        assert (got.batch_size, got.dtype) == (i + 1, case.blade_type)
        assert_identical(got.array, case.expected)


# ------------------------------------------------------------------- (b) official -> aioeas


@pytest.mark.parametrize("case", BLADE_CASES, ids=str)
def test_aioeas_decodes_official_blade_request(peer: OfficialPeer, case: Case) -> None:
    decoded = decode_blade_request(official_blade(peer, case))
    assert decoded.signature_name == SIGNATURE
    assert decoded.output_info == [("out", case.blade_type)]
    assert list(decoded.inputs) == ["x"]
    got = decoded.inputs["x"]
    assert (got.name, got.blob_name, got.batch_size, got.dtype) == (
        "x",
        "x",
        BATCH,
        case.blade_type,
    )
    assert_identical(got.array, case.expected)


@pytest.mark.parametrize("case", BLADE_CASES, ids=str)
def test_aioeas_decodes_official_blade_tf_request(peer: OfficialPeer, case: Case) -> None:
    decoded = decode_blade_request(official_blade_tf(peer, case))
    assert decoded.signature_name == SIGNATURE
    assert decoded.output_info == [("out", BladeDataType.DT_UNKNOWN)]
    got = decoded.inputs["x"]
    assert (got.batch_size, got.dtype) == (case.shape[0], case.blade_type)
    assert_identical(got.array, case.expected)


@pytest.mark.parametrize(
    ("blade_type", "value"),
    [(BladeDataType.DT_FLOAT, 2.5), (BladeDataType.DT_INT32, -7)],
    ids=["float", "int32"],
)
def test_scalar_content(peer: OfficialPeer, blade_type: BladeDataType, value: Any) -> None:
    """The official builders take a bare value for a volume of one; so does aioeas."""
    values = (
        {"f": b64(np.array([value], "<f8").tobytes())}
        if isinstance(value, float)
        else {"i": [value]}
    )
    feed = {"name": "x", "shape": [1, 1], "dtype": int(blade_type), "content": values}
    official = peer.body(
        "blade_request", signature="", feeds=[{**feed, "batch_size": 1, "scalar": True}]
    )
    assert BladeRequest("").add_feed("x", 1, [1, 1], blade_type, value).to_bytes() == official
    official = peer.body("blade_tf_request", signature="", feeds=[{**feed, "scalar": True}])
    assert BladeTFRequest("").add_feed("x", [1, 1], blade_type, value).to_bytes() == official


def test_official_blade_quirks(peer: OfficialPeer) -> None:
    """Official faults, documented rather than copied."""
    one = {"name": "x", "shape": [1], "batch_size": 1}
    # BladeRequest() sets tf_signature_name = None, which protobuf 3.20.3 refuses.
    err = peer.error("blade_request", signature=None)
    assert err.type == "TypeError"
    # A bare int64 hits a typo (arr.in64_val): AttributeError.
    scalar64 = {**one, "dtype": 3, "content": {"i": [5]}, "scalar": True}
    err = peer.error("blade_request", signature="", feeds=[scalar64])
    assert err.type == "AttributeError"
    assert "in64_val" in err.message
    assert BladeRequest("").add_feed("x", 1, [1], BladeRequest.DT_INT64, 5).to_bytes()
    # Strings: the builder checks for str, protobuf's bytes field wants bytes.
    text = {**one, "dtype": 4, "content": {"u": ["é"]}}
    err = peer.error("blade_request", signature="", feeds=[text])
    assert err.type == "TypeError"
    # A bare float for a volume other than one is dropped without a word: no values go.
    lone = {**one, "shape": [2], "dtype": 1, "content": {"f": b64(b"\0" * 8)}, "scalar": True}
    got = peer.call(
        "parse_blade_request", body=b64(peer.body("blade_request", signature="", feeds=[lone]))
    )
    assert (got["inputs"][0]["dims"], got["inputs"][0]["float_val"]) == ([2], {"i": []})
    with pytest.raises(InvalidTensorError):
        BladeRequest("").add_feed("x", 1, [2], BladeRequest.DT_FLOAT, 0.0)
    # An empty shape has no volume (reduce() of an empty list).
    empty = {**one, "shape": [], "dtype": 1, "content": {"f": b64(b"\0" * 8)}}
    err = peer.error("blade_request", signature="", feeds=[empty])
    assert err.type == "TypeError"


def test_empty_batch_from_the_tf_compatible_form(peer: OfficialPeer) -> None:
    """The official blade_tf TFRequest sends shape [0, 3] with batchsize 0; aioeas decodes it.
    (aioeas's own builders refuse a batch size of 0: a difference, reported.)"""
    feed = {"name": "x", "shape": [0, 3], "dtype": 1, "content": {"f": ""}}
    decoded = decode_blade_request(peer.body("blade_tf_request", signature="s", feeds=[feed]))
    assert decoded.inputs["x"].batch_size == 0
    assert_identical(decoded.inputs["x"].array, np.zeros((0, 3), np.float32))
    with pytest.raises(InvalidTensorError, match="batch size"):
        BladeTFRequest("s").add_feed("x", [0, 3], BladeTFRequest.DT_FLOAT, [])


# ------------------------------------------------------------------- (c) official -> aioeas


def _blade_desc(case: Case, name: str, batch: int) -> dict[str, Any]:
    return {
        "blade_blob_name": name,
        "name_in_dl_model": name,
        "batchsize": batch,
        "dims": case.shape,
        BLADE_FIELD[case.blade_type]: case.values(),
    }


@pytest.mark.parametrize("case", BLADE_CASES, ids=str)
def test_aioeas_reads_official_response(peer: OfficialPeer, case: Case) -> None:
    extra = {"blade_blob_name": "b", "name_in_dl_model": "other", "batchsize": 1, "dims": [0]}
    body = peer.body("pb_blade_response", outputs=[_blade_desc(case, "out", 5), extra])
    for cls in (BladeResponse, BladeTFResponse):
        resp = cls(body)
        assert sorted(resp) == ["other", "out"]
        assert resp.dtype("out") == case.blade_type
        assert resp.batch_size("out") == 5
        assert_identical(resp["out"], case.expected)
        assert resp.get_tensor_shape("out") == case.shape
        assert_identical(resp.get_values("out"), case.expected.reshape(-1))
    assert_identical(
        BladeResponse(body).get_values("out", case.blade_type), case.expected.reshape(-1)
    )


@pytest.mark.parametrize("blade_type", list(BLADE_FIELD), ids=lambda t: t.name)
def test_empty_output_takes_the_fetched_type(peer: OfficialPeer, blade_type: BladeDataType) -> None:
    """An empty Blade output has no filled field: its type is the one add_fetch asked for."""
    empty = {"blade_blob_name": "out", "name_in_dl_model": "out", "batchsize": 1, "dims": [0, 4]}
    body = peer.body("pb_blade_response", outputs=[empty])
    resp = BladeRequest().add_fetch("out", blade_type).parse_response(body)
    assert resp.dtype("out") == blade_type
    assert resp["out"].shape == (0, 4)
    got = peer.call("read_blade_response", body=b64(body), fetches=[["out", int(blade_type)]])
    assert got == [{"shape": [0, 4], "values": {"i": []}}]


# ------------------------------------------------------------------- (d) aioeas -> official


@pytest.mark.parametrize("case", BLADE_CASES, ids=str)
def test_official_reads_aioeas_response(peer: OfficialPeer, case: Case) -> None:
    body = encode_blade_response({"out": (case.blade_type, case.data)}, batch_size=4)
    got = peer.call("read_blade_response", body=b64(body), fetches=[["out", int(case.blade_type)]])
    assert got[0]["shape"] == case.shape
    assert_values(got[0]["values"], case.expected)
    tf_style = peer.call("read_blade_tf_response", body=b64(body), names=["out"])["out"]
    assert tf_style["shape"] == case.shape
    assert_values(tf_style["values"], case.expected)
    parsed = peer.call("parse_blade_response", body=b64(body))["outputs"]
    assert len(parsed) == 1
    assert parsed[0]["blade_blob_name"] == parsed[0]["name_in_dl_model"] == "out"
    assert parsed[0]["batchsize"] == 4
    assert parsed[0]["dims"] == case.shape
    assert_only_field(parsed[0], BLADE_FIELD[case.blade_type], case.expected, BLADE_FIELDS)


def test_official_blade_tf_response_cannot_read_an_empty_output(peer: OfficialPeer) -> None:
    """Official fault: blade_tf_request.TFResponse.get_values looks for a filled field and
    reports an empty output as an unknown name. aioeas reads it as an empty array."""
    body = encode_blade_response({"out": np.zeros((0, 4), np.float32)})
    err = peer.error("read_blade_tf_response", body=b64(body), names=["out"])
    assert err.type == "AssertionError"
    assert "Unknown output name" in err.message
    assert BladeTFResponse(body)["out"].shape == (0, 4)


# ------------------------------------------------------------------- the manual's example


def test_manual_blade_example_is_refused_by_both(peer: OfficialPeer) -> None:
    """The manual feeds shape [1, 360, 128] with 85680 values (it needs 46080)."""
    wrong = [0.8] * 85680
    data = {"f": b64(np.array(wrong, "<f8").tobytes())}
    feed = {"name": "input_data", "shape": [1, 360, 128], "dtype": 1, "content": data}
    err = peer.error("blade_request", signature="", feeds=[{**feed, "batch_size": 1}])
    assert err.type == "AssertionError"
    assert "85680" in err.message
    assert "46080" in err.message
    err = peer.error("blade_tf_request", signature="predict_words", feeds=[feed])
    assert err.type == "AssertionError"
    with pytest.raises(InvalidTensorError, match="46080"):
        BladeRequest().add_feed("input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, wrong)
    with pytest.raises(InvalidTensorError, match="46080"):
        BladeTFRequest("predict_words").add_feed(
            "input_data", [1, 360, 128], BladeTFRequest.DT_FLOAT, wrong
        )


def _manual_feeds(values: list[float]) -> list[dict[str, Any]]:
    return [
        {
            "name": "input_data",
            "shape": [1, 360, 128],
            "dtype": 1,
            "content": {"f": b64(np.array(values, "<f8").tobytes())},
        },
        {"name": "input_length", "shape": [1], "dtype": 2, "content": {"i": [187]}},
        {"name": "start_token", "shape": [1], "dtype": 2, "content": {"i": [104]}},
    ]


def test_manual_blade_example_corrected_round_trips(peer: OfficialPeer) -> None:
    values = [0.8] * 46080
    expected = np.full((1, 360, 128), 0.8, np.float32)
    # BladeRequest (the manual's BladeRequest() needs a signature under protobuf 3.20.3)
    mine = BladeRequest("")
    mine.add_feed("input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, values)
    mine.add_feed("input_length", 1, [1], BladeRequest.DT_INT32, [187])
    mine.add_feed("start_token", 1, [1], BladeRequest.DT_INT32, [104])
    mine.add_fetch("output", BladeRequest.DT_FLOAT)
    official = peer.body(
        "blade_request",
        signature="",
        feeds=[{**f, "batch_size": 1} for f in _manual_feeds(values)],
        fetches=[{"name": "output", "dtype": 1}],
    )
    assert mine.to_bytes() == official
    decoded = decode_blade_request(official)
    assert_identical(decoded.inputs["input_data"].array, expected)
    assert_identical(decoded.inputs["input_length"].array, np.array([187], np.int32))
    assert_identical(decoded.inputs["start_token"].array, np.array([104], np.int32))
    assert decoded.output_info == [("output", BladeDataType.DT_FLOAT)]
    # the TF-compatible form, as the manual writes it
    tf_mine = BladeTFRequest(signature_name="predict_words")
    tf_mine.add_feed("input_data", [1, 360, 128], BladeTFRequest.DT_FLOAT, values)
    tf_mine.add_feed("input_length", [1], BladeTFRequest.DT_INT32, [187])
    tf_mine.add_feed("start_token", [1], BladeTFRequest.DT_INT32, [104])
    tf_mine.add_fetch("output")
    tf_official = peer.body(
        "blade_tf_request",
        signature="predict_words",
        feeds=_manual_feeds(values),
        fetches=["output"],
    )
    assert tf_mine.to_bytes() == tf_official
    got = peer.call("parse_blade_request", body=b64(tf_mine.to_bytes()))
    assert [a["batchsize"] for a in got["inputs"]] == [1, 1, 1]
    assert_values(got["inputs"][0]["float_val"], expected)
    # and the answer, read by the official response classes
    answer = encode_blade_response({"output": np.arange(6, dtype=np.float32).reshape(1, 6)})
    read = peer.call("read_blade_response", body=b64(answer), fetches=[["output", 1]])
    assert read[0]["shape"] == [1, 6]
    assert_values(read[0]["values"], np.arange(6, dtype=np.float32))
