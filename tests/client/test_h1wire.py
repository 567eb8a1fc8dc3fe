"""The sans-IO half of the HTTP/1.1 transport: request heads and answer framing, no socket.

The head must be byte for byte what aiohttp's session sent (tests/client/test_h1.py checks
that over a socket, against aiohttp itself); here the rules one by one. The parser must
give the same answer however the bytes are split across reads (hypothesis cuts them),
and refuse what is not HTTP rather than guess a frame boundary.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioeas.client.h1wire import LARGE_ANSWER, AnswerParser, MalformedAnswerError, request_head


def head(method: str, headers: dict[str, str], length: int | None, **kw: str) -> bytes:
    return request_head(
        method,
        "/p?q=%20",
        "h:8",
        headers,
        length,
        user_agent="aioeas",
        accept_encoding="gzip, deflate",
        **kw,
    )


def test_a_post_head_has_aiohttps_headers_in_aiohttps_order() -> None:
    assert head("POST", {"Authorization": "x", "Content-Type": "t/t"}, 3) == (
        b"POST /p?q=%20 HTTP/1.1\r\nHost: h:8\r\nUser-Agent: aioeas\r\nAuthorization: x\r\n"
        b"Content-Type: t/t\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
        b"Content-Length: 3\r\n\r\n"
    )


def test_defaults_fill_in_what_is_not_given() -> None:
    # no body: a POST still says Content-Length 0 and a type; a GET says neither
    assert head("POST", {}, None).endswith(
        b"Content-Length: 0\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    assert b"Content-" not in head("GET", {}, None)
    assert head("DELETE", {}, None).endswith(b"Content-Length: 0\r\n\r\n")
    assert head("GET", {}, 1).endswith(
        b"Content-Length: 1\r\nContent-Type: application/octet-stream\r\n\r\n"
    )


def test_given_host_user_agent_and_authorization_take_the_defaults_places() -> None:
    got = head("GET", {"x": "1", "user-agent": "me", "HOST": "o", "X": "2"}, None)
    assert got.startswith(b"GET /p?q=%20 HTTP/1.1\r\nHOST: o\r\nuser-agent: me\r\nX: 2\r\n")
    with_auth = head("GET", {"authorization": "a", "b": "c"}, None, authorization="Basic q")
    assert b"Authorization: Basic q\r\nb: c\r\n" in with_auth
    assert b"authorization: a" not in with_auth


def answer(
    raw: bytes, cuts: list[int] | None = None, *, head_request: bool = False
) -> AnswerParser:
    parser = AnswerParser(head_request=head_request)
    points = sorted({0, *(c % (len(raw) + 1) for c in cuts or []), len(raw)})
    done = False
    for start, end in itertools.pairwise(points):
        done = parser.feed(raw[start:end])
    if not done:
        done = parser.feed_eof()
    assert done
    return parser


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
    b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: t\r\n\r\n"
)
FRAMINGS = [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", True),
    (CHUNKED, b"hello world", True),
    (b"HTTP/1.1 200 OK\r\n\r\nto the end", b"to the end", False),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Hints\r\nLink: x\r\n\r\n"
     b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", b"ok", True),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", b"", True),
    (b"HTTP/1.1 304 Not Modified\r\n\r\n", b"", True),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", b"x", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", b"x", False),
    (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx", b"x", True),
    (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", b"", True),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "body", "keep"), FRAMINGS)
@given(cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_every_framing_parses_the_same_however_it_is_cut(
    raw: bytes, body: bytes, keep: bool, cuts: list[int]
) -> None:
    parser = answer(raw, cuts)
    assert parser.body == body
    assert parser.keep_alive is keep
    assert parser.status in (200, 201, 204, 304)


def test_headers_are_kept_as_received_and_a_head_answer_has_no_body() -> None:
    parser = answer(CHUNKED)
    assert parser.headers == [("Transfer-Encoding", "chunked"), ("X-A", "1")]
    head_answer = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head_request=True)
    assert head_answer.body == b""
    assert head_answer.keep_alive


def test_a_large_answer_is_one_buffer_of_its_size() -> None:
    size = LARGE_ANSWER + 7
    parser = AnswerParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    for start in range(0, size, 1 << 16):
        parser.feed(b"a" * min(1 << 16, size - start))
    assert parser.done
    assert parser.body == b"a" * size


def test_bytes_beyond_the_answer_make_the_connection_unfit() -> None:
    parser = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA")
    assert parser.body == b"x"
    assert not parser.keep_alive


def test_an_answer_cut_short_is_not_complete() -> None:
    for raw in (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ):
        parser = AnswerParser()
        assert not parser.feed(raw)
        assert not parser.feed_eof()


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"x" * 70000,
    ],
)
def test_what_is_not_http_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedAnswerError):
        AnswerParser().feed(raw)
