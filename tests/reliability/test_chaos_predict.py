"""Chaos, predict: 10,000 predictions, 64 in flight, across three VPC-direct backends that
inject 5% faults (503, reset connections) and a few requests held past the timeout, one of
them stopped and restarted mid-run.

Each request carries its own id in a tensor and the processor echoes it, so every answer
can be matched to the request that asked. The faults come from the backends' seeded fault
plans; the stop and the restart fire on progress counts. The accounting is exact: every
attempt the client made (seen through its hooks) is either a success or a failure of one
of the library's types, and on the backends that stay up the failures of each kind equal
the faults of that kind the emulator injected.

No count depends on speed: a held request is held for good (the timeout always fires on
it), and the timeout is far above what a normal answer takes on a busy machine (a healthy
try timing out would break the exact accounting). Held requests are few and counted
(``times``), not drawn at a rate, so the time spent waiting for them stays small.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from aioeas import (
    ENDPOINT_TYPE_DIRECT,
    ConnectError,
    DiscoveryConfig,
    EASError,
    PredictClient,
    RequestTimeoutError,
    RetryableServiceError,
    RetryPolicy,
    TFRequest,
    TFResponse,
    Timeout,
)
from aioeas.emulator import Emulator, Fault, FaultRule
from aioeas.emulator.services import Backend
from tests.reliability.conftest import Attempts

SEED = 20240611
#: Per fault kind and backend: two kinds tried in turn give 1 - (1 - r)^2 = 5.0%.
RATE = 0.02532
#: Per attempt. A held request never answers; a normal answer comes in milliseconds.
TIMEOUT = 3.0
HELD = 3600.0
#: Generous: 20 tries at 5% leave a request failing with odds of 1e-26.
GENEROUS = RetryPolicy(max_attempts=20, backoff_base=0.001, backoff_max=0.01)
ONCE = RetryPolicy(max_attempts=1)


def _echo(inputs: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
    return {"id": inputs["id"], "y": inputs["x"] * 2}


def _request(i: int) -> TFRequest:
    req = TFRequest()
    req.add_feed("id", np.array([i], np.int64))
    req.add_feed("x", np.arange(i, i + 4, dtype=np.float32))
    return req


def _check_answer(i: int, resp: TFResponse) -> None:
    """The answer is this request's own: its id, and its values doubled."""
    assert resp["id"].tolist() == [i], f"request {i} got the answer of {resp['id'].tolist()}"
    assert resp["y"].tolist() == (np.arange(i, i + 4, dtype=np.float32) * 2).tolist()


class _Faults:
    """The three fault rules of one backend, in the order the plan tries them: a 503 and a
    reset end a request there, so the latency rule only sees requests neither took; it holds
    ``held`` requests (those after the first ``after`` it sees) past the timeout."""

    def __init__(self, backend: Backend, *, held: int, after: int) -> None:
        self.status = backend.faults.add(Fault.error(503, "injected"), rate=RATE)
        self.reset = backend.faults.add(Fault.reset(), rate=RATE)
        self.latency = backend.faults.add(Fault.latency(HELD), times=held, after=after)

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return (self.status, self.reset, self.latency)

    @property
    def hits(self) -> int:
        return sum(r.hits for r in self.rules)


def _kind(error: BaseException | None, status: int | None) -> str:
    """What the caller saw of one attempt."""
    if error is None:
        assert status == 200
        return "ok"
    assert isinstance(error, EASError), f"not a library error: {error!r}"
    if isinstance(error, RetryableServiceError):
        assert error.status == status == 503
        assert error.body == b"injected"
        return "503"
    if isinstance(error, ConnectError):
        assert status is None
        return "connect"
    if isinstance(error, RequestTimeoutError):
        assert status is None
        return "timeout"
    raise AssertionError(f"unexpected failure {error!r}")


async def _run(
    client: PredictClient,
    n: int,
    *,
    concurrency: int,
    on_progress: Callable[[int], Any] | None = None,
) -> dict[int, object]:
    """Predict requests 0..n-1, ``concurrency`` at a time; each id's single outcome."""
    outcomes: dict[int, object] = {}
    ids = iter(range(n))
    done = 0

    async def worker() -> None:
        nonlocal done
        for i in ids:
            try:
                outcome: object = await client.predict(_request(i))
            except EASError as exc:
                outcome = exc
            assert i not in outcomes, f"request {i} ended twice"
            outcomes[i] = outcome
            done += 1
            if on_progress is not None:
                await on_progress(done)

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 120)
    return outcomes


def _client(emu: Emulator, seen: Attempts, retry: RetryPolicy) -> PredictClient:
    return PredictClient(
        emu.url,
        "chaos",
        endpoint_type=ENDPOINT_TYPE_DIRECT,
        env={},
        timeout=Timeout(TIMEOUT),
        retry=retry,
        # No refresh during the run (stopped backends stay listed anyway); a failing
        # backend rests briefly, so the restarted one is used again within the run.
        discovery=DiscoveryConfig(interval=600.0, rest_period=0.2),
        hooks=seen.hooks,
    )


@pytest.mark.long
async def test_10k_predicts_under_faults_and_a_restart_all_succeed_and_add_up() -> None:
    n, stop_at, restart_at = 10_000, 3_000, 6_000
    processed = 0

    def echo(inputs: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
        nonlocal processed
        processed += 1
        return _echo(inputs)

    async with Emulator(seed=SEED, builtins=False) as emu:
        svc = emu.add_tf_service("chaos", echo, backends=3)
        # held early on every backend: the victim's before its stop
        faults = [_Faults(b, held=10, after=300) for b in svc.backends]
        victim = svc.backends[1]
        marks: dict[str, int] = {}

        async def on_progress(done: int) -> None:
            if done == stop_at:
                await victim.stop()
                marks["stopped_requests"] = victim.requests
            elif done == restart_at:
                await victim.start()
                marks["restarted_requests"] = victim.requests

        seen = Attempts()
        async with _client(emu, seen, GENEROUS) as client:
            outcomes = await _run(client, n, concurrency=64, on_progress=on_progress)

    # every request ended once, with its own answer: nothing lost, nothing crossed
    assert sorted(outcomes) == list(range(n))
    failures = {i: o for i, o in outcomes.items() if not isinstance(o, TFResponse)}
    assert failures == {}
    for i, resp in outcomes.items():
        assert isinstance(resp, TFResponse)
        _check_answer(i, resp)

    # every attempt is accounted for, by backend and by what the caller saw
    port_of = {b.port: k for k, b in enumerate(svc.backends)}
    table: collections.Counter[tuple[int, str]] = collections.Counter()
    for end in seen.ends:
        assert end.backend is not None
        table[port_of[int(end.backend.rsplit(":", 1)[1])], _kind(end.error, end.status)] += 1
    assert len(seen.starts) == len(seen.ends) == len(seen.retries) + n
    assert sum(table[k, "ok"] for k in range(3)) == n

    # the backends that stayed up: each kind of failure is exactly its injected faults
    for k in (0, 2):
        backend, f = svc.backends[k], faults[k]
        assert table[k, "503"] == f.status.hits
        assert table[k, "connect"] == f.reset.hits
        assert table[k, "timeout"] == f.latency.hits
        assert table[k, "ok"] == backend.requests - f.hits
        assert sum(table[k, kind] for kind in ("ok", "503", "connect", "timeout")) == (
            backend.requests
        )
    # the victim: its faults, plus the attempts its stop cut off or refused (connect errors)
    f = faults[1]
    victim_attempts = sum(table[1, kind] for kind in ("ok", "503", "connect", "timeout"))
    assert table[1, "503"] <= f.status.hits
    assert table[1, "timeout"] <= f.latency.hits
    assert table[1, "connect"] > f.reset.hits, "the stop refused or cut off some attempt"
    assert victim.requests <= victim_attempts
    # it really stopped (nothing reached it while down) and served again after the restart
    assert marks["restarted_requests"] == marks["stopped_requests"]
    assert victim.requests > marks["restarted_requests"]
    # the processor ran once per success, plus at most the answers the stop cut off
    assert n <= processed <= n + table[1, "connect"] - f.reset.hits

    injected = sum(f.hits for f in faults)
    drawn = sum(f.status.hits + f.reset.hits for f in faults)  # at the seeded 5% rate
    assert 0.04 * len(seen.ends) < drawn < 0.06 * len(seen.ends)
    assert sum(f.latency.hits for f in faults) == 30
    print(
        f"\nchaos: {n} requests, {len(seen.ends)} attempts, {injected} faults injected "
        f"(503 {sum(f.status.hits for f in faults)}, reset {sum(f.reset.hits for f in faults)}, "
        f"latency {sum(f.latency.hits for f in faults)}), "
        f"{table[1, 'connect'] - f.reset.hits} attempts lost to the stop, "
        f"{len(seen.retries)} retries, outcomes: {n} ok / 0 failed"
    )


async def test_without_retries_each_failure_is_its_injected_fault() -> None:
    """One try each: every failure reaches the caller as the library's error for its
    fault (``RetryableServiceError`` 503, ``ConnectError``, ``RequestTimeoutError``), and
    their numbers are exactly the faults injected."""
    n = 2_000
    async with Emulator(seed=SEED + 1, builtins=False) as emu:
        svc = emu.add_tf_service("chaos", _echo, backends=3)
        faults = [_Faults(b, held=2, after=100) for b in svc.backends]
        seen = Attempts()
        async with _client(emu, seen, ONCE) as client:
            outcomes = await _run(client, n, concurrency=64)

    assert sorted(outcomes) == list(range(n))
    kinds: collections.Counter[str] = collections.Counter()
    for i, outcome in outcomes.items():
        if isinstance(outcome, TFResponse):
            _check_answer(i, outcome)
            kinds["ok"] += 1
        else:
            assert isinstance(outcome, BaseException)
            kinds[_kind(outcome, getattr(outcome, "status", None))] += 1
    assert len(seen.ends) == n
    assert seen.retries == []
    assert kinds["503"] == sum(f.status.hits for f in faults) > 0
    assert kinds["connect"] == sum(f.reset.hits for f in faults) > 0
    assert kinds["timeout"] == sum(f.latency.hits for f in faults) > 0
    assert kinds["ok"] == n - sum(f.hits for f in faults)
    assert sum(b.requests for b in svc.backends) == n
