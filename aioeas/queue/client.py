"""``QueueClient``: the async client of one EAS queue (a queue service's input or sink).

::

    async with QueueClient(endpoint, "my_service", token=token) as queue:   # idiomatic
        index, request_id = await queue.put(b"payload", {"user": "42"})
        records = await queue.get(request_id=request_id, timeout=2.0)
        async with queue.watch(window=10) as watcher:
            async for record in watcher:
                ...
                watcher.commit(record)

    queue = QueueClient(endpoint, "my_service/sink")                          # familiar
    queue.set_token(token)
    await queue.init(uid="worker-1", gid="eas")

Every call goes to ``{endpoint}/api/predict/{queue}`` with the token in ``Authorization``
and the identity headers (``X-EAS-QueueService-Redis-Uid``/``-Gid``, or the names the queue's
attributes give in ``meta.header.user``/``group``/``priority``, read once when the client
opens). Headers are built fresh for every call.

Retries, by what is safe to repeat:

- reads (``get`` without auto-delete, ``attributes``, ``search``, ``count``) and the
  idempotent writes (``commit``, ``delete``, ``truncate``, ``negative_ack``,
  ``end_of_stream``) are retried on 5xx, connection errors and timeouts, by the client's
  ``RetryPolicy``; a 4xx never is (``AuthError``/``ServiceError`` with status and body).
- ``put`` and ``get(auto_delete=True)`` change the queue in a way a repeat would double
  (a second record; records deleted by a first try whose answer was lost). They are retried
  only when the connection could not be opened, so nothing was sent. Otherwise ``put``
  raises ``PutUncertainError`` and a deleting ``get`` raises the error as it is.

A policy's ``deadline`` bounds a whole call as for ``PredictClient``: each try is cut to
what is left of it (a long poll asks the service for a shorter wait first).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random as _random
import ssl as _ssl
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Literal, NamedTuple

import aiohttp

from aioeas.client import telemetry as _telemetry
from aioeas.client.checks import check_header_value
from aioeas.client.config import PoolLimits, Timeout
from aioeas.client.lifecycle import AsyncResource, State
from aioeas.client.retry import RetryPolicy, RetrySchedule
from aioeas.client.transport import AiohttpTransport, HTTPResponse, Transport, never_sent
from aioeas.codecs.frames import decode_frame_list
from aioeas.errors import (
    AuthError,
    EASError,
    ServiceError,
    UsageError,
)
from aioeas.queue import protocol as proto
from aioeas.queue.config import ReconnectPolicy
from aioeas.queue.errors import PutUncertainError
from aioeas.queue.protocol import ACCEPT_PROTOBUF, Identity, SearchResult
from aioeas.queue.records import QueueRecord, RecordBatch
from aioeas.queue.watcher import Watcher
from aioeas.queue.websocket import AiohttpWebSocketConnector, WebSocketConnector

__all__ = ["PutResult", "QueueClient"]

_module_log = logging.getLogger(__name__)

#: How calls may be repeated: ``safe`` on any retryable failure, ``unsent`` only when the
#: connection could not be opened (nothing reached the service).
_RetryMode = Literal["safe", "unsent"]


class PutResult(NamedTuple):
    """What ``put`` answers: the record's index and the request id the service gave it
    (also stored as its ``requestId`` tag). Unpacks as ``index, request_id = ...``."""

    index: int  # type: ignore[assignment]  # shadows tuple.index, as the official name
    request_id: str


def _poll_within(poll: float, margin: float, remaining: float | None) -> float:
    """The long-poll seconds a try may ask for: ``poll``, less whatever would make the
    service answer later than ``margin`` before the deadline (whole milliseconds, down)."""
    if remaining is None or remaining - margin >= poll:
        return poll
    return max(0.0, math.floor((remaining - margin) * 1000) / 1000)


class QueueClient(AsyncResource):
    """An async client of one queue; see the module docstring."""

    def __init__(
        self,
        endpoint: str = "",
        queue_name: str = "",
        custom_url: str = "",
        *,
        token: str | None = None,
        uid: str | None = None,
        gid: str = proto.DEFAULT_GID,
        timeout: float | Timeout = 5.0,
        retry: RetryPolicy | None = None,
        reconnect: ReconnectPolicy | None = None,
        heartbeat: float | None = 2.0,
        discover_headers: bool = True,
        pool: PoolLimits | None = None,
        session: aiohttp.ClientSession | None = None,
        ssl: _ssl.SSLContext | None = None,
        transport: Transport | None = None,
        websocket: WebSocketConnector | None = None,
        logger: logging.Logger | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        """Keyword arguments, all optional:

        ``token``: sent as it is in ``Authorization``. ``uid``: this client's consumer id
        (a fresh uuid4 by default: unique per instance); ``gid``: its group (``eas``).
        ``timeout``: per HTTP attempt, seconds or a ``Timeout`` (a long-polling ``get``
        adds its poll time to it). ``retry``: the ``RetryPolicy`` of reads and commits
        (its ``deadline`` bounds every call: no try runs past it).
        ``reconnect``: the default ``ReconnectPolicy`` of watchers; ``heartbeat``: their
        ping interval in seconds (``None``: no pings). ``discover_headers``: read the
        identity header names from the queue's attributes when opening. ``pool``: limits of
        an own session; ``session``: a ``ClientSession`` to borrow (never closed here);
        ``ssl``: an ``ssl.SSLContext`` with the CA of a service whose certificate a private
        CA signed (calls and watches; certificates are always verified);
        ``transport``/``websocket``: stand-ins for tests. ``random``: jitter in [0, 1).
        """
        if session is not None and transport is not None:
            raise UsageError("give a session or a transport, not both")
        if ssl is not None and not isinstance(ssl, _ssl.SSLContext):
            raise UsageError(f"ssl must be an ssl.SSLContext, got {type(ssl).__name__}")
        self._ssl = ssl
        self._state = State.NEW
        self._base_url = proto.queue_url(endpoint, queue_name, custom_url)
        self._queue_name = queue_name or custom_url
        self._token = token or ""
        check_header_value("the token", self._token, secret=True)
        self._identity = Identity(uid=uid if uid is not None else str(uuid.uuid4()), gid=gid)
        self._timeout = Timeout.coerce(timeout)
        self._retry = retry if retry is not None else RetryPolicy()
        self._reconnect = reconnect if reconnect is not None else ReconnectPolicy()
        self._heartbeat = heartbeat
        self._discover = discover_headers
        self._discovered = not discover_headers
        self._discovery_lock: asyncio.Lock | None = None
        self._pool = pool if pool is not None else PoolLimits()
        self._session = session
        self._owns_session = session is None and transport is None
        self._transport = transport
        self._websocket = websocket
        self._max_payload: int | None = None
        self._log = logger if logger is not None else _module_log
        self._random = random
        self._watcher: Watcher | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<QueueClient {self._base_url} uid={self._identity.uid} [{self._state.value}]>"

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_state", None) is State.OPEN:
            _warn(
                f"unclosed {self!r}: use 'async with' or await close()",
                ResourceWarning,
                source=self,
            )

    @property
    def closed(self) -> bool:
        return self._state is State.CLOSED

    def _open(self) -> Transport:
        """Make the session and transport, inside the running loop, without awaiting (so
        concurrent first calls cannot open twice)."""
        if self._state is State.CLOSED:
            raise UsageError("this QueueClient is closed; make a new one")
        if self._state is State.OPEN:
            assert self._transport is not None
            if asyncio.get_running_loop() is not self._loop:
                raise UsageError(
                    "this QueueClient was opened in another event loop (each asyncio.run() "
                    "makes a new one and closes it at the end): make the client in the loop "
                    "that uses it, e.g. 'async with QueueClient(...)' inside the coroutine "
                    "that asyncio.run() runs"
                )
            return self._transport
        self._loop = asyncio.get_running_loop()
        if self._transport is None:
            if self._session is None:
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(
                        limit=self._pool.max_connections,
                        limit_per_host=self._pool.max_per_host,
                        keepalive_timeout=self._pool.keepalive_timeout,
                    ),
                    cookie_jar=aiohttp.DummyCookieJar(),
                    headers={"User-Agent": "aioeas"},
                )
            self._transport = AiohttpTransport(
                session=self._session, pool=self._pool, ssl=self._ssl
            )
        self._discovery_lock = asyncio.Lock()
        self._state = State.OPEN
        return self._transport

    async def init(self, uid: str | None = None, gid: str | None = None) -> None:
        """Open the client (optional: the first call does too); the official
        ``init(uid, gid)`` sets the identity as well (``None`` keeps the current one)."""
        if uid is not None or gid is not None:
            if self._state is not State.NEW:
                raise UsageError("uid and gid can only be set before the client is opened")
            self._identity = Identity(
                uid=uid if uid is not None else self._identity.uid,
                gid=gid if gid is not None else self._identity.gid,
            )
        self._open()
        await self._ensure_identity()

    async def close(self) -> None:
        """Close the running watcher (flushing its commits) and the own session. Idempotent."""
        if self._state is State.CLOSED:
            return
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            # opened in a loop that is gone: nothing of its session can be awaited here
            self._state = State.CLOSED
            self._session = None
            self._watcher = None
            return
        watcher = self._watcher
        if watcher is not None:
            await watcher.close()
        self._state = State.CLOSED
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    # -- familiar setters ------------------------------------------------------------

    def set_token(self, token: str) -> None:
        check_header_value("the token", token or "", secret=True)
        self._token = token or ""

    def set_timeout(self, timeout: float) -> None:
        """Per-attempt timeout in **milliseconds**, as the official SDK (default 5000)."""
        self._timeout = Timeout.from_millis(timeout)

    def set_logger(self, logger: logging.Logger | None = None) -> None:
        """Where warnings and debug messages go (``None``: this module's logger)."""
        self._log = logger if logger is not None else _module_log

    # -- views ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._base_url

    @property
    def queue_name(self) -> str:
        return self._queue_name

    @property
    def uid(self) -> str:
        return self._identity.uid

    @property
    def gid(self) -> str:
        return self._identity.gid

    @property
    def identity(self) -> Identity:
        """uid, gid and the header names in use."""
        return self._identity

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @property
    def retry(self) -> RetryPolicy:
        return self._retry

    @property
    def max_message_size(self) -> int:
        """The largest WebSocket message a watcher accepts, in bytes: the queue's payload
        limit (``meta.maxPayloadBytes``, read with the identity header names when the
        client opens; 64 MiB when unknown) plus 64 KiB for the frame around a record.
        A larger message stops the watcher with ``FrameTooLargeError``."""
        limit = self._max_payload if self._max_payload is not None else proto.DEFAULT_MAX_PAYLOAD
        return limit + proto.FRAME_OVERHEAD

    # -- the calls -----------------------------------------------------------------------

    async def put(
        self,
        data: bytes | bytearray | memoryview | str,
        tags: Mapping[str, str] | None = None,
        *,
        priority: int | None = None,
    ) -> PutResult:
        """Queue a record; returns ``(index, request_id)``.

        ``tags`` are stored with it (keys must not start with ``_``); ``priority`` (e.g. 1)
        puts it before the normal FIFO records (Go/Java ``_priority_``). Never repeated once
        it may have reached the service: then ``PutUncertainError`` (see its docstring).
        """
        checked = proto.check_tags(tags)
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        headers_extra: dict[str, str] = {}
        if priority is not None:
            proto.check_index(priority, what="priority")
            if self._identity.priority_header is not None:
                headers_extra[self._identity.priority_header] = str(priority)
        tel = _telemetry.active  # None unless instrumented (aioeas.otel)
        if tel is not None:  # it may add the trace context to the tags
            return await tel.queue_put(
                self._queue_name, checked, lambda t: self._put(body, t, priority, headers_extra)
            )
        return await self._put(body, checked, priority, headers_extra)

    async def _put(
        self, body: bytes, checked: dict[str, str], priority: int | None, extra: dict[str, str]
    ) -> PutResult:
        try:
            resp = await self._call(
                "POST",
                proto.put_query(checked, priority),
                body=body,
                mode="unsent",
                extra=extra,
            )
        except AuthError:
            raise
        except ServiceError as exc:
            if exc.status < 500:
                raise
            raise PutUncertainError(self._queue_name, checked, exc) from exc
        except EASError as exc:
            if isinstance(exc, UsageError) or never_sent(exc):
                raise  # nothing reached the service
            raise PutUncertainError(self._queue_name, checked, exc) from exc
        return PutResult(*proto.parse_put(resp.body, resp.headers))

    async def get(
        self,
        index: int = 0,
        length: int = 1,
        timeout: str | float = "5s",
        auto_delete: bool = True,
        tags: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> RecordBatch:
        """Up to ``length`` records from ``index`` (0: the first there is), matching every
        tag in ``tags`` (and ``request_id``), waiting up to ``timeout`` (seconds, or a Go
        duration like ``"5s"``) for them; ``[]`` when none came (204).

        The HTTP timeout of each attempt is the client's timeout *plus* the poll time, so a
        long poll never times out in the client. With a retry ``deadline``, a try never runs
        past it: the poll asked of the service is shortened to what is left of the deadline
        less the client's timeout (the service ends the poll before the client would give
        up, so records a deleting get took are not lost in a cut answer). ``auto_delete`` (the default, as the
        official client) deletes what is returned; such a get is not retried once sent.
        The result is a list with ``to_dataframe()``.
        """
        checked = proto.check_tags(tags)
        proto.check_index(index, what="index", minimum=-1)
        proto.check_index(length, what="length", minimum=1)
        if request_id is not None:
            check_header_value("request_id", request_id)
        wire, seconds = proto.parse_timeout(timeout)

        def query(poll: float) -> str:
            return proto.get_query(
                index=index,
                length=length,
                timeout=wire if poll == seconds else proto.parse_timeout(poll)[0],
                auto_delete=auto_delete,
                tags=checked,
                request_id=request_id,
            )

        resp = await self._call(
            "GET",
            query,
            accept=ACCEPT_PROTOBUF,
            poll=seconds,
            mode="unsent" if auto_delete else "safe",
        )
        if resp.status == 204 or not resp.body:
            return RecordBatch()
        return RecordBatch(QueueRecord.from_frame(f) for f in decode_frame_list(resp.body))

    async def delete(self, indexes: int | Iterable[int]) -> str:
        """Delete records by index; returns the service's text (``OK``)."""
        resp = await self._call("DELETE", proto.delete_query(proto.check_indexes(indexes)))
        return resp.body.decode("utf-8", "replace")

    async def truncate(self, index: int) -> str:
        """Delete every record before ``index``."""
        proto.check_index(index, minimum=1)
        resp = await self._call("DELETE", proto.truncate_query(index))
        return resp.body.decode("utf-8", "replace")

    async def commit(self, indexes: int | Iterable[int]) -> str:
        """Mark records done: they are never delivered again (committing twice is fine)."""
        resp = await self._call("PUT", proto.commit_query(proto.check_indexes(indexes)))
        return resp.body.decode("utf-8", "replace")

    async def attributes(self, *, protobuf: bool = False) -> dict[str, str]:
        """The queue's attributes (``stream.length``, ``stream.lastEntry``, ``meta.*``...).

        As JSON by default, as an ``AttributesProto`` with ``protobuf=True``; either way a
        dict of strings. Errors raise (the official client returns ``{}``). The identity
        header names found in them are used from then on.
        """
        attrs = await self._attributes(protobuf=protobuf)
        self._learn(attrs)
        return attrs

    async def search(self, index: int) -> SearchResult | None:
        """Where record ``index`` is (consumer, pending, how many wait before it);
        ``None`` when the queue does not have it (the service's 404)."""
        proto.check_index(index, minimum=1)
        try:
            resp = await self._call("GET", proto.search_query(index))
        except ServiceError as exc:
            if exc.status == 404 and not isinstance(exc, AuthError):
                return None
            raise
        return proto.parse_search(resp.body)

    async def count(self, priority: int | None = None) -> int:
        """How many records the queue holds (of that priority, when given)."""
        if priority is not None:
            proto.check_index(priority, what="priority")
        resp = await self._call("GET", proto.count_query(priority))
        return proto.parse_count(resp.body)

    async def negative_ack(
        self, indexes: int | Iterable[int], code: str = "Shutdown", reason: str = ""
    ) -> str:
        """Give records back undone, with a ``code`` (CamelCase words or digits, at most 20
        characters: ``Shutdown``, ``Timeout``, ``503``) and a free-text ``reason``.

        For records a watcher pushed, call ``Watcher.negative_ack``: it does this and also
        stops the watcher counting them in hand (else its window looks overrun)."""
        checked = proto.check_indexes(indexes)
        body = proto.negative_ack_body(code, reason)
        resp = await self._call(
            "PUT",
            proto.negative_ack_query(checked),
            body=body,
            content_type="application/x-www-form-urlencoded",
        )
        return resp.body.decode("utf-8", "replace")

    async def end_of_stream(self, force: bool = False) -> str:
        """Tell the queue no more records will come (``force``: even if some are pending)."""
        resp = await self._call("POST", proto.eos_query(force), body=b"")
        return resp.body.decode("utf-8", "replace")

    def watch(
        self,
        index: int = 0,
        window: int = 100,
        index_only: bool = False,
        auto_commit: bool = False,
        tags: Mapping[str, str] | None = None,
        *,
        reconnect: ReconnectPolicy | None = None,
        commit_delay: float = 0.0,
        max_commit_batch: int = 256,
    ) -> Watcher:
        """A ``Watcher`` over a WebSocket: ``async with queue.watch(...) as w`` or
        ``w = await queue.watch(...)``; see ``Watcher``. At most one runs per client."""
        return Watcher(
            self,
            index=index,
            window=window,
            index_only=index_only,
            auto_commit=auto_commit,
            tags=proto.check_tags(tags),
            reconnect=reconnect if reconnect is not None else self._reconnect,
            commit_delay=commit_delay,
            max_commit_batch=max_commit_batch,
        )

    # -- what the watcher needs ------------------------------------------------------------

    def _claim_watcher(self, watcher: Watcher) -> None:
        if self._watcher is not None and self._watcher is not watcher:
            raise UsageError(
                "another watcher is already running on this QueueClient; close it first "
                "(or use a second client, with its own uid)"
            )
        self._watcher = watcher

    def _release_watcher(self, watcher: Watcher) -> None:
        if self._watcher is watcher:
            self._watcher = None

    async def _watch_target(self) -> tuple[WebSocketConnector, str, dict[str, str]]:
        self._open()
        await self._ensure_identity()
        connector = self._websocket
        if connector is None:
            if self._session is None:
                raise UsageError("this QueueClient has no WebSocket connector (a custom transport)")
            # made per watch: the limit is known only once the attributes were read
            connector = AiohttpWebSocketConnector(
                self._session, max_message_size=self.max_message_size, ssl=self._ssl
            )
        headers = self._identity.headers(self._token, accept=ACCEPT_PROTOBUF)
        return connector, proto.websocket_url(self._base_url), headers

    @property
    def _heartbeat_interval(self) -> float | None:
        return self._heartbeat

    # -- one call, attempt by attempt ----------------------------------------------------

    async def _ensure_identity(self) -> None:
        """Read the identity header names from the attributes, once, before the first call.

        A 4xx (bad token, unknown queue) raises: every call would fail the same way. Any
        other failure keeps the official names, with a warning.
        """
        if self._discovered:
            return
        lock = self._discovery_lock
        assert lock is not None
        async with lock:
            if self._discovered:
                return
            try:
                attrs = await self._attributes(protobuf=False, discover=False)
            except ServiceError as exc:
                if exc.status < 500:
                    raise
                self._log.warning("queue attributes unavailable (%s): default headers", exc)
            except (EASError, ValueError) as exc:
                self._log.warning("queue attributes unavailable (%s): default headers", exc)
            else:
                self._learn(attrs)
            self._discovered = True

    def _learn(self, attrs: Mapping[str, str]) -> None:
        """What the queue's attributes tell: its header names and payload limit."""
        self._identity = proto.identity_from_attributes(self._identity, attrs)
        limit = proto.payload_limit(attrs)
        if limit is not None:
            self._max_payload = limit

    async def _attributes(self, *, protobuf: bool, discover: bool = True) -> dict[str, str]:
        resp = await self._call(
            "GET",
            proto.attributes_query(),
            accept=ACCEPT_PROTOBUF if protobuf else "application/json",
            discover=discover,
        )
        return proto.parse_attributes(resp.body, resp.headers.get("content-type", ""))

    def _try_target(
        self,
        query: str | Callable[[float], str],
        poll: float,
        schedule: RetrySchedule,
        now: float,
    ) -> tuple[str, Timeout]:
        """The URL and timeout of a try starting at ``now`` (see ``_call``)."""
        base = self._timeout
        if isinstance(query, str):
            return proto.with_query(self._base_url, query), schedule.clip(base, now)
        this_poll = _poll_within(poll, base.total, schedule.remaining(now))
        timeout = Timeout(total=base.total + this_poll, connect=base.connect)
        return proto.with_query(self._base_url, query(this_poll)), schedule.clip(timeout, now)

    async def _call(
        self,
        method: str,
        query: str | Callable[[float], str],
        *,
        body: bytes | None = None,
        accept: str | None = None,
        content_type: str | None = None,
        poll: float = 0.0,
        mode: _RetryMode = "safe",
        extra: Mapping[str, str] | None = None,
        discover: bool = True,
    ) -> HTTPResponse:
        """One call, retried by the client's policy (``mode``: see ``_RetryMode``).

        Each try gets the client's timeout, plus ``poll`` (a long poll's seconds), cut to
        what is left of the retry deadline. A long poll's ``query`` is a function of the
        poll seconds this try may use: the poll shrinks first, so that the service answers
        before the client's cut.
        """
        transport = self._open()
        if discover:
            await self._ensure_identity()
        shown = self._base_url
        loop = asyncio.get_running_loop()
        schedule = RetrySchedule(self._retry, start=loop.time(), random=self._random)
        error: EASError | None = None
        while True:
            schedule.begin_attempt()
            now = loop.time()
            remaining = schedule.remaining(now)
            if error is not None and remaining is not None and remaining <= 0:
                # the deadline passed during the wait: the last failure is what went wrong
                # (raised with its cause, by which put tells that nothing was sent)
                raise error
            url, attempt_timeout = self._try_target(query, poll, schedule, now)
            headers = self._identity.headers(self._token, accept=accept)
            if content_type is not None:
                headers["Content-Type"] = content_type
            if extra:
                headers.update(extra)
            try:
                resp = await transport.request(
                    method, url, headers=headers, body=body, timeout=attempt_timeout
                )
                error = proto.error_for(resp.status, resp.body, shown)
            except EASError as exc:
                error = exc
            if error is None:
                return resp
            delay = schedule.next_delay(error, loop.time())
            if delay is None or (mode == "unsent" and not never_sent(error)):
                raise error
            self._log.debug("%s %s failed (%s); retrying in %.3f s", method, shown, error, delay)
            if delay > 0:
                await asyncio.sleep(delay)
