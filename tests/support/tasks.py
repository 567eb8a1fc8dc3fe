"""Which code an asyncio task runs, by module identity, never by file path.

Leak checks ask "is this task aioeas's (or aiohttp's server's)?". Matching a word in the
coroutine's file name fails as soon as the checkout or the virtual environment lies under a
directory of that name (a checkout called ``aioeas`` puts every test file and every
installed package under ``.../aioeas/``); the module a coroutine was defined in does not
depend on where the files are.
"""

from __future__ import annotations

import asyncio
from typing import Any


def task_module(task: asyncio.Task[Any]) -> str:
    """The dotted name of the module whose coroutine function ``task`` runs (``""`` when it
    cannot be told: a finished coroutine, or an awaitable that is not a coroutine)."""
    frame = getattr(task.get_coro(), "cr_frame", None)
    if frame is None:
        return ""
    name = frame.f_globals.get("__name__", "")
    return name if isinstance(name, str) else ""


def runs_module_of(task: asyncio.Task[Any], *packages: str) -> bool:
    """Whether ``task`` runs a coroutine defined in one of ``packages`` (dotted names; a
    package covers its submodules: ``"aioeas"`` covers ``aioeas.client.session``)."""
    module = task_module(task)
    return any(module == p or module.startswith(p + ".") for p in packages)
