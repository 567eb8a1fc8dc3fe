"""The client as a resource: opening, closing, refusing use after close, cancellation in
flight, the unclosed-client warning, and bodies too large for aiohttp's bytes path."""

from __future__ import annotations

import asyncio
import gc
import warnings

import aiohttp
import numpy as np
import pytest

from aioeas import (
    PredictClient,
    StringRequest,
    TorchRequest,
    UsageError,
)
from aioeas.emulator import Emulator, current_call
from tests.integration.conftest import TOKEN, direct_client, other_tasks


async def test_async_with(emu: Emulator) -> None:
    async with PredictClient(emu.url, "echo") as client:
        assert not client.closed
        assert (await client.predict(StringRequest("x"))).to_bytes() == b"x"
    assert client.closed


async def test_init_and_close_and_close_twice(emu: Emulator) -> None:
    client = PredictClient(emu.url, "echo")
    await client.init()
    assert (await client.predict(StringRequest("x"))).to_bytes() == b"x"
    await client.close()
    await client.close()
    assert client.closed


async def test_first_predict_opens_the_client(emu: Emulator) -> None:
    client = PredictClient(emu.url, "echo")
    try:
        assert (await client.predict(StringRequest("x"))).to_bytes() == b"x"
    finally:
        await client.close()


@pytest.mark.parametrize("direct", [False, True], ids=["gateway", "direct"])
async def test_a_closed_client_refuses_predict(emu: Emulator, direct: bool) -> None:
    client = direct_client(emu, "echo") if direct else PredictClient(emu.url, "echo")
    async with client:
        await client.predict(StringRequest("x"))
    with pytest.raises(UsageError, match="closed"):
        await client.predict(StringRequest("x"))
    with pytest.raises(UsageError, match="closed"):
        await client.init()
    assert emu.service("echo").requests == 1


async def test_a_borrowed_session_stays_open(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with PredictClient(emu.url, "echo", session=session) as client:
            await client.predict(StringRequest("x"))
        assert not session.closed


@pytest.mark.parametrize("direct", [False, True], ids=["gateway", "direct"])
async def test_cancelling_a_predict_releases_its_connection_and_leaves_no_task(
    emu: Emulator, released: asyncio.Event, direct: bool
) -> None:
    arrived = asyncio.Event()

    async def hold(body: bytes) -> bytes:
        if current_call().path == "/hold":
            arrived.set()
            await released.wait()
        return body

    emu.add_service("hold", hold)
    before = other_tasks()
    # One connection in all: if the cancelled call kept it, the next call could not run.
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        if direct:
            client = direct_client(emu, "hold", session=session)
        else:
            client = PredictClient(emu.url, "hold", session=session)
        async with client:
            call = asyncio.ensure_future(client.predict_bytes(b"held", path="hold"))
            await arrived.wait()
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            assert call.cancelled()
            # the connection went back (closed, since the answer was never read)
            out = await asyncio.wait_for(client.predict_bytes(b"next"), 10.0)
            assert out == b"next"
        assert not other_tasks() - before
    assert emu.service("hold").requests == 2


async def _leaked(record: pytest.WarningsRecorder) -> None:
    """Close what the warnings kept alive (a warning holds its ``source``), so that no
    second warning fires later, outside the test's ``pytest.warns``."""
    for w in record:
        if isinstance(w.source, PredictClient):
            await w.source.close()


@pytest.mark.parametrize("direct", [False, True], ids=["gateway", "direct"])
async def test_an_unclosed_client_warns(emu: Emulator, direct: bool) -> None:
    client = direct_client(emu, "echo") if direct else PredictClient(emu.url, "echo")
    await client.predict(StringRequest("x"))
    task = client.discovery_task
    with pytest.warns(ResourceWarning) as record:
        del client  # the last reference: no cycle keeps a client alive
    messages = [str(w.message) for w in record]
    assert any(m.startswith("unclosed <PredictClient echo") for m in messages), messages
    if task is not None:
        # the leaked client's discovery stops by itself: it does not poll forever
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 60)  # a guard
        assert task.cancelled()
    await _leaked(record)


async def test_a_closed_client_does_not_warn(emu: Emulator) -> None:
    async with PredictClient(emu.url, "echo") as client:
        await client.predict(StringRequest("x"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del client
        gc.collect()


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
async def test_a_large_tensor_round_trips_without_aiohttp_warning(
    eas_emulator_factory: object, token: str | None
) -> None:
    emu: Emulator = await eas_emulator_factory(token=token)  # type: ignore[operator]
    x = np.random.default_rng(1).standard_normal((4, 3, 224, 224)).astype(np.float32)
    req = TorchRequest().add_feed(0, x)
    assert len(req.to_bytes()) > 2_400_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # aiohttp's "Sending a large body" is a ResourceWarning
        async with PredictClient(emu.url, "echo_torch", token=token) as client:
            resp = await client.predict(req)
    np.testing.assert_array_equal(resp[0], x)
    assert resp.get_tensor_shape(0) == [4, 3, 224, 224]


async def test_a_large_body_is_sent_again_on_retry(emu: Emulator) -> None:
    from aioeas.emulator import Fault

    emu.service("echo").faults.add(Fault.error(503), times=2)
    body = bytes(range(256)) * 10_000  # 2.5 MB
    async with PredictClient(emu.url, "echo") as client:
        assert await client.predict_bytes(body) == body
    assert emu.service("echo").requests == 3


def test_a_client_used_in_a_second_event_loop_says_what_to_do() -> None:
    """Opened in one ``asyncio.run()``, used in the next: the library's own error naming
    the cause and the fix, before any I/O, instead of aiohttp's "Event loop is closed"."""

    async def first(client: PredictClient) -> None:
        await client.init()

    async def second(client: PredictClient) -> None:
        with pytest.raises(UsageError, match=r"another event loop.*inside the coroutine"):
            await client.predict(StringRequest("x"))
        await client.close()  # the old loop is gone: closing does not touch its session
        assert client.closed

    clients = [PredictClient("http://127.0.0.1:9", "echo")]  # never reached
    asyncio.run(first(clients[0]))
    with warnings.catch_warnings():
        # the first loop's session was never closed in that loop: the user's leak, reported
        # by aiohttp when it is collected
        warnings.simplefilter("ignore", ResourceWarning)
        asyncio.run(second(clients[0]))
        clients.clear()
        gc.collect()


def test_a_queue_client_used_in_a_second_event_loop_says_what_to_do() -> None:
    from aioeas import QueueClient

    async def first(client: QueueClient) -> None:
        client._open()  # opened as a first call would, without a server to talk to

    async def second(client: QueueClient) -> None:
        with pytest.raises(UsageError, match=r"another event loop.*inside the coroutine"):
            await client.count()
        await client.close()
        assert client.closed

    clients = [QueueClient("http://127.0.0.1:9", "q", discover_headers=False)]
    asyncio.run(first(clients[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        asyncio.run(second(clients[0]))
        clients.clear()
        gc.collect()
