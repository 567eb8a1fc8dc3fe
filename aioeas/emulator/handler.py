"""One predict request, start to finish: count, check the token, inject faults, decompress,
run the processor, answer.

The order is what a client observes from real EAS: a bad credential is refused before
anything else (so fault rules count only requests that would have been served), then the
infrastructure may fail (faults), then the processor judges the body. Every answer from a
backend carries ``X-Emulator-Service``, ``X-Emulator-Backend`` and ``X-Emulator-Request``
(the request's ordinal for its service).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

from aiohttp import web

from aioeas.emulator import codings
from aioeas.emulator.auth import authorized
from aioeas.emulator.calls import Call, Reject, reset_current, set_current
from aioeas.emulator.faults import Decision, Fault, FaultKind, FaultPlan
from aioeas.emulator.services import Backend, Service
from aioeas.errors import DecodeError

__all__ = ["apply_fault", "authorized", "decompress", "serve_predict"]

log = logging.getLogger("aioeas.emulator")


def decompress(body: bytes, encoding: str | None) -> bytes:
    """The body without its ``Content-Encoding``, with the emulator's own decoders
    (``codings``: gzip, deflate/zlib, snappy, and lz4, zstd, br where cramjam is
    installed; several are undone in reverse order). A body that does not decompress is
    a 400; an unknown coding a 415, as is one this install cannot read (saying what to
    install)."""
    if not encoding:
        return body
    decodable = codings.decodable()
    for coding in (c.strip().lower() for c in encoding.split(",")):
        if coding and coding not in decodable:
            hint = codings.missing(coding)
            raise Reject(hint or f"unsupported Content-Encoding {coding!r}", status=415)
    try:
        return codings.decompress(body, encoding)
    except DecodeError as exc:
        raise Reject(f"the body is not valid {encoding}: {exc.reason}") from None


async def apply_fault(
    request: web.Request, fault: Fault, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    """Carry out a terminal fault: answer its status, or drop or reset the connection."""
    if fault.kind is FaultKind.STATUS:
        return web.Response(status=fault.status, body=fault.body, headers=headers)
    transport = request.transport
    if transport is not None:
        if fault.kind is FaultKind.RESET:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: close() sends RST instead of FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    # aiohttp cannot write this to the closed transport and treats it as the client gone.
    return web.Response(status=500)


async def decide(*plans: FaultPlan) -> Decision:
    """Consult the plans in order (a terminal fault skips the later ones), then sleep."""
    delay = 0.0
    fault = None
    for plan in plans:
        d = plan.decide()
        delay += d.delay
        if d.fault is not None:
            fault = d.fault
            break
    if delay:
        await asyncio.sleep(delay)
    return Decision(delay, fault)


def _text(status: int, text: str, headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, text=text, headers=headers)


async def serve_predict(
    request: web.Request, service: Service, backend: Backend, token: str | None
) -> web.StreamResponse:
    """Answer one predict request as ``backend`` of ``service``."""
    number = service.count(backend)
    headers = {
        "X-Emulator-Service": service.name,
        "X-Emulator-Backend": backend.name,
        "X-Emulator-Request": str(number),
    }
    raw = await request.read()
    # A service configured for compressed requests takes them without Content-Encoding,
    # as EAS does for the Java client's compressed bodies.
    encoding = request.headers.get("Content-Encoding") or service.request_encoding
    try:
        body: bytes | Reject = decompress(raw, encoding)
    except Reject as exc:
        body = exc
    if token is not None:
        bodies = [raw] if isinstance(body, Reject) or body is raw else [raw, body]
        if not authorized(request, bodies, token):
            return _text(401, "Unauthorized: a valid token or EAS signature is required", headers)
    decision = await decide(service.faults, backend.faults)
    if decision.fault is not None:
        return await apply_fault(request, decision.fault, headers)
    if isinstance(body, Reject):
        return _text(body.status, body.message, headers)
    call = Call(
        service=service.name,
        backend=backend.name,
        method=request.method,
        path=request.match_info.get("tail", ""),
        query={k: v for k, v in request.query.items()},  # the last value of a key wins
        headers=request.headers,
        body=body,
        number=number,
    )
    service.history.append(call)
    context = set_current(call)
    try:
        answer = await service.handler(body)
    except Reject as exc:
        return _text(exc.status, exc.message, headers)
    except Exception as exc:
        log.exception("processor of %s crashed", service.name)
        return _text(500, f"processor crashed: {type(exc).__name__}: {exc}", headers)
    finally:
        reset_current(context)
    return web.Response(body=answer, headers=headers)
