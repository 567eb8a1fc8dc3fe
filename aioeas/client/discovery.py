"""VPC direct connection: the backend list from EAS service discovery, kept fresh.

``parse_upstreams`` is sans-IO (JSON bytes in, backends out, ``DecodeError`` on anything
else). ``Discovery`` is the I/O around it: one asyncio task that polls every few seconds
and stops on ``stop()``, the last good list kept when an answer fails, is empty or is not
valid JSON (as the Java client does), and the first predict bounded while it waits for
the first list.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aioeas.client import telemetry as _telemetry
from aioeas.client.config import DiscoveryConfig, Timeout
from aioeas.client.endpoints import discovery_url
from aioeas.client.transport import Transport
from aioeas.client.wrr import Backend, SmoothWeightedRoundRobin
from aioeas.errors import ConnectError, DecodeError, EASError

__all__ = ["Discovery", "parse_upstreams"]

_log = logging.getLogger(__name__)


def parse_upstreams(body: bytes) -> list[Backend]:
    """Backends from ``{"endpoints": {"items": [{"ip", "port", "weight"}, ...]}}``.

    An item without a weight counts as weight 1; unknown keys (``app``...) are ignored.
    """
    try:
        doc: Any = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise DecodeError("discovery answer", f"not JSON ({exc})", body) from None
    try:
        items = doc["endpoints"]["items"]
    except (KeyError, TypeError):
        raise DecodeError("discovery answer", "no endpoints.items", body) from None
    if items is None:
        return []
    if not isinstance(items, list):
        raise DecodeError("discovery answer", "endpoints.items is not a list", body)
    backends = []
    for item in items:
        try:
            host = item["ip"]
            port = int(item["port"])
            weight = int(item.get("weight", 1))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            # OverflowError: int() of JSON's Infinity
            raise DecodeError("discovery answer", f"bad item {item!r}", body) from None
        if not isinstance(host, str) or not host or not 0 < port < 65536 or weight < 0:
            raise DecodeError("discovery answer", f"bad item {item!r}", body)
        backends.append(Backend(host, port, weight))
    return backends


class Discovery:
    """Keeps one service's backend list and picks from it by smooth weighted round robin."""

    def __init__(
        self,
        transport: Transport,
        *,
        base: str,
        service: str,
        config: DiscoveryConfig,
        env: Mapping[str, str],
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._transport = transport
        self._config = config
        self._urls = [discovery_url(base, path, service, env) for path in config.paths]
        self._service = service
        self._clock = clock
        self._wrr = SmoothWeightedRoundRobin()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._last_error: str | None = None

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The refresh task while it runs (for tests and diagnostics)."""
        return self._task

    @property
    def backends(self) -> tuple[Backend, ...]:
        """The backends now in rotation."""
        return self._wrr.backends

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def start(self) -> None:
        """Start polling; the first poll is at once."""
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._ready = loop.create_future()
            self._task = loop.create_task(self._run(), name=f"aioeas-discovery-{self._service}")

    async def stop(self) -> None:
        """Stop polling and wait until the task is gone."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._config.interval)

    async def refresh(self) -> bool:
        """Ask discovery once, trying each path in turn; ``True`` when a list was taken."""
        timeout = Timeout(self._config.request_timeout)
        errors = []
        for index, url in enumerate(self._urls):
            try:
                resp = await self._transport.request(
                    "GET", url, headers={}, body=None, timeout=timeout
                )
                if resp.status != 200:
                    raise DecodeError("discovery answer", f"HTTP {resp.status}", resp.body)
                backends = parse_upstreams(resp.body)
            except EASError as exc:
                errors.append(f"{url}: {exc}")
                continue
            if index:  # a fallback path answered: ask it first from now on
                self._urls.insert(0, self._urls.pop(index))
            if not [b for b in backends if b.weight > 0]:
                errors.append(f"{url}: no backend listed")
                break
            if set(backends) != set(self._wrr.backends):
                _log.info(
                    "service %s backends: %s",
                    self._service,
                    ", ".join(f"{b.address} (weight {b.weight})" for b in backends),
                )
            self._wrr.update(backends)
            self._last_error = None
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            if _telemetry.active is not None:
                _telemetry.active.discovered(self._service, len(self._wrr), True)
            return True
        self._last_error = "; ".join(errors)
        _log.warning(
            "service discovery for %s failed, keeping %d known backends: %s",
            self._service,
            len(self._wrr),
            self._last_error,
        )
        if _telemetry.active is not None:
            _telemetry.active.discovered(self._service, len(self._wrr), False)
        return False

    async def wait_ready(self) -> None:
        """Wait (bounded by ``startup_timeout``) until a first list has come."""
        if len(self._wrr):
            return
        ready = self._ready
        if ready is None:
            raise ConnectError(f"service discovery for {self._service} is not running")
        # asyncio.wait does not cancel the shared future on timeout, nor make a task.
        await asyncio.wait([ready], timeout=self._config.startup_timeout)
        if not len(self._wrr):
            raise ConnectError(
                f"no backend list for service {self._service!r} from discovery "
                f"within {self._config.startup_timeout:g} s"
                + (f"; last error: {self._last_error}" if self._last_error else "")
            )

    def pick(self, avoid: Backend | None = None) -> Backend:
        """The next backend (another than ``avoid`` when there is one)."""
        backend = self._wrr.pick(self.now(), avoid)
        if backend is None:
            raise ConnectError(f"discovery lists no backend for service {self._service!r}")
        return backend

    def rest(self, backend: Backend) -> None:
        """Leave a failing backend out for ``rest_period`` seconds."""
        _log.info(
            "resting backend %s of %s for %g s",
            backend.address,
            self._service,
            self._config.rest_period,
        )
        self._wrr.rest(backend, self.now() + self._config.rest_period)
