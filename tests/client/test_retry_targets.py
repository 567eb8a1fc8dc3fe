"""Where and for how long each retry of a predict goes, observed through a fake transport.

The transport answers at once and records what every try was given (its URL and its
``Timeout``), so these tests read no clock: a try "times out" because the fake raises
``RequestTimeoutError``, and the cut to the retry deadline is seen in the timeout handed
down, not in how long anything took. Both properties survived mutation testing before
(docs/mutation.md): the integration tests pass with either removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aioeas import ENDPOINT_TYPE_DIRECT, DiscoveryConfig, PredictClient, RetryPolicy, StringRequest
from aioeas.client.config import Timeout
from aioeas.client.transport import HTTPResponse
from aioeas.errors import RequestTimeoutError

#: A backend that always times out and one that answers; weights 3:1, so that smooth WRR
#: on its own would pick the heavy one twice in a row (``a a b a``).
HEAVY = ("10.0.0.1", 8080, 3)
LIGHT = ("10.0.0.2", 8080, 1)


@dataclass
class Sent:
    method: str
    url: str
    timeout: Timeout


class FakeTransport:
    """Records every request; ``answer`` says what each POST gets (raise or respond)."""

    def __init__(
        self,
        answer: Callable[[str], HTTPResponse],
        backends: tuple[tuple[str, int, int], ...] = (),
    ) -> None:
        self.sent: list[Sent] = []
        self._answer = answer
        self._listing = json.dumps(
            {"endpoints": {"items": [{"ip": h, "port": p, "weight": w} for h, p, w in backends]}}
        ).encode()

    @property
    def posts(self) -> list[Sent]:
        return [s for s in self.sent if s.method == "POST"]

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        self.sent.append(Sent(method, url, timeout))
        if method == "GET":  # service discovery
            return HTTPResponse(200, self._listing, {})
        return self._answer(url)

    async def close(self) -> None:
        return None


def _times_out_twice() -> Callable[[str], HTTPResponse]:
    calls = 0

    def answer(url: str) -> HTTPResponse:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RequestTimeoutError(f"try {calls} timed out")
        return HTTPResponse(200, b"ok", {})

    return answer


async def test_each_try_is_cut_to_the_retry_deadline() -> None:
    """A 60 s per-try timeout under a 5 s deadline: no try is given more than what is left
    of the deadline, for the whole and for the connect part, and what is left only shrinks."""
    transport = FakeTransport(_times_out_twice())
    policy = RetryPolicy(max_attempts=3, backoff_base=0.0, deadline=5.0)
    async with PredictClient(
        "http://h",
        "svc",
        transport=transport,
        timeout=Timeout(total=60.0, connect=30.0),
        retry=policy,
    ) as client:
        assert (await client.predict(StringRequest("x"))).to_bytes() == b"ok"
    given = [s.timeout for s in transport.posts]
    assert len(given) == 3
    assert all(0 < t.total <= 5.0 for t in given)
    assert all(t.connect is not None and 0 < t.connect <= t.total for t in given)
    assert [t.total for t in given] == sorted((t.total for t in given), reverse=True)


async def test_a_try_keeps_its_own_timeout_when_the_deadline_is_further() -> None:
    """The cut only ever shortens: under a far deadline each try gets the timeout given."""
    transport = FakeTransport(_times_out_twice())
    policy = RetryPolicy(max_attempts=3, backoff_base=0.0, deadline=3600.0)
    timeout = Timeout(total=2.0, connect=1.0)
    async with PredictClient(
        "http://h", "svc", transport=transport, timeout=timeout, retry=policy
    ) as client:
        await client.predict(StringRequest("x"))
    assert [s.timeout for s in transport.posts] == [timeout] * 3


def _heavy_times_out(url: str) -> HTTPResponse:
    if url.startswith(f"http://{HEAVY[0]}:"):
        raise RequestTimeoutError("the heavy backend is stalled")
    return HTTPResponse(200, b"light", {})


async def test_a_retry_after_a_timeout_goes_to_another_backend() -> None:
    """A timeout does not rest a backend, so only "avoid the one that just failed" moves the
    retry: weighted round robin alone would send it to the heavy backend again."""
    transport = FakeTransport(_heavy_times_out, backends=(HEAVY, LIGHT))
    async with PredictClient(
        "http://gateway",
        "svc",
        endpoint_type=ENDPOINT_TYPE_DIRECT,
        transport=transport,
        env={},
        discovery=DiscoveryConfig(interval=60.0),
        retry=RetryPolicy(max_attempts=5, backoff_base=0.0),
    ) as client:
        assert (await client.predict(StringRequest("x"))).to_bytes() == b"light"
    hosts = [s.url.split("/")[2] for s in transport.posts]
    assert hosts == ["10.0.0.1:8080", "10.0.0.2:8080"]


async def test_a_lone_backend_is_tried_again_after_it_failed() -> None:
    """With nothing else listed, avoiding the failed backend must not mean giving up."""
    transport = FakeTransport(_times_out_twice(), backends=(HEAVY,))
    async with PredictClient(
        "http://gateway",
        "svc",
        endpoint_type=ENDPOINT_TYPE_DIRECT,
        transport=transport,
        env={},
        discovery=DiscoveryConfig(interval=60.0),
        retry=RetryPolicy(max_attempts=3, backoff_base=0.0),
    ) as client:
        assert (await client.predict(StringRequest("x"))).to_bytes() == b"ok"
    assert [s.url.split("/")[2] for s in transport.posts] == ["10.0.0.1:8080"] * 3
