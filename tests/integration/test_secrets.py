"""The token never shows: not in log records (DEBUG and up), not in ``repr(client)``,
not in any exception's text, whatever the endpoint kind and whatever went wrong."""

from __future__ import annotations

import logging
import traceback

import pytest

from aioeas import (
    AuthError,
    ConnectError,
    EASError,
    PredictClient,
    RequestTimeoutError,
    RetryPolicy,
    StringRequest,
)
from aioeas.emulator import Emulator, Fault
from tests.integration.conftest import TOKEN, direct_client

FAST3 = RetryPolicy(max_attempts=3, backoff_base=0.0)


def _texts(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


async def test_the_token_is_never_shown(
    emu_token: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    svc = emu_token.add_service("s", lambda body: body, backends=2)
    echo = emu_token.service("echo")

    gateway = PredictClient(emu_token.url, "echo", token=TOKEN, retry=FAST3)
    custom = PredictClient(custom_url=f"{emu_token.url}/api/predict/echo", token=TOKEN)
    direct = direct_client(emu_token, "s", token=TOKEN, retry=FAST3, timeout=0.2)
    wrong = PredictClient(emu_token.url, "echo", token=TOKEN + "x")
    clients = [gateway, custom, direct, wrong]
    for client in clients:
        assert TOKEN not in repr(client)
        await client.init()
        assert TOKEN not in repr(client)
        assert "***" in repr(client)

    # successes, retries, a retryable failure, a timeout, a refused backend, an auth error
    await gateway.predict(StringRequest("ok"))
    await custom.predict(StringRequest("ok"))
    echo.faults.add(Fault.error(503, "busy"), times=1)
    await gateway.predict(StringRequest("retried"))
    echo.faults.add(Fault.error(500, "down"), times=3)
    with pytest.raises(EASError) as caught:
        await gateway.predict(StringRequest("x"))
    errors.append(caught.value)
    await direct.predict(StringRequest("ok"))
    await svc.backends[0].stop()
    svc.backends[1].faults.add(Fault.latency(10.0))
    with pytest.raises((ConnectError, RequestTimeoutError)) as caught2:
        await direct.predict(StringRequest("x"))
    errors.append(caught2.value)
    with pytest.raises(AuthError) as caught3:
        await wrong.predict(StringRequest("x"))
    errors.append(caught3.value)
    emu_token.discovery.answer_invalid()
    assert direct._discovery is not None
    await direct._discovery.refresh()

    for client in clients:
        await client.close()
        assert TOKEN not in repr(client)

    assert caplog.records, "the library logged at DEBUG"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in caplog.text
        if record.exc_info and record.exc_info[1] is not None:
            assert TOKEN not in _texts(record.exc_info[1])
    for exc in errors:
        assert TOKEN not in _texts(exc)
        cause = exc.__cause__ or exc.__context__
        while cause is not None:
            assert TOKEN not in _texts(cause)
            cause = cause.__cause__ or cause.__context__
    assert any(r.name.startswith("aioeas") for r in caplog.records)


def test_the_library_logger_adds_no_handlers() -> None:
    import aioeas.client  # noqa: F401 - load every client module

    for name, logger in logging.Logger.manager.loggerDict.items():
        if name.startswith("aioeas.client") and isinstance(logger, logging.Logger):
            assert logger.handlers == []
