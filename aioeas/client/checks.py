"""Checks of what goes into a request line or a header, sans-IO, before any I/O.

A CR or LF in a header value ends the header and starts another one the caller never
meant to send; in the request target it ends the request line. Service names, tokens,
extra headers, content types, URLs and raw query strings are checked here when they are
given (constructor, setters, per-call options), and once more at the transport, so that a
header-breaking value is a ``UsageError`` and never reaches a socket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aioeas.errors import UsageError

__all__ = [
    "CheckedHeaders",
    "check_header_name",
    "check_header_value",
    "check_headers",
    "check_service_name",
    "check_url",
    "is_header_name",
]

#: Control characters: CR and LF split headers, NUL and the rest have no place in them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: RFC 9110 ``token``: what a header name is made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What cannot stand unencoded in a request target: controls, whitespace, and (in a
#: service name, which is a path segment) the characters that would end the path.
_URL_BREAKING = re.compile(r"[\x00-\x20\x7f]")
_NAME_BREAKING = re.compile(r"[\x00-\x20\x7f?#]")


#: Header names already found valid (bounded; only a cache).
_GOOD_NAMES: set[str] = set()


def _shown(value: str) -> str:
    """A value for an error message: its repr, cut short (it may be a secret's neighbour)."""
    return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."


def check_header_value(what: str, value: object, *, secret: bool = False) -> str:
    """``value`` if it is a ``str`` fit for a header value (no control characters).

    A ``secret`` (the token) is never quoted in the message.
    """
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a str, got {type(value).__name__}")
    if _CONTROL.search(value):
        shown = "" if secret else f": {_shown(value)}"
        raise UsageError(f"{what} must not contain control characters (CR, LF, NUL...){shown}")
    return value


def is_header_name(name: str) -> bool:
    """Whether ``name`` is a valid header name (an RFC 9110 token)."""
    return _TOKEN.fullmatch(name) is not None


def check_header_name(name: object) -> str:
    """``name`` if it is a valid header name (an RFC 9110 token)."""
    if not isinstance(name, str):
        raise UsageError(f"a header name must be a str, got {type(name).__name__}")
    if not _TOKEN.fullmatch(name):
        raise UsageError(f"{_shown(name)} is not a valid header name")
    return name


class CheckedHeaders(dict[str, str]):
    """Headers made by the client from parts each checked when given (its own and a call's
    headers, the content type, the token) and values it computed (a signature, a date):
    ``check_headers`` passes them as they are. A new one per request: never changed after."""

    __slots__ = ()


def check_headers(headers: Mapping[str, str], what: str = "headers") -> dict[str, str]:
    """A copy of ``headers`` with every name and value checked (``CheckedHeaders`` are
    passed as they are: checked already, and made for one request)."""
    if type(headers) is CheckedHeaders:
        return headers
    if type(headers) is not dict and not isinstance(headers, Mapping):
        raise UsageError(f"{what} must be a mapping, got {type(headers).__name__}")
    out = dict(headers)
    # One search over all values at once (a space cannot hide a control character; a value
    # that is not a str makes the join fail), and names checked once each per process: this
    # runs for every request, so the common case is two C calls.
    try:
        clean = _CONTROL.search(" ".join(out.values())) is None
    except TypeError:
        clean = False
    if not clean:
        for name, value in out.items():  # find the culprit for the message
            secret = name.lower() == "authorization"
            check_header_value(f"header {name!r}", value, secret=secret)
    if not _GOOD_NAMES.issuperset(out):
        for name in out:
            if name not in _GOOD_NAMES:
                check_header_name(name)
                if len(_GOOD_NAMES) < 1024:
                    _GOOD_NAMES.add(name)
    return out


def check_url(what: str, url: object) -> str:
    """``url`` if it can go in a request line as it is (no controls, no whitespace)."""
    if not isinstance(url, str):
        raise UsageError(f"{what} must be a str, got {type(url).__name__}")
    if _URL_BREAKING.search(url):
        raise UsageError(
            f"{what} must not contain whitespace or control characters (encode them): {_shown(url)}"
        )
    return url


def check_service_name(name: object) -> str:
    """A service name goes in the URL path verbatim: no controls, whitespace, ``?`` or ``#``."""
    if not isinstance(name, str):
        raise UsageError(f"a service name must be a str, got {type(name).__name__}")
    if _NAME_BREAKING.search(name):
        raise UsageError(
            "a service name must not contain whitespace, control characters, '?' or '#': "
            f"{_shown(name)}"
        )
    return name
