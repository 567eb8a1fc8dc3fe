"""Shared pieces of the reliability suites: aioeas against the emulator under faults,
cancellation, load and hostile input.

Everything is bounded (counts, and ``asyncio.timeout``-style guards on every wait), talks
to loopback only, and is seeded: fault plans draw from the emulator's seed, cancellation
points from ``random.Random(seed)``, and mid-run events fire on progress counts, not on
time. Nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

from aioeas import AttemptEnd, AttemptRetry, AttemptStart, Hooks


@dataclass
class Attempts:
    """Every hook event of a client, in order."""

    starts: list[AttemptStart] = field(default_factory=list)
    retries: list[AttemptRetry] = field(default_factory=list)
    ends: list[AttemptEnd] = field(default_factory=list)

    @property
    def hooks(self) -> Hooks:
        return Hooks(
            on_start=self.starts.append, on_retry=self.retries.append, on_end=self.ends.append
        )


def open_sockets() -> int:
    """How many of this process's file descriptors are sockets (Linux /proc)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:  # closed between listdir and readlink
            continue
    return count


def live_tasks() -> set[asyncio.Task[object]]:
    """The loop's unfinished tasks, the caller's own excluded."""
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}
