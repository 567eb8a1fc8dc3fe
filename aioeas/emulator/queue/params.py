"""Query parameters of queue calls, sans-IO: parsing them, and Go-style durations.

The official clients disagree on spelling (Go sends ``_timeout_=1m0s``, Java ``5s``,
others bare seconds; booleans come as ``true``/``false`` or ``1``/``0``), so the server
accepts all of them. A malformed value is a ``QueueError`` 400 naming the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aioeas.emulator.queue.store import QueueError

__all__ = [
    "format_duration",
    "parse_bool",
    "parse_duration",
    "parse_indexes",
    "parse_int",
    "tags_of",
]

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str, name: str = "_timeout_") -> float:
    """Seconds from a Go duration (``1m0s``, ``500ms``, ``1.5s``), ``"%ds"`` or bare seconds."""
    text = text.strip()
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if value < 0:
            raise QueueError(400, f"{name} must not be negative, got {text!r}")
        return value
    pos = 0
    total = 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise QueueError(400, f"{name} is a duration like 5s, 500ms or 1m0s, got {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """A duration as Go prints it, near enough: ``2.091s``, ``1m2.5s``, ``500ms``, ``0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        ms = round(seconds * 1000, 3)
        return f"{ms:g}ms"
    minutes, secs = divmod(round(seconds, 3), 60)
    s = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    if minutes:
        hours, minutes = divmod(int(minutes), 60)
        s = f"{int(minutes)}m{s}"
        if hours:
            s = f"{hours}h{s}"
    return s


def parse_bool(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return default
    low = value.lower()
    if low in ("true", "1", "yes", "t"):
        return True
    if low in ("false", "0", "no", "f"):
        return False
    raise QueueError(400, f"{name} is true or false, got {value!r}")


def parse_int(query: Mapping[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise QueueError(400, f"{name} is an integer, got {value!r}") from None


def parse_indexes(query: Mapping[str, str]) -> list[int]:
    """``_indexes_=3,4,5`` as integers (empty items are skipped)."""
    text = query.get("_indexes_", "")
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise QueueError(
            400, f"_indexes_ is a comma-separated list of integers, got {text!r}"
        ) from None


def tags_of(query: Mapping[str, str]) -> dict[str, str]:
    """The tags (filters, for a read) in a query: every key not starting with ``_``."""
    return {k: v for k, v in query.items() if not k.startswith("_")}
