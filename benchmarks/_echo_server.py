"""A minimal predict server for ``bench_predict.py``: as little server work as aiohttp allows.

    python benchmarks/_echo_server.py [--host 127.0.0.1] [--port 0]

prints ``aioeas echo server listening on http://HOST:PORT`` (the emulator's format) and
serves until killed. Built on aiohttp's low-level server (no router, no middlewares), it
answers ``POST /api/predict/{service}``:

* any service whose name does not contain ``tf``: the body as it came (a string echo);
* a service whose name contains ``tf`` (``echo_tf``): the TF ``PredictRequest`` turned
  into a ``PredictResponse`` with the same tensors, by rewriting the wire bytes: field 2
  (``inputs``, a map of ``ArrayProto``) becomes field 1 (``outputs``) and fields 1 and 3
  (signature, output filter) are dropped. No protobuf library, no numpy: a few varint
  reads and one join, so the client's side of a round trip dominates what is measured.
* ``big`` and ``big_tf`` with a query ``?bytes=N``: a large answer whatever the request
  (N bytes; or a TF ``PredictResponse`` whose output ``x`` is a float32 ``[N // 4]`` of
  1.0), made once per size: the peak-memory figure of a large response.

Tokens are not checked (the client's signing cost is still paid; verifying is the
emulator's job). Standard library and aiohttp only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import web


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _put_varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def tf_echo(body: bytes) -> bytes:
    """``PredictRequest`` bytes -> ``PredictResponse`` bytes with the same tensors."""
    parts: list[bytes] = []
    pos, end = 0, len(body)
    while pos < end:
        key, pos = _varint(body, pos)
        field, wire = key >> 3, key & 7
        if wire == 2:
            size, pos = _varint(body, pos)
            if field == 2:  # inputs map entry -> outputs map entry (field 1, same bytes)
                parts.append(b"\x0a" + _put_varint(size) + body[pos : pos + size])
            pos += size
        elif wire == 0:
            _, pos = _varint(body, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return b"".join(parts)


def big_tf(size: int) -> bytes:
    """A ``PredictResponse`` with one float32 output ``x`` of ``size // 4`` values."""
    n = size // 4
    shape = b"\x0a" + _put_varint(len(_put_varint(n))) + _put_varint(n)
    array = b"".join(
        [
            b"\x08\x01",  # dtype DT_FLOAT
            b"\x12" + _put_varint(len(shape)) + shape,  # array_shape
            b"\x1a" + _put_varint(4 * n) + b"\x00\x00\x80\x3f" * n,  # float_val, packed
        ]
    )
    entry = b"\x0a\x01x" + b"\x12" + _put_varint(len(array)) + array
    return b"\x0a" + _put_varint(len(entry)) + entry


_BIG: dict[tuple[str, int], bytes] = {}


async def handle(request: web.BaseRequest) -> web.StreamResponse:
    body = await request.read()
    service = request.path.rsplit("/", 1)[-1]
    if service in ("big", "big_tf"):
        size = int(request.query.get("bytes", "0"))
        if (service, size) not in _BIG:
            _BIG[service, size] = big_tf(size) if service == "big_tf" else b"\x01" * size
        return web.Response(body=_BIG[service, size])
    if request.method != "POST" or not request.path.startswith("/api/predict/"):
        return web.Response(status=404, text="not a predict path")
    if "tf" in service:
        try:
            return web.Response(body=tf_echo(body))
        except (ValueError, IndexError) as exc:
            return web.Response(status=400, text=f"not a TF PredictRequest: {exc}")
    return web.Response(body=body)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    server = web.Server(handle)
    listener = await loop.create_server(server, host, port, backlog=1024)
    bound = listener.sockets[0].getsockname()
    print(f"aioeas echo server listening on http://{bound[0]}:{bound[1]}", flush=True)
    try:
        await stop.wait()
    finally:
        listener.close()
        await server.shutdown(1.0)
        await listener.wait_closed()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
