"""Server processes for the benchmarks: started, pinned, timed and stopped the same way."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

__all__ = ["ServerProcess", "pin"]

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
