"""Helpers of the Ray tests: a Ray cluster of this machine's own, on loopback only, and a
``Predictor`` that registers its actor with a named coordinator (so a test can kill it).

Ray writes its sessions under ``RAY_TMPDIR`` (``/tmp/ray`` otherwise): every cluster here
gets a temporary directory of its own, removed after, and the check that no process of
it is left (``processes_of``). ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes every Ray
process advertise 127.0.0.1 instead of the machine's routable address, and
``RAY_AUTH_MODE=disabled`` lets a driver join a ``ray start --head`` of the test without a
token file in the home directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import ray

from aioeas.ray import Predictor

ROOT = Path(__file__).resolve().parents[2]

#: The environment every Ray process of the tests runs with (workers import aioeas and
#: this module from the checkout).
RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}


#: Ray's own warnings, not ours: its DataContext warns of its deprecated settings when it is
#: set up, and an actor pool larger than a dataset's blocks is a warning of Ray Data's.
RAY_WARNINGS = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
    pytest.mark.filterwarnings("ignore:The minimum number of concurrent actors:UserWarning"),
]


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports: all held open at once while they are chosen (one at a
    time, the kernel may hand the same port out twice, and Ray refuses two components on
    one port)."""
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in held:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in held]


def processes_of(directory: str) -> list[str]:
    """Live processes (not zombies) whose command line names ``directory``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if directory in args and state != "Z":
            found.append(f"{pid}: {args[:120]}")
    return found


@ray.remote(num_cpus=0)
class Coordinator:
    """Where the test's Predictors check in: their actors' handles, and their closes (an
    async actor: ``closed(n)`` waits for the n-th close without polling)."""

    def __init__(self) -> None:
        self.actors: list[Any] = []
        self.closes = 0
        self.changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self.changed is None:
            self.changed = asyncio.Condition()
        return self.changed

    async def register(self, actor: Any) -> int:
        self.actors.append(actor)
        return len(self.actors)

    async def closing(self) -> None:
        async with self._condition():
            self.closes += 1
            self._condition().notify_all()

    async def handles(self) -> list[Any]:
        return list(self.actors)

    async def closed(self, n: int) -> int:
        """Wait until ``n`` clients were closed; how many actors registered."""
        async with self._condition():
            await self._condition().wait_for(lambda: self.closes >= n)
        return len(self.actors)


class ReportingPredictor(Predictor):
    """A ``Predictor`` that tells the coordinator ``coordinator`` its actor, and its close."""

    def __init__(self, *args: Any, coordinator: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._coordinator = ray.get_actor(coordinator)
        ray.get(self._coordinator.register.remote(ray.get_runtime_context().current_actor))

    async def aclose(self) -> None:
        opened = not self._client.closed
        await super().aclose()
        if opened:
            await self._coordinator.closing.remote()
