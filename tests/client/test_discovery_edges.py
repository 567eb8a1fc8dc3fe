"""Service discovery, WRR and retry-count edges that mutation testing showed unguarded.

``Discovery`` runs here over a scripted transport (answers at once, records each request)
and a fake clock, so resting and path fallback are observed by counts and readings of
that clock, never by waiting. See docs/mutation.md for the mutants each test kills.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping

import pytest

from aioeas import DiscoveryConfig, RetryPolicy
from aioeas.client.config import Timeout
from aioeas.client.discovery import Discovery, parse_upstreams
from aioeas.client.retry import RetrySchedule, is_retryable
from aioeas.client.transport import HTTPResponse
from aioeas.client.wrr import Backend, SmoothWeightedRoundRobin
from aioeas.errors import (
    CertificateError,
    ConnectError,
    DecodeError,
    RequestTimeoutError,
    UsageError,
)

A = Backend("10.0.0.1", 8080)
B = Backend("10.0.0.2", 8080)


def listing(*items: Mapping[str, object]) -> bytes:
    return json.dumps({"endpoints": {"items": list(items)}}).encode()


def item(b: Backend, weight: int | None = None) -> dict[str, object]:
    return {"ip": b.host, "port": b.port, "weight": b.weight if weight is None else weight}


class Script:
    """A transport answering GETs from a queue of (status, body), the last one repeated."""

    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        self.asked.append((method, url))
        status, answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return HTTPResponse(status, answer, {})

    async def close(self) -> None:
        return None


def discovery(transport: Script, clock: list[float] | None = None, **config: object) -> Discovery:
    return Discovery(
        transport,
        base="http://gw",
        service="svc",
        config=DiscoveryConfig(**config),  # type: ignore[arg-type]
        env={},
        clock=None if clock is None else (lambda: clock[0]),
    )


# -- parse_upstreams ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON (Expecting property name enclosed in double quotes: "),
        (b"[]", "no endpoints.items"),
        (b'{"endpoints": {"items": {}}}', "endpoints.items is not a list"),
        (b'{"endpoints": {"items": [{"port": 1}]}}', "bad item {'port': 1}"),
        (b'{"endpoints": {"items": [{"ip": 5, "port": 1}]}}', "bad item {'ip': 5, 'port': 1}"),
        (b'{"endpoints": {"items": [{"ip": "", "port": 1}]}}', "bad item {'ip': '', 'port': 1}"),
    ],
)
def test_a_bad_discovery_answer_says_what_is_wrong_and_keeps_the_body(
    body: bytes, reason: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_upstreams(body)
    assert caught.value.what == "discovery answer"
    assert caught.value.reason.startswith(reason)
    assert caught.value.body == body


@pytest.mark.parametrize(
    ("port", "weight", "ok"),
    [
        (1, 1, True),
        (65535, 1, True),
        (0, 1, False),
        (65536, 1, False),
        (80, 0, True),  # draining: listed, never picked
        (80, -1, False),
    ],
)
def test_ports_and_weights_at_their_bounds(port: int, weight: int, ok: bool) -> None:
    body = listing({"ip": "h", "port": port, "weight": weight})
    if ok:
        assert parse_upstreams(body) == [Backend("h", port, weight)]
    else:
        with pytest.raises(DecodeError, match="bad item"):
            parse_upstreams(body)


# -- Discovery ------------------------------------------------------------------------


async def test_discovery_asks_with_get_and_names_its_task() -> None:
    transport = Script((200, listing(item(A))))
    d = discovery(transport, interval=3600.0, startup_timeout=3600.0)
    d.start()
    try:
        await d.wait_ready()
        assert d.task is not None
        assert d.task.get_name() == "aioeas-discovery-svc"
    finally:
        await d.stop()
    assert [m for m, _ in transport.asked] == ["GET"]


async def test_wait_ready_before_start_is_a_connect_error() -> None:
    d = discovery(Script((200, listing(item(A)))))
    with pytest.raises(ConnectError, match="is not running"):
        await d.wait_ready()


async def test_a_failed_refresh_logs_why_and_keeps_the_list(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = Script((200, listing(item(A))), (503, b"busy"))
    d = discovery(transport)
    with caplog.at_level(logging.INFO, logger="aioeas.client.discovery"):
        assert await d.refresh()
        assert await d.refresh() is False
    assert d.backends == (A,)
    info, warning = (r.getMessage() for r in caplog.records)
    assert info == "service svc backends: 10.0.0.1:8080 (weight 1)"
    assert warning.startswith("service discovery for svc failed, keeping 1 known backends: ")
    assert "cannot decode discovery answer: HTTP 503; body starts b'busy'" in warning


async def test_an_unchanged_list_is_not_logged_again(caplog: pytest.LogCaptureFixture) -> None:
    d = discovery(Script((200, listing(item(A), item(B)))))
    with caplog.at_level(logging.INFO, logger="aioeas.client.discovery"):
        for _ in range(3):
            assert await d.refresh()
    assert [r.getMessage() for r in caplog.records] == [
        "service svc backends: 10.0.0.1:8080 (weight 1), 10.0.0.2:8080 (weight 1)"
    ]


async def test_a_list_of_draining_backends_only_is_not_taken() -> None:
    transport = Script((200, listing(item(A))), (200, listing(item(A, 0), item(B, 0))))
    d = discovery(transport)
    assert await d.refresh()
    assert await d.refresh() is False
    assert d.backends == (A,)


async def test_the_path_that_answered_is_asked_first_from_then_on() -> None:
    transport = Script((404, b"no"), (200, listing(item(A))))
    d = discovery(transport, paths=("/one/{service}", "/two/{service}"))
    assert await d.refresh()
    assert await d.refresh()
    assert [url for _, url in transport.asked] == [
        "http://gw/one/svc",
        "http://gw/two/svc",
        "http://gw/two/svc",
    ]


async def test_resting_is_timed_by_the_given_clock(caplog: pytest.LogCaptureFixture) -> None:
    clock = [1000.0]
    d = discovery(Script((200, listing(item(A), item(B)))), clock, rest_period=10.0)
    assert await d.refresh()
    with caplog.at_level(logging.INFO, logger="aioeas.client.discovery"):
        d.rest(A)
    assert caplog.records[-1].getMessage() == "resting backend 10.0.0.1:8080 of svc for 10 s"
    clock[0] = 1009.0
    assert {d.pick() for _ in range(4)} == {B}
    clock[0] = 1010.0
    assert {d.pick() for _ in range(4)} == {A, B}


async def test_pick_avoids_the_backend_given_and_says_when_none_is_listed() -> None:
    d = discovery(Script((200, listing(item(A), item(B)))))
    with pytest.raises(ConnectError) as caught:
        d.pick()
    assert str(caught.value) == "discovery lists no backend for service 'svc'"
    assert await d.refresh()
    assert all(d.pick(avoid=A) == B for _ in range(4))


# -- WRR and retry count --------------------------------------------------------------


def test_a_shorter_rest_does_not_cut_a_longer_one() -> None:
    wrr = SmoothWeightedRoundRobin([A, B])
    wrr.rest(A, 10.0)
    wrr.rest(A, 5.0)
    assert wrr.is_resting(A, 7.0)
    assert not wrr.is_resting(A, 10.0)


@pytest.mark.parametrize("count", ["3", 2.5, None])
def test_a_retry_count_that_is_not_an_int_is_refused(count: object) -> None:
    with pytest.raises(UsageError, match=r"^retry count must be an int >= 0, got "):
        RetryPolicy.from_retry_count(count)  # type: ignore[arg-type]


class Silent(Script):
    """A discovery that never answers (until the test ends)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        self.asked.append((method, url))
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_wait_ready_returns_as_soon_as_the_first_list_comes() -> None:
    """Bounded by the first answer, not by ``startup_timeout`` (an hour here: a
    discovery that did not wake the waiter would hang this test)."""
    d = discovery(Script((200, listing(item(A)))), startup_timeout=3600.0, interval=3600.0)
    d.start()
    try:
        await d.wait_ready()
    finally:
        await d.stop()
    assert d.backends == (A,)


async def test_wait_ready_gives_up_with_every_path_s_error() -> None:
    """The first poll fails at once (the fake answers without I/O), so the errors are known
    before the short startup bound runs out, whatever the machine's speed."""
    transport = Script((503, b"busy"))
    d = discovery(transport, startup_timeout=0.01, paths=("/one/{service}", "/two/{service}"))
    d.start()
    try:
        with pytest.raises(ConnectError) as caught:
            await d.wait_ready()
    finally:
        await d.stop()
    assert str(caught.value) == (
        "no backend list for service 'svc' from discovery within 0.01 s; last error: "
        "http://gw/one/svc: cannot decode discovery answer: HTTP 503; body starts b'busy'; "
        "http://gw/two/svc: cannot decode discovery answer: HTTP 503; body starts b'busy'"
    )


async def test_wait_ready_gives_up_without_an_error_when_discovery_never_answered() -> None:
    d = discovery(Silent((200, b"")), startup_timeout=0.01)
    d.start()
    try:
        with pytest.raises(ConnectError) as caught:
            await d.wait_ready()
    finally:
        await d.stop()
    assert str(caught.value) == "no backend list for service 'svc' from discovery within 0.01 s"


def test_wrr_refresh_with_the_same_list_continues_the_exact_sequence() -> None:
    a, b, c = Backend("a", 1, 5), Backend("b", 1, 1), Backend("c", 1, 1)
    wrr = SmoothWeightedRoundRobin([a, b, c])
    first = [wrr.pick(0.0) for _ in range(3)]
    wrr.update([a, b, c])
    assert first + [wrr.pick(0.0) for _ in range(4)] == [a, a, b, a, c, a, a]


def test_wrr_refresh_keeps_a_rest() -> None:
    wrr = SmoothWeightedRoundRobin([A, B])
    wrr.rest(A, 10.0)
    wrr.update([A, B])
    assert wrr.is_resting(A, 5.0)
    assert {wrr.pick(5.0) for _ in range(3)} == {B}


def test_no_try_starts_with_no_time_left() -> None:
    """A backoff that would end exactly at the deadline leaves nothing for the try: give up."""
    policy = RetryPolicy(max_attempts=5, backoff_base=0.5, jitter=0, deadline=1.0)
    schedule = RetrySchedule(policy, start=0.0, random=lambda: 0.0)
    schedule.begin_attempt()
    assert schedule.next_delay(ConnectError("refused"), now=0.5) is None
    assert schedule.next_delay(ConnectError("refused"), now=0.25) == 0.5


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"max_attempts": 2.0}, "max_attempts must be an int, got 2.0"),
        ({"max_attempts": 0}, "max_attempts must be at least 1, got 0"),
        ({"backoff_base": "x"}, "backoff_base must be a finite number >= 0, got 'x'"),
        ({"backoff_max": float("nan")}, "backoff_max must be a finite number >= 0, got nan"),
        ({"backoff_factor": 0.5}, "backoff_factor must be >= 1, got 0.5"),
        ({"jitter": 1.5}, "jitter is a fraction in [0, 1], got 1.5"),
        ({"deadline": 0}, "deadline must be a positive number of seconds, got 0"),
    ],
)
def test_a_bad_retry_policy_is_named_in_the_error(given: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        RetryPolicy(**given)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_wrr_picks_a_candidate_whose_running_score_is_zero() -> None:
    """The backend at rest may hold the highest running score; the others can then all be
    at 0 or below, and one of them must still be picked."""
    wrr = SmoothWeightedRoundRobin([A, B])
    assert wrr.pick(0.0) == A  # scores: A -1, B 1
    wrr.rest(B, 10.0)
    assert wrr.pick(0.0) == A  # A's running score is 0


def test_a_certificate_error_is_never_retried() -> None:
    error = CertificateError("https://h: certificate verify failed")
    assert not is_retryable(error, RetryPolicy())


def test_no_try_is_started_after_the_deadline() -> None:
    schedule = RetrySchedule(RetryPolicy(deadline=1.0), start=0.0, random=lambda: 0.0)
    with pytest.raises(RequestTimeoutError) as caught:
        schedule.clip(Timeout(5.0), now=1.0)
    assert str(caught.value) == "the retry deadline passed before another try"
    assert schedule.clip(Timeout(5.0, connect=2.0), now=0.5) == Timeout(0.5, connect=0.5)
