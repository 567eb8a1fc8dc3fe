"""Server and worker processes for the benchmarks: started, pinned, timed and stopped the
same way."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["JsonWorker", "ServerProcess", "pin"]

ROOT = Path(__file__).resolve().parents[1]


def pin(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins the child to ``cpus`` (``None``: no pinning)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


class ServerProcess:
    """A server process; its URL from the first line it prints ("... listening on URL");
    its CPU time from /proc."""

    def __init__(self, cmd: list[str], cpus: set[int] | None, what: str, stop_wait: float) -> None:
        self._stop_wait = stop_wait
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=pin(cpus)
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"{what} did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[-1].strip()
        self.pid = self.proc.pid
        self._tick = os.sysconf("SC_CLK_TCK")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self._stop_wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class JsonWorker:
    """A client process driven over JSON lines: one command a line in (``{"op": ...}``),
    one reply a line out (``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}``);
    ``close`` sends ``{"op": "quit"}`` and waits ``stop_wait`` seconds before killing it."""

    def __init__(
        self, argv: list[str], cpus: set[int] | None, name: str, *, stop_wait: float = 10
    ) -> None:
        self.name = name
        self.stop_wait = stop_wait
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=pin(cpus),
        )

    def call(self, **cmd: Any) -> Any:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker exited")
        reply = json.loads(line)
        if not reply["ok"]:
            raise RuntimeError(f"{self.name} worker: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(RuntimeError, BrokenPipeError, ValueError):
                self.call(op="quit")
            try:
                self.proc.wait(self.stop_wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
