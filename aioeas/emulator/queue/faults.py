"""Faults of watch connections, sans-IO: cut a watcher's WebSocket after N pushes or at a
seeded rate.

A watcher's reconnect-and-resume path only runs when its connection breaks mid-stream, so
the emulator breaks it on purpose. HTTP calls to a queue use the ordinary ``FaultPlan``
(``queue.faults``); this plan decides, after each record a connection pushed, whether to
abort that connection there. The RNG is seeded, so a rate cuts at the same pushes on every
run (given the same order of pushes).
"""

from __future__ import annotations

import random

__all__ = ["WatchFaults"]


class _Cut:
    def __init__(self, every: int | None, rate: float | None, times: int | None) -> None:
        self.every = every
        self.rate = rate
        self.remaining = times


class WatchFaults:
    """When to cut watch connections. ``cuts`` counts the connections cut so far."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._rules: list[_Cut] = []
        self.cuts = 0

    def cut_after(self, pushes: int, *, times: int | None = 1) -> None:
        """Cut a connection once it has pushed ``pushes`` records; ``times`` connections
        at most (None: every connection, reconnections included)."""
        if pushes < 1:
            raise ValueError(f"pushes is >= 1, got {pushes}")
        if times is not None and times < 0:
            raise ValueError(f"times is >= 0 or None, got {times}")
        self._rules.append(_Cut(pushes, None, times))

    def cut_rate(self, rate: float, *, times: int | None = None) -> None:
        """After each push, cut the connection with probability ``rate``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"a rate is between 0 and 1, got {rate}")
        self._rules.append(_Cut(None, rate, times))

    def clear(self) -> None:
        self._rules.clear()

    def reseed(self, seed: int) -> None:
        self._rng.seed(seed)

    def should_cut(self, pushed: int) -> bool:
        """Decide after a connection's ``pushed``-th push (counts against ``times``)."""
        for rule in self._rules:
            if rule.remaining is not None and rule.remaining <= 0:
                continue
            if rule.every is not None:
                fires = pushed == rule.every
            else:
                fires = rule.rate is not None and self._rng.random() < rule.rate
            if fires:
                if rule.remaining is not None:
                    rule.remaining -= 1
                self.cuts += 1
                return True
        return False
