"""The retry policy and its schedule, sans-IO: attempts, backoff, jitter, deadline.

The client asks the schedule, after each failed attempt, whether and after how long to try
again; the schedule reads no clock and draws no random number of its own (both are passed
in), so it is unit-tested with a fake clock and a fixed random source.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from aioeas.client.config import Timeout
from aioeas.errors import (
    CertificateError,
    ConnectError,
    EASError,
    RequestTimeoutError,
    RetryableServiceError,
    UsageError,
)

__all__ = ["RetryPolicy", "RetrySchedule", "is_retryable"]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how often a failed predict is tried again.

    ``max_attempts`` counts every try, the first included (5, as the official client's
    retry count); 1 means no retry. A try is repeated after a 5xx answer, a refused or
    reset connection, or a timeout (``retry_on_timeout``); a 4xx answer never is.
    The wait before retry *n* (1-based) is ``min(backoff_max, backoff_base * backoff_factor
    ** (n - 1))``, less a random part of up to ``jitter`` of it (1.0: "full jitter", spreading
    clients that failed together; 0: none). ``deadline`` bounds the whole call, waits
    included, in seconds; no new try starts after it, and a try is cut short at it.

    A repeated predict may run the model twice: a timeout, a connection cut while the body
    or the answer was on the wire, or a 5xx from a gateway can each come after the service
    got the request and ran it. Where that matters (a request that charges, counts or
    writes), call ``predict(..., idempotent=False)``: then a try is repeated only when its
    connection could not be opened, so nothing was sent.
    """

    max_attempts: int = 5
    backoff_base: float = 0.05
    backoff_factor: float = 2.0
    backoff_max: float = 2.0
    jitter: float = 1.0
    deadline: float | None = None
    retry_on_timeout: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise UsageError(f"max_attempts must be an int, got {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise UsageError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("backoff_base", "backoff_max"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise UsageError(f"{name} must be a finite number >= 0, got {value!r}")
        if not math.isfinite(self.backoff_factor) or self.backoff_factor < 1:
            raise UsageError(f"backoff_factor must be >= 1, got {self.backoff_factor!r}")
        if not 0 <= self.jitter <= 1:
            raise UsageError(f"jitter is a fraction in [0, 1], got {self.jitter!r}")
        if self.deadline is not None and (
            isinstance(self.deadline, bool)
            or not isinstance(self.deadline, (int, float))
            or not math.isfinite(self.deadline)
            or self.deadline <= 0
        ):
            raise UsageError(
                f"deadline must be a positive number of seconds, got {self.deadline!r}"
            )

    @classmethod
    def from_retry_count(cls, count: int) -> RetryPolicy:
        """The official ``set_retry_count(n)``: n tries in all; 0 (the manual warns against
        it, and the official client then sends nothing) still makes one try."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise UsageError(f"retry count must be an int >= 0, got {count!r}")
        return cls(max_attempts=max(1, count))

    def with_deadline(self, deadline: float) -> RetryPolicy:
        """This policy with the whole call bounded by ``deadline`` seconds (a per-call
        ``predict(..., deadline=)``)."""
        return dataclasses.replace(self, deadline=deadline)

    def backoff(self, retry: int, random: Callable[[], float]) -> float:
        """The wait before retry number ``retry`` (1 is the first retry), jitter applied."""
        base = min(self.backoff_max, self.backoff_base * self.backoff_factor ** (retry - 1))
        return base * (1.0 - self.jitter * random())


def is_retryable(error: BaseException, policy: RetryPolicy) -> bool:
    """Whether ``error`` is worth another try under ``policy``."""
    if isinstance(error, RequestTimeoutError):
        return policy.retry_on_timeout
    if isinstance(error, CertificateError):
        return False  # the same certificate fails the same way on every try
    return isinstance(error, (RetryableServiceError, ConnectError))


class RetrySchedule:
    """One call's way through a policy: started at ``start`` (a monotonic reading)."""

    def __init__(self, policy: RetryPolicy, *, start: float, random: Callable[[], float]) -> None:
        self.policy = policy
        self.attempts = 0
        self._random = random
        self._deadline = None if policy.deadline is None else start + policy.deadline

    def remaining(self, now: float) -> float | None:
        """Seconds left before the deadline (``None``: no deadline)."""
        return None if self._deadline is None else self._deadline - now

    def clip(self, timeout: Timeout, now: float) -> Timeout:
        """The timeout of a try starting at ``now``: ``timeout``, cut to what is left of the
        deadline, so no try runs past it. Raises ``RequestTimeoutError`` when nothing is
        left (no try is started after the deadline)."""
        remaining = self.remaining(now)
        if remaining is None or remaining >= timeout.total:
            return timeout
        if remaining <= 0:
            raise RequestTimeoutError("the retry deadline passed before another try")
        connect = None if timeout.connect is None else min(timeout.connect, remaining)
        return Timeout(total=remaining, connect=connect)

    def begin_attempt(self) -> int:
        """Count a new try; returns its 1-based number."""
        self.attempts += 1
        return self.attempts

    def next_delay(self, error: EASError, now: float) -> float | None:
        """After a failed try: the wait before the next, or ``None`` to give up and raise."""
        if self.attempts >= self.policy.max_attempts or not is_retryable(error, self.policy):
            return None
        delay = self.policy.backoff(self.attempts, self._random)
        remaining = self.remaining(now)
        if remaining is not None and remaining <= delay:
            return None
        return delay
