"""The command line's event loop: uvloop's when it is installed (the ``uvloop`` extra).

Measured with ``benchmarks/bench_overhead.py`` (docs/benchmarks.md): on uvloop a predict
costs the client less CPU than on asyncio's own loop (its timers, callbacks and socket
reads are C), and the commands are long loops of predicts or queue reads. The library
itself never picks a loop: an application runs aioeas on whatever loop it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on a uvloop event loop when uvloop can be imported."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    result: T = uvloop.run(main)
    return result
