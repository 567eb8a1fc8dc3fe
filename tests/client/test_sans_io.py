"""Pure unit tests of the client's sans-IO parts: no socket, no loop, a fake clock."""

from __future__ import annotations

import collections
import gzip

import pytest

from aioeas.client import compression
from aioeas.client.config import DiscoveryConfig, PoolLimits, Timeout
from aioeas.client.discovery import parse_upstreams
from aioeas.client.endpoints import (
    CustomEndpoint,
    DirectEndpoint,
    GatewayEndpoint,
    discovery_url,
    encode_query,
    normalize_endpoint,
    predict_resource,
    resolve_endpoint,
    with_path_and_query,
)
from aioeas.client.retry import RetryPolicy, RetrySchedule, is_retryable
from aioeas.client.wrr import Backend, SmoothWeightedRoundRobin
from aioeas.errors import (
    AuthError,
    ConnectError,
    DecodeError,
    RequestTimeoutError,
    RetryableServiceError,
    ServiceError,
    UsageError,
)

A, B, C = Backend("10.0.0.1", 1, 1), Backend("10.0.0.2", 2, 2), Backend("10.0.0.3", 3, 3)


# -- weighted round robin ---------------------------------------------------------------


def test_wrr_is_exact_over_a_cycle() -> None:
    wrr = SmoothWeightedRoundRobin([A, B, C])
    picks = [wrr.pick(0.0) for _ in range(6 * 100)]
    assert collections.Counter(picks) == {A: 100, B: 200, C: 300}


def test_wrr_interleaves_like_nginx() -> None:
    a, b, c = Backend("a", 1, 5), Backend("b", 1, 1), Backend("c", 1, 1)
    wrr = SmoothWeightedRoundRobin([a, b, c])
    assert [wrr.pick(0.0) for _ in range(7)] == [a, a, b, a, c, a, a]


def test_wrr_refresh_with_same_list_keeps_the_cycle() -> None:
    a, b, c = Backend("a", 1, 5), Backend("b", 1, 1), Backend("c", 1, 1)
    wrr = SmoothWeightedRoundRobin([a, b, c])
    first = [wrr.pick(0.0) for _ in range(3)]
    wrr.update([c, b, a])
    rest = [wrr.pick(0.0) for _ in range(4)]
    assert collections.Counter(first + rest) == {a: 5, b: 1, c: 1}


def test_wrr_rest_expires_by_the_clock() -> None:
    wrr = SmoothWeightedRoundRobin([A, B])
    wrr.rest(B, until=10.0)
    assert {wrr.pick(5.0) for _ in range(10)} == {A}
    assert wrr.is_resting(B, 9.9)
    assert not wrr.is_resting(B, 10.0)
    assert B in {wrr.pick(10.0) for _ in range(3)}


def test_wrr_avoids_the_failed_backend_and_falls_back_when_all_rest() -> None:
    wrr = SmoothWeightedRoundRobin([A, B])
    assert all(wrr.pick(0.0, avoid=C) in (A, B) for _ in range(3))
    assert {wrr.pick(0.0, avoid=C) for _ in range(6)} == {A, B}
    assert {wrr.pick(0.0, avoid=C) for _ in range(6)} == {A, B}
    assert wrr.pick(0.0, avoid=B) == A
    wrr.rest(A, 100.0)
    wrr.rest(B, 100.0)
    assert wrr.pick(1.0, avoid=A) == B  # everyone rests: still pick, not the one that failed


def test_wrr_edge_cases() -> None:
    assert SmoothWeightedRoundRobin().pick(0.0) is None
    drained = Backend("d", 1, 0)
    wrr = SmoothWeightedRoundRobin([drained, A])
    assert {wrr.pick(0.0) for _ in range(5)} == {A}
    assert len(wrr) == 1
    wrr.rest(B, 5.0)  # not listed: ignored
    assert not wrr.is_resting(B, 0.0)
    assert Backend("::1", 80).address == "[::1]:80"


# -- retry schedule -------------------------------------------------------------------


def test_retry_policy_validation() -> None:
    for bad in (
        {"max_attempts": 0},
        {"max_attempts": True},
        {"backoff_base": -1},
        {"backoff_factor": 0.5},
        {"jitter": 1.5},
        {"deadline": 0},
        {"deadline": float("inf")},
    ):
        with pytest.raises(UsageError):
            RetryPolicy(**bad)
    assert RetryPolicy.from_retry_count(0).max_attempts == 1
    assert RetryPolicy.from_retry_count(5).max_attempts == 5
    with pytest.raises(UsageError):
        RetryPolicy.from_retry_count(-1)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_factor=2, backoff_max=0.5, jitter=0)
    assert [policy.backoff(n, lambda: 0.9) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    full = RetryPolicy(backoff_base=0.1, jitter=1.0)
    assert full.backoff(1, lambda: 0.25) == pytest.approx(0.075)
    half = RetryPolicy(backoff_base=0.1, jitter=0.5)
    assert half.backoff(1, lambda: 1.0) == pytest.approx(0.05)


def test_schedule_counts_attempts_and_retries_only_what_is_worth_it() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_base=1.0, jitter=0)
    sched = RetrySchedule(policy, start=0.0, random=lambda: 0.0)
    err5 = RetryableServiceError(503)
    assert sched.begin_attempt() == 1
    assert sched.next_delay(err5, now=0.0) == 1.0
    sched.begin_attempt()
    assert sched.next_delay(ConnectError("refused"), now=1.0) == 2.0
    sched.begin_attempt()
    assert sched.next_delay(err5, now=3.0) is None  # three tries made
    fresh = RetrySchedule(policy, start=0.0, random=lambda: 0.0)
    fresh.begin_attempt()
    assert fresh.next_delay(ServiceError(400), now=0.0) is None
    assert fresh.next_delay(AuthError(401), now=0.0) is None
    assert not is_retryable(RequestTimeoutError("t"), RetryPolicy(retry_on_timeout=False))
    assert is_retryable(RequestTimeoutError("t"), RetryPolicy())


def test_schedule_deadline_with_a_fake_clock() -> None:
    policy = RetryPolicy(
        max_attempts=10, backoff_base=1.0, backoff_factor=1, jitter=0, deadline=2.5
    )
    sched = RetrySchedule(policy, start=100.0, random=lambda: 0.0)
    sched.begin_attempt()
    assert sched.remaining(100.5) == 2.0
    assert sched.next_delay(ConnectError("x"), now=100.5) == 1.0
    sched.begin_attempt()
    assert sched.next_delay(ConnectError("x"), now=101.6) is None  # 0.9 s left < 1 s wait
    assert RetrySchedule(RetryPolicy(), start=0, random=lambda: 0).remaining(5) is None


# -- endpoints and URLs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1234.cn-shanghai.pai-eas.aliyuncs.com", "http://1234.cn-shanghai.pai-eas.aliyuncs.com"),
        ("http://example.com/", "http://example.com"),
        ("https://example.com/", "https://example.com"),
        ("HTTPS://example.com", "HTTPS://example.com"),
    ],
)
def test_normalize_endpoint(given: str, expected: str) -> None:
    assert normalize_endpoint(given) == expected


def test_normalize_rejects_other_schemes() -> None:
    with pytest.raises(UsageError):
        normalize_endpoint("ftp://example.com")


def test_resolve_endpoint_kinds() -> None:
    def resolve(**kw: object) -> object:
        args: dict[str, object] = {
            "endpoint": "",
            "service_name": "my_svc",
            "custom_url": "",
            "endpoint_type": "DEFAULT",
            "env": {},
        }
        args.update(kw)
        return resolve_endpoint(**args)  # type: ignore[arg-type]

    assert resolve(endpoint="https://gw/") == GatewayEndpoint("https://gw")
    assert resolve(endpoint="gw", endpoint_type="GATEWAY") == GatewayEndpoint("http://gw")
    assert resolve(custom_url="https://x/y?z=1") == CustomEndpoint("https://x/y?z=1")
    assert resolve(endpoint="vpc", endpoint_type="DIRECT") == DirectEndpoint("http://vpc")
    assert resolve(env={"NAMESPACE": "ns"}) == GatewayEndpoint("http://my-svc.ns:8080")
    for bad in (
        {},
        {"endpoint_type": "DIRECT"},
        {"endpoint": "gw", "endpoint_type": "VIPSERVER"},
        {"endpoint": "gw", "service_name": ""},
    ):
        with pytest.raises(UsageError):
            resolve(**bad)


def test_resource_path_and_query() -> None:
    assert predict_resource("svc") == "/api/predict/svc"
    assert predict_resource("svc", "/v1/chat", "a=1") == "/api/predict/svc/v1/chat?a=1"
    assert predict_resource("svc", "a b") == "/api/predict/svc/a%20b"
    assert encode_query({"a": 1, "b": "x y"}) == "a=1&b=x%20y"
    assert encode_query([("k", "1"), ("k", "2")]) == "k=1&k=2"
    assert encode_query("?raw=1") == "raw=1"
    assert encode_query(None) == ""
    assert with_path_and_query("http://h/p?x=1", "more", "a=2") == "http://h/p/more?x=1&a=2"
    assert with_path_and_query("http://h/p/", None, "") == "http://h/p/"


def test_discovery_url_cuts_the_name_and_marks_internal() -> None:
    tpl = DiscoveryConfig().paths[0]
    assert (
        discovery_url("http://vpc", tpl, "svc/sink", {})
        == "http://vpc/api/v1/servicediscovery/upstreams/svc"
    )
    inside = {"NAMESPACE": "ns", "POD_NAME": "p"}
    assert discovery_url("http://vpc", tpl, "svc", inside).endswith("/svc?internal=true")
    assert not discovery_url("http://vpc", tpl, "svc", {"NAMESPACE": "ns"}).endswith("true")


# -- discovery JSON -------------------------------------------------------------------


def test_parse_upstreams() -> None:
    body = b'{"endpoints": {"items": [{"ip": "10.0.0.7", "port": 50001, "weight": 100, "app": "x"}, {"ip": "10.0.0.8", "port": "50002"}]}}'
    assert parse_upstreams(body) == [Backend("10.0.0.7", 50001, 100), Backend("10.0.0.8", 50002, 1)]
    assert parse_upstreams(b'{"endpoints": {"items": null}}') == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"<html>502</html>",
        b"[]",
        b'{"endpoints": {}}',
        b'{"endpoints": {"items": {}}}',
        b'{"endpoints": {"items": [{"port": 1}]}}',
        b'{"endpoints": {"items": [{"ip": "h", "port": 70000}]}}',
        b'{"endpoints": {"items": [{"ip": "h", "port": 1, "weight": -1}]}}',
        b"\xff\xfe",
    ],
)
def test_parse_upstreams_rejects_bad_answers(body: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_upstreams(body)


# -- compression and config -----------------------------------------------------------


@pytest.mark.parametrize("name", ["gzip", "zlib", "snappy", "lz4", "zstd"])
def test_compression_round_trip(name: str) -> None:
    data = b"tensor bytes " * 100
    packed = compression.compress(data, name)
    assert packed != data
    coding = {"zlib": "deflate"}.get(name, name)
    assert compression.decompress(packed, coding) == data


def test_decompress_chains_and_errors() -> None:
    data = b"x" * 50
    twice = gzip.compress(compression.compress(data, "zstd"))
    assert compression.decompress(twice, "zstd, gzip") == data
    assert compression.decompress(data, None) == data
    assert compression.decompress(data, "identity") == data
    with pytest.raises(DecodeError):
        compression.decompress(data, "gzip")
    with pytest.raises(DecodeError):
        compression.decompress(data, "compress")
    with pytest.raises(UsageError):
        compression.check("bz2")
    assert "gzip" in compression.accept_encoding()


def test_config_validation() -> None:
    assert Timeout.from_millis(2500) == Timeout(2.5)
    assert Timeout.coerce(3) == Timeout(3.0)
    for make in (
        lambda: Timeout(0),
        lambda: Timeout(float("nan")),
        lambda: Timeout(1, connect=-1),
        lambda: Timeout.from_millis(0),
        lambda: PoolLimits(max_connections=0),
        lambda: PoolLimits(max_per_host=-1),
        lambda: DiscoveryConfig(interval=0),
        lambda: DiscoveryConfig(paths=()),
        lambda: DiscoveryConfig(paths=("/no/placeholder",)),
    ):
        with pytest.raises(UsageError):
            make()
