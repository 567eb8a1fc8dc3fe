"""PyTorch services: inputs by index (and by name in ``map_inputs``), outputs likewise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt

from aioeas._install import install_hint
from aioeas.codecs.arrays import TORCH_FIELDS, write_array_proto
from aioeas.codecs.convert import check_name, prepare
from aioeas.codecs.dtypes import DataType
from aioeas.codecs.plain import decode_array, write_plain_array
from aioeas.codecs.varint import encode_varints
from aioeas.codecs.wire import LEN, Writer, iter_fields, map_entry
from aioeas.errors import DecodeError, InvalidTensorError, UnknownOutputError, UsageError
from aioeas.requests.base import Request, Response, as_memoryview, describe_array
from aioeas.requests.tf import DTypeConstants, decode_entry, with_body

__all__ = ["TorchRequest", "TorchResponse"]

_UNSET: Final[Any] = object()

#: What the PyTorch schema carries: it has no bool_val field.
TORCH_TYPES: Final = frozenset(
    t
    for t in DataType
    if t.name
    in {
        "DT_FLOAT",
        "DT_DOUBLE",
        "DT_INT8",
        "DT_INT16",
        "DT_INT32",
        "DT_INT64",
        "DT_UINT8",
        "DT_UINT16",
        "DT_QINT8",
        "DT_QUINT8",
        "DT_QINT16",
        "DT_QUINT16",
        "DT_QINT32",
        "DT_STRING",
    }
)


def _snappy_compress(data: bytes) -> bytes:
    try:
        import cramjam
    except ImportError:
        raise UsageError(
            f"TorchRequest(flag=True) compresses with snappy: {install_hint('snappy')}"
        ) from None
    return bytes(cramjam.snappy.compress_raw(data))


def _check_index(index: object, what: str) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise InvalidTensorError(f"a PyTorch {what} index is an int >= 0, got {index!r}")
    return int(index)


class TorchRequest(DTypeConstants, Request["TorchResponse"]):
    """A PyTorch ``PredictRequest``: positional inputs, named ``map_inputs``, output indexes.

    ``add_feed(0, array)`` or the SDK's ``add_feed(0, shape, dtype, flat_content)``;
    ``add_feed_map(name, ...)`` the same by name. ``TorchRequest(flag=True)`` snappy-compresses
    the body as the official client does (needs ``aioeas[snappy]``). Bool tensors have no
    field in this schema: send them as uint8.
    """

    def __init__(self, flag: bool = False, *, debug_level: int = 0) -> None:
        self.flag = flag
        self.debug_level = debug_level
        self._inputs: dict[int, Writer] = {}
        self._map_inputs: dict[str, Writer] = {}
        self._fetches: list[int] = []

    def set_debug_level(self, dbg_lvl: int = 0) -> None:
        self.debug_level = dbg_lvl

    def _values(self, data: Any, dtype: Any, content: Any) -> Writer:
        if content is _UNSET:
            plain = write_plain_array(data) if dtype is None else None
            if plain is not None:  # a float array as it is: nothing to check or convert
                return plain
            values = prepare(data, dtype, allowed=TORCH_TYPES, schema="PyTorch")
        else:
            values = prepare(content, dtype, shape=data, allowed=TORCH_TYPES, schema="PyTorch")
        return write_array_proto(values)

    @overload
    def add_feed(
        self, index: int, data: npt.ArrayLike, dtype: DataType | int | None = None
    ) -> TorchRequest: ...
    @overload
    def add_feed(
        self, index: int, data: Sequence[int], dtype: DataType | int | None, content: Any
    ) -> TorchRequest: ...
    def add_feed(
        self, index: int, data: Any, dtype: DataType | int | None = None, content: Any = _UNSET
    ) -> TorchRequest:
        """Set input ``index``. Inputs below it that were never set go as empty tensors."""
        self._inputs[_check_index(index, "input")] = self._values(data, dtype, content)
        return self

    @overload
    def add_feed_map(
        self, name: str, data: npt.ArrayLike, dtype: DataType | int | None = None
    ) -> TorchRequest: ...
    @overload
    def add_feed_map(
        self, name: str, data: Sequence[int], dtype: DataType | int | None, content: Any
    ) -> TorchRequest: ...
    def add_feed_map(
        self, name: str, data: Any, dtype: DataType | int | None = None, content: Any = _UNSET
    ) -> TorchRequest:
        """Set the named input ``name`` (the schema's ``map_inputs``)."""
        name = check_name(name)
        self._map_inputs[name] = map_entry(3, name, self._values(data, dtype, content))
        return self

    def add_fetch(self, output_index: int) -> TorchRequest:
        """Ask for this output index only (repeatable); without any, all are returned."""
        self._fetches.append(_check_index(output_index, "output"))
        return self

    def to_bytes(self) -> bytes:
        w = Writer()
        if self._inputs:
            empty = Writer()
            for i in range(max(self._inputs) + 1):
                w.message(1, self._inputs.get(i, empty))
        if self._fetches:
            w.blob(2, encode_varints(np.array(self._fetches, dtype=np.uint64)).tobytes())
        for field in self._map_inputs.values():  # each a whole ``map_inputs`` entry
            w.extend(field)
        if self.debug_level:
            w.varint(100, self.debug_level)
        data = w.getvalue()
        return _snappy_compress(data) if self.flag else data

    def parse_response(self, body: bytes) -> TorchResponse:
        return TorchResponse(body)

    def __repr__(self) -> str:
        return (
            f"TorchRequest(inputs={sorted(self._inputs)}, map_inputs={list(self._map_inputs)}, "
            f"fetches={self._fetches})"
        )


class TorchResponse(Response):
    """A PyTorch ``PredictResponse``: ``resp[0]`` by index, ``resp["name"]`` by map name."""

    def __init__(self, response_data: bytes | bytearray | memoryview) -> None:
        self.content = (
            bytes(response_data) if not isinstance(response_data, bytes) else response_data
        )
        what = "TorchResponse"
        try:
            buf = as_memoryview(self.content, what)
            self._outputs: list[tuple[DataType, npt.NDArray[Any]]] = []
            self._map: dict[str, tuple[DataType, npt.NDArray[Any]]] = {}
            for field, wire, a, b in iter_fields(buf, 0, len(buf), what):
                if field == 1:
                    if wire != LEN:
                        raise DecodeError(what, f"an output has wire type {wire}")
                    self._outputs.append(decode_array(buf, a, b, TORCH_FIELDS, what))
                elif field == 2:
                    if wire != LEN:
                        raise DecodeError(what, f"field 2 has wire type {wire}")
                    key, value = decode_entry(buf, a, b, TORCH_FIELDS, what)
                    self._map[key] = value  # a later entry wins, as in protobuf
        except DecodeError as exc:
            raise with_body(exc, self.content) from None

    @property
    def outputs(self) -> list[npt.NDArray[Any]]:
        return [v for _, v in self._outputs]

    @property
    def map_outputs(self) -> dict[str, npt.NDArray[Any]]:
        return {k: v for k, (_, v) in self._map.items()}

    def _get(self, key: int | str) -> tuple[DataType, npt.NDArray[Any]]:
        if isinstance(key, str):
            if key in self._map:
                return self._map[key]
            raise UnknownOutputError(key, list(self._map))
        if (
            isinstance(key, (int, np.integer))
            and not isinstance(key, bool)
            and 0 <= key < len(self._outputs)
        ):
            return self._outputs[int(key)]
        raise UnknownOutputError(key, [str(i) for i in range(len(self._outputs))] + list(self._map))

    def __getitem__(self, key: int | str) -> npt.NDArray[Any]:
        return self._get(key)[1]

    def __len__(self) -> int:
        return len(self._outputs)

    def dtype(self, key: int | str) -> DataType:
        return self._get(key)[0]

    def get_tensor_shape(self, output_index: int) -> list[int]:
        return list(self._get(output_index)[1].shape)

    def get_values(self, output_index: int) -> npt.NDArray[Any]:
        return self._get(output_index)[1].reshape(-1)

    def get_tensor_shape_map(self, name: str) -> list[int]:
        return list(self._get(check_name(name, "output"))[1].shape)

    def get_values_map(self, name: str) -> npt.NDArray[Any]:
        return self._get(check_name(name, "output"))[1].reshape(-1)

    def __repr__(self) -> str:
        pos = ", ".join(describe_array(v) for _, v in self._outputs)
        named = ", ".join(f"{k!r}: {describe_array(v)}" for k, (_, v) in self._map.items())
        return f"TorchResponse(outputs=[{pos}], map_outputs={{{named}}})"

    def __str__(self) -> str:
        return repr(self)
