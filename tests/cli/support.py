"""Helpers of the command line's tests: an emulator on its own thread, and ways to run
``aioeas`` in process (click's test runner) or as a subprocess.

The commands run their own event loop (``asyncio.run``), so the emulator they talk to
cannot share the test's: it runs on a thread with its own loop, and tests reach into it
with ``emulator.call(fn)`` (run ``fn(emu)`` on that loop and wait for it).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from click.testing import CliRunner

from aioeas.cli.main import main
from aioeas.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class EmulatorThread:
    """A started ``Emulator`` serving from a thread of its own."""

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="emulator")
        self.thread.start()

        async def start() -> Emulator:
            return await Emulator(**kwargs).start()

        self.emu = self._run(start())
        self.url = self.emu.url

    def _run(self, coro: Awaitable[T], guard: float = 60) -> T:
        """``coro`` on the emulator's loop; ``guard`` only stops a broken test from hanging
        (a wait that needs other processes, e.g. Ray's actors, gets a far larger one)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(guard)  # type: ignore[arg-type]

    def call(self, fn: Callable[[Emulator], T]) -> T:
        """``fn(emu)`` on the emulator's loop (its state is not thread-safe)."""

        async def inside() -> T:
            return fn(self.emu)

        return self._run(inside())

    def close(self) -> None:
        async def stop() -> None:
            """The emulator stopped, then what is left on its loop ended, as asyncio.run
            ends it: a handler cancelled by the stop (a request held by a latency fault)
            has not run its cancellation yet, and a loop closed under it printed "Task was
            destroyed but it is pending!" at exit."""
            await self.emu.stop()
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)

        self._run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@dataclass
class Result:
    code: int
    out: str
    err: str


def invoke(
    *args: str, env: dict[str, str | None] | None = None, input: str | None = None
) -> Result:
    """``aioeas ARGS`` in process, through ``aioeas.cli.main.main`` (which decides the exit
    status and the one-line errors), with click's runner isolating stdin/stdout/stderr."""
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as (out, err, _):
        code = main(list(args))
        sys.stdout.flush()  # print() does not, and the runner's streams are buffered
        sys.stderr.flush()
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m aioeas ARGS`` as a subprocess, stdout and stderr piped, text mode."""
    return subprocess.Popen(
        [sys.executable, "-m", "aioeas", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
