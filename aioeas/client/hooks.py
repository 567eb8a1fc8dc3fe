"""Hooks around each attempt, for metrics and tracing, without a dependency on either.

A ``Hooks`` holds up to three plain callables; each gets a small frozen event. They run
inline on the event loop, so they must be quick; one that raises is logged and ignored, so
a broken metrics exporter never fails a predict.

    hooks = aioeas.Hooks(on_end=lambda e: histogram.observe(e.latency))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["AttemptEnd", "AttemptRetry", "AttemptStart", "Hooks"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptStart:
    """A try is about to be sent: ``attempt`` counts from 1; ``backend`` is ``host:port``
    in direct mode, else ``None``. ``url`` has no query (queries may carry user data)."""

    service: str
    attempt: int
    url: str
    backend: str | None


@dataclass(frozen=True)
class AttemptEnd:
    """A try ended: ``status`` is the HTTP status when an answer came, ``error`` the
    exception it raised or would raise (``None`` on success); ``latency`` in seconds."""

    service: str
    attempt: int
    url: str
    backend: str | None
    latency: float
    status: int | None
    error: BaseException | None


@dataclass(frozen=True)
class AttemptRetry:
    """A failed try will be followed by another after ``delay`` seconds; ``reason`` is why."""

    service: str
    attempt: int
    reason: BaseException
    delay: float


@dataclass(frozen=True)
class Hooks:
    """Callbacks around each attempt; any may be ``None``."""

    on_start: Callable[[AttemptStart], Any] | None = None
    on_retry: Callable[[AttemptRetry], Any] | None = None
    on_end: Callable[[AttemptEnd], Any] | None = None

    def emit(self, event: AttemptStart | AttemptEnd | AttemptRetry) -> None:
        """Call the hook for ``event``'s kind; a hook's own failure is logged, not raised."""
        try:
            if isinstance(event, AttemptStart):
                if self.on_start is not None:
                    self.on_start(event)
            elif isinstance(event, AttemptEnd):
                if self.on_end is not None:
                    self.on_end(event)
            elif self.on_retry is not None:
                self.on_retry(event)
        except Exception:
            _log.warning(
                "an aioeas hook failed on %s; ignored", type(event).__name__, exc_info=True
            )
