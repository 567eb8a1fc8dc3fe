"""The queue calls over HTTP and WebSocket: dispatch, identity, answers, watchers.

Every call reaches ``serve_queue`` with the queue service and the path after its name. The
order is the predict side's: a bad credential is refused first (the raw token, as the
official queue clients send it, or an ``EAS`` signature), then the queue's fault plan may
fail the call, then the call is dispatched on method and reserved query parameters:

=======  =============================================  ===========================
method   query                                          call
=======  =============================================  ===========================
GET      ``_watch_=true`` (WebSocket, or plain HTTP)    watch
GET      ``_attrs_=true`` / ``_search_=true`` /         attributes / search / count
         ``_count_=true``
GET      anything else                                  get
POST     ``_eos_=true``                                 end of stream
POST     anything else                                  put
DELETE   ``_trunc_=true`` / ``_indexes_``               truncate / delete
PUT      ``_negative_=true`` / ``_indexes_``            negative ack / commit
=======  =============================================  ===========================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import WSMsgType, web

from aioeas.emulator.auth import authorized
from aioeas.emulator.handler import apply_fault, decide
from aioeas.emulator.queue import frames
from aioeas.emulator.queue.consumers import Consumer
from aioeas.emulator.queue.params import (
    parse_bool,
    parse_duration,
    parse_indexes,
    parse_int,
    tags_of,
)
from aioeas.emulator.queue.service import (
    DEFAULT_GROUP,
    GROUP_HEADER,
    PRIORITY_HEADER,
    REQUEST_ID_HEADER,
    USER_HEADER,
    Queue,
    QueueService,
)
from aioeas.emulator.queue.store import QueueError, Record

__all__ = ["serve_queue"]

log = logging.getLogger("aioeas.emulator.queue")

#: How often a plain-HTTP watch checks whether its client went away while idle.
HTTP_WATCH_POLL = 0.2


def _ok() -> web.Response:
    return web.Response(text="OK")


async def serve_queue(
    request: web.Request, service: QueueService, tail: str, token: str | None
) -> web.StreamResponse:
    """Answer one call to ``service`` (``tail``: the path after its name, maybe ``/sink``)."""
    queue, path = service.route(tail)
    queue.requests += 1
    body = await request.read()
    if token is not None and not authorized(request, [body], token):
        return web.Response(status=401, text="Unauthorized: a valid token is required")
    decision = await decide(queue.faults)
    if decision.fault is not None:
        return await apply_fault(request, decision.fault)
    try:
        return await _dispatch(request, queue, path, body)
    except QueueError as exc:
        return web.Response(status=exc.status, text=exc.message)


def _gid(request: web.Request) -> str:
    return request.headers.get(GROUP_HEADER) or DEFAULT_GROUP


async def _dispatch(
    request: web.Request, queue: Queue, path: str, body: bytes
) -> web.StreamResponse:
    q = request.query
    method = request.method
    if method == "GET":
        if parse_bool(q, "_watch_"):
            return await _watch(request, queue)
        if parse_bool(q, "_attrs_"):
            return _attributes(request, queue)
        if parse_bool(q, "_search_"):
            return _search(request, queue)
        if parse_bool(q, "_count_"):
            priority = q.get("_priority_")
            return web.Response(
                text=str(queue.count(parse_int(q, "_priority_", 0) if priority else None))
            )
        return await _get(request, queue)
    if method == "POST":
        if parse_bool(q, "_eos_"):
            queue.end(force=parse_bool(q, "_force_"))
            return _ok()
        return _put(request, queue, path, body)
    if method == "DELETE":
        if parse_bool(q, "_trunc_"):
            if "_index_" not in q:
                raise QueueError(400, "truncate needs _index_")
            queue.truncate(parse_int(q, "_index_", 0))
            return _ok()
        queue.delete(_indexes(q))
        return _ok()
    if method == "PUT":
        indexes = _indexes(q)
        if parse_bool(q, "_negative_"):
            form = await request.post()
            code = str(form.get("_code_", ""))
            reason = str(form.get("_reason_", ""))
            queue.negative(indexes, _gid(request), code, reason)
        else:
            queue.commit(indexes, _gid(request), uid=request.headers.get(USER_HEADER))
        return _ok()
    raise QueueError(405, f"a queue answers GET, POST, PUT and DELETE, not {method}")


def _indexes(q: Mapping[str, str]) -> list[int]:
    if not q.get("_indexes_"):
        raise QueueError(400, "_indexes_ is required: a comma-separated list of indexes")
    return parse_indexes(q)


def _put(request: web.Request, queue: Queue, path: str, body: bytes) -> web.Response:
    q = request.query
    priority = parse_int(q, "_priority_", 0)
    header = request.headers.get(PRIORITY_HEADER)
    if not priority and header:
        try:
            priority = int(header)
        except ValueError:
            raise QueueError(400, f"{PRIORITY_HEADER} is an integer, got {header!r}") from None
    record = queue.put(body, tags_of(q), priority=priority, path=path)
    return web.Response(text=str(record.index), headers={REQUEST_ID_HEADER: record.request_id})


async def _get(request: web.Request, queue: Queue) -> web.Response:
    q = request.query
    length = parse_int(q, "_length_", 1)
    if length < 1:
        raise QueueError(400, f"_length_ is 1 or more, got {length}")
    records = await queue.get(
        index=parse_int(q, "_index_", 0),
        length=length,
        tags=tags_of(q),
        timeout=parse_duration(q.get("_timeout_", "0")),
        auto_delete=parse_bool(q, "_auto_delete_"),
    )
    if not records:
        return web.Response(status=204)
    if frames.wants_protobuf(request.headers.get("Accept")):
        return web.Response(body=frames.frame_list(records), content_type=frames.PROTOBUF)
    return web.Response(text=frames.frames_json(records), content_type="application/json")


def _attributes(request: web.Request, queue: Queue) -> web.Response:
    attrs = queue.attributes()
    if frames.wants_protobuf(request.headers.get("Accept")):
        return web.Response(body=frames.attributes_proto(attrs), content_type=frames.PROTOBUF)
    return web.Response(text=json.dumps(attrs), content_type="application/json")


def _search(request: web.Request, queue: Queue) -> web.Response:
    index = parse_int(request.query, "_index_", 0)
    found = queue.search(index, request.headers.get(GROUP_HEADER))
    if found is None:
        return web.Response(status=404, text="no data in stream")
    return web.Response(text=json.dumps(found), content_type="application/json")


# -- watch ---------------------------------------------------------------------------------


class _Connection:
    """One watch connection of a consumer: what it pushed, and how to wake its sender."""

    def __init__(self, queue: Queue, consumer: Consumer, request: web.Request) -> None:
        self.queue = queue
        self.consumer = consumer
        self.request = request
        self.generation = consumer.generation
        self.wake = asyncio.Event()
        self.pushed = 0
        self.closed = False
        consumer.on_ready = self.wake.set
        if consumer.outbox:
            self.wake.set()

    def current(self) -> bool:
        return not self.closed and self.consumer.generation == self.generation

    def disconnect(self) -> None:
        """Give the consumer's records back (once; a newer connection is left alone)."""
        if self.current():
            self.closed = True
            self.queue.leave(self.consumer)
        self.closed = True

    def cut(self) -> None:
        """Abort the TCP connection (a fault): the client sees it break mid-stream."""
        self.disconnect()
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def pump(self, send: Callable[[Record], Awaitable[None]]) -> None:
        """Send what the consumer's outbox gets until the connection ends."""
        consumer = self.consumer
        queue = self.queue
        while self.current():
            if not consumer.outbox:
                self.wake.clear()
                await self.wake.wait()
                continue
            record = consumer.outbox.popleft()
            if record.index and record.index not in consumer.pending:
                continue  # deleted, committed or given back since it was assigned
            await send(record)
            if not self.current():
                return
            if not record.index:
                continue  # the end-of-stream marker
            self.pushed += 1
            queue.sent(consumer, record)
            if queue.watch_faults.should_cut(self.pushed):
                self.cut()
                return


def _live_holder(queue: Queue, gid: str, uid: str, connections: dict[str, _Connection]) -> None:
    """A consumer whose old connection is closing already is let go before a new join, so
    a client reconnecting at once is not refused as a duplicate of its dying self."""
    old = connections.get(f"{gid}.{uid}")
    if old is not None and old.current():
        transport = old.request.transport
        if transport is None or transport.is_closing():
            old.disconnect()


#: The open watch connections of each queue, by consumer id.
_CONNECTIONS: weakref.WeakKeyDictionary[Queue, dict[str, _Connection]] = weakref.WeakKeyDictionary()


async def _watch(request: web.Request, queue: Queue) -> web.StreamResponse:
    q = request.query
    gid = _gid(request)
    uid = request.headers.get(USER_HEADER) or str(uuid.uuid4())
    auto_commit = parse_bool(q, "_auto_commit_")
    window = parse_int(q, "_window_", 0)
    index_only = parse_bool(q, "_index_only_")
    start = parse_int(q, "_index_", 0)
    tags = tags_of(q)
    ws = web.WebSocketResponse(autoping=True)
    is_ws = ws.can_prepare(request).ok
    connections = _CONNECTIONS.setdefault(queue, {})
    _live_holder(queue, gid, uid, connections)
    consumer = queue.join(
        gid,
        uid,
        window=window,
        auto_commit=auto_commit,
        index_only=index_only,
        tags=tags,
        start=start,
    )
    conn = _Connection(queue, consumer, request)
    connections[consumer.id] = conn
    queue.cutters[consumer.id] = conn.cut
    try:
        if is_ws:
            return await _watch_ws(request, ws, conn)
        return await _watch_http(request, conn)
    finally:
        conn.disconnect()
        if connections.get(consumer.id) is conn:
            del connections[consumer.id]
        if queue.cutters.get(consumer.id) == conn.cut:
            del queue.cutters[consumer.id]


async def _watch_ws(
    request: web.Request, ws: web.WebSocketResponse, conn: _Connection
) -> web.StreamResponse:
    await ws.prepare(request)
    as_json = not frames.wants_protobuf(request.headers.get("Accept")) and "json" in (
        request.headers.get("Accept") or ""
    )
    index_only = conn.consumer.index_only

    async def send(record: Record) -> None:
        if as_json:
            await ws.send_str(frames.frame_json(record, index_only=index_only))
        else:
            await ws.send_bytes(frames.frame(record, index_only=index_only))

    sender = asyncio.ensure_future(conn.pump(send))
    try:
        async for msg in ws:  # the client sends nothing we need; pings are answered by aiohttp
            if msg.type is WSMsgType.ERROR:
                break
            if sender.done():
                break
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
            await sender
        conn.disconnect()
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close()
    return ws


async def _watch_http(request: web.Request, conn: _Connection) -> web.StreamResponse:
    """The Go client's plain-HTTP watch: one long answer of length-prefixed frames."""
    resp = web.StreamResponse(headers={"Content-Type": frames.PROTOBUF})
    await resp.prepare(request)
    index_only = conn.consumer.index_only

    async def send(record: Record) -> None:
        await resp.write(frames.length_prefixed(frames.frame(record, index_only=index_only)))

    sender = asyncio.ensure_future(conn.pump(send))
    try:
        while not sender.done():
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(sender), HTTP_WATCH_POLL)
    except (ConnectionError, RuntimeError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
            await sender
    return resp
