"""Processors: a user's function over arrays (or bytes), turned into bytes in, bytes out.

A real EAS processor is code over the request body; most people think of it as a function
over tensors. Each adapter here decodes the body with aioeas's own server-side codecs
(``aioeas.requests.served``), calls the function (sync or async: an awaitable result is
awaited), applies what the request asked of the outputs (``output_filter``, Blade's
``output_info``) and encodes the answer. A body that does not decode, an unknown signature
or an unknown output becomes ``Reject`` (400): the client's mistake, not a crash.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from aioeas.codecs.dtypes import BLADE_KINDS, BladeDataType
from aioeas.emulator import codings
from aioeas.emulator.calls import Reject
from aioeas.errors import DecodeError
from aioeas.requests.served import (
    TorchPredictRequest,
    decode_blade_request,
    decode_tf_request,
    decode_torch_request,
    encode_blade_response,
    encode_tf_response,
    encode_torch_response,
)

__all__ = [
    "BladeProcessor",
    "BodyHandler",
    "RawProcessor",
    "TFProcessor",
    "TorchMapProcessor",
    "TorchProcessor",
    "blade_handler",
    "echo_blade",
    "echo_tf",
    "echo_torch",
    "raw_handler",
    "tf_handler",
    "torch_handler",
]

T = TypeVar("T")
Array = npt.NDArray[Any]

#: What the emulator runs for a service: the request body (decompressed) to the answer body.
BodyHandler = Callable[[bytes], Awaitable[bytes]]
#: ``fn(body) -> bytes | str``: a custom processor; a ``str`` answer is sent as UTF-8.
RawProcessor = Callable[[bytes], "bytes | str | Awaitable[bytes | str]"]
#: ``fn({name: array}) -> {name: array}``: a TensorFlow or Blade model.
TFProcessor = Callable[
    [dict[str, Array]], "Mapping[str, npt.ArrayLike] | Awaitable[Mapping[str, npt.ArrayLike]]"
]
BladeProcessor = TFProcessor
#: ``fn([array, ...]) -> [array, ...]``: a PyTorch model over positional inputs.
TorchProcessor = Callable[
    [list[Array]], "Sequence[npt.ArrayLike] | Awaitable[Sequence[npt.ArrayLike]]"
]
#: ``fn({name: array}) -> {name: array}``: a PyTorch model over ``map_inputs``.
TorchMapProcessor = TFProcessor


async def resolve(value: T | Awaitable[T]) -> T:
    """The value, awaited when the processor was async (or returned an awaitable)."""
    if inspect.isawaitable(value):
        return await value
    return value


def _decoded(decode: Callable[[bytes], T], body: bytes) -> T:
    try:
        return decode(body)
    except DecodeError as exc:
        raise Reject(f"bad request body: {exc}") from None


def _check_signature(expected: str | None, got: str | None) -> None:
    if expected is not None and got and got != expected:
        raise Reject(f"unknown signature {got!r}: this model serves {expected!r}")


def _pick(outputs: Mapping[str, T], wanted: Sequence[str]) -> dict[str, T]:
    """The outputs a request asked for (all of them when it named none), in its order."""
    if not wanted:
        return dict(outputs)
    missing = [n for n in wanted if n not in outputs]
    if missing:
        raise Reject(f"unknown output {missing[0]!r}; outputs are {sorted(outputs)}")
    return {n: outputs[n] for n in wanted}


def _array(value: npt.ArrayLike) -> Array:
    return value if isinstance(value, np.ndarray) else np.asarray(value)


def raw_handler(fn: RawProcessor) -> BodyHandler:
    """A service whose body is passed through: PMML, JSON, anything custom."""

    async def handle(body: bytes) -> bytes:
        out: bytes | str = await resolve(fn(body))
        return out.encode("utf-8") if isinstance(out, str) else bytes(out)

    return handle


def tf_handler(fn: TFProcessor, *, signature: str | None = None) -> BodyHandler:
    """A TensorFlow service; ``signature``, when given, is the only one it accepts (an empty
    signature name is accepted too, as TF Serving uses its default)."""

    async def handle(body: bytes) -> bytes:
        req = _decoded(decode_tf_request, body)
        _check_signature(signature, req.signature_name)
        outputs = await resolve(fn(dict(req.inputs)))
        chosen = _pick(outputs, req.output_filter)
        return encode_tf_response({k: _array(v) for k, v in chosen.items()})

    return handle


def _torch_request(body: bytes) -> TorchPredictRequest:
    """Decode, and failing that try snappy: ``TorchRequest(flag=True)`` compresses the body
    without saying so in any header (every install reads snappy: ``codings``)."""
    try:
        return decode_torch_request(body)
    except DecodeError as exc:
        first = exc
    try:
        plain = codings.decompress(body, "snappy")
    except DecodeError:
        raise Reject(f"bad request body: {first}") from None
    return _decoded(decode_torch_request, plain)


def _filter_indexes(outputs: list[Array], wanted: Sequence[int]) -> list[Array]:
    if not wanted:
        return outputs
    bad = [i for i in wanted if not 0 <= i < len(outputs)]
    if bad:
        raise Reject(f"unknown output index {bad[0]}; the model has {len(outputs)} outputs")
    return [outputs[i] for i in wanted]


def torch_handler(fn: TorchProcessor, *, map_fn: TorchMapProcessor | None = None) -> BodyHandler:
    """A PyTorch service: ``fn`` answers the positional inputs, ``map_fn`` (if any) the named
    ``map_inputs``. ``output_filter`` indexes pick among ``fn``'s outputs."""

    async def handle(body: bytes) -> bytes:
        req = _torch_request(body)
        outputs: list[Array] = []
        if req.inputs or not req.map_inputs:
            outputs = [_array(v) for v in await resolve(fn(list(req.inputs)))]
        if req.output_filter:
            bad = [i for i in req.output_filter if not 0 <= i < len(outputs)]
            if bad:
                raise Reject(f"unknown output index {bad[0]}; the model has {len(outputs)}")
            outputs = [outputs[i] for i in req.output_filter]
        named: dict[str, Array] = {}
        if req.map_inputs:
            if map_fn is None:
                raise Reject("this model takes positional inputs only, not map_inputs")
            named = {k: _array(v) for k, v in (await resolve(map_fn(dict(req.map_inputs)))).items()}
        return encode_torch_response(outputs, named)

    return handle


def _blade_value(value: npt.ArrayLike, code: BladeDataType) -> Any:
    """An output as Blade can carry it: cast to the type the request asked for, and
    float64 (numpy's default, which Blade has no field for) sent as float32."""
    arr = _array(value)
    if code == BladeDataType.DT_STRING:
        return (code, arr)
    if code != BladeDataType.DT_UNKNOWN:
        return arr.astype(BLADE_KINDS[code][0], copy=False)
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    return arr


def blade_handler(fn: BladeProcessor, *, signature: str | None = None) -> BodyHandler:
    """A Blade service (``BladeRequest``, and ``BladeTFRequest`` with its signature).

    Each output's batch size is its input namesake's, else its first dimension.
    """

    async def handle(body: bytes) -> bytes:
        req = _decoded(decode_blade_request, body)
        _check_signature(signature, req.signature_name)
        outputs = await resolve(fn({k: v.array for k, v in req.inputs.items()}))
        types = dict(req.output_info)
        chosen = _pick(outputs, [name for name, _ in req.output_info])
        values = {
            k: _blade_value(v, types.get(k, BladeDataType.DT_UNKNOWN)) for k, v in chosen.items()
        }
        batches = {}
        for k, v in chosen.items():
            arr = _array(v)
            source = req.inputs.get(k)
            batches[k] = source.batch_size if source else (arr.shape[0] if arr.ndim else 1)
        return encode_blade_response(values, batches)

    return handle


# The echo services answer with exactly what came in, dtype codes included: a client's
# encoder and decoder can be checked against each other through a real round trip.


async def echo_tf(body: bytes) -> bytes:
    req = _decoded(decode_tf_request, body)
    tensors: dict[str, Any] = {k: (req.dtypes[k], v) for k, v in req.inputs.items()}
    return encode_tf_response(_pick(tensors, req.output_filter))


async def echo_torch(body: bytes) -> bytes:
    req = _torch_request(body)
    outputs = _filter_indexes(list(req.inputs), req.output_filter)
    return encode_torch_response(outputs, req.map_inputs)


async def echo_blade(body: bytes) -> bytes:
    req = _decoded(decode_blade_request, body)
    arrays = {k: (v.dtype, v.array) for k, v in req.inputs.items()}
    chosen = _pick(arrays, [name for name, _ in req.output_info])
    batches = {k: req.inputs[k].batch_size for k in chosen}
    return encode_blade_response(dict(chosen), batches)
