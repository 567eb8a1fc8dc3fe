"""Which format a batch file is in: its suffix, or ``--format``; no numpy, no pyarrow.

Kept apart from the readers and writers so that a command checks its flags (and ``aioeas
predict --help`` answers) without loading numpy, pyarrow or the client.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["ARRAY_FORMATS", "INPUT_FORMATS", "ROW_FORMATS", "detect_format", "input_format"]

#: ``json`` is one JSON document: an array of rows (or one object, one row); ``jsonl`` one
#: JSON value a line.
ROW_FORMATS = ("jsonl", "json", "csv", "parquet")
ARRAY_FORMATS = ("npy", "npz")
INPUT_FORMATS = (*ROW_FORMATS, *ARRAY_FORMATS)

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
        # the input's format can be given; an output's comes from its suffix alone
        hint = "; give it with --format" if what == "INPUT" else ""
        raise click.BadParameter(
            f"cannot tell the format of {path!r} from its suffix (known: {known}){hint}",
            param_hint=what,
        )
    return fmt


def input_format(path: str, given: str | None) -> str:
    """The format to read INPUT in: ``--format`` when given; else JSON lines for stdin, and
    the suffix for a file, where a ``.json`` file whose text starts with ``[`` is a JSON
    array (read as one), and JSON lines otherwise."""
    if given is not None:
        return given
    fmt = detect_format(path, "INPUT")
    if fmt == "jsonl" and Path(path).suffix.lower() == ".json" and _starts_with(path, b"["):
        return "json"
    return fmt


def _starts_with(path: str, char: bytes) -> bool:
    """Whether the file's first non-blank byte is ``char`` (a missing file: no)."""
    try:
        with open(path, "rb") as f:
            while block := f.read(4096):
                text = block.lstrip()
                if text:
                    return text[:1] == char
    except OSError:
        return False
    return False
