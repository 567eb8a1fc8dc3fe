"""StringRequest and StringResponse: bodies as given, JSON records, DataFrames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aioeas import DecodeError, StringRequest, StringResponse, UsageError

MANUAL_EXAMPLE = '[{"fea1": 1, "fea2": 2}]'


def test_str_body_is_sent_as_utf8() -> None:
    req = StringRequest("héllo 日本")
    assert req.to_bytes() == "héllo 日本".encode()
    assert req.to_string() == req.to_bytes()
    assert req.content_type is None


@pytest.mark.parametrize(
    "data", [b"\x00\xff raw", bytearray(b"\x00\xff raw"), memoryview(b"\x00\xff raw")]
)
def test_bytes_bodies_are_sent_as_they_are(data: bytes) -> None:
    assert StringRequest(data).to_bytes() == b"\x00\xff raw"


def test_bytearray_body_is_copied() -> None:
    data = bytearray(b"abc")
    req = StringRequest(data)
    data[0] = ord("z")
    assert req.to_bytes() == b"abc"


def test_empty_and_content_type() -> None:
    assert StringRequest().to_bytes() == b""
    assert StringRequest(None).to_bytes() == b""
    assert StringRequest("x", content_type="application/json").content_type == "application/json"


@pytest.mark.parametrize("data", [1, 1.5, ["a"], {"a": 1}])
def test_other_objects_are_refused(data: object) -> None:
    with pytest.raises(UsageError, match=r"StringRequest takes str or bytes.*from_json"):
        StringRequest(data)  # type: ignore[arg-type]


def test_manual_example_as_given() -> None:
    assert StringRequest(MANUAL_EXAMPLE).to_bytes() == MANUAL_EXAMPLE.encode()


def test_from_json_spaces_like_json_dumps() -> None:
    obj = [{"fea1": 1, "fea2": 2}]
    req = StringRequest.from_json(obj)
    assert req.to_bytes() == MANUAL_EXAMPLE.encode()
    assert req.to_bytes() == json.dumps(obj).encode()
    assert StringRequest.from_json({"text": "日本"}).to_bytes() == '{"text": "日本"}'.encode()
    assert StringRequest.from_json(None).to_bytes() == b"null"
    ct = StringRequest.from_json([], content_type="application/json").content_type
    assert ct == "application/json"


@pytest.mark.parametrize("obj", [float("nan"), {"x": float("inf")}, {"x": object()}, {1j}])
def test_from_json_refuses_what_json_cannot_carry(obj: object) -> None:
    with pytest.raises(UsageError, match="cannot send this object as JSON"):
        StringRequest.from_json(obj)


def test_from_records_with_a_dataframe_is_the_manual_example() -> None:
    df = pd.DataFrame({"fea1": [1], "fea2": [2]})
    assert StringRequest.from_records(df).to_bytes() == MANUAL_EXAMPLE.encode()


def test_from_records_with_mixed_dataframe_columns() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "c": ["x", "y"], "d": [True, False]})
    body = StringRequest.from_records(df).to_bytes()
    assert body == (
        b'[{"a": 1, "b": 0.5, "c": "x", "d": true}, {"a": 2, "b": 1.5, "c": "y", "d": false}]'
    )


def test_from_records_with_dicts_and_numpy_scalars() -> None:
    rows = [{"fea1": np.int64(1), "fea2": np.float32(2.0)}]
    assert StringRequest.from_records(rows).to_bytes() == b'[{"fea1": 1, "fea2": 2.0}]'
    assert StringRequest.from_records({"fea1": 1, "fea2": 2}).to_bytes() == MANUAL_EXAMPLE.encode()
    assert StringRequest.from_records(iter([{"k": "v"}])).to_bytes() == b'[{"k": "v"}]'


@pytest.mark.parametrize("records", ["abc", b"abc", 5])
def test_from_records_refuses_non_records(records: object) -> None:
    with pytest.raises(UsageError, match="records are a DataFrame or a list of dicts"):
        StringRequest.from_records(records)  # type: ignore[arg-type]


def test_parse_response() -> None:
    resp = StringRequest("x").parse_response(b'{"a": 1}')
    assert isinstance(resp, StringResponse)
    assert resp.json() == {"a": 1}


def test_response_views() -> None:
    resp = StringResponse('[{"p": 0.25}]')
    assert resp.content == b'[{"p": 0.25}]'
    assert resp.to_bytes() == bytes(resp) == b'[{"p": 0.25}]'
    assert resp.text == str(resp) == resp.to_string() == '[{"p": 0.25}]'
    assert resp.json() == [{"p": 0.25}]
    assert resp == StringResponse(b'[{"p": 0.25}]')
    assert resp != StringResponse(b"other")
    assert StringResponse().content == b""
    assert StringResponse(bytearray(b"ab")).content == b"ab"
    with pytest.raises(TypeError):
        hash(resp)


def test_text_replaces_undecodable_bytes() -> None:
    assert StringResponse(b"ok \xff").text == "ok \ufffd"


@pytest.mark.parametrize("body", [b"<html>502</html>", b"", b"{'a': 1}", b"\xff\xfe", b"[1, 2"])
def test_bad_json_raises_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        StringResponse(body).json()
    assert info.value.body == body
    assert str(info.value).startswith("cannot decode a JSON response")
    assert repr(body) in str(info.value)


def test_to_dataframe_from_records() -> None:
    df = StringResponse(b'[{"fea1": 1, "fea2": 2}, {"fea1": 3, "fea2": 4}]').to_dataframe()
    pd.testing.assert_frame_equal(df, pd.DataFrame({"fea1": [1, 3], "fea2": [2, 4]}))


def test_to_dataframe_from_columns_and_from_one_record() -> None:
    columns = StringResponse(b'{"a": [1, 2], "b": ["x", "y"]}').to_dataframe()
    pd.testing.assert_frame_equal(columns, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    one = StringResponse(b'{"a": 1, "b": "x"}').to_dataframe()
    pd.testing.assert_frame_equal(one, pd.DataFrame([{"a": 1, "b": "x"}]))


@pytest.mark.parametrize("body", [b"5", b'"text"', b"null"])
def test_to_dataframe_refuses_scalars(body: bytes) -> None:
    with pytest.raises(DecodeError, match="it is not a list or an object"):
        StringResponse(body).to_dataframe()


def test_to_dataframe_on_bad_json() -> None:
    with pytest.raises(DecodeError):
        StringResponse(b"<html>").to_dataframe()


def test_reprs_are_short() -> None:
    assert repr(StringRequest("a" * 100)).endswith("...)")
    assert repr(StringResponse(b"b" * 100)).endswith("...)")
    assert repr(StringResponse(b"b")) == "StringResponse(b'b')"
