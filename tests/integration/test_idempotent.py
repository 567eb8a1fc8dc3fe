"""``idempotent=False``: a request that must not run twice is repeated only when nothing
was sent (its connection could not be opened); any failure after sending is raised."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from aioeas import (
    ConnectError,
    EASError,
    PredictClient,
    RequestTimeoutError,
    RetryableServiceError,
    RetryPolicy,
    StringRequest,
)
from aioeas.client.transport import HTTPResponse, never_sent
from aioeas.emulator import Emulator, Fault
from tests.integration.conftest import FAST, Attempts

#: Three tries, no wait between them.
THREE = RetryPolicy(max_attempts=3, backoff_base=0.0)


def refused() -> ConnectError:
    """A ``ConnectError`` as the transport raises it for a refused connection."""
    key = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
    cause = aiohttp.ClientConnectorError(key, OSError(111, "Connection refused"))
    try:
        raise ConnectError("refused") from cause
    except ConnectError as exc:
        return exc


class RefusingTransport:
    """Refuses the first ``refusals`` connections, then answers ``ok``."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls = 0

    async def request(self, method: str, url: str, **kwargs: object) -> HTTPResponse:
        self.calls += 1
        if self.calls <= self.refusals:
            raise refused()
        return HTTPResponse(200, b"ok")

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("idempotent", [True, False])
async def test_a_timeout_after_sending_is_retried_only_when_idempotent(
    emu: Emulator, idempotent: bool
) -> None:
    emu.service("echo").faults.add(Fault.latency(30.0))  # every try outlasts its timeout
    seen = Attempts()
    async with PredictClient(emu.url, "echo", timeout=0.2, retry=THREE, hooks=seen.hooks) as client:
        with pytest.raises(RequestTimeoutError) as info:
            await client.predict(StringRequest("charge once"), idempotent=idempotent)
    assert not never_sent(info.value)
    assert len(seen.starts) == (3 if idempotent else 1)


@pytest.mark.parametrize("fault", [Fault.reset(), Fault.drop(), Fault.error(503)])
async def test_a_cut_connection_or_a_5xx_is_not_retried(emu: Emulator, fault: Fault) -> None:
    svc = emu.service("echo")
    rule = svc.faults.add(fault)
    seen = Attempts()
    async with PredictClient(emu.url, "echo", retry=FAST, hooks=seen.hooks) as client:
        with pytest.raises((ConnectError, RetryableServiceError)):
            await client.predict(StringRequest("x"), idempotent=False)
        assert len(seen.starts) == 1
        assert rule.hits == 1
        rule.cancel()
        # the same client, the default: the next call is retried as usual
        rule = svc.faults.add(fault, times=2)
        assert (await client.predict(StringRequest("y"))).text == "y"
    assert len(seen.starts) == 4
    assert rule.hits == 2


async def test_a_refused_connection_is_still_retried() -> None:
    transport = RefusingTransport(refusals=2)
    async with PredictClient("http://h", "s", retry=THREE, transport=transport) as client:
        answer = await client.predict_bytes(b"x", idempotent=False)
    assert answer == b"ok"
    assert transport.calls == 3


async def test_a_closed_port_is_retried_to_the_last_try(emu: Emulator) -> None:
    url = emu.url
    await emu.stop()
    seen = Attempts()
    async with PredictClient(url, "echo", retry=THREE, hooks=seen.hooks) as client:
        with pytest.raises(ConnectError) as info:
            await client.predict(StringRequest("x"), idempotent=False)
    assert never_sent(info.value)
    assert len(seen.starts) == 3


async def test_predict_many_passes_it_on() -> None:
    transport = RefusingTransport(refusals=0)
    async with PredictClient("http://h", "s", retry=THREE, transport=transport) as client:
        out = await client.predict_many([StringRequest("a")] * 3, idempotent=False)
    assert [r.text for r in out] == ["ok"] * 3


def _caused(error: EASError, cause: BaseException) -> EASError:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "unsent"),
    [
        (refused(), True),
        (_caused(RequestTimeoutError("t"), aiohttp.ConnectionTimeoutError("connect")), True),
        (_caused(RequestTimeoutError("t"), asyncio.TimeoutError()), False),
        (_caused(RequestTimeoutError("t"), aiohttp.ServerTimeoutError("read")), False),
        (_caused(ConnectError("c"), aiohttp.ServerDisconnectedError()), False),
        (_caused(ConnectError("c"), ConnectionResetError()), False),
        (ConnectError("no cause"), False),
        (RetryableServiceError(502, b"bad gateway"), False),
    ],
    ids=["refused", "connect-timeout", "timeout", "read-timeout", "disconnected", "reset",
         "no-cause", "5xx"],
)  # fmt: skip
def test_never_sent(error: EASError, unsent: bool) -> None:
    assert never_sent(error) is unsent
