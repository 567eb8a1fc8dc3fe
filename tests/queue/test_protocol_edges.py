"""Edges of the queue protocol's sans-IO checks and parsers that mutation testing showed
unguarded (docs/mutation.md): exact errors (what, reason, body), defaults of fields a
search answer leaves out, and the bounds of a negative-ack code."""

from __future__ import annotations

import pytest

from aioeas.codecs.frames import encode_attributes
from aioeas.errors import (
    AuthError,
    DecodeError,
    RetryableServiceError,
    ServiceError,
    UsageError,
)
from aioeas.queue.protocol import (
    HEADER_GID,
    HEADER_UID,
    Identity,
    SearchResult,
    check_index,
    check_indexes,
    check_tags,
    error_for,
    identity_from_attributes,
    negative_ack_body,
    parse_attributes,
    parse_count,
    parse_put,
    parse_search,
    parse_timeout,
    payload_limit,
    queue_url,
    watch_query,
    websocket_url,
)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "no indexes given"),
        ([0], "an index must be >= 1, got 0"),
        (["3"], "an index must be an int, got str"),
    ],
)
def test_bad_indexes_are_named(given: list[object], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_indexes(given)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_a_negative_ack_code_of_one_character_is_enough_and_none_is_refused() -> None:
    assert negative_ack_body("5", "") == b"_code_=5&_reason_="
    with pytest.raises(UsageError, match="CamelCase words or digits"):
        negative_ack_body("", "why")
    with pytest.raises(UsageError, match=r"^reason must be a str, got int$"):
        negative_ack_body("Timeout", 3)  # type: ignore[arg-type]


def test_a_bad_count_says_so_and_keeps_the_body() -> None:
    with pytest.raises(DecodeError) as caught:
        parse_count(b"lots")
    assert (caught.value.what, caught.value.reason, caught.value.body) == (
        "the count",
        "not a decimal number",
        b"lots",
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{x", "not JSON (Expecting property name enclosed in double quotes"),
        (b"[]", "not a JSON object"),
        (b'{"WaitCount": "x"}', "WaitCount is not a number"),
    ],
)
def test_a_bad_search_answer_says_what_is_wrong(body: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_search(body)
    assert caught.value.what == "the search answer"
    assert caught.value.reason.startswith(reason)
    assert caught.value.body == body


def test_a_search_answer_without_fields_has_their_defaults() -> None:
    assert parse_search(b"{}") == SearchResult("", False, 0, {})
    assert parse_search(b'{"ConsumerId": null, "WaitCount": null}') == SearchResult(
        "", False, 0, {"ConsumerId": None, "WaitCount": None}
    )


@pytest.mark.parametrize(("given", "pending"), [("True", True), ("true", True), ("no", False)])
def test_is_pending_as_text_is_read_case_insensitively(given: str, pending: bool) -> None:
    body = b'{"IsPending": "%s", "ConsumerId": "c1", "WaitCount": 2}' % given.encode()
    result = parse_search(body)
    assert (result.is_pending, result.consumer_id, result.wait_count) == (pending, "c1", 2)
    assert result.raw == {"IsPending": given, "ConsumerId": "c1", "WaitCount": 2}


@pytest.mark.parametrize(
    ("given", "expected"),
    [("0", ("0", 0.0)), ("0.5", ("0.5", 0.5)), ("1m30s", ("1m30s", 90.0)), (0.25, ("250ms", 0.25))],
)
def test_timeouts_under_a_second_and_zero_are_taken(
    given: str | float, expected: tuple[str, float]
) -> None:
    assert parse_timeout(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (True, "timeout must be seconds or a duration like '5s', got True"),
        (None, "timeout must be seconds or a duration like '5s', got None"),
        (-1, "timeout must be a finite number >= 0, got -1"),
        ("-2", "timeout must be a finite number >= 0, got '-2'"),
        ("5s x", "not a duration: '5s x' (use e.g. '5s', '500ms')"),
        ("5s x3s", "not a duration: '5s x3s' (use e.g. '5s', '500ms')"),
        ("", "not a duration: '' (use e.g. '5s', '500ms')"),
    ],
)
def test_a_bad_timeout_is_named(given: object, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_timeout(given)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_identity_errors_name_the_field() -> None:
    """uid and gid are checked apart: the message says which one is wrong."""
    cases: list[tuple[object, object, str]] = [
        (1, "g", "uid must be a str, got int"),
        ("u", 2, "gid must be a str, got int"),
        ("a\nb", "g", "uid must not contain control characters"),
        ("u", "a\rb", "gid must not contain control characters"),
        ("", "g", "uid and gid must not be empty"),
        ("u", "", "uid and gid must not be empty"),
    ]
    for uid, gid, message in cases:
        with pytest.raises(UsageError) as caught:
            Identity(uid, gid)  # type: ignore[arg-type]
        assert str(caught.value).startswith(message), (uid, gid, str(caught.value))


def test_header_names_from_attributes_keep_what_the_queue_does_not_name() -> None:
    """A valid priority header name is taken; when the attributes do not name one, one
    the identity had already is kept (a second read of attributes does not lose it)."""
    named = identity_from_attributes(Identity("u", "g"), {"meta.header.priority": "X-Priority"})
    assert named.priority_header == "X-Priority"
    assert (named.uid_header, named.gid_header) == (HEADER_UID, HEADER_GID)
    again = identity_from_attributes(named, {"meta.header.user": "X-User"})
    assert again.priority_header == "X-Priority"
    assert (again.uid_header, again.gid_header) == ("X-User", HEADER_GID)
    assert (again.uid, again.gid) == ("u", "g")


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([("k", "v")], "tags must be a mapping of str to str, got list"),
        ({1: "v"}, "a tag key must be a non-empty str, got 1"),
        ({"": "v"}, "a tag key must be a non-empty str, got ''"),
        (
            {"_index_": "1"},
            "tag key '_index_' starts with '_': such keys are reserved for the queue "
            "service's own parameters",
        ),
        ({"k\n": "v"}, "tag key 'k\\n' must not contain control characters"),
        ({"k": 1}, "tag 'k' must have a str value, got int"),
        ({"k": "a\nb"}, "the value of tag 'k' must not contain control characters"),
    ],
)
def test_bad_tags_are_named(tags: object, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_tags(tags)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message), str(caught.value)


def test_good_tags_are_copied_and_a_one_byte_payload_limit_holds() -> None:
    given = {"k": "a&b=/é"}
    checked = check_tags(given)
    assert checked == given
    assert checked is not given
    assert check_tags(None) == {}
    assert payload_limit({"meta.maxPayloadBytes": "1"}) == 1
    assert payload_limit({"meta.maxPayloadBytes": "0"}) is None


def test_a_custom_url_is_taken_verbatim_without_its_question_mark() -> None:
    assert queue_url("", "", "http://host/api/predict/q?") == "http://host/api/predict/q"
    assert queue_url("", "", " http://host/q ") == " http://host/q "  # verbatim otherwise


def test_check_index_defaults_to_a_non_negative_index() -> None:
    """Priority 0 (the normal one) passes the default check; below 0 is named."""
    assert check_index(0) == 0
    with pytest.raises(UsageError) as caught:
        check_index(-1)
    assert str(caught.value) == "index must be >= 0, got -1"


def test_queue_urls_edges_and_messages() -> None:
    assert queue_url("", "", "http://x/QX?") == "http://x/QX"  # only "?" goes, only at the end
    assert queue_url("", "", "?http://x/y?") == "?http://x/y"
    assert queue_url("https://h", "/Xsvc/sink/") == "https://h/api/predict/Xsvc/sink"
    assert queue_url("https://h", "a b") == "https://h/api/predict/a%20b"
    with pytest.raises(UsageError) as caught:
        queue_url("h", "")
    assert str(caught.value) == "a queue name is needed unless a custom_url is given"
    with pytest.raises(UsageError) as caught:
        queue_url("h", "a\nb")
    assert str(caught.value).startswith("queue name must not contain control characters")
    with pytest.raises(UsageError) as caught:
        queue_url("", "svc")
    assert str(caught.value) == (
        "an endpoint is needed (e.g. http://1234.cn-shanghai.pai-eas.aliyuncs.com)"
    )


def test_websocket_urls() -> None:
    assert websocket_url("http://h/q") == "ws://h/q"
    assert websocket_url("HTTPS://h/q") == "wss://h/q"
    assert websocket_url("ws://h/q") == "ws://h/q"  # another scheme is kept
    assert websocket_url("h/q") == "ws://h/q"  # none given: plain ws
    assert websocket_url("https://h/q?u=http://x") == "wss://h/q?u=http://x"  # the first only


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (300, ServiceError),
        (401, AuthError),
        (403, AuthError),
        (404, ServiceError),
        (499, ServiceError),
        (500, RetryableServiceError),
        (501, RetryableServiceError),
    ],
)
def test_each_error_status_keeps_its_status_body_and_url(status: int, kind: type) -> None:
    error = error_for(status, b"why", "http://h/q")
    assert type(error) is kind
    assert isinstance(error, ServiceError)
    assert (error.status, error.body, error.url) == (status, b"why", "http://h/q")
    assert error_for(299, b"", "u") is None


def test_a_put_answer_that_is_no_number_is_named() -> None:
    with pytest.raises(DecodeError) as caught:
        parse_put(b"<html>", {})
    assert (caught.value.what, caught.value.reason, caught.value.body) == (
        "the index answered by put",
        "not a decimal number",
        b"<html>",
    )


def test_attributes_as_protobuf_and_an_auto_commit_watch() -> None:
    body = encode_attributes({"stream.lastEntry": "3"})
    assert parse_attributes(body, "application/vnd.google.protobuf") == {"stream.lastEntry": "3"}
    query = watch_query(index=1, window=2, index_only=False, auto_commit=True, tags={})
    assert "_auto_commit_=true" in query.split("&")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"{x", "not JSON (Expecting property name enclosed in double quotes"),
        (b"[" * 100_000, "not JSON ("),  # nested too deep for the parser
    ],
)
def test_bad_json_attributes_say_what_is_wrong_and_keep_the_body(body: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_attributes(body, "application/json")
    assert caught.value.what == "the queue attributes"
    assert caught.value.reason.startswith(reason)
    assert caught.value.body == body
