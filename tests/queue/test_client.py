"""QueueClient against the emulator's queue service: every call, retries, validation."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from aioeas.client.transport import HTTPResponse
from aioeas.emulator import Emulator
from aioeas.emulator.faults import Fault
from aioeas.errors import (
    AuthError,
    ConnectError,
    RetryableServiceError,
    ServiceError,
    UsageError,
)
from aioeas.queue import PutUncertainError, QueueClient, QueueRecord, RecordBatch
from tests.queue.conftest import FAST_RETRY, TOKEN, MakeClient


async def test_put_get_delete_truncate(emu: Emulator, make_client: MakeClient) -> None:
    q = make_client()
    index, request_id = await q.put(b"one", {"k": "a&b=c"})
    assert index == 1
    assert request_id
    await q.put("two")
    await q.put(b"three", {"k": "x"})
    got = await q.get(index=0, length=3, timeout=0, auto_delete=False)
    assert isinstance(got, RecordBatch)
    assert [r.data for r in got] == [b"one", b"two", b"three"]
    assert got[0].tags == {"k": "a&b=c", "requestId": request_id}
    assert got[0].request_id == request_id
    by_id = await q.get(request_id=request_id, timeout=0, auto_delete=False)
    assert [r.index for r in by_id] == [1]
    by_tag = await q.get(tags={"k": "x"}, timeout=0, auto_delete=False)
    assert [r.data for r in by_tag] == [b"three"]
    frame = got.to_dataframe()
    assert list(frame["index"]) == [1, 2, 3]
    assert list(frame["tag.k"]) == ["a&b=c", None, "x"]
    assert await q.delete([2]) == "OK"
    assert [r.index for r in await q.get(length=5, timeout=0, auto_delete=False)] == [1, 3]
    await q.truncate(3)
    assert [r.index for r in await q.get(length=5, timeout=0, auto_delete=False)] == [3]
    # auto_delete (the default) takes it away
    assert [r.index for r in await q.get(timeout=0)] == [3]
    assert len(emu.queue("svc")) == 0


async def test_get_answers_an_empty_list_on_204(make_client: MakeClient) -> None:
    assert await make_client().get(timeout="0s") == []


async def test_a_long_poll_outlasts_the_http_timeout(
    emu: Emulator, make_client: MakeClient
) -> None:
    q = make_client(timeout=0.2)  # shorter than the poll
    queue = emu.queue("svc")
    polling = asyncio.ensure_future(q.get(timeout=30, auto_delete=False))
    assert await queue.wait_until(lambda: queue.polling > 0)
    await make_client().put(b"late")
    got = await polling
    assert [r.data for r in got] == [b"late"]


async def test_attributes_json_and_protobuf(emu: Emulator, make_client: MakeClient) -> None:
    q = make_client()
    await q.put(b"x")
    as_json = await q.attributes()
    as_proto = await q.attributes(protobuf=True)
    assert as_json["stream.lastEntry"] == as_proto["stream.lastEntry"] == "1"
    assert as_json["meta.name"] == "svc"
    # the identity header names come from meta.header.*
    assert q.identity.priority_header == as_json["meta.header.priority"]


async def test_identity_header_names_follow_the_attributes() -> None:
    seen: list[dict[str, str]] = []

    from aiohttp import web
    from aiohttp.test_utils import TestServer

    async def handle(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if request.query.get("_attrs_") == "true":
            return web.json_response({"meta.header.user": "X-U", "meta.header.group": "X-G"})
        return web.Response(text="7", headers={"X-Eas-Queueservice-Request-Id": "r7"})

    app = web.Application()
    app.router.add_route("*", "/api/predict/{name:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with QueueClient(
            f"http://127.0.0.1:{server.port}", "q", token="t", uid="me", gid="grp"
        ) as q:
            assert await q.put(b"x") == (7, "r7")
        assert seen[-1]["X-U"] == "me"
        assert seen[-1]["X-G"] == "grp"
        assert seen[-1]["Authorization"] == "t"
        assert "X-EAS-QueueService-Redis-Uid" not in seen[-1]
    finally:
        await server.close()


async def test_search(emu: Emulator, make_client: MakeClient) -> None:
    q = make_client()
    index, _ = await q.put(b"x")
    found = await q.search(index)
    assert found is not None
    assert found.is_pending is False
    assert found.wait_count == 0
    assert await q.search(999) is None  # 404: a clear None, not {}


async def test_commit_count_priority_negative_and_end(
    emu: Emulator, make_client: MakeClient
) -> None:
    q = make_client()
    await q.put(b"normal")
    first = await q.put(b"urgent", priority=1)
    assert await q.count() == 2
    assert await q.count(priority=1) == 1
    async with q.watch(window=2) as w:
        record = await w.next(timeout=5)
        assert record.index == first.index  # priority records come first
        assert await q.negative_ack(record.index, "Shutdown", "going away") == "OK"
        assert await q.commit([record.index]) == "OK"
        assert await q.commit(record.index) == "OK"  # again: fine
    await q.end_of_stream()
    with pytest.raises(ServiceError) as info:
        await q.put(b"after the end")
    assert info.value.status == 409  # refused: not uncertain
    with pytest.raises(UsageError, match="CamelCase"):
        await q.negative_ack([1], "not valid")


async def test_priority_goes_in_the_query_and_the_named_header(make_client: MakeClient) -> None:
    q = make_client()
    await q.init()
    assert q.identity.priority_header == "X-EAS-QueueService-Priority"  # the emulator names it
    await q.put(b"p", priority=2)
    assert await q.count(priority=2) == 1


@pytest.mark.parametrize(
    "tags", [{"_index_": "1"}, {"k": "v\r\nX-Injected: 1"}, {"": "v"}, {"k": "\x00"}]
)
async def test_bad_tags_are_refused_before_any_io(
    emu: Emulator, make_client: MakeClient, tags: dict[str, str]
) -> None:
    q = make_client()
    before = emu.queue("svc").requests
    with pytest.raises(UsageError):
        await q.put(b"x", tags)
    with pytest.raises(UsageError):
        await q.get(tags=tags)
    with pytest.raises(UsageError):
        q.watch(tags=tags)
    assert emu.queue("svc").requests == before


async def test_reads_and_commits_retry_on_5xx(emu: Emulator, make_client: MakeClient) -> None:
    q = make_client()
    await q.init()
    queue = emu.queue("svc")
    await q.put(b"x")
    queue.faults.add(Fault.error(503, "busy"), times=2)
    assert [r.data for r in await q.get(timeout=0, auto_delete=False)] == [b"x"]
    queue.faults.add(Fault.error(502), times=2)
    assert await q.commit([1]) == "OK"
    queue.faults.add(Fault.drop(), times=1)
    assert await q.count() >= 0
    queue.faults.add(Fault.error(503), times=5)
    with pytest.raises(RetryableServiceError):
        await q.attributes()  # 3 tries in all, then the last error


async def test_4xx_is_never_retried(emu: Emulator, make_client: MakeClient) -> None:
    q = make_client()
    await q.init()
    queue = emu.queue("svc")
    rule = queue.faults.add(Fault.error(429, "slow down"), times=3)
    with pytest.raises(ServiceError) as info:
        await q.get(timeout=0, auto_delete=False)
    assert info.value.status == 429
    assert info.value.body == b"slow down"
    assert rule.hits == 1
    rule.cancel()


async def test_a_wrong_token_is_an_auth_error(make_client: MakeClient) -> None:
    with pytest.raises(AuthError) as info:
        await make_client(token="wrong").init()
    assert info.value.status == 401


@pytest.mark.parametrize("fault", [Fault.error(503), Fault.drop(), Fault.reset()])
async def test_put_is_not_retried_once_it_may_have_been_stored(
    emu: Emulator, make_client: MakeClient, fault: Fault
) -> None:
    q = make_client()
    await q.init()
    rule = emu.queue("svc").faults.add(fault, times=3)
    with pytest.raises(PutUncertainError) as info:
        await q.put(b"x", {"key": "k1"})
    assert rule.hits == 1  # one try only
    assert info.value.tags == {"key": "k1"}
    rule.cancel()


class FlakyTransport:
    """Refuses the first ``refusals`` connections (as aiohttp reports a refused connect),
    then answers put."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls = 0

    async def request(self, method: str, url: str, **kwargs: object) -> HTTPResponse:
        self.calls += 1
        if self.calls <= self.refusals:
            key = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
            cause = aiohttp.ClientConnectorError(key, OSError(111, "Connection refused"))
            raise ConnectError("refused") from cause
        return HTTPResponse(200, b"5", {"x-eas-queueservice-request-id": "r5"})

    async def close(self) -> None:
        pass


async def test_put_is_retried_when_the_connection_never_opened() -> None:
    transport = FlakyTransport(refusals=2)
    async with QueueClient(
        "http://h", "q", discover_headers=False, retry=FAST_RETRY, transport=transport
    ) as q:
        assert await q.put(b"x") == (5, "r5")
    assert transport.calls == 3
    transport = FlakyTransport(refusals=5)
    async with QueueClient(
        "http://h", "q", discover_headers=False, retry=FAST_RETRY, transport=transport
    ) as q:
        with pytest.raises(ConnectError) as info:
            await q.put(b"x")
    assert not isinstance(info.value, PutUncertainError)  # refused: surely not stored
    assert transport.calls == 3


async def test_put_timeout_is_uncertain(emu: Emulator, make_client: MakeClient) -> None:
    q = make_client()
    await q.init()  # under the default timeout: a healthy call never races 0.2 s
    q.set_timeout(200)
    emu.queue("svc").faults.add(Fault.latency(3600.0), times=1)  # never answers
    with pytest.raises(PutUncertainError) as info:
        await q.put(b"slow")
    assert isinstance(info.value.cause, TimeoutError)


async def test_lifecycle_and_familiar_setters(emu: Emulator) -> None:
    q = QueueClient(emu.url, "svc")
    q.set_token(TOKEN)
    q.set_timeout(3000)
    assert q.timeout.total == 3.0
    q.set_logger(None)
    await q.init(uid="u1", gid="g1")
    assert (q.uid, q.gid) == ("u1", "g1")
    with pytest.raises(UsageError):
        await q.init(uid="other")
    await q.put(b"x")
    await q.close()
    await q.close()
    assert q.closed
    with pytest.raises(UsageError):
        await q.put(b"x")
    a, b = QueueClient(emu.url, "svc"), QueueClient(emu.url, "svc")
    assert a.uid != b.uid  # a uuid4 each


def test_record_is_immutable_and_hashable() -> None:
    r = QueueRecord(3, {"requestId": "r"}, b"d", "m")
    assert r.request_id == "r"
    assert r.text() == "d"
    assert hash(r) == hash(3)
    with pytest.raises(AttributeError):
        r.index = 4  # type: ignore[misc]


async def test_a_refused_async_with_closes_its_own_session(emu: Emulator) -> None:
    """A 401 while opening (the attributes lookup) must not leave the session open."""
    client = QueueClient(emu.url, "svc", token="wrong", retry=FAST_RETRY)
    with pytest.raises(AuthError):
        async with client:
            pass  # pragma: no cover - never entered
    assert client.closed
    assert client._session is None  # the own session was closed, not dropped
