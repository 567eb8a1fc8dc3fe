"""Blade services: ``BladeRequest`` (explicit batch size) and Blade's TF-compatible form.

Blade's ``Array`` carries no dtype: a response's values say their type by the field they
fill, and an empty output takes the type the request asked for in ``add_fetch``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from aioeas.codecs.arrays import BladeArray, decode_blade_array, write_blade_array
from aioeas.codecs.convert import WireValues, check_name, prepare
from aioeas.codecs.dtypes import BLADE_KINDS, BladeDataType, DataType
from aioeas.codecs.wire import LEN, Writer, iter_fields, string_field
from aioeas.errors import DecodeError, InvalidTensorError, UnknownOutputError, UsageError
from aioeas.requests.base import Request, Response, as_memoryview, describe_array
from aioeas.requests.tf import with_body

__all__ = ["BladeRequest", "BladeResponse", "BladeTFRequest", "BladeTFResponse"]

_UNSET: Final[Any] = object()

_TO_TF: Final[dict[BladeDataType, DataType]] = {
    BladeDataType.DT_FLOAT: DataType.DT_FLOAT,
    BladeDataType.DT_INT32: DataType.DT_INT32,
    BladeDataType.DT_INT64: DataType.DT_INT64,
    BladeDataType.DT_STRING: DataType.DT_STRING,
}
_FROM_TF: Final[dict[DataType, BladeDataType]] = {v: k for k, v in _TO_TF.items()}
BLADE_TYPES: Final = frozenset(_TO_TF.values())


def blade_type(code: object) -> BladeDataType:
    """A Blade type from ``BladeRequest.DT_*`` (Blade's own numbering) or a numpy dtype."""
    if isinstance(code, BladeDataType):
        return code
    if isinstance(code, DataType):
        if code in _FROM_TF:
            return _FROM_TF[code]
        raise InvalidTensorError(
            f"Blade carries float32, int32, int64 and strings, not {code.name}"
        )
    if isinstance(code, (int, np.integer)) and not isinstance(code, bool):
        try:
            return BladeDataType(int(code))
        except ValueError:
            raise InvalidTensorError(f"{code!r} is not a Blade data type code (1 to 4)") from None
    try:
        np_dtype = np.dtype(code)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidTensorError(f"{code!r} is not a Blade data type") from None
    for t, (d, _) in BLADE_KINDS.items():
        if d == np_dtype:
            return t
    raise InvalidTensorError(f"Blade carries float32, int32, int64 and strings, not {np_dtype}")


def _prepare(
    data: Any, dtype: Any, shape: Sequence[int] | None
) -> tuple[WireValues, BladeDataType]:
    tf_type = _TO_TF[blade_type(dtype)] if dtype is not None else None
    values = prepare(data, tf_type, shape=shape, allowed=BLADE_TYPES, schema="Blade")
    return values, _FROM_TF[values.dtype]


class _BladeBase:
    """What Blade's two request forms share: the inputs, the outputs asked for, the body."""

    DT_UNKNOWN: Final = BladeDataType.DT_UNKNOWN
    DT_FLOAT: Final = BladeDataType.DT_FLOAT
    DT_INT32: Final = BladeDataType.DT_INT32
    DT_INT64: Final = BladeDataType.DT_INT64
    DT_STRING: Final = BladeDataType.DT_STRING

    def __init__(self, signature_name: str | None = None) -> None:
        self.signature_name = signature_name
        self._inputs: dict[str, Writer] = {}
        self._fetches: list[tuple[str, BladeDataType]] = []

    def set_signature_name(self, signature_name: str | None) -> None:
        self.signature_name = signature_name

    def _add(self, name: str, batch_size: object, values: WireValues) -> None:
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size <= 0
        ):
            raise InvalidTensorError(f"a Blade batch size is an int > 0, got {batch_size!r}")
        self._inputs[name] = write_blade_array(name, int(batch_size), values, _kind(values))

    def _fetch(self, name: str, dtype: BladeDataType) -> None:
        self._fetches.append((check_name(name, "output"), dtype))

    @property
    def input_names(self) -> list[str]:
        return list(self._inputs)

    def to_bytes(self) -> bytes:
        w = Writer()
        if self.signature_name is not None:
            w.raw(string_field(1, self.signature_name))
        for array in self._inputs.values():
            w.message(2, array)
        for name, dtype in self._fetches:
            info = Writer()
            info.string(1, name)
            info.string(2, name)
            info.varint(3, int(dtype))
            w.message(3, info)
        return w.getvalue()

    def _hints(self) -> dict[str, BladeDataType]:
        return dict(self._fetches)


def _kind(values: WireValues) -> Any:
    return BLADE_KINDS[_FROM_TF[values.dtype]][1]


class BladeRequest(_BladeBase, Request["BladeResponse"]):
    """A Blade ``Request``. ``add_feed(name, batch_size, shape, dtype, content)`` as in the SDK,
    or ``add_feed(name, array, batch_size=None, dtype=None)`` with the batch size defaulting
    to the array's first dimension. ``DT_*`` here are Blade's own codes.
    """

    def add_feed(
        self,
        input_name: str,
        batch_size: Any,
        shape: Any = _UNSET,
        data_type: Any = _UNSET,
        content: Any = _UNSET,
        *,
        dtype: Any = None,
    ) -> BladeRequest:
        name = check_name(input_name)
        if isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool):
            if content is _UNSET or data_type is _UNSET or shape is _UNSET:
                raise UsageError(
                    "add_feed(name, batch_size, shape, data_type, content), or "
                    "add_feed(name, array, batch_size=...) with an array"
                )
            values, _ = _prepare(content, data_type, shape)
            self._add(name, batch_size, values)
            return self
        # the array form: add_feed(name, array[, batch_size])
        if content is not _UNSET or data_type is not _UNSET:
            raise UsageError(
                "with an array, add_feed takes (name, array, batch_size=None, dtype=None)"
            )
        values, _ = _prepare(batch_size, dtype, None)
        batch = shape if shape is not _UNSET and shape is not None else _first_dim(values)
        self._add(name, batch, values)
        return self

    def add_fetch(
        self, output_name: str, output_type: Any = BladeDataType.DT_UNKNOWN
    ) -> BladeRequest:
        """Ask for an output; its type lets an empty output decode to the right dtype."""
        dtype = (
            BladeDataType.DT_UNKNOWN
            if output_type == BladeDataType.DT_UNKNOWN
            else blade_type(output_type)
        )
        self._fetch(output_name, dtype)
        return self

    def parse_response(self, body: bytes) -> BladeResponse:
        return BladeResponse(body, hints=self._hints())

    def __repr__(self) -> str:
        return f"BladeRequest(inputs={self.input_names}, fetches={[n for n, _ in self._fetches]})"


def _first_dim(values: WireValues) -> int:
    if not values.shape:
        raise InvalidTensorError("Blade needs a batch dimension: the tensor has shape []")
    return values.shape[0]


class BladeTFRequest(_BladeBase, Request["BladeTFResponse"]):
    """Blade's TF-compatible request (``eas_prediction.blade_tf_request.TFRequest``).

    It reads like ``TFRequest`` (``add_feed(name, shape, dtype, content)``, ``add_fetch(name)``)
    and sends a Blade ``Request`` whose batch size is the shape's first dimension.
    """

    def __init__(self, signature_name: str | None = None) -> None:
        super().__init__(signature_name)

    def add_feed(
        self, input_name: str, data: Any, data_type: Any = None, content: Any = _UNSET
    ) -> BladeTFRequest:
        name = check_name(input_name)
        if content is _UNSET:
            values, _ = _prepare(data, data_type, None)
        else:
            values, _ = _prepare(content, data_type, data)
        self._add(name, _first_dim(values), values)
        return self

    def add_fetch(self, output_name: str) -> BladeTFRequest:
        self._fetch(output_name, BladeDataType.DT_UNKNOWN)
        return self

    def parse_response(self, body: bytes) -> BladeTFResponse:
        return BladeTFResponse(body, hints=self._hints())

    def __repr__(self) -> str:
        return f"BladeTFRequest(signature_name={self.signature_name!r}, inputs={self.input_names})"


class BladeResponse(Response, Mapping[str, npt.NDArray[Any]]):
    """A Blade ``Response``: outputs by name (``name_in_dl_model``), each an ndarray."""

    def __init__(
        self,
        response_data: bytes | bytearray | memoryview,
        *,
        hints: Mapping[str, BladeDataType] | None = None,
    ) -> None:
        self.content = (
            bytes(response_data) if not isinstance(response_data, bytes) else response_data
        )
        what = type(self).__name__
        hints = hints or {}
        try:
            buf = as_memoryview(self.content, what)
            spans: list[tuple[int, int]] = []
            for field, wire, a, b in iter_fields(buf, 0, len(buf), what):
                if field == 1:
                    if wire != LEN:
                        raise DecodeError(what, f"an output has wire type {wire}")
                    spans.append((a, b))
            self._outputs: dict[str, BladeArray] = {}
            for a, b in spans:
                first = decode_blade_array(buf, a, b, what)
                key = first.name.strip()
                hint = hints.get(key)
                if first.array.size == 0 and hint is not None and hint != first.dtype:
                    first = decode_blade_array(buf, a, b, what, hint)
                self._outputs.setdefault(key, first)  # the SDK returns the first match
        except DecodeError as exc:
            raise with_body(exc, self.content) from None

    def _get(self, name: str) -> BladeArray:
        key = name.strip() if isinstance(name, str) else name
        try:
            return self._outputs[key]
        except (KeyError, TypeError):
            raise UnknownOutputError(name, list(self._outputs)) from None

    def __getitem__(self, output_name: str) -> npt.NDArray[Any]:
        return self._get(output_name).array

    def __iter__(self) -> Iterator[str]:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)

    def dtype(self, output_name: str) -> BladeDataType:
        return self._get(output_name).dtype

    def batch_size(self, output_name: str) -> int:
        return self._get(output_name).batch_size

    def get_tensor_shape(self, output_name: str) -> list[int]:
        return list(self._get(output_name).array.shape)

    def get_values(self, output_name: str, output_type: Any = None) -> npt.NDArray[Any]:
        """The output's values, flat. ``output_type``, when given, must be the output's type."""
        out = self._get(output_name)
        if output_type is not None and output_type != BladeDataType.DT_UNKNOWN:
            want = blade_type(output_type)
            if want != out.dtype:
                raise UsageError(f"output {output_name!r} is {out.dtype.name}, not {want.name}")
        return out.array.reshape(-1)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BladeResponse):
            return self.content == other.content
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {describe_array(v.array)}" for k, v in self._outputs.items())
        return f"{type(self).__name__}({{{shown}}})"

    def __str__(self) -> str:
        return repr(self)


class BladeTFResponse(BladeResponse):
    """The answer to a ``BladeTFRequest``: ``get_values(name)`` needs no type."""

    def get_values(self, output_name: str, output_type: Any = None) -> npt.NDArray[Any]:
        return super().get_values(output_name, output_type)
