"""Every exception aioeas raises, in one tree grouped by what the caller can do about it.

::

    EASError                         the root: catch this to catch everything from aioeas
    ├── UsageError (ValueError)      your code asked for something impossible: fix the call
    │   ├── InvalidTensorError       a tensor the wire cannot carry: dtype, shape, content
    │   └── UnknownOutputError       (also KeyError) a response has no output by that name
    ├── TransportError               the request may not have reached the service: retry
    │   ├── ConnectError             (also ConnectionError) refused, reset, DNS, TLS
    │   │   └── CertificateError     the server's certificate did not verify: not retried
    │   └── RequestTimeoutError      (also EASTimeoutError) no complete answer in time
    ├── ServiceError                 the service answered with an error status and a body
    │   ├── AuthError                401 or 403: the token is missing or wrong
    │   └── RetryableServiceError    5xx: worth another try, maybe on another backend
    ├── DecodeError (ValueError)     the bytes that came back are not what was asked for
    ├── QueueError                   a queue-service call failed in a queue-specific way
    └── EASTimeoutError              (also TimeoutError and asyncio.TimeoutError) any timeout

Bad input raises before any I/O, so a ``UsageError`` never means a request was sent.
Messages never contain the access token.

Every timeout aioeas raises is an ``EASTimeoutError``: ``RequestTimeoutError``, the queue's
``ResultTimeoutError``, and what a watcher's ``next(timeout=)`` raises when no record came.
It is both ``TimeoutError`` and ``asyncio.TimeoutError`` on every Python: on 3.10 those are
two unrelated classes (one since 3.11), and ``except asyncio.TimeoutError`` must still
catch the library's timeouts there.
"""

from __future__ import annotations

import sys

__all__ = [
    "AuthError",
    "CertificateError",
    "ConnectError",
    "DecodeError",
    "EASError",
    "EASTimeoutError",
    "InvalidTensorError",
    "QueueError",
    "RequestTimeoutError",
    "RetryableServiceError",
    "ServiceError",
    "TransportError",
    "UnknownOutputError",
    "UsageError",
]

#: How many leading bytes of a bad body an error quotes: enough to recognise an HTML page.
QUOTE_BYTES = 120


def quote_bytes(body: bytes | bytearray | memoryview, limit: int = QUOTE_BYTES) -> str:
    """Show the start of a body the way a person can read it (``b'<html>...'`` + length)."""
    data = bytes(body[:limit])
    more = len(body) - len(data)
    return repr(data) + (f" ... (+{more} bytes)" if more > 0 else "")


class EASError(Exception):
    """Root of every aioeas exception."""


class UsageError(EASError, ValueError):
    """A call that cannot work as written: fix the calling code; nothing was sent."""


class InvalidTensorError(UsageError):
    """A tensor that the EAS schema cannot carry as given.

    Raised by the request builders, before any I/O, for a shape that does not match the
    content's length, a dtype the schema has no field for (float16, complex, object of
    mixed types), an empty input name, or a value out of range for the declared dtype.
    The message says what to change.
    """


class UnknownOutputError(UsageError, KeyError):
    """A response was asked for an output it does not have; the message lists those it has.

    A ``KeyError`` (so a ``LookupError``), as ``Mapping.get`` and ``in`` expect of ``[]``.
    """

    def __init__(self, name: object, available: list[str]) -> None:
        self.name = name
        self.available = available
        shown = ", ".join(available) if available else "none"
        super().__init__(f"no output named {name!r} in the response (outputs: {shown})")

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class TransportError(EASError):
    """The request failed below HTTP: it may or may not have reached the service."""


class ConnectError(TransportError, ConnectionError):
    """The connection was refused, reset or could not be set up (DNS, TLS)."""


class CertificateError(ConnectError):
    """The server's TLS certificate did not verify against the CAs in use. Another try
    would fail the same way, so it is never retried: give the client the CA that signed
    it (``ssl=ssl.create_default_context(cafile=...)``)."""


if sys.version_info >= (3, 11):

    class EASTimeoutError(EASError, TimeoutError):
        """Something did not happen in time: ``TimeoutError``, which is
        ``asyncio.TimeoutError`` since Python 3.11."""

else:  # Python 3.10
    # A class of its own before 3.11, raised by asyncio.wait_for and aiohttp. Only the class
    # is taken (asyncio.exceptions does no I/O): import-linter lets exactly this through.
    from asyncio.exceptions import TimeoutError as _AsyncioTimeoutError

    class EASTimeoutError(EASError, TimeoutError, _AsyncioTimeoutError):
        """Something did not happen in time: ``TimeoutError`` and, a distinct class on
        3.10, ``asyncio.TimeoutError``, so that either ``except`` catches it."""


class RequestTimeoutError(TransportError, EASTimeoutError):
    """No complete answer within the timeout."""


class ServiceError(EASError):
    """The service answered with an HTTP error status; ``status`` and ``body`` say which."""

    def __init__(self, status: int, body: bytes = b"", *, url: str | None = None) -> None:
        self.status = status
        self.body = body
        self.url = url
        where = f" from {url}" if url else ""
        super().__init__(f"HTTP {status}{where}: {quote_bytes(body)}")


class AuthError(ServiceError):
    """401 or 403: the token is missing, wrong, or the signature did not verify."""


class RetryableServiceError(ServiceError):
    """A 5xx answer: the service or a gateway failed, and another try may succeed."""


class DecodeError(EASError, ValueError):
    """The bytes that came back are not a valid answer of the expected kind.

    Gateways answer HTML error pages and proxies truncate bodies: the message quotes the
    first bytes so that such a body is recognised at a glance; ``body`` holds all of it.
    """

    def __init__(self, what: str, reason: str, body: bytes | bytearray | memoryview = b"") -> None:
        self.what = what
        self.reason = reason
        self.body = bytes(body)
        super().__init__(f"cannot decode {what}: {reason}; body starts {quote_bytes(body)}")


class QueueError(EASError):
    """A queue-service call failed in a way particular to queues."""
