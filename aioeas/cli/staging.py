"""The files an output is made of: the output itself, staged under a temporary name and
renamed at the end (``Staged``), and scratch files beside it that hold batches until then
(``PickleSpool``), so a long run's results are on disk, not in memory.
"""

from __future__ import annotations

import os
import pickle
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from aioeas.cli.options import CLIError

__all__ = ["PickleSpool", "Staged"]


def _new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the umask (0o644 usually)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class Staged:
    """The output file being written: a temporary file next to ``path``'s target, renamed
    over it by ``commit``, so a reader never sees half a file.

    The result is what ``open(path, "w")`` would have left: a symlink is followed (its
    target is replaced, the link stays), an existing file keeps its permissions, a new one
    gets the umask's. Errors name ``path``, never the temporary file. Opened when the run
    starts, so an output that cannot be written fails before any request.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.target = Path(os.path.realpath(path))
        try:
            self._mode = stat.S_IMODE(self.target.stat().st_mode)
        except FileNotFoundError:
            self._mode = _new_file_mode()
        except OSError as exc:
            raise self.error(exc) from None
        self.tmp: str | None = None
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", dir=self.target.parent)
            os.close(fd)
        except OSError as exc:
            raise self.error(exc) from None

    def error(self, exc: OSError) -> CLIError:
        return CLIError(f"cannot write {self.path}: {exc.strerror or exc}")

    def spool(self) -> BinaryIO:
        """An anonymous scratch file beside the output (its disk, gone when closed)."""
        try:
            return tempfile.TemporaryFile(dir=self.target.parent)
        except OSError as exc:
            raise self.error(exc) from None

    def commit(self, write: Callable[[str], None]) -> None:
        """``write(tmp_path)``, then the rename over the target."""
        assert self.tmp is not None
        try:
            write(self.tmp)
            os.chmod(self.tmp, self._mode)
            os.replace(self.tmp, self.target)
            self.tmp = None
        except OSError as exc:
            raise self.error(exc) from None
        finally:
            self.discard()

    def discard(self) -> None:
        if self.tmp is not None:
            Path(self.tmp).unlink(missing_ok=True)
            self.tmp = None


class PickleSpool:
    """Batches of rows on disk, in order, read back one batch at a time: what the tabular
    writers hold until the end, since the columns (and Parquet's types) are known only
    when every row has been seen."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def append(self, rows: list[dict[str, Any]]) -> None:
        pickle.dump(rows, self._file, protocol=pickle.HIGHEST_PROTOCOL)

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        self._file.flush()
        self._file.seek(0)
        while True:
            try:
                yield pickle.load(self._file)  # our own scratch file, written above
            except EOFError:
                return

    def close(self) -> None:
        self._file.close()
