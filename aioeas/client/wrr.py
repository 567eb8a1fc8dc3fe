"""Smooth weighted round robin over backends, with resting of failing ones; sans-IO.

nginx's smooth WRR: each pick adds every candidate's weight to its running score, takes the
highest score, and subtracts the total weight from the winner. Over one cycle (the sum of
the weights) every backend is picked exactly ``weight`` times, and picks are interleaved
(weights 5:1:1 give ``a a b a c a a``, not ``a a a a a b c``), so a heavy backend never gets
a burst. Scores survive a list refresh for backends still listed, so a refresh that changes
nothing does not restart the cycle.

A backend that refused a connection or answered 5xx is *rested*: left out until a moment
given by the caller's clock. When every backend rests, picks ignore the rest: a likely
failure beats a certain one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Backend", "SmoothWeightedRoundRobin"]


@dataclass(frozen=True)
class Backend:
    """One instance of a service, as discovery lists it."""

    host: str
    port: int
    weight: int = 1

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 hosts in brackets), as it goes in a URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class SmoothWeightedRoundRobin:
    """Picks backends in proportion to their weights, interleaved, skipping rested ones."""

    def __init__(self, backends: Iterable[Backend] = ()) -> None:
        self._backends: list[Backend] = []
        self._scores: dict[tuple[str, int], int] = {}
        self._rested_until: dict[tuple[str, int], float] = {}
        self.update(backends)

    @property
    def backends(self) -> tuple[Backend, ...]:
        """The current list, in the order given."""
        return tuple(self._backends)

    def __len__(self) -> int:
        return len(self._backends)

    def update(self, backends: Iterable[Backend]) -> None:
        """Replace the list; scores and rests of backends still listed are kept.

        Backends of weight 0 are listed by discovery while draining: they are never picked.
        """
        new = [b for b in backends if b.weight > 0]
        keys = {(b.host, b.port) for b in new}
        self._backends = new
        self._scores = {k: v for k, v in self._scores.items() if k in keys}
        self._rested_until = {k: v for k, v in self._rested_until.items() if k in keys}

    def rest(self, backend: Backend, until: float) -> None:
        """Leave ``backend`` out of the rotation until ``until`` (the caller's clock)."""
        key = (backend.host, backend.port)
        if any((b.host, b.port) == key for b in self._backends):
            self._rested_until[key] = max(until, self._rested_until.get(key, until))

    def is_resting(self, backend: Backend, now: float) -> bool:
        """Whether ``backend`` is still resting at ``now``."""
        return self._rested_until.get((backend.host, backend.port), now) > now

    def pick(self, now: float, avoid: Backend | None = None) -> Backend | None:
        """The next backend; ``None`` only when the list is empty.

        ``avoid`` (the backend that just failed) is skipped when any other is available,
        so a retry goes elsewhere.
        """
        if not self._backends:
            return None
        for key in [k for k, t in self._rested_until.items() if t <= now]:
            del self._rested_until[key]
        candidates = [
            b for b in self._backends if (b.host, b.port) not in self._rested_until and b != avoid
        ]
        if not candidates:
            candidates = [b for b in self._backends if b != avoid] or list(self._backends)
        total = 0
        best: Backend | None = None
        best_score = 0
        for backend in candidates:
            key = (backend.host, backend.port)
            score = self._scores.get(key, 0) + backend.weight
            self._scores[key] = score
            total += backend.weight
            if best is None or score > best_score:
                best, best_score = backend, score
        assert best is not None
        self._scores[(best.host, best.port)] -= total
        return best
