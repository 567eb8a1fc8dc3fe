"""What both emulator command lines (``python -m aioeas.emulator`` and ``aioeas emulator``)
accept: for a queue service ``NAME``, ``NAME=SERVICE`` or ``NAME=SERVICE:CONCURRENCY``;
for a built-in service's backends ``NAME=N,N,...`` (their weights, or their ports)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["QueueSpec", "parse_layout_spec", "parse_queue_spec"]


class QueueSpec(NamedTuple):
    """One ``--queue`` option: a queue service, with a worker when ``processor`` is set."""

    name: str
    processor: str | None = None
    concurrency: int | None = None  # None: --workers


def parse_queue_spec(text: str) -> QueueSpec:
    """Parse one ``--queue`` value; ``ValueError`` says what is wrong with it."""
    name, sep, rest = text.partition("=")
    if not name or "/" in name:
        raise ValueError(f"a queue name is non-empty and has no '/': {text!r}")
    if not sep:
        return QueueSpec(name)
    service, colon, number = rest.partition(":")
    if not service:
        raise ValueError(f"expected NAME=SERVICE[:CONCURRENCY], got {text!r}")
    concurrency = None
    if colon:
        try:
            concurrency = int(number)
        except ValueError:
            concurrency = 0
        if concurrency < 1:
            raise ValueError(f"CONCURRENCY is 1 or more, got {text!r}")
    return QueueSpec(name, service, concurrency)


def parse_layout_spec(text: str, what: str) -> tuple[str, list[int]]:
    """Parse one ``--weights`` or ``--ports`` value, ``NAME=N,N,...`` (``what`` names the
    numbers in errors); ``ValueError`` says what is wrong with it."""
    name, sep, rest = text.partition("=")
    try:
        numbers = [int(n) for n in rest.split(",")] if sep and rest else []
    except ValueError:
        numbers = []
    if not name or not numbers:
        raise ValueError(f"expected SERVICE={what.upper()},{what.upper()},..., got {text!r}")
    return name, numbers
