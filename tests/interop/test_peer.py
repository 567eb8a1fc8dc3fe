"""The official-SDK peer itself: values cross the pipe exactly, errors come back as objects."""

from __future__ import annotations

import numpy as np
import pytest

from tests.interop.cases import as_array, assert_identical, extremes
from tests.support.official_peer import OfficialPeer, PeerError, b64, decode_values, encode_values

pytestmark = pytest.mark.interop


def test_versions(peer: OfficialPeer) -> None:
    got = peer.call("versions")
    assert got["eas_prediction"] == "0.36"
    assert got["protobuf"] == "3.20.3"


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float64, np.int8, np.uint16, np.int32, np.int64, np.bool_], ids=str
)
def test_values_survive_a_round_trip(peer: OfficialPeer, dtype: type[np.generic]) -> None:
    """Through a pb2 message and back: NaN, infinities, -0.0 and integer extremes intact."""
    arr = extremes(dtype).reshape(-1)
    field = {"f": "float_val", "b": "bool_val"}.get(np.dtype(dtype).kind, "int64_val")
    if dtype is np.float64:
        field = "double_val"
    desc = {"dtype": 1, "dims": [arr.size], field: encode_values(arr)}
    body = peer.call("pb_tf_response", outputs={"y": desc})["body"]
    got = peer.call("parse_tf_response", body=body)["outputs"]["y"]
    assert_identical(as_array(got[field], arr), arr)


def test_text_and_bytes_values() -> None:
    assert decode_values(encode_values(np.array(["é", ""], dtype=object))) == ["é", ""]
    assert decode_values(encode_values(np.array([b"\xff", b""], dtype=object))) == [b"\xff", b""]
    assert decode_values(encode_values(np.zeros(0, np.float32))) == []


def test_errors_come_back_as_objects(peer: OfficialPeer) -> None:
    outcome = peer.outcome("parse_tf_request", body=b64(b"\xff\xff\xff"))
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.type == "DecodeError"
    with pytest.raises(PeerError) as info:
        peer.call("no_such_command")
    assert info.value.type == "ValueError"
    with pytest.raises(PeerError):
        peer.call("run")  # the dispatcher is not a command


def test_batch_answers_each_command(peer: OfficialPeer) -> None:
    outcomes = peer.batch(
        [
            {"cmd": "versions"},
            {
                "cmd": "tf_request",
                "signature": None,
                "feeds": [{"name": "x", "shape": [0], "dtype": 1, "content": {"f": ""}}],
            },
            {"cmd": "tf_request", "signature": "s"},
        ]
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error is not None
    assert outcomes[1].error.type == "TypeError"
    assert outcomes[2].unwrap() == {"body": b64(b"")}
