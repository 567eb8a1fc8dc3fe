"""The progress bar of a batch run: rows done of the total, rate, ETA, failures; on stderr.

It draws only on a terminal (rich's own test, which ``TTY_COMPATIBLE=1`` or
``FORCE_COLOR`` can force) and never with ``--quiet``: piped into a log or a file it would
be noise. Nor when the results go to stdout and stdout is a terminal (the caller passes
``quiet`` then): the bar redraws with cursor movements, and result lines written to the
same screen meanwhile were overwritten or spliced.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["RowProgress"]


class _RateColumn(ProgressColumn):
    """Rows per second, as rich measures it over its recent window."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("? rows/s" if speed is None else f"{speed:,.0f} rows/s")


class RowProgress:
    """``with RowProgress(total, quiet=q) as p: p.advance(rows, failed)``."""

    def __init__(self, total: int | None, *, quiet: bool, console: Console | None = None) -> None:
        self.console = console if console is not None else Console(stderr=True)
        self.enabled = not quiet and self.console.is_terminal
        self._failed = 0
        self._progress = Progress(
            TextColumn("[bold]predict"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[failed]}"),
            console=self.console,
            disable=not self.enabled,
            transient=False,
        )
        self._task = self._progress.add_task("predict", total=total, failed="")

    def __enter__(self) -> RowProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def advance(self, rows: int, failed: int = 0) -> None:
        self._failed += failed
        label = f"[red]{self._failed:,} failed" if self._failed else ""
        self._progress.update(self._task, advance=rows, failed=label)
