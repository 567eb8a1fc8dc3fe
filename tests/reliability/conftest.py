"""Shared pieces of the reliability suites: aioeas against the emulator under faults,
cancellation, load and hostile input.

Everything is bounded (counts, and ``asyncio.timeout``-style guards on every wait), talks
to loopback only, and is seeded: fault plans draw from the emulator's seed, cancellation
points from ``random.Random(seed)``, and mid-run events fire on progress counts, not on
time. Nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from aioeas import AttemptEnd, AttemptRetry, AttemptStart, EASError, Hooks


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


class WorkCounter:
    """Counts the work done while ``counting()``: Python lines executed and function calls
    made (Python and built-in), through the trace and profile hooks. A measure that, unlike
    CPU seconds, is the same on a fast, a slow or a busy machine.

    It replaces the CPU-time budgets of the fuzz suites: a decoder that loops without moving
    forward, or redoes work per element, executes lines out of proportion to its input.
    """

    def __init__(self) -> None:
        self.events = 0

    def _trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        self.events += 1  # a Python call, then each line (and the return) in its frame
        return self._trace

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            self.events += 1

    @contextlib.contextmanager
    def counting(self) -> Iterator[WorkCounter]:
        trace, profile = sys.gettrace(), sys.getprofile()
        sys.settrace(self._trace)
        sys.setprofile(self._profile)
        try:
            yield self
        finally:
            sys.setprofile(profile)
            sys.settrace(trace)


def warm(decoder: Callable[[bytes], object], data: bytes) -> None:
    """Run ``decoder`` once unmeasured: the first call on a path may import a module or fill
    a cache (a codec, an error message's formatter), work that is not the decoder's own."""
    with contextlib.suppress(EASError):
        decoder(data)
