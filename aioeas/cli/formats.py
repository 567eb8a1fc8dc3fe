"""Which format a batch file is in: its suffix, or ``--format``; no numpy, no pyarrow.

Kept apart from the readers and writers so that a command checks its flags (and ``aioeas
predict --help`` answers) without loading numpy, pyarrow or the client.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["ARRAY_FORMATS", "ROW_FORMATS", "detect_format"]

ROW_FORMATS = ("jsonl", "csv", "parquet")
ARRAY_FORMATS = ("npy", "npz")

_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npy": "npy",
    ".npz": "npz",
}


def detect_format(path: str, what: str) -> str:
    """The format of ``path`` from its suffix (``-`` is JSON lines on stdin or stdout)."""
    if path == "-":
        return "jsonl"
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise click.BadParameter(
            f"cannot tell the format of {path!r} from its suffix (known: {known})",
            param_hint=what,
        )
    return fmt
