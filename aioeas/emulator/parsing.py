"""The emulator's HTTP request parser: aiohttp's, reading requests as an EAS gateway does.

aiohttp's server refuses a request that repeats a singleton header (RFC 9110) with 400
"Duplicate 'Content-Type' header found." before any handler runs. The Java SDK's
discovery request (``HttpURLConnection`` with a ``Content-Type: application/json`` of
its own, then ``application/x-www-form-urlencoded;charset=GBK`` added by its HTTP
helper) carries two ``Content-Type`` headers, and EAS's gateway answers it, so the
emulator must too. Every other rule of aiohttp's strict parser stays: a repeated
``Content-Length``, ``Host`` or ``Transfer-Encoding`` is still a 400 (those are how
requests get smuggled past a proxy; a repeated ``Content-Type`` frames nothing).

Both ``Content-Type`` values are kept, in order: ``request.headers["Content-Type"]``
is the first (what Go's ``Header.Get`` and nginx's ``$content_type`` give), and
``getall`` has both.

Only aiohttp's pure-Python parser can be taught this (the C parser's check sits in
compiled code with no switch but the response parser's ``lax`` mode, which also relaxes
rules the emulator should keep), so the emulator's servers always parse with it,
whether or not aiohttp's C extensions are installed: one behaviour in both
installations. The change is made per server, by the protocol factory the emulator's
``Listener`` gives to ``loop.create_server``; other aiohttp servers in the process keep
aiohttp's own parser.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp

#: The first aiohttp whose internals ``GatewayRequestHandler`` is written against (the
#: parser's ``max_msg_queue_size``, the handler's ``_read_bufsize``): before 3.14.0 the
#: import below fails, and 3.14.0 to 3.14.3 build the handler without ``_read_bufsize``,
#: so every connection was dropped without an answer. The client needs no such version.
NEEDED_AIOHTTP = (3, 14, 4)


def check_aiohttp(installed: str) -> None:
    """One clear error when the installed aiohttp is older than the emulator needs."""
    numbers = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", installed)
    found = tuple(int(n or 0) for n in numbers.groups()) if numbers else (0,)
    if found < NEEDED_AIOHTTP:
        needed = ".".join(map(str, NEEDED_AIOHTTP))
        raise ImportError(
            f"the aioeas emulator needs aiohttp>={needed} (it reads requests with aiohttp's "
            f"parser taught EAS's gateway rules, built on that version's internals); "
            f"aiohttp {installed} is installed: pip install -U 'aiohttp>={needed}'"
        )


check_aiohttp(aiohttp.__version__)

from aiohttp.http_parser import HeadersParser, HttpRequestParserPy  # noqa: E402
from aiohttp.typedefs import RawHeaders  # noqa: E402
from aiohttp.web_protocol import MAX_MSG_QUEUE_SIZE, RequestHandler, RequestPayloadError  # noqa: E402
from aiohttp.web_server import Server  # noqa: E402
from multidict import CIMultiDict, CIMultiDictProxy  # noqa: E402

__all__ = ["GatewayRequestHandler", "GatewayRequestParser"]

#: A header line that sets Content-Type (the name is case-insensitive; no space may
#: precede the colon, so a malformed line is left for aiohttp to refuse).
_CONTENT_TYPE = re.compile(rb"content-type:", re.IGNORECASE)


class _GatewayHeadersParser(HeadersParser):
    """aiohttp's strict header parser, with a second ``Content-Type`` accepted."""

    def parse_headers(self, lines: list[bytes]) -> tuple[CIMultiDictProxy[str], RawHeaders]:
        first: list[bytes] = []
        repeated: list[bytes] = []
        seen = False
        for line in lines:
            if _CONTENT_TYPE.match(line):
                if seen:
                    repeated.append(line)
                    continue
                seen = True
            first.append(line)
        headers, raw = super().parse_headers(first)
        if not repeated:
            return headers, raw
        # Each repeat is parsed alone, by the same strict rules, then appended.
        merged = CIMultiDict(headers)
        raw_list = list(raw)
        for line in repeated:
            more, more_raw = super().parse_headers([line, b""])
            merged.extend(more)
            raw_list.extend(more_raw)
        return CIMultiDictProxy(merged), tuple(raw_list)


class GatewayRequestParser(HttpRequestParserPy):
    """aiohttp's pure-Python request parser with ``_GatewayHeadersParser``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._headers_parser = _GatewayHeadersParser(
            self.max_line_size, self.max_headers, self.max_field_size, self.lax
        )


class GatewayRequestHandler(RequestHandler):
    """aiohttp's connection handler, reading requests with ``GatewayRequestParser``.

    Made as aiohttp's ``Server.__call__`` makes its handlers (same ``manager`` and
    keyword arguments); the parser aiohttp built is replaced before any byte arrives.
    """

    def __init__(self, manager: Server, *, loop: asyncio.AbstractEventLoop, **kwargs: Any):
        super().__init__(manager, loop=loop, **kwargs)
        self._parser = GatewayRequestParser(
            self,
            loop,
            self._read_bufsize,
            max_line_size=self.max_line_size,
            max_field_size=self.max_field_size,
            max_headers=self.max_headers,
            payload_exception=RequestPayloadError,
            auto_decompress=kwargs.get("auto_decompress", True),
            max_msg_queue_size=MAX_MSG_QUEUE_SIZE,
        )
