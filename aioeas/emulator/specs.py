"""What both emulator command lines (``python -m aioeas.emulator`` and ``aioeas emulator``)
accept for a queue service: ``NAME``, ``NAME=SERVICE`` or ``NAME=SERVICE:CONCURRENCY``."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["QueueSpec", "parse_queue_spec"]


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
