"""PredictClient against local aiohttp servers: gateway, custom URL, retries, timeouts,
lifecycle, cancellation, secrecy of the token, concurrency of headers, fan-out, hooks."""

from __future__ import annotations

import asyncio
import collections
import gc
import logging

import aiohttp
import pytest

import aioeas
from aioeas import (
    AuthError,
    ConnectError,
    Hooks,
    PredictClient,
    RequestTimeoutError,
    RetryableServiceError,
    RetryPolicy,
    ServiceError,
    StringRequest,
    UsageError,
)
from aioeas.client.compression import compress
from tests.client.conftest import TOKEN, ServiceFactory
from tests.support.tasks import runs_module_of

FAST = RetryPolicy(backoff_base=0.0)


async def test_signed_predict_through_a_gateway(make_service: ServiceFactory) -> None:
    svc = await make_service("gw", token=TOKEN)
    async with PredictClient(svc.url + "/", "echo", token=TOKEN) as client:
        resp = await client.predict(StringRequest("hello"))
    assert resp.to_bytes() == b"gw:hello"
    (seen,) = svc.seen
    assert seen.path == "/api/predict/echo"
    assert seen.signed_ok
    assert seen.headers["Date"].endswith(" GMT")
    assert seen.headers["Content-Type"] == "application/octet-stream"


async def test_the_familiar_api_runs_the_manual_example(make_service: ServiceFactory) -> None:
    svc = await make_service("gw", token=TOKEN)
    client = PredictClient(svc.url.removeprefix("http://"), "scorecard_pmml_example")
    client.set_token(TOKEN)
    client.set_timeout(3000)
    client.set_retry_count(3)
    client.set_max_connection_count(10)
    client.add_extra_headers({"X-Extra": "1"})
    await client.init()
    request = StringRequest('[{"fea1": 1, "fea2": 2}]')
    resp = await client.predict(request)
    await client.close()
    assert resp.to_bytes() == b'gw:[{"fea1": 1, "fea2": 2}]'
    assert svc.seen[0].headers["X-Extra"] == "1"
    assert client.timeout == aioeas.Timeout(3.0)
    assert client.retry.max_attempts == 3


async def test_path_and_query_are_signed_and_sent(make_service: ServiceFactory) -> None:
    svc = await make_service("gw", token=TOKEN)
    async with PredictClient(svc.url, "llm", token=TOKEN) as client:
        out = await client.predict_bytes(
            b"{}", path="v1/chat completions", query={"stream": "false", "n": 2}
        )
    assert out == b"gw:{}"
    (seen,) = svc.seen
    assert seen.signed_ok
    assert seen.path == "/api/predict/llm/v1/chat completions"
    assert seen.query == "stream=false&n=2"


async def test_custom_url_is_verbatim_with_a_raw_token(make_service: ServiceFactory) -> None:
    svc = await make_service("c")
    async with PredictClient(custom_url=svc.url + "/custom/ui?x=1", token=TOKEN) as client:
        await client.predict(StringRequest("a"))
        await client.predict(StringRequest("b"), path="more", query="y=2")
    assert [(s.path, s.query) for s in svc.seen] == [
        ("/custom/ui", "x=1"),
        ("/custom/ui/more", "x=1&y=2"),
    ]
    assert all(s.headers["Authorization"] == TOKEN for s in svc.seen)
    assert "Content-MD5" not in svc.seen[0].headers


async def test_in_cluster_endpoint_from_env() -> None:
    client = PredictClient(service_name="my_svc", env={"NAMESPACE": "prod"})
    async with client:
        assert client._spec == aioeas.client.endpoints.GatewayEndpoint("http://my-svc.prod:8080")


async def test_injected_503s_are_retried_and_succeed(make_service: ServiceFactory) -> None:
    svc = await make_service("b", faults=collections.deque([503, 502, 500]))
    retries: list[aioeas.AttemptRetry] = []
    async with PredictClient(
        svc.url, "s", retry=FAST, hooks=Hooks(on_retry=retries.append)
    ) as client:
        assert await client.predict_bytes(b"x") == b"b:x"
    assert len(svc.seen) == 4
    assert [type(r.reason) for r in retries] == [RetryableServiceError] * 3


async def test_5xx_after_the_last_try(make_service: ServiceFactory) -> None:
    svc = await make_service("b", faults=collections.deque([503] * 5))
    async with PredictClient(svc.url, "s", retry=FAST) as client:
        client.set_retry_count(2)
        with pytest.raises(RetryableServiceError) as info:
            await client.predict_bytes(b"x")
    assert info.value.status == 503
    assert b"fault 503" in info.value.body
    assert len(svc.seen) == 2


async def test_retry_count_zero_still_makes_one_try(make_service: ServiceFactory) -> None:
    svc = await make_service("b", faults=collections.deque([500]))
    async with PredictClient(svc.url, "s", retry=FAST) as client:
        client.set_retry_count(0)
        with pytest.raises(RetryableServiceError):
            await client.predict_bytes(b"x")
    assert len(svc.seen) == 1


async def test_a_400_is_not_retried(make_service: ServiceFactory) -> None:
    svc = await make_service("b", faults=collections.deque([400, 400]))
    async with PredictClient(svc.url, "s", retry=FAST) as client:
        with pytest.raises(ServiceError) as info:
            await client.predict_bytes(b"x")
    assert type(info.value) is ServiceError
    assert info.value.status == 400
    assert len(svc.seen) == 1


async def test_a_wrong_token_raises_auth_error_at_once(make_service: ServiceFactory) -> None:
    svc = await make_service("b", token=TOKEN)
    async with PredictClient(svc.url, "s", token="wrong", retry=FAST) as client:
        with pytest.raises(AuthError) as info:
            await client.predict_bytes(b"x")
    assert info.value.status == 401
    assert len(svc.seen) == 1


async def test_a_slow_backend_times_out_with_our_error(make_service: ServiceFactory) -> None:
    svc = await make_service("b", gate=asyncio.Event())
    policy = RetryPolicy(max_attempts=1)
    async with PredictClient(svc.url, "s", timeout=0.2, retry=policy) as client:
        with pytest.raises(RequestTimeoutError) as info:
            await client.predict_bytes(b"x", path="slow")
        assert isinstance(info.value, TimeoutError)
        # the per-call override is milliseconds-free seconds too
        with pytest.raises(RequestTimeoutError):
            await client.predict_bytes(b"x", path="slow", timeout=aioeas.Timeout(0.1))
    assert svc.seen


async def test_the_retry_deadline_bounds_the_whole_call(make_service: ServiceFactory) -> None:
    svc = await make_service("b", gate=asyncio.Event())
    policy = RetryPolicy(max_attempts=100, backoff_base=0.0, deadline=0.3)
    async with PredictClient(svc.url, "s", timeout=0.1, retry=policy) as client:
        with pytest.raises(RequestTimeoutError):
            await client.predict_bytes(b"x", path="slow")
    # Each try lasts its 0.1 s timeout: at most three fit in 0.3 s, a fourth at the edge (a
    # slower machine only makes fewer, so no lower bound but one); 100 without the deadline.
    assert 1 <= len(svc.seen) <= 4


async def test_a_refused_connection_is_a_connect_error(make_service: ServiceFactory) -> None:
    svc = await make_service("b")
    url = svc.url
    await svc.stop()
    async with PredictClient(url, "s", retry=RetryPolicy(max_attempts=2, backoff_base=0)) as client:
        with pytest.raises(ConnectError) as info:
            await client.predict_bytes(b"x")
    assert isinstance(info.value, ConnectionError)


async def test_compressed_request_and_encoded_answers(make_service: ServiceFactory) -> None:
    svc = await make_service("b", answer_encoding=("zstd", lambda b: compress(b, "zstd")))
    async with PredictClient(svc.url, "s", compression="gzip", token=TOKEN) as client:
        out = await client.predict_bytes(b"payload")
        out_lz4 = await client.predict_bytes(b"p2", compression="lz4")
    assert out.startswith(b"b:")
    assert svc.seen[0].body == compress(b"payload", "gzip")
    assert "Content-Encoding" not in svc.seen[0].headers
    assert out == b"b:" + svc.seen[0].body
    assert out_lz4 == b"b:" + compress(b"p2", "lz4")


# -- lifecycle ----------------------------------------------------------------------


async def test_a_closed_client_cannot_reopen(make_service: ServiceFactory) -> None:
    svc = await make_service("b")
    client = PredictClient(svc.url, "s")
    assert await client.predict_bytes(b"1") == b"b:1"  # first use opens
    with pytest.raises(UsageError):
        client.set_endpoint("elsewhere")
    await client.close()
    await client.close()
    assert client.closed
    with pytest.raises(UsageError):
        await client.init()
    with pytest.raises(UsageError):
        await client.predict_bytes(b"2")


async def test_a_borrowed_session_is_not_closed(make_service: ServiceFactory) -> None:
    svc = await make_service("b")
    async with aiohttp.ClientSession() as session:
        async with PredictClient(svc.url, "s", session=session) as client:
            await client.predict_bytes(b"1")
        assert not session.closed


async def test_an_unclosed_client_warns() -> None:
    async with aiohttp.ClientSession() as session:
        client = PredictClient("http://127.0.0.1:9", "s", session=session)
        await client.init()
        with pytest.warns(ResourceWarning, match="unclosed"):  # noqa: PT031
            del client  # freed here by its reference count
            gc.collect()


def test_the_session_is_not_made_outside_a_loop() -> None:
    client = PredictClient("http://127.0.0.1:9", "s")
    assert client._transport is None  # nothing made in __init__
    del client
    gc.collect()  # never opened: no warning


async def test_cancelling_a_predict_releases_its_connection(make_service: ServiceFactory) -> None:
    svc = await make_service("b", gate=asyncio.Event())
    connector = aiohttp.TCPConnector(limit=1)
    session = aiohttp.ClientSession(connector=connector)
    async with session, PredictClient(svc.url, "s", session=session, timeout=2.0) as client:
        call = asyncio.create_task(client.predict_bytes(b"x", path="slow"))
        await svc.arrived.wait()
        assert runs_module_of(call, "aioeas")  # the check below can see a task of ours
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # by the module a task's coroutine comes from, not by its file's path
        leaked = [t for t in asyncio.all_tasks() if runs_module_of(t, "aioeas")]
        assert leaked == []
        # with a pool of one, this only works if the cancelled call gave its connection back
        assert await client.predict_bytes(b"y") == b"b:y"


# -- secrecy and concurrency ----------------------------------------------------------


async def test_the_token_never_shows(
    make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aioeas")
    svc = await make_service("b", token=TOKEN, faults=collections.deque([503]))
    texts: list[str] = []
    events: list[object] = []
    hooks = Hooks(on_start=events.append, on_end=events.append, on_retry=events.append)
    client = PredictClient(svc.url, "s", token=TOKEN, retry=FAST, hooks=hooks)
    texts.append(repr(client))
    async with client:
        await client.predict_bytes(b"x")
        texts.append(repr(client))
        client.set_token("other-token")
        with pytest.raises(AuthError) as info:
            await client.predict_bytes(b"x")
        texts += [str(info.value), repr(info.value)]
    texts += [caplog.text, repr(events)]
    assert "token=***" in texts[0]
    for text in texts:
        assert TOKEN not in text
        assert "other-token" not in text
    assert logging.getLogger("aioeas").handlers == []


async def test_headers_are_not_shared_between_concurrent_calls(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("b", token=TOKEN)
    async with PredictClient(svc.url, "s", token=TOKEN, headers={"X-Common": "c"}) as client:
        outs = await asyncio.gather(
            *(
                client.predict_bytes(
                    f"body-{i}".encode(), headers={"X-Req": str(i)}, query={"i": i}
                )
                for i in range(50)
            )
        )
    assert outs == [f"b:body-{i}".encode() for i in range(50)]
    assert len(svc.seen) == 50
    for seen in svc.seen:
        assert seen.signed_ok
        i = seen.headers["X-Req"]
        assert seen.body == f"body-{i}".encode()
        assert seen.query == f"i={i}"
        assert seen.headers["X-Common"] == "c"


# -- fan-out ----------------------------------------------------------------------------


async def test_predict_many_in_order_with_progress(make_service: ServiceFactory) -> None:
    svc = await make_service("b")
    progress: list[tuple[int, int | None]] = []
    reqs = [StringRequest(str(i)) for i in range(20)]
    async with PredictClient(svc.url, "s") as client:
        results = await client.predict_many(
            reqs, concurrency=4, progress=lambda d, t: progress.append((d, t))
        )
    assert [r.to_bytes() for r in results] == [f"b:{i}".encode() for i in range(20)]
    assert progress[-1] == (20, 20)


async def test_predict_many_bounds_concurrency_over_a_generator(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("b")
    pulled = 0

    async def requests() -> collections.abc.AsyncIterator[StringRequest]:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield StringRequest(str(i))

    async with PredictClient(svc.url, "s") as client:
        fan = client.predict_many(requests(), concurrency=8, ordered=False)
        got = []
        async with fan:
            async for resp in fan:
                got.append(resp.to_bytes())
                assert fan.in_flight <= 8
                assert pulled <= len(got) + 8
                if len(got) == 30:
                    break
        assert fan.in_flight == 0
    assert len(set(got)) == 30


async def test_predict_many_collects_or_raises(make_service: ServiceFactory) -> None:
    svc = await make_service("b", faults=collections.deque([400]))
    async with PredictClient(svc.url, "s", retry=FAST) as client:
        mixed = await client.predict_many(
            [StringRequest(str(i)) for i in range(5)], concurrency=1, return_exceptions=True
        )
        assert isinstance(mixed[0], ServiceError)
        assert [r.to_bytes() for r in mixed[1:]] == [f"b:{i}".encode() for i in range(1, 5)]  # type: ignore[union-attr]
        svc.faults.append(404)
        with pytest.raises(ServiceError):
            await client.predict_many([StringRequest("a"), StringRequest("b")], concurrency=1)
        with pytest.raises(UsageError):
            client.predict_many([], concurrency=0)


async def test_hooks_see_every_attempt(make_service: ServiceFactory) -> None:
    svc = await make_service("b", faults=collections.deque([503]))
    events: list[object] = []

    def broken(_: object) -> None:
        raise RuntimeError("metrics exporter down")

    hooks = Hooks(on_start=events.append, on_end=events.append, on_retry=broken)
    async with PredictClient(svc.url, "s", retry=FAST, hooks=hooks) as client:
        await client.predict_bytes(b"x")
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["AttemptStart", "AttemptEnd", "AttemptStart", "AttemptEnd"]
    first_end, last_end = events[1], events[3]
    assert isinstance(first_end, aioeas.AttemptEnd)
    assert first_end.status == 503
    assert isinstance(last_end, aioeas.AttemptEnd)
    assert last_end.error is None
    assert last_end.latency >= 0
    assert last_end.attempt == 2
