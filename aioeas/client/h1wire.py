"""HTTP/1.1 on the wire, sans-IO: a request's head made, an answer parsed from bytes.

``aioeas.client.h1`` moves these bytes over asyncio; everything that decides what the bytes
are lives here, testable without a socket (h11's split). The request head is the one
aiohttp's ``ClientSession`` sent for the same call (same headers, same order, same
defaults), so a server sees no change when the transport changes. The parser accepts what
a strict HTTP/1.1 client accepts (llhttp, aiohttp's parser): ``Content-Length``, chunked,
or read-to-end framing; 1xx answers skipped; no body for 204, 304 or HEAD; and rejects a
malformed status line, header, length or chunk with ``MalformedAnswerError`` rather than
guessing (a guessed frame boundary desynchronises every later answer on the connection).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping

__all__ = [
    "GET_METHODS",
    "IDEMPOTENT_METHODS",
    "LARGE_ANSWER",
    "AnswerParser",
    "MalformedAnswerError",
    "request_head",
]

#: Methods for which aiohttp adds no ``Content-Length: 0`` when there is no body.
GET_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Methods for which aiohttp adds ``Content-Type: application/octet-stream`` even without
#: a body.
POST_METHODS = frozenset({"PATCH", "POST", "PUT"})
#: Methods aiohttp sends once more on a new connection when a connection fails under them.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
#: Answers of this many bytes and more are read into one buffer of their announced size
#: (joining chunks at the end would hold the body twice at the peak).
LARGE_ANSWER = 1_000_000
#: The longest header section accepted (aiohttp: 8190 bytes a line; here the whole head).
MAX_HEAD = 65536
_MAX_LINE = 8190

_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
_HEADER = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_DIGITS = re.compile(rb"[0-9]{1,18}")

# parser states
_HEAD, _LENGTH, _CHUNKED, _TRAILERS, _TO_EOF, _DONE = range(6)


class MalformedAnswerError(Exception):
    """The bytes received are not a valid HTTP/1.x answer."""


def request_head(
    method: str,
    target: str,
    host: str,
    headers: Mapping[str, str],
    body_length: int | None,
    *,
    user_agent: str,
    accept_encoding: str,
    authorization: str | None = None,
) -> bytes:
    """The request line and headers, as aiohttp's session wrote them.

    Order: ``Host`` (the caller's if given), ``User-Agent`` (the caller's if given, in its
    place), the caller's headers in their order (a name given twice in different case
    keeps the first place and the last value), then ``Accept: */*`` and
    ``Accept-Encoding`` unless given, ``Authorization`` from URL credentials (replacing a
    given one, in its place), ``Content-Length`` (of the body; ``0`` without one, except for
    GET-like methods) and ``Content-Type: application/octet-stream`` when a body (or a
    POST, PUT or PATCH) has none. ``target`` goes as it is: it was signed that way.
    Values must be checked already (``checks.check_headers``): nothing is escaped here.
    """
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n", f"User-Agent: {user_agent}\r\n"]
    where = {"host": 0, "user-agent": 1}
    for name, value in headers.items():
        lowered = name.lower()
        at = where.get(lowered)
        if at is None:
            where[lowered] = len(lines)
            lines.append(f"{name}: {value}\r\n")
        elif at == 0:
            lines[0] = f"{method} {target} HTTP/1.1\r\n{name}: {value}\r\n"
        else:
            lines[at] = f"{name}: {value}\r\n"
    if "accept" not in where:
        lines.append("Accept: */*\r\n")
    if "accept-encoding" not in where:
        lines.append(f"Accept-Encoding: {accept_encoding}\r\n")
    if authorization is not None:
        at = where.get("authorization")
        if at is None:
            lines.append(f"Authorization: {authorization}\r\n")
        else:
            lines[at] = f"Authorization: {authorization}\r\n"
    if "content-length" not in where:
        if body_length is not None:
            lines.append(f"Content-Length: {body_length}\r\n")
        elif method not in GET_METHODS:
            lines.append("Content-Length: 0\r\n")
    if "content-type" not in where and (body_length is not None or method in POST_METHODS):
        lines.append("Content-Type: application/octet-stream\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


class AnswerParser:
    """One answer, fed the bytes received; ``feed`` says when it is complete.

    After completion: ``status``, ``headers`` (``(name, value)`` pairs as received),
    ``body`` (undecoded) and ``keep_alive`` (whether the connection may carry another
    request: HTTP/1.1 without ``Connection: close``, or 1.0 with ``keep-alive``, framed by
    length or chunks, and no byte received beyond the answer).
    """

    __slots__ = (
        "_crlf",
        "_head",
        "_left",
        "_no_body",
        "_parts",
        "_sink",
        "_state",
        "_wire",
        "body",
        "headers",
        "keep_alive",
        "status",
    )

    def __init__(self, *, head_request: bool = False) -> None:
        self._state = _HEAD
        self._no_body = head_request
        self._head = b""  # an incomplete head so far
        self._wire = bytearray()  # chunked framing not yet parsed
        self._left = 0  # body bytes still to come (length) or of the current chunk
        self._crlf = False  # a chunk's data ended: its CRLF is due
        self._parts: list[bytes] = []
        self._sink: io.BytesIO | None = None  # a large body's one buffer
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.keep_alive = False

    @property
    def done(self) -> bool:
        """Whether the whole answer was received."""
        return self._state == _DONE

    def feed(self, data: bytes) -> bool:
        """Take the next bytes received; True once the answer is complete."""
        state = self._state
        if state == _HEAD:
            if self._head:
                data = self._head + data
                self._head = b""
            data = self._parse_head(data)
            state = self._state
            if state == _HEAD:
                return False
        if state == _LENGTH:
            left = self._left
            size = len(data)
            if size < left:
                self._keep(data)
                self._left = left - size
                return False
            if size > left:  # bytes beyond the answer: the connection cannot be trusted
                self.keep_alive = False
                data = data[:left]
            self._keep(data)
            self._left = 0
            return self._finish()
        if state in (_CHUNKED, _TRAILERS):
            self._wire += data
            return self._parse_chunks()
        if state == _TO_EOF:
            self._parts.append(data)
            return False
        # _DONE: more bytes after a complete answer
        if data:
            self.keep_alive = False
        return True

    def feed_eof(self) -> bool:
        """The peer closed its side: True if that completes the answer (read-to-end
        framing); False if the answer is cut short."""
        if self._state == _TO_EOF:
            return self._finish()
        self.keep_alive = False
        return self._state == _DONE

    # -- internals ---------------------------------------------------------------------

    def _keep(self, data: bytes) -> None:
        if self._sink is not None:
            self._sink.write(data)
        elif data:
            self._parts.append(data)

    def _finish(self) -> bool:
        sink = self._sink
        if sink is not None:
            self.body = sink.getvalue()  # the buffer itself: sized exactly, not copied
            self._sink = None
        else:
            parts = self._parts
            self.body = parts[0] if len(parts) == 1 else b"".join(parts)
        self._parts = []
        self._state = _DONE
        return True

    def _parse_head(self, data: bytes) -> bytes:
        """Parse heads (skipping 1xx ones) from ``data``; the rest of ``data`` is returned.
        An incomplete head is kept for the next feed."""
        while True:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > MAX_HEAD:
                    raise MalformedAnswerError(f"no end of the header section in {MAX_HEAD} bytes")
                self._head = data
                return b""
            if end > MAX_HEAD:
                raise MalformedAnswerError(f"a header section over {MAX_HEAD} bytes")
            head = data[:end]
            data = data[end + 4 :]
            if self._head_done(head):
                return data

    def _head_done(self, head: bytes) -> bool:
        """Parse one head; False for an informational (1xx) answer, skipped."""
        lines = head.split(b"\r\n")
        status_line = lines[0]
        match = _STATUS.fullmatch(status_line)
        if match is None:
            raise MalformedAnswerError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(match[2])
        minor = match[1] == b"1"
        pairs: list[tuple[str, str]] = []
        length: bytes | None = None
        coding: bytes | None = None
        connection = b""
        for line in lines[1:] if len(lines) > 1 else ():
            header = _HEADER.fullmatch(line)
            if header is None or len(line) > _MAX_LINE:
                raise MalformedAnswerError(f"not a valid header line: {line[:80]!r}")
            raw_name, raw_value = header.groups()
            lowered = raw_name.lower()
            if lowered == b"content-length":
                if _DIGITS.fullmatch(raw_value) is None or (
                    length is not None and length != raw_value
                ):
                    raise MalformedAnswerError(f"invalid Content-Length {raw_value[:40]!r}")
                length = raw_value
            elif lowered == b"transfer-encoding":
                coding = raw_value if coding is None else coding + b"," + raw_value
            elif lowered == b"connection":
                connection += b"," + raw_value.lower()
            pairs.append((raw_name.decode("ascii"), raw_value.decode("utf-8", "surrogateescape")))
        if status < 200:
            if status == 101:
                raise MalformedAnswerError(
                    "101 Switching Protocols to a request that asked for none"
                )
            return False  # 100 Continue, 103 Early Hints...: the answer follows
        tokens = {token.strip() for token in connection.split(b",")}
        self.keep_alive = b"close" not in tokens if minor else b"keep-alive" in tokens
        self.status = status
        self.headers = pairs
        if self._no_body or status == 204 or status == 304:
            self._finish()
        elif coding is not None:
            if length is not None:
                raise MalformedAnswerError("both Transfer-Encoding and Content-Length")
            if coding.rsplit(b",", 1)[-1].strip().lower() == b"chunked":
                self._state = _CHUNKED
            else:  # a coding without chunked: the body runs to the end of the connection
                self._state = _TO_EOF
                self.keep_alive = False
        elif length is not None:
            size = int(length)
            if size == 0:
                self._finish()
            else:
                self._left = size
                self._state = _LENGTH
                if size >= LARGE_ANSWER:
                    sink = self._sink = io.BytesIO()
                    sink.seek(size - 1)
                    sink.write(b"\0")  # the one allocation, of the final size
                    sink.seek(0)
        else:
            self._state = _TO_EOF
            self.keep_alive = False
        return True

    def _parse_chunks(self) -> bool:
        wire = self._wire
        while True:
            if self._state == _TRAILERS:
                return self._parse_trailers()
            if self._left:
                if not wire:
                    return False
                piece = bytes(wire[: self._left])
                del wire[: len(piece)]
                self._parts.append(piece)
                self._left -= len(piece)
                if self._left:
                    return False
                self._crlf = True
            if self._crlf:
                if len(wire) < 2:
                    return False
                if wire[:2] != b"\r\n":
                    raise MalformedAnswerError("a chunk is longer than its size")
                del wire[:2]
                self._crlf = False
            end = wire.find(b"\r\n")
            if end < 0:
                if len(wire) > _MAX_LINE:
                    raise MalformedAnswerError("a chunk size line too long")
                return False
            match = _CHUNK_SIZE.fullmatch(wire, 0, end)
            if match is None:
                raise MalformedAnswerError(
                    f"invalid chunk size line {bytes(wire[: min(end, 40)])!r}"
                )
            size = int(match[1], 16)
            del wire[: end + 2]
            if size == 0:
                self._state = _TRAILERS
            else:
                self._left = size

    def _parse_trailers(self) -> bool:
        wire = self._wire
        if wire[:2] == b"\r\n":
            end = 2
        else:
            found = wire.find(b"\r\n\r\n")
            if found < 0:
                if len(wire) > MAX_HEAD:
                    raise MalformedAnswerError("trailers too long")
                return False
            end = found + 4  # trailers are read past, not kept (aiohttp keeps none either)
        if len(wire) > end:
            self.keep_alive = False  # bytes beyond the answer
        wire.clear()
        return self._finish()
