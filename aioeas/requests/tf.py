"""TensorFlow services: ``TFRequest`` builds a ``PredictRequest``, ``TFResponse`` reads the answer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, overload

import numpy.typing as npt

from aioeas.codecs.arrays import NO_VALUES, TF_FIELDS, write_array_proto
from aioeas.codecs.convert import check_name, prepare
from aioeas.codecs.dtypes import DataType
from aioeas.codecs.plain import decode_array, read_sole_entry, split_plain_entry, write_plain_entry
from aioeas.codecs.wire import LEN, Buffer, iter_fields, map_entry, string_field, utf8
from aioeas.errors import DecodeError, UnknownOutputError
from aioeas.requests.base import Request, Response, as_memoryview, describe_array

__all__ = ["DTypeConstants", "TFRequest", "TFResponse"]

_UNSET: Final[Any] = object()


class DTypeConstants:
    """The official SDK's ``DT_*`` class attributes, with EAS's values."""

    DT_INVALID: Final = DataType.DT_INVALID
    DT_FLOAT: Final = DataType.DT_FLOAT
    DT_DOUBLE: Final = DataType.DT_DOUBLE
    DT_INT8: Final = DataType.DT_INT8
    DT_INT16: Final = DataType.DT_INT16
    DT_INT32: Final = DataType.DT_INT32
    DT_INT64: Final = DataType.DT_INT64
    DT_UINT8: Final = DataType.DT_UINT8
    DT_UINT16: Final = DataType.DT_UINT16
    DT_QINT8: Final = DataType.DT_QINT8
    DT_QUINT8: Final = DataType.DT_QUINT8
    DT_QINT16: Final = DataType.DT_QINT16
    DT_QUINT16: Final = DataType.DT_QUINT16
    DT_QINT32: Final = DataType.DT_QINT32
    DT_STRING: Final = DataType.DT_STRING
    DT_BOOL: Final = DataType.DT_BOOL
    #: The manual's spelling of DT_BOOL.
    TF_BOOL: Final = DataType.DT_BOOL


class TFRequest(DTypeConstants, Request["TFResponse"]):
    """A TensorFlow ``PredictRequest``: named input tensors, optional output names.

    Two ways to add an input::

        req.add_feed("images", np.zeros((1, 784), np.float32))                  # an array
        req.add_feed("images", [1, 784], TFRequest.DT_FLOAT, [1.0] * 784)      # the SDK's way

    An array's dtype picks the DataType (float32 -> DT_FLOAT, int64 -> DT_INT64, str ->
    DT_STRING, ...); pass ``dtype`` to send it as another (``DT_QINT8``, or a narrower
    integer type when the values fit). Numeric arrays are not copied until the body is
    built, so do not change an array between ``add_feed`` and the end of the predict.
    Adding a name a second time replaces that input.
    """

    def __init__(self, signature_name: str | None = None) -> None:
        self.signature_name = signature_name
        self._inputs: dict[str, list[Buffer]] = {}  # name -> the pieces of its map entry
        self._fetches: list[str] = []

    def set_signature_name(self, signature_name: str | None) -> None:
        self.signature_name = signature_name

    @overload
    def add_feed(
        self, input_name: str, data: npt.ArrayLike, dtype: DataType | int | None = None
    ) -> TFRequest: ...
    @overload
    def add_feed(
        self, input_name: str, data: Sequence[int], dtype: DataType | int | None, content: Any
    ) -> TFRequest: ...
    def add_feed(
        self, input_name: str, data: Any, dtype: DataType | int | None = None, content: Any = _UNSET
    ) -> TFRequest:
        """Add (or replace) the input ``input_name``; returns the request for chaining.

        ``add_feed(name, array, dtype=None)`` or the SDK's ``add_feed(name, shape, dtype,
        flat_content)``. Raises ``InvalidTensorError`` before any I/O for a bad name, dtype,
        or a content whose length does not match the shape.
        """
        name = check_name(input_name)
        if content is _UNSET and dtype is None:
            plain = write_plain_entry(2, name, data)
            if plain is not None:  # a float array as it is: nothing to check or convert
                self._inputs[name] = plain
                return self
        values = prepare(data, dtype) if content is _UNSET else prepare(content, dtype, shape=data)
        self._inputs[name] = map_entry(2, name, write_array_proto(values)).parts
        return self

    def add_fetch(self, output_name: str) -> TFRequest:
        """Ask for this output only (repeatable); without any, the service returns all."""
        self._fetches.append(check_name(output_name, "output"))
        return self

    @property
    def input_names(self) -> list[str]:
        return list(self._inputs)

    @property
    def fetches(self) -> list[str]:
        return list(self._fetches)

    def to_bytes(self) -> bytes:
        # the pieces joined once: each tensor's memory is copied here and only here
        parts: list[Buffer] = [string_field(1, self.signature_name)] if self.signature_name else []
        for entry in self._inputs.values():
            parts += entry
        for fetch in self._fetches:
            parts.append(string_field(3, fetch))
        return b"".join(parts)

    def parse_response(self, body: bytes) -> TFResponse:
        return TFResponse(body)

    def __repr__(self) -> str:
        return (
            f"TFRequest(signature_name={self.signature_name!r}, inputs={self.input_names}, "
            f"fetches={self._fetches})"
        )


def decode_named_arrays(
    body: bytes | bytearray | memoryview, field: int, what: str, fields: Mapping[int, Any]
) -> dict[str, tuple[DataType, npt.NDArray[Any]]]:
    """Read the ``map<string, ArrayProto>`` entries of field ``field`` of a message."""
    buf = as_memoryview(body, what)
    sole = read_sole_entry(buf, field << 3 | LEN)
    if sole is not None:  # one output, laid out as protobuf lays it out: the usual answer
        return dict((sole,))
    out: dict[str, tuple[DataType, npt.NDArray[Any]]] = {}
    for f, wire, a, b in iter_fields(buf, 0, len(buf), what):
        if f != field:
            continue
        if wire != LEN:
            raise DecodeError(what, f"field {field} has wire type {wire}", body)
        key, value = decode_entry(buf, a, b, fields, what)
        out[key] = value  # a later entry wins, as protobuf's map parsing does
    return out


def decode_entry(
    buf: memoryview, a: int, b: int, fields: Mapping[int, Any], what: str
) -> tuple[str, tuple[DataType, npt.NDArray[Any]]]:
    """One ``map<string, ArrayProto>`` entry in ``buf[a:b]``: its key and its array."""
    plain = split_plain_entry(buf, a, b)
    if plain is not None:  # key then value, as protobuf's writers and aioeas's lay it out
        x, y = plain
        return utf8(buf, a + 2, x, what), decode_array(buf, y, b, fields, what)
    key = ""
    value: tuple[DataType, npt.NDArray[Any]] | None = None
    for ef, ewire, x, y in iter_fields(buf, a, b, what):
        if ef == 1 and ewire == LEN:
            key = utf8(buf, x, y, what)
        elif ef == 2 and ewire == LEN:
            value = decode_array(buf, x, y, fields, what)
    if value is None:  # an entry without a value is an empty ArrayProto
        value = (DataType.DT_INVALID, NO_VALUES)
    return key, value


def with_body(exc: DecodeError, body: bytes | bytearray | memoryview) -> DecodeError:
    """The same DecodeError, quoting the whole body rather than the piece being read."""
    if not isinstance(body, (bytes, bytearray, memoryview)):  # not bytes at all: nothing to quote
        return exc
    return DecodeError(exc.what, exc.reason, body)


class TFResponse(Response, Mapping[str, npt.NDArray[Any]]):
    """A TensorFlow ``PredictResponse``: a mapping of output name to ndarray.

    ``resp["scores"]`` is an ndarray with its shape and dtype (a read-only view of the
    body for float and double outputs: ``.copy()`` it to write). ``get_tensor_shape`` and
    ``get_values`` are the SDK's accessors. Decoding happens here, so bad bytes raise
    ``DecodeError`` at once, quoting the start of the body.
    """

    def __init__(self, response_data: bytes | bytearray | memoryview) -> None:
        self.content = (
            bytes(response_data) if not isinstance(response_data, bytes) else response_data
        )
        try:
            self._outputs = decode_named_arrays(self.content, 1, "TFResponse", TF_FIELDS)
        except DecodeError as exc:
            raise with_body(exc, self.content) from None

    def _get(self, name: str) -> tuple[DataType, npt.NDArray[Any]]:
        try:
            return self._outputs[name]
        except (KeyError, TypeError):
            raise UnknownOutputError(name, list(self._outputs)) from None

    def __getitem__(self, output_name: str) -> npt.NDArray[Any]:
        return self._get(output_name)[1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)

    def dtype(self, output_name: str) -> DataType:
        """The EAS DataType the output was sent as (``DT_QINT8`` and ``DT_INT8`` both decode to int8)."""
        return self._get(output_name)[0]

    def get_tensor_shape(self, output_name: str) -> list[int]:
        return list(self._get(output_name)[1].shape)

    def get_values(self, output_name: str) -> npt.NDArray[Any]:
        """The output's values, flat (1-D), as the SDK's ``get_values`` returns them."""
        return self._get(output_name)[1].reshape(-1)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {describe_array(v)}" for k, (_, v) in self._outputs.items())
        return f"TFResponse({{{shown}}})"

    def __str__(self) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TFResponse):
            return self.content == other.content
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
