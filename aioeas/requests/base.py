"""What every request and response has in common, and the helpers they share."""

from __future__ import annotations

import abc
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from aioeas.errors import DecodeError

__all__ = ["Request", "Response", "as_memoryview", "describe_array"]

R = TypeVar("R", bound="Response")


class Response(abc.ABC):
    """A decoded answer. ``content`` keeps the body it was read from."""

    content: bytes

    def to_bytes(self) -> bytes:
        """The raw body, as the service sent it."""
        return self.content


class Request(abc.ABC, Generic[R]):
    """A request body builder: ``to_bytes()`` for the wire, ``parse_response()`` for the answer.

    Requests do no I/O; the client calls these two methods. Subclass this (or just provide
    the two methods) to speak a custom processor's own format.
    """

    #: The Content-Type sent with this request; ``None`` leaves it to the client.
    content_type: str | None = None

    @abc.abstractmethod
    def to_bytes(self) -> bytes:
        """The serialized request body."""

    def to_string(self) -> bytes:
        """The serialized request body (the official SDK's name for ``to_bytes``)."""
        return self.to_bytes()

    @abc.abstractmethod
    def parse_response(self, body: bytes) -> R:
        """Decode the service's answer to this request; raises ``DecodeError`` on bad bytes."""


def as_memoryview(body: bytes | bytearray | memoryview, what: str) -> memoryview:
    if type(body) is bytes:  # the usual case: a flat view of bytes, nothing to check
        return memoryview(body)
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise DecodeError(what, f"expected bytes, got {type(body).__name__}")
    view = memoryview(body)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def describe_array(arr: npt.NDArray[Any]) -> str:
    """``float32[1, 10]``: how reprs show a tensor without printing its values."""
    name = "bytes" if arr.dtype == np.dtype(object) else arr.dtype.name
    return f"{name}{list(arr.shape)}"
