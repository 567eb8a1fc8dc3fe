"""The queue protocol without a server: URLs, queries, headers, validation, answers."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from aioeas.errors import AuthError, DecodeError, RetryableServiceError, ServiceError, UsageError
from aioeas.queue import protocol as proto
from aioeas.queue.config import ReconnectPolicy


def pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True, strict_parsing=True)


def test_queue_urls() -> None:
    assert proto.queue_url("1.cn.pai-eas.aliyuncs.com/", "svc") == (
        "http://1.cn.pai-eas.aliyuncs.com/api/predict/svc"
    )
    assert proto.queue_url("https://h", "svc/sink") == "https://h/api/predict/svc/sink"
    assert proto.queue_url("", "", custom_url="http://x/y") == "http://x/y"
    assert proto.websocket_url("https://h/api/predict/s") == "wss://h/api/predict/s"
    assert proto.websocket_url("http://h/api/predict/s") == "ws://h/api/predict/s"
    assert proto.with_query("http://h/p", "a=1") == "http://h/p?a=1"
    assert proto.with_query("http://h/p?x=1", "a=1") == "http://h/p?x=1&a=1"
    with pytest.raises(UsageError):
        proto.queue_url("h", "")
    with pytest.raises(UsageError):
        proto.queue_url("", "svc")
    with pytest.raises(UsageError):
        proto.queue_url("ftp://h", "svc")


def test_get_query_and_tag_encoding() -> None:
    q = proto.get_query(
        index=3,
        length=2,
        timeout="5s",
        auto_delete=False,
        tags={"k": "a&b=c/d é"},
        request_id="r1",
    )
    assert pairs(q) == [
        ("_index_", "3"),
        ("_length_", "2"),
        ("_timeout_", "5s"),
        ("_raw_", "false"),
        ("_auto_delete_", "false"),
        ("requestId", "r1"),
        ("k", "a&b=c/d é"),
    ]
    assert "a%26b%3Dc%2Fd%20%C3%A9" in q


def test_other_queries() -> None:
    assert pairs(proto.put_query({"a": "1"}, priority=1)) == [("a", "1"), ("_priority_", "1")]
    assert proto.put_query({}) == ""
    assert pairs(proto.commit_query([3, 4, 5])) == [("_indexes_", "3,4,5")]
    assert pairs(proto.delete_query([7])) == [("_indexes_", "7")]
    assert pairs(proto.truncate_query(9)) == [("_index_", "9"), ("_trunc_", "true")]
    assert proto.attributes_query() == "_attrs_=true"
    assert pairs(proto.search_query(4)) == [("_search_", "true"), ("_index_", "4")]
    assert proto.count_query() == "_count_=true"
    assert pairs(proto.count_query(2)) == [("_count_", "true"), ("_priority_", "2")]
    assert pairs(proto.negative_ack_query([1, 2])) == [("_indexes_", "1,2"), ("_negative_", "true")]
    assert proto.eos_query() == "_eos_=true"
    assert proto.eos_query(force=True) == "_eos_=true&_force_=true"
    assert pairs(
        proto.watch_query(index=5, window=10, index_only=True, auto_commit=False, tags={"t": "v"})
    ) == [
        ("_watch_", "true"),
        ("_index_", "5"),
        ("_window_", "10"),
        ("_index_only_", "true"),
        ("_auto_commit_", "false"),
        ("t", "v"),
    ]


@pytest.mark.parametrize(
    "tags",
    [
        {"_index_": "1"},
        {"_x": "y"},
        {"": "v"},
        {"k": "a\r\nX-Evil: 1"},
        {"k\n": "v"},
        {"k": "nul\x00"},
        {"k": 5},
        {5: "v"},
    ],
)
def test_bad_tags_are_refused(tags: dict[object, object]) -> None:
    with pytest.raises(UsageError):
        proto.check_tags(tags)  # type: ignore[arg-type]


def test_good_tags_are_copied() -> None:
    tags = {"user": "42", "k": "a b&c"}
    checked = proto.check_tags(tags)
    assert checked == tags
    assert checked is not tags
    assert proto.check_tags(None) == {}
    with pytest.raises(UsageError):
        proto.check_tags([("a", "b")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "wire", "seconds"),
    [
        ("5s", "5s", 5.0),
        ("500ms", "500ms", 0.5),
        ("1m30s", "1m30s", 90.0),
        ("1.5s", "1.5s", 1.5),
        ("5", "5", 5.0),
        ("0s", "0s", 0.0),
        (5, "5s", 5.0),
        (0, "0s", 0.0),
        (1.5, "1500ms", 1.5),
        (0.25, "250ms", 0.25),
    ],
)
def test_timeouts(given: str | float, wire: str, seconds: float) -> None:
    assert proto.parse_timeout(given) == (wire, seconds)


@pytest.mark.parametrize("bad", ["", "5x", "s", "-1", -1, float("nan"), True, "1s junk", None])
def test_bad_timeouts(bad: object) -> None:
    with pytest.raises(UsageError):
        proto.parse_timeout(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["Shutdown", "Timeout", "503", "ModelError2", "A" * 20])
def test_negative_ack_codes(code: str) -> None:
    body = proto.negative_ack_body(code, "why & how")
    assert pairs(body.decode()) == [("_code_", code), ("_reason_", "why & how")]


@pytest.mark.parametrize("code", ["", "shutdown", "Shut down", "A" * 21, "Bad-Code", "Ok\n"])
def test_bad_negative_ack_codes(code: str) -> None:
    with pytest.raises(UsageError, match="CamelCase"):
        proto.negative_ack_body(code, "")


def test_indexes() -> None:
    assert proto.check_indexes(3) == [3]
    assert proto.check_indexes(iter([1, 2])) == [1, 2]
    for bad in ([], [0], [True], ["1"], -2):
        with pytest.raises(UsageError):
            proto.check_indexes(bad)  # type: ignore[arg-type]


def test_identity_headers_and_names_from_attributes() -> None:
    ident = proto.Identity("u1", "g1")
    assert ident.headers("tok", accept=proto.ACCEPT_PROTOBUF) == {
        "X-EAS-QueueService-Redis-Uid": "u1",
        "X-EAS-QueueService-Redis-Gid": "g1",
        "Authorization": "tok",
        "Accept": "application/vnd.google.protobuf",
    }
    assert "Authorization" not in ident.headers("")
    first = ident.headers("t")
    first["x"] = "y"
    assert "x" not in ident.headers("t")  # a new dict every time
    renamed = proto.identity_from_attributes(
        ident,
        {
            "meta.header.user": "X-User",
            "meta.header.group": "X-Group",
            "meta.header.priority": "bad header\r\n",
        },
    )
    assert renamed.headers("") == {"X-User": "u1", "X-Group": "g1"}
    assert renamed.priority_header is None  # no header unless the queue names a valid one
    for uid in ("", "a\nb"):
        with pytest.raises(UsageError):
            proto.Identity(uid)


def test_answers() -> None:
    assert proto.error_for(200, b"", "u") is None
    assert proto.error_for(204, b"", "u") is None
    assert isinstance(proto.error_for(401, b"x", "u"), AuthError)
    assert isinstance(proto.error_for(503, b"x", "u"), RetryableServiceError)
    err = proto.error_for(413, b"too big", "u")
    assert type(err) is ServiceError
    assert err.status == 413
    assert err.body == b"too big"
    assert proto.parse_put(b"17\n", {"x-eas-queueservice-request-id": "r"}) == (17, "r")
    assert proto.parse_put(b"", {}) == (0, "")
    with pytest.raises(DecodeError):
        proto.parse_put(b"<html>", {})
    assert proto.parse_count(b" 3 ") == 3
    with pytest.raises(DecodeError):
        proto.parse_count(b"x")
    assert proto.parse_attributes(b'{"a": "1", "b": 2}', "application/json") == {
        "a": "1",
        "b": "2",
    }
    assert proto.parse_attributes(b"", "") == {}
    for bad in (b"[1]", b"{"):
        with pytest.raises(DecodeError):
            proto.parse_attributes(bad, "application/json")
    found = proto.parse_search(b'{"ConsumerId": "eas.u", "IsPending": true, "WaitCount": 2}')
    assert (found.consumer_id, found.is_pending, found.wait_count) == ("eas.u", True, 2)
    assert proto.parse_search(b'{"IsPending": "false"}').is_pending is False
    for bad in (b"nope", b"[]", b'{"WaitCount": "x"}'):
        with pytest.raises(DecodeError):
            proto.parse_search(bad)


def test_reconnect_policy() -> None:
    policy = ReconnectPolicy(max_attempts=3, deadline=10.0, backoff_base=0.5, backoff_max=1.0)
    assert policy.delay(1, 0.9) == 0.0  # the first try is immediate
    assert policy.delay(2, 0.0) == 0.5
    assert policy.delay(4, 0.0) == 1.0  # capped
    assert policy.delay(2, 1.0) == 0.25  # half jitter
    assert not policy.gives_up(2, 1.0, 0.5)
    assert policy.gives_up(3, 1.0, 0.5)  # attempts
    assert policy.gives_up(1, 9.8, 0.5)  # deadline
    assert not ReconnectPolicy(max_attempts=None, deadline=None).gives_up(10**6, 1e9, 5)
    for bad in (
        {"max_attempts": -1},
        {"deadline": 0},
        {"jitter": 2},
        {"backoff_base": -1},
        {"max_attempts": True},
    ):
        with pytest.raises(UsageError):
            ReconnectPolicy(**bad)  # type: ignore[arg-type]
