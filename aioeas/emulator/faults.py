"""Fault injection, sans-IO: which requests go wrong, and how.

A client's retry, failover and timeout paths only run when something fails, so the
emulator can be told to fail on purpose. A ``FaultPlan`` is a list of rules; each rule is a
``Fault`` (what happens) and a trigger (when): the next ``times`` requests, a ``rate`` drawn
from the plan's own seeded RNG (so a test sees the same sequence on every run), both, or
every request. ``after`` lets the first requests through (fail the third one, say).

Every service, every backend and the discovery endpoint has a plan. Deciding is pure; the
request handler carries the decision out (sleep, answer a status, drop or reset the
connection). Rules are tried in the order they were added: a latency rule that fires adds
its delay and the next rules are still tried; the first status/drop/reset rule that fires
decides the answer.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

__all__ = ["Decision", "Fault", "FaultKind", "FaultPlan", "FaultRule"]


class FaultKind(enum.Enum):
    """What a fault does to a request."""

    STATUS = "status"  #: answer this HTTP status and body instead of the service's answer
    LATENCY = "latency"  #: wait, then answer normally (or as the next fault says)
    DROP = "drop"  #: close the connection without answering (the client sees a disconnect)
    RESET = "reset"  #: abort the connection with a TCP RST (the client sees a reset)


@dataclass(frozen=True)
class Fault:
    """One way for a request to go wrong. Build it with the class methods."""

    kind: FaultKind
    status: int = 0
    body: bytes = b""
    delay: float = 0.0

    @classmethod
    def error(cls, status: int = 503, body: bytes | str = b"") -> Fault:
        """Answer ``status`` with ``body`` (a 200 works too: a discovery answer can be faked)."""
        if not 100 <= status <= 599:
            raise ValueError(f"an HTTP status is 100..599, got {status}")
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        return cls(FaultKind.STATUS, status=status, body=data)

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before answering: drives a client's timeouts."""
        if seconds < 0:
            raise ValueError(f"a delay is >= 0 seconds, got {seconds}")
        return cls(FaultKind.LATENCY, delay=float(seconds))

    @classmethod
    def drop(cls) -> Fault:
        """Read the request, then close the connection without a byte of answer."""
        return cls(FaultKind.DROP)

    @classmethod
    def reset(cls) -> Fault:
        """Read the request, then abort the connection with a TCP RST."""
        return cls(FaultKind.RESET)


class FaultRule:
    """A fault and its trigger, as added to a plan; ``hits`` counts the times it fired."""

    def __init__(
        self, fault: Fault, *, times: int | None, rate: float | None, after: int, plan: FaultPlan
    ) -> None:
        self.fault = fault
        self.remaining = times
        self.rate = rate
        self.after = after
        self.hits = 0
        self._plan = plan

    @property
    def active(self) -> bool:
        """False once it has fired ``times`` times or was cancelled."""
        return self in self._plan.rules and (self.remaining is None or self.remaining > 0)

    def cancel(self) -> None:
        """Remove this rule from its plan (no error if it is already gone)."""
        self._plan.remove(self)

    def _fires(self, rng: random.Random) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.after > 0:
            self.after -= 1
            return False
        if self.rate is not None and rng.random() >= self.rate:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        self.hits += 1
        return True

    def __repr__(self) -> str:
        return (
            f"FaultRule({self.fault.kind.value}, remaining={self.remaining}, rate={self.rate}, "
            f"hits={self.hits})"
        )


@dataclass(frozen=True)
class Decision:
    """What to do with one request: wait ``delay`` seconds, then ``fault`` (None: answer)."""

    delay: float = 0.0
    fault: Fault | None = None


NO_FAULT = Decision()


class FaultPlan:
    """The fault rules of one service, backend or discovery endpoint.

    ``plan.add(Fault.error(503, "busy"), times=2)`` fails the next two requests;
    ``plan.add(Fault.drop(), rate=0.25)`` drops about one in four, drawn from
    ``random.Random(seed)`` so the sequence is the same on every run.
    """

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self.rules: list[FaultRule] = []

    def add(
        self,
        fault: Fault,
        *,
        times: int | None = None,
        rate: float | None = None,
        after: int = 0,
    ) -> FaultRule:
        """Add a rule; without ``times`` and ``rate`` it fires on every request until removed.

        ``times``: fire at most this many times. ``rate``: fire with this probability
        (0..1) on each request it sees. ``after``: let this many requests pass first.
        """
        if times is not None and times < 0:
            raise ValueError(f"times is >= 0, got {times}")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError(f"a rate is between 0 and 1, got {rate}")
        if after < 0:
            raise ValueError(f"after is >= 0, got {after}")
        rule = FaultRule(fault, times=times, rate=rate, after=after, plan=self)
        self.rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        if rule in self.rules:
            self.rules.remove(rule)

    def clear(self) -> None:
        """Remove every rule (the RNG keeps its place; ``reseed`` to restart it)."""
        self.rules.clear()

    def reseed(self, seed: int) -> None:
        self._rng.seed(seed)

    def decide(self) -> Decision:
        """Consult the rules for one request (this counts against ``times`` and ``after``)."""
        if not self.rules:
            return NO_FAULT
        delay = 0.0
        for rule in list(self.rules):
            if not rule._fires(self._rng):
                continue
            if rule.fault.kind is FaultKind.LATENCY:
                delay += rule.fault.delay
                continue
            return Decision(delay, rule.fault)
        return Decision(delay, None) if delay else NO_FAULT

    def __repr__(self) -> str:
        return f"FaultPlan({self.rules!r})"
