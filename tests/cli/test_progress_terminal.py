"""The progress bar never corrupts results: ``aioeas predict`` on a real terminal.

In a 60-column terminal the bar's redraws spliced into the JSON lines written to the same
screen (38 of 1,865 rows mangled, the last row missing). Here the command runs on a
pseudo-terminal (the test's own, and tmux's when installed) at 60 and 150 columns, and
what reaches the terminal must be, byte for byte, what a quiet run writes to a pipe.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
import threading
import uuid
from pathlib import Path

import pytest

from tests.cli.support import ROOT, EmulatorThread

ROWS = 600


def _input(tmp_path: Path) -> Path:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"fea1": i % 13, "fea2": i % 5}) + "\n" for i in range(ROWS)))
    return src


def _args(emulator: EmulatorThread, src: Path) -> list[str]:
    return [
        sys.executable, "-m", "aioeas", "predict", str(src), "-e", emulator.url,
        "--service", "scorecard_pmml_example", "--batch-size", "4", "--concurrency", "4",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TTY_COMPATIBLE", "FORCE_COLOR")}
    return {**env, "EAS_TOKEN": "cli-token", "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}


def _quiet_stdout(emulator: EmulatorThread, src: Path) -> bytes:
    done = subprocess.run(
        [*_args(emulator, src), "-q"], capture_output=True, cwd=ROOT, env=_env(), timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(b"\n") == ROWS
    return done.stdout


def _on_pty(args: list[str], columns: int, *, stdout_too: bool) -> tuple[bytes, bytes]:
    """Run ``args`` with stderr (and stdout when ``stdout_too``) on a fresh pty of
    ``columns``; (what the terminal received, with \\r\\n as \\n; stdout if piped)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(
        args,
        stdout=slave if stdout_too else subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        env={**_env(), "COLUMNS": str(columns)},
    )
    os.close(slave)
    screen = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the pty
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    piped = b""
    if proc.stdout is not None:
        with proc.stdout:
            piped = proc.stdout.read()
    code = proc.wait(timeout=120)
    reader.join(120)
    os.close(master)
    assert code == 0, bytes(screen)
    return bytes(screen).replace(b"\r\n", b"\n"), piped


@pytest.mark.parametrize("columns", [60, 150])
def test_results_on_the_terminal_are_exactly_the_quiet_runs(
    emulator: EmulatorThread, tmp_path: Path, columns: int
) -> None:
    src = _input(tmp_path)
    expected = _quiet_stdout(emulator, src)
    screen, _ = _on_pty(_args(emulator, src), columns, stdout_too=True)
    assert screen.startswith(expected), screen[:2000]
    assert screen[len(expected) :].startswith(b"predict: 600 rows in 150 requests")
    assert b"\x1b" not in screen


@pytest.mark.parametrize("columns", [60, 150])
def test_with_stdout_piped_the_bar_draws_and_stdout_is_untouched(
    emulator: EmulatorThread, tmp_path: Path, columns: int
) -> None:
    src = _input(tmp_path)
    expected = _quiet_stdout(emulator, src)
    screen, piped = _on_pty(_args(emulator, src), columns, stdout_too=False)
    assert piped == expected
    assert b"600/600" in screen
    assert b"rows/s" in screen


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("columns", [60, 150])
def test_in_tmux_the_pane_shows_the_results_byte_for_byte(
    emulator: EmulatorThread, tmp_path: Path, columns: int
) -> None:
    """The same in a real terminal emulator: tmux's pane, its output logged by pipe-pane."""
    src = _input(tmp_path)
    expected = _quiet_stdout(emulator, src)
    session = f"aioeas-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "pane.log"
    done = tmp_path / "done"
    script = tmp_path / "run.sh"
    command = " ".join(f"'{a}'" for a in _args(emulator, src))
    env = " ".join(f"{k}='{v}'" for k, v in _env().items() if k in ("EAS_TOKEN", "PYTHONPATH"))
    tmux = ["tmux", "-L", session]  # a server of its own, not the user's
    script.write_text(
        f"cd '{ROOT}'\nenv {env} {command}\necho $? > '{done}'\n"
        f"tmux -L {session} wait-for -S {session}-done\n"
    )
    subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", str(columns), "-y", "40",
                    "sh"], check=True, timeout=60)  # fmt: skip
    try:
        subprocess.run([*tmux, "pipe-pane", "-t", session, "-o", f"cat > '{log}'"], check=True)
        subprocess.run([*tmux, "send-keys", "-t", session, f"sh '{script}'", "Enter"], check=True)
        # the script signals its end: waited on as an event (the timeout only stops a hang)
        subprocess.run([*tmux, "wait-for", f"{session}-done"], check=True, timeout=600)
        assert done.read_text().strip() == "0"
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, timeout=60)
    raw = log.read_bytes().replace(b"\r\n", b"\n")
    start = raw.index(b'{"row": 0,')
    assert raw[start:].startswith(expected)
    assert raw[start + len(expected) :].startswith(b"predict: 600 rows")
