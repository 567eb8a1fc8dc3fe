"""The ``aioeas`` command group, and the one place where errors become an exit status.

``main(argv)`` runs click without its standalone mode, so that every way a command can end
is decided here, once: a usage error is one line on stderr and status 2; a failure (an
``EASError``, a file that cannot be read, a ``CLIError``) is one line and status 1; Ctrl-C
is status 130. No traceback reaches a user unless ``--debug`` asks for it; an unexpected
exception then still says what it was and how to see more.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import click

from aioeas import EASError, UsageError, __version__

__all__ = ["cli", "main"]

PROG = "aioeas"


#: The commands defined in modules of their own, loaded when used: ``aioeas --version`` and
#: ``aioeas --help`` import none of them (and so neither numpy, aiohttp nor rich). The short
#: summary is the first paragraph of each command's docstring (the tests check they agree).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "emulator": (
        "aioeas.cli.emulator",
        "Run the EAS emulator (the manual's example services, discovery, queues) until "
        "Ctrl-C; print its URL first.",
    ),
    "predict": (
        "aioeas.cli.predict",
        "Predict every row of INPUT (a file, or - for stdin), in order.",
    ),
    "queue": (
        "aioeas.cli.queue",
        "Operate a queue service (asynchronous inference): put, get, watch, and more.",
    ),
}


class _LazyGroup(click.Group):
    """A group whose commands in ``LAZY_COMMANDS`` are imported when first looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module = importlib.import_module(LAZY_COMMANDS[cmd_name][0])
            self.add_command(getattr(module, cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list without importing the lazy commands (their short help is kept)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))  # as click's own list
        rows = []
        for name in names:
            if name in LAZY_COMMANDS and name not in self.commands:
                stand_in = click.Command(name, help=LAZY_COMMANDS[name][1])
                rows.append((name, stand_in.get_short_help_str(limit)))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@dataclass
class _Settings:
    """What the group's own flags set, read back by ``main`` after the command ended."""

    debug: bool = False


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs (aioeas, aiohttp).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """aioeas: the asyncio-native client for Alibaba Cloud PAI-EAS, from the shell.

    Connection flags can come from the environment: EAS_ENDPOINT, EAS_TOKEN,
    EAS_SERVICE_NAME (predict) and EAS_QUEUE_NAME (queue).
    """
    settings = ctx.ensure_object(_Settings)
    settings.debug = debug
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    else:
        # The library's log is for programs; a command says what went wrong in its one
        # line. Without a handler, Python's last resort printed the library's warnings
        # ("queue attributes unavailable ...") before the real error.
        # Taken off again when the command ends: a program that runs commands in-process
        # (tests, click's runner) keeps the library's logger as it was.
        library_log, quiet = logging.getLogger("aioeas"), logging.NullHandler()
        library_log.addHandler(quiet)
        ctx.call_on_close(lambda: library_log.removeHandler(quiet))


@cli.command()
def demo() -> None:
    """Run the official manual's examples, and asynchronous inference through a queue
    service, against the embedded emulator; print answers, latencies and throughput."""
    from aioeas.demo import main as demo_main

    raise click.exceptions.Exit(demo_main())


@cli.command()
def codecs() -> None:
    """Show requests built, answered and decoded by the codecs, offline."""
    from aioeas.cli.codecs import show_codecs

    raise click.exceptions.Exit(show_codecs())


def _say(message: str) -> None:
    """One line on stderr: newlines inside a message would break the one-line promise."""
    text = " ".join(message.split("\n"))
    click.echo(f"{PROG}: {text}", err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (``sys.argv[1:]`` by default); the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    settings = _Settings()
    try:
        result = cli.main(args=args, prog_name=PROG, standalone_mode=False, obj=settings)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        return 2
    except click.UsageError as exc:
        if settings.debug:
            raise
        where = exc.ctx.command_path if exc.ctx is not None else PROG
        _say(f"error: {exc.format_message()} (see '{where} --help')")
        return exc.exit_code
    except click.ClickException as exc:
        if settings.debug:
            raise
        _say(f"error: {exc.format_message()}")
        return exc.exit_code
    except BrokenPipeError:
        # stdout's reader left (``| head``): stop quietly, as Unix tools do, and keep the
        # interpreter's final flush from complaining about the same pipe.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (click.Abort, KeyboardInterrupt):
        _say("interrupted")
        return 130
    except UsageError as exc:
        if settings.debug:
            raise
        _say(f"error: {exc}")
        return 2
    except (EASError, OSError) as exc:
        if settings.debug:
            raise
        _say(f"error: {exc}")
        return 1
    except Exception as exc:
        if settings.debug:
            raise
        _say(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1
    return result if isinstance(result, int) else 0
