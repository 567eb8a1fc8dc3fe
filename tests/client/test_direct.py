"""VPC direct connection against local discovery and several local backends."""

from __future__ import annotations

import collections

import pytest

from aioeas import (
    ENDPOINT_TYPE_DIRECT,
    ConnectError,
    DiscoveryConfig,
    PredictClient,
    RetryPolicy,
    StringRequest,
)
from aioeas.client.config import DISCOVERY_PATH_EXPORTED
from tests.client.conftest import TOKEN, FakeDiscovery, FakeService, ServiceFactory

FAST = RetryPolicy(backoff_base=0.0)
# Refreshes are driven by the tests (client._discovery.refresh()) rather than by waiting;
# the wait for the first list is a hang guard, generous for a busy machine.
SLOW_POLL = DiscoveryConfig(interval=60.0, startup_timeout=60.0, rest_period=60.0)


def listed(*backends: tuple[FakeService, int]) -> list[dict[str, object]]:
    return [{"ip": "127.0.0.1", "port": s.port, "weight": w, "app": "x"} for s, w in backends]


def direct_client(server: FakeDiscovery, service: str = "svc", **kw: object) -> PredictClient:
    kw.setdefault("discovery", SLOW_POLL)
    kw.setdefault("retry", FAST)
    kw.setdefault("env", {})
    client = PredictClient(server.url, service, **kw)  # type: ignore[arg-type]
    client.set_endpoint_type(ENDPOINT_TYPE_DIRECT)
    return client


async def test_wrr_spread_1_2_3(make_service: ServiceFactory, discovery: FakeDiscovery) -> None:
    b1, b2, b3 = [await make_service(n, token=TOKEN) for n in ("b1", "b2", "b3")]
    discovery.items = listed((b1, 1), (b2, 2), (b3, 3))
    async with direct_client(discovery, token=TOKEN) as client:
        outs = [await client.predict(StringRequest("x")) for _ in range(60)]
    names = collections.Counter(o.to_bytes().split(b":")[0] for o in outs)
    assert names == {b"b1": 10, b"b2": 20, b"b3": 30}
    assert all(s.signed_ok for s in b1.seen + b2.seen + b3.seen)
    assert discovery.hits[0] == "/api/v1/servicediscovery/upstreams/svc"


async def test_a_backend_stopped_mid_run_loses_no_request(
    make_service: ServiceFactory, discovery: FakeDiscovery
) -> None:
    b1, b2, b3 = [await make_service(n) for n in ("b1", "b2", "b3")]
    discovery.items = listed((b1, 1), (b2, 1), (b3, 1))
    async with direct_client(discovery) as client:
        outs = [await client.predict_bytes(str(i).encode()) for i in range(30)]
        await b2.stop()
        outs += [await client.predict_bytes(str(i).encode()) for i in range(30, 90)]
    assert [o.split(b":")[1] for o in outs] == [str(i).encode() for i in range(90)]
    after = collections.Counter(o.split(b":")[0] for o in outs[30:])
    assert after[b"b2"] == 0
    assert after[b"b1"] + after[b"b3"] == 60


async def test_a_5xx_backend_is_rested_and_the_retry_goes_elsewhere(
    make_service: ServiceFactory, discovery: FakeDiscovery
) -> None:
    bad = await make_service("bad", faults=collections.deque([503] * 100))
    good = await make_service("good")
    discovery.items = listed((bad, 1), (good, 1))
    async with direct_client(discovery) as client:
        outs = [await client.predict_bytes(b"x") for _ in range(10)]
    assert outs == [b"good:x"] * 10
    assert len(bad.seen) == 1  # tried once, then rested


async def test_discovery_falls_back_to_the_older_path(
    make_service: ServiceFactory, discovery: FakeDiscovery
) -> None:
    b1 = await make_service("b1")
    discovery.items = listed((b1, 1))
    discovery.mode = "new_path_404"
    client = direct_client(discovery, "svc/sink", env={"NAMESPACE": "ns", "POD_NAME": "p"})
    async with client:
        assert await client.predict_bytes(b"x") == b"b1:x"
        assert discovery.hits == [
            "/api/v1/servicediscovery/upstreams/svc?internal=true",
            "/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/svc?internal=true",
        ]
        assert await client._discovery.refresh()  # type: ignore[union-attr]
        assert discovery.hits[-1].startswith("/exported/")  # the working path goes first
    assert b1.seen[0].path == "/api/predict/svc/sink"


async def test_only_the_configured_path(
    make_service: ServiceFactory, discovery: FakeDiscovery
) -> None:
    b1 = await make_service("b1")
    discovery.items = listed((b1, 1))
    config = DiscoveryConfig(interval=60, paths=(DISCOVERY_PATH_EXPORTED,))
    async with direct_client(discovery, discovery=config) as client:
        await client.predict_bytes(b"x")
    assert [h.split("/")[1] for h in discovery.hits] == ["exported"]


@pytest.mark.parametrize("mode", ["bad_json", "empty", "error"])
async def test_the_last_good_list_is_kept(
    make_service: ServiceFactory, discovery: FakeDiscovery, mode: str
) -> None:
    b1 = await make_service("b1")
    discovery.items = listed((b1, 1))
    async with direct_client(discovery) as client:
        await client.predict_bytes(b"x")
        discovery.mode = mode
        assert not await client._discovery.refresh()  # type: ignore[union-attr]
        assert len(client.backends) == 1
        assert await client.predict_bytes(b"y") == b"b1:y"


async def test_a_refresh_changes_the_rotation(
    make_service: ServiceFactory, discovery: FakeDiscovery
) -> None:
    b1, b2 = await make_service("b1"), await make_service("b2")
    discovery.items = listed((b1, 1))
    async with direct_client(discovery) as client:
        await client.predict_bytes(b"x")
        discovery.items = listed((b2, 1))
        assert await client._discovery.refresh()  # type: ignore[union-attr]
        assert await client.predict_bytes(b"y") == b"b2:y"


async def test_the_first_predict_waits_with_a_bound(discovery: FakeDiscovery) -> None:
    discovery.mode = "empty"
    config = DiscoveryConfig(interval=0.05, startup_timeout=0.3)
    async with direct_client(discovery, discovery=config) as client:
        with pytest.raises(ConnectError, match="no backend list for service 'svc'"):
            await client.predict_bytes(b"x")
    assert discovery.hits


async def test_the_first_predict_waits_while_discovery_polls(
    make_service: ServiceFactory, discovery: FakeDiscovery
) -> None:
    """Empty lists do not end the wait: it keeps polling until a list comes (counted, not
    timed: the startup timeout is only a hang guard here)."""
    b1 = await make_service("b1")
    discovery.items = listed((b1, 1))
    discovery.empty_first = 3
    config = DiscoveryConfig(interval=0.01, startup_timeout=60.0)
    async with direct_client(discovery, discovery=config) as client:
        assert await client.predict_bytes(b"x") == b"b1:x"
    assert len(discovery.hits) >= 4  # three empty answers, then the list


async def test_the_first_predict_gets_the_first_list(
    make_service: ServiceFactory, discovery: FakeDiscovery
) -> None:
    b1 = await make_service("b1")
    discovery.items = listed((b1, 1))
    client = direct_client(discovery)
    try:
        assert await client.predict_bytes(b"x") == b"b1:x"  # opens, polls, waits, sends
    finally:
        await client.close()


async def test_the_discovery_task_is_gone_after_close(
    make_service: ServiceFactory, discovery: FakeDiscovery
) -> None:
    b1 = await make_service("b1")
    discovery.items = listed((b1, 1))
    client = direct_client(discovery, discovery=DiscoveryConfig(interval=0.01))
    async with client:
        await client.predict_bytes(b"x")
        task = client.discovery_task
        assert task is not None
        assert not task.done()
    assert task.done()
    assert client.discovery_task is None
    assert task not in __import__("asyncio").all_tasks()
