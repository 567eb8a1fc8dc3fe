"""What several commands share: connection flags, errors, and running until Ctrl-C.

Every connection flag can come from the environment (``EAS_ENDPOINT``, ``EAS_TOKEN``...),
so a token need not appear in the shell history or in ``ps``. ``run`` gives a command's
coroutine an ``asyncio.Event`` that the first Ctrl-C (or SIGTERM) sets, instead of the
``KeyboardInterrupt`` that would tear through whatever was being written; a second Ctrl-C
interrupts for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

import click

from aioeas.cli import loop as event_loop

__all__ = [
    "CLIError",
    "connection_options",
    "count",
    "parse_tags",
    "retry_options",
    "run",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class CLIError(click.ClickException):
    """A command ran and failed (exit status 1): a person reads the one-line message."""

    exit_code = 1


def count(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,024 rows``: a number and its noun, the plural right."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def connection_options(name_flag: str, name_env: str, name_help: str) -> Callable[[F], F]:
    """``--endpoint``, the service or queue name flag, and ``--token``, each with its env var."""

    def decorate(fn: F) -> F:
        fn = click.option(
            "--token",
            envvar="EAS_TOKEN",
            default="",
            show_envvar=True,
            help="The service token (read it from EAS_TOKEN rather than the command line).",
        )(fn)
        fn = click.option(
            name_flag,
            "name",
            envvar=name_env,
            required=True,
            show_envvar=True,
            help=name_help,
        )(fn)
        fn = click.option(
            "--endpoint",
            "-e",
            envvar="EAS_ENDPOINT",
            required=True,
            show_envvar=True,
            help="The EAS endpoint, e.g. http://1234.cn-shanghai.pai-eas.aliyuncs.com "
            "or the emulator's http://127.0.0.1:8080.",
        )(fn)
        return fn

    return decorate


def retry_options(fn: F) -> F:
    """``--timeout`` (per attempt) and ``--retries`` (tries after the first)."""
    fn = click.option(
        "--retries",
        type=click.IntRange(min=0),
        default=4,
        show_default=True,
        help="Tries after the first on a 5xx, a connection error or a timeout (0: none).",
    )(fn)
    fn = click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=10.0,
        show_default=True,
        help="Seconds per attempt.",
    )(fn)
    return fn


def parse_tags(values: Iterable[str]) -> dict[str, str]:
    """``--tag key=value`` flags as a dict; a flag without ``=`` is a usage error."""
    tags: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"a tag is KEY=VALUE, got {value!r}", param_hint="--tag")
        tags[key] = val
    return tags


def run(main: Callable[[asyncio.Event], Coroutine[Any, Any, T]]) -> T:
    """Run ``main(stop)`` in a new event loop; Ctrl-C or SIGTERM sets ``stop`` once.

    The command decides what stopping means (write what finished, flush commits, close the
    server). After the first signal the handlers are removed, so a second Ctrl-C raises
    ``KeyboardInterrupt`` as usual (for a command that does not stop in time).
    """

    async def runner() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)

        def on_signal() -> None:
            stop.set()
            for sig in signals:
                loop.remove_signal_handler(sig)

        installed = []
        for sig in signals:
            with contextlib.suppress(
                NotImplementedError, RuntimeError, ValueError
            ):  # Windows, threads
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)
        try:
            return await main(stop)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    return event_loop.run(runner())  # on uvloop when installed
