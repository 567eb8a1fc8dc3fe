"""Small frozen configuration objects: timeouts, connection pool limits, VPC discovery.

Each is validated when made, so a bad value fails at construction, long before a request
(and a per-call override uses the same objects, so it is validated the same way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aioeas.errors import UsageError

__all__ = [
    "DEFAULT_DISCOVERY_PATHS",
    "DISCOVERY_PATH_EXPORTED",
    "DISCOVERY_PATH_SERVICEDISCOVERY",
    "DiscoveryConfig",
    "PoolLimits",
    "Timeout",
]

#: The discovery path of the Python client since 0.34 (newer).
DISCOVERY_PATH_SERVICEDISCOVERY = "/api/v1/servicediscovery/upstreams/{service}"
#: The discovery path of the Go and Java clients (older, still served).
DISCOVERY_PATH_EXPORTED = "/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/{service}"
#: Newer first, the older as a fallback when the newer fails.
DEFAULT_DISCOVERY_PATHS = (DISCOVERY_PATH_SERVICEDISCOVERY, DISCOVERY_PATH_EXPORTED)


def _positive(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None:
        if allow_none:
            return
        raise UsageError(f"{name} must be a number of seconds, got None")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a positive finite number, got {value!r}")


@dataclass(frozen=True)
class Timeout:
    """How long one attempt may take, in seconds (the official API counts milliseconds).

    ``total`` bounds a whole attempt: connect, send, and read the full answer.
    ``connect`` bounds getting a connection (from the pool or a new one); ``None`` leaves
    it to ``total``. Retries get a fresh ``total`` each, within the retry deadline.
    """

    total: float = 5.0
    connect: float | None = None

    def __post_init__(self) -> None:
        _positive("Timeout.total", self.total)
        _positive("Timeout.connect", self.connect, allow_none=True)

    @classmethod
    def from_millis(cls, millis: float) -> Timeout:
        """The official SDK's unit: ``set_timeout(5000)`` is ``Timeout(5.0)``."""
        _positive("timeout (ms)", millis)
        return cls(total=millis / 1000.0)

    @classmethod
    def coerce(cls, value: float | Timeout) -> Timeout:
        """Seconds as a bare number, or a ``Timeout`` as it is."""
        return value if isinstance(value, Timeout) else cls(total=value)


@dataclass(frozen=True)
class PoolLimits:
    """The keep-alive connection pool: at most ``max_connections`` open at once (default 100,
    as the official client), at most ``max_per_host`` to one backend (0: no own limit)."""

    max_connections: int = 100
    max_per_host: int = 0
    keepalive_timeout: float = 15.0

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_per_host"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UsageError(f"PoolLimits.{name} must be an int >= 0, got {value!r}")
        if self.max_connections == 0:
            raise UsageError("PoolLimits.max_connections must be at least 1")
        _positive("PoolLimits.keepalive_timeout", self.keepalive_timeout)


@dataclass(frozen=True)
class DiscoveryConfig:
    """VPC direct connection: how backends are discovered and how failing ones are rested.

    ``interval``: seconds between two refreshes of the backend list (3 s, as Python and Go).
    ``startup_timeout``: how long the first predict waits for the first list before it
    fails with a clear error (the official client spins 5 s).
    ``rest_period``: how long a backend that refused a connection or answered 5xx is left
    out of the rotation (unless every backend is resting).
    ``request_timeout``: the bound of one discovery request.
    ``paths``: discovery paths tried in order, ``{service}`` filled in; the first that
    answers a valid list is remembered and tried first from then on.
    """

    interval: float = 3.0
    startup_timeout: float = 5.0
    rest_period: float = 5.0
    request_timeout: float = 3.0
    paths: tuple[str, ...] = DEFAULT_DISCOVERY_PATHS

    def __post_init__(self) -> None:
        _positive("DiscoveryConfig.interval", self.interval)
        _positive("DiscoveryConfig.startup_timeout", self.startup_timeout)
        _positive("DiscoveryConfig.rest_period", self.rest_period)
        _positive("DiscoveryConfig.request_timeout", self.request_timeout)
        if isinstance(self.paths, str) or not self.paths:
            raise UsageError("DiscoveryConfig.paths must be a non-empty tuple of paths")
        for path in self.paths:
            if not isinstance(path, str) or not path.startswith("/") or "{service}" not in path:
                raise UsageError(
                    f"a discovery path starts with '/' and holds '{{service}}', got {path!r}"
                )
