"""The watcher's reconnection policy: how long a lost connection is tried again.

The official clients reconnect forever (Python, Go) or a fixed number of times (Java), in
silence; here the bound is explicit and the watcher raises ``WatchLostError`` past it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aioeas.errors import UsageError

__all__ = ["ReconnectPolicy"]


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a watcher gets a lost connection back.

    After a loss it tries at once, then waits ``backoff_base * 2 ** (n - 2)`` (at most
    ``backoff_max``, less a random part of up to ``jitter`` of it) before try *n*. It gives
    up after ``max_attempts`` tries in a row (``None``: no limit) or when ``deadline``
    seconds have passed since the loss (``None``: no limit), whichever comes first; a
    connection that opens resets both. ``max_attempts=0`` never reconnects.
    """

    max_attempts: int | None = 10
    deadline: float | None = 60.0
    backoff_base: float = 0.1
    backoff_max: float = 5.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts is not None and (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 0
        ):
            raise UsageError(f"max_attempts must be an int >= 0 or None, got {self.max_attempts!r}")
        if self.deadline is not None and (not math.isfinite(self.deadline) or self.deadline <= 0):
            raise UsageError(
                f"deadline must be a positive number of seconds or None, got {self.deadline!r}"
            )
        for name in ("backoff_base", "backoff_max"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise UsageError(f"{name} must be a finite number >= 0, got {value!r}")
        if not 0 <= self.jitter <= 1:
            raise UsageError(f"jitter is a fraction in [0, 1], got {self.jitter!r}")

    def delay(self, attempt: int, random: float) -> float:
        """The wait before reconnection try ``attempt`` (1-based); the first is immediate."""
        if attempt <= 1:
            return 0.0
        base = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 2))
        return base * (1.0 - self.jitter * random)

    def gives_up(self, attempts: int, elapsed: float, next_delay: float) -> bool:
        """Whether to stop after ``attempts`` failed tries, ``elapsed`` s after the loss."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return True
        return self.deadline is not None and elapsed + next_delay > self.deadline
