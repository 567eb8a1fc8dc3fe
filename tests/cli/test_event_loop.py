"""The command line runs on uvloop when it is installed, on asyncio's loop when it is not."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop  # the test extra installs it

from aioeas.cli.options import run


async def _loop_kind(stop: asyncio.Event) -> str:
    return type(asyncio.get_running_loop()).__module__


def test_the_command_line_runs_on_uvloop_when_installed() -> None:
    assert run(_loop_kind) == uvloop.Loop.__module__


def test_the_command_line_runs_on_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert run(_loop_kind).startswith("asyncio")
