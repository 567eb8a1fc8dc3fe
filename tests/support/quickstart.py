"""The emulator the docs tell users to start: the command line printed in the quickstart.

Every docs example (tests/test_docs.py, tests/test_docs_examples.py) runs against an
emulator made from exactly that command line, through the code the command runs
(``aioeas.emulator.__main__.build``), with one change: ``--port 0``, so that examples can
run side by side and a busy port 8080 fails nothing. tests/test_docs.py also starts the
command itself.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from aioeas.emulator import Emulator
from aioeas.emulator.__main__ import _parser, build

__all__ = ["QUICKSTART", "quickstart_argv", "quickstart_emulator", "quickstart_token"]

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "quickstart.md"
PROGRAM = ["python", "-m", "aioeas.emulator"]


def quickstart_argv() -> list[str]:
    """The options of the quickstart's one ``python -m aioeas.emulator`` command, as the
    shell would split them (backslash continuations joined)."""
    text = QUICKSTART.read_text(encoding="utf-8").replace("\\\n", " ")
    commands = [
        shlex.split(line) for line in text.splitlines() if line.startswith(" ".join(PROGRAM))
    ]
    assert len(commands) == 1, f"the quickstart gives {len(commands)} emulator commands"
    (argv,) = commands
    return argv[len(PROGRAM) :]


def with_free_port(argv: list[str]) -> list[str]:
    """``argv`` with ``--port N`` made ``--port 0``."""
    i = argv.index("--port")
    return [*argv[: i + 1], "0", *argv[i + 2 :]]


def quickstart_token() -> str:
    token: str | None = _parser().parse_args(quickstart_argv()).token
    assert token, "the quickstart's emulator has a token (the examples sign their requests)"
    return token


async def quickstart_emulator() -> Emulator:
    """The quickstart's emulator, started, on a free port."""
    emu, _ = build(_parser().parse_args(with_free_port(quickstart_argv())))
    return await emu.start()
