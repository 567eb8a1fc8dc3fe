"""What a processor can know about the request it is answering, and how it says no.

Processors take the decoded inputs only, so that the common case is a one-line function.
The rest of the request (the path after the service name, the query, the headers, which
backend is answering) is in ``current_call()``, a context variable set for the duration
of each call: sync and async processors read it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

__all__ = ["Call", "Reject", "current_call"]


@dataclass(frozen=True)
class Call:
    """One request as the emulator received it (the body already decompressed).

    ``path`` is the part after ``/api/predict/{service}`` (``""`` or ``"/a/b"``);
    ``query`` the query parameters (the last value of a repeated key wins). ``headers``
    as received: case-insensitive, and a repeated header keeps every value in order
    (``headers["Content-Type"]`` is the first; a predict call's are aiohttp's
    ``CIMultiDictProxy``, whose ``getall`` gives them all).
    """

    service: str
    backend: str
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = field(repr=False)
    #: The request's ordinal for its service, from 1: tells answers apart in tests.
    number: int = 0


class Reject(Exception):  # noqa: N818 - it reads as what the processor does
    """Raised by a processor to answer an error status (400 unless told) with a text body.

    The emulator raises it itself for a body that does not decode, so a client sees what a
    real processor answers to bad input: a 4xx with a message, not a crash.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


_CURRENT: ContextVar[Call] = ContextVar("aioeas_emulator_call")


def current_call() -> Call:
    """The request being processed; only valid inside a processor."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise RuntimeError("current_call() is only available inside a processor") from None


def set_current(call: Call) -> Token[Call]:
    return _CURRENT.set(call)


def reset_current(token: Token[Call]) -> None:
    _CURRENT.reset(token)
