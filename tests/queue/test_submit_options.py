"""``AsyncInference``'s options: its defaults (the documented ones), what it refuses before
any I/O, and that each reaches the client or watcher it is for. No queue needed for most:
the checks run in the constructor."""

from __future__ import annotations

import pytest

from aioeas.client.config import Timeout
from aioeas.emulator import Emulator
from aioeas.errors import UsageError
from aioeas.queue import AsyncInference
from tests.queue.conftest import TOKEN

URL = "http://127.0.0.1:1"  # never reached: nothing here does I/O


def test_the_defaults_are_the_documented_ones() -> None:
    inference = AsyncInference(URL, "svc")
    assert inference.timeout == 60.0
    assert inference._window == 256
    assert inference._max_unclaimed == 128  # window // 2
    assert inference.inputs.gid == "eas"  # the official clients' group
    assert inference.sink.gid == f"eas-{inference.inputs.uid}"  # one of its own
    assert inference.sink.uid == inference.inputs.uid
    assert inference.inputs._timeout == Timeout(5.0)  # per HTTP try
    assert inference.sink._timeout == Timeout(5.0)


def test_each_option_reaches_the_client_it_is_for() -> None:
    inference = AsyncInference(
        URL, "svc", uid="u-1", gid="g", timeout=7.5, window=6, http_timeout=2.0
    )
    assert (inference.inputs.uid, inference.inputs.gid) == ("u-1", "g")
    assert (inference.sink.uid, inference.sink.gid) == ("u-1", "g-u-1")
    assert inference.timeout == 7.5
    assert (inference._window, inference._max_unclaimed) == (6, 3)
    assert inference.inputs._timeout == Timeout(2.0)


@pytest.mark.parametrize("timeout", [0, -1.0, "5", True, float("nan")])
def test_a_bad_result_timeout_is_refused(timeout: object) -> None:
    with pytest.raises(UsageError, match="timeout must be a positive number"):
        AsyncInference(URL, "svc", timeout=timeout)  # type: ignore[arg-type]


def test_no_result_timeout_is_allowed() -> None:
    assert AsyncInference(URL, "svc", timeout=None).timeout is None


@pytest.mark.parametrize("window", [True, 1, 0, 2.0, "8"])
def test_a_bad_window_is_refused(window: object) -> None:
    with pytest.raises(UsageError) as info:
        AsyncInference(URL, "svc", window=window)  # type: ignore[arg-type]
    assert str(info.value) == f"window must be an int >= 2, got {window!r}"


def test_the_smallest_window_and_no_held_results_are_allowed() -> None:
    inference = AsyncInference(URL, "svc", window=2, max_unclaimed=0)
    assert (inference._window, inference._max_unclaimed) == (2, 0)
    assert AsyncInference(URL, "svc", window=2)._max_unclaimed == 1


@pytest.mark.parametrize("max_unclaimed", [True, -1, 8, 9, 1.0])
def test_a_bad_max_unclaimed_is_refused(max_unclaimed: object) -> None:
    with pytest.raises(UsageError) as info:
        AsyncInference(URL, "svc", window=8, max_unclaimed=max_unclaimed)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"max_unclaimed must be an int from 0 to window - 1 (7), got {max_unclaimed!r}: "
        "held results take room in the window"
    )


async def test_the_sink_task_is_named_for_task_dumps(emu: Emulator) -> None:
    emu.add_queue_service("named", processor=lambda body: body)
    async with AsyncInference(emu.url, "named", token=TOKEN) as inference:
        await inference.start()
        assert inference._dispatcher is not None
        assert inference._dispatcher.get_name() == "aioeas-sink"
