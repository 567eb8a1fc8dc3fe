"""Run the aioeas EAS emulator until interrupted (Ctrl-C or SIGTERM).

It serves the manual's example services (and echo services of every kind), service
discovery for VPC direct mode, and the queue services given by --queue. The first line
printed is "aioeas emulator listening on http://HOST:PORT" with the real port (--port 0
picks a free one), so a script or a test can read where to connect; then one line per
service with its backends' ports, and one per queue service.

--queue NAME (repeatable) adds a queue service: input queue NAME and sink NAME/sink.
--queue NAME=SERVICE also attaches the asynchronous-inference worker, which runs each
input record through the predict service SERVICE of this emulator (a built-in such as
echo), CONCURRENCY records at a time (--workers, 4, when left out), e.g.
--queue async_echo=echo:32. --root-queue NAME serves the queue service NAME also at /
and /sink, as a deployed queue service is addressed (added as a plain queue unless
--queue gives it).

--weights SERVICE=W,W,... gives a built-in service one backend per weight, with those
discovery weights (a VPC direct client spreads requests by them); --ports
SERVICE=P,P,... puts its backends on those ports. --backends N gives every other
built-in service N backends of weight 1 on free ports.

A port that cannot be bound (in use, or not allowed) is one line on stderr and exit
status 1; a bad option is one line and exit status 2. "aioeas emulator" takes the same
options, and --fault.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

from aioeas.emulator.server import Emulator
from aioeas.emulator.specs import QueueSpec, parse_layout_spec, parse_queue_spec

__all__ = ["QueueSpec", "main"]

PROG = "python -m aioeas.emulator"


def queue_spec(text: str) -> QueueSpec:
    """Parse ``NAME``, ``NAME=SERVICE`` or ``NAME=SERVICE:CONCURRENCY`` for argparse."""
    try:
        return parse_queue_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _layout(what: str) -> Callable[[str], tuple[str, list[int]]]:
    def parse(text: str) -> tuple[str, list[int]]:
        try:
            return parse_layout_spec(text, what)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line (as ``aioeas`` prints them)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="gateway port; 0 picks a free one")
    p.add_argument("--token", default=None, help="require this token (raw or signed)")
    p.add_argument("--backends", type=int, default=1, help="backends per built-in service")
    p.add_argument("--seed", type=int, default=0, help="seed of the fault plans' RNGs")
    p.add_argument(
        "--queue",
        action="append",
        type=queue_spec,
        default=[],
        metavar="NAME[=SERVICE[:CONCURRENCY]]",
        help="add a queue service NAME (and NAME/sink); with =SERVICE, a worker that runs each "
        "record through that predict service, CONCURRENCY at a time (repeatable)",
    )
    p.add_argument(
        "--root-queue",
        metavar="NAME",
        default=None,
        help="serve queue service NAME also at / and /sink",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=4,
        help="records each queue worker processes at once, unless :CONCURRENCY says (4)",
    )
    p.add_argument(
        "--weights",
        action="append",
        type=_layout("weight"),
        default=[],
        metavar="SERVICE=W,W,...",
        help="one backend of built-in SERVICE per weight, with those weights (repeatable)",
    )
    p.add_argument(
        "--ports",
        action="append",
        type=_layout("port"),
        default=[],
        metavar="SERVICE=P,P,...",
        help="the ports of built-in SERVICE's backends (repeatable)",
    )
    return p


class _UsageError(Exception):
    """A command-line value the emulator cannot serve (printed, exit status 2)."""


def build(args: argparse.Namespace) -> tuple[Emulator, list[QueueSpec]]:
    """The emulator the options describe (not started) and its queue services, in order;
    ``_UsageError`` for a value it cannot serve."""
    queues = list(args.queue)
    if args.root_queue is not None and args.root_queue not in [q.name for q in queues]:
        queues.append(parse_queue_spec(args.root_queue))
    try:
        emu = Emulator(
            token=args.token,
            host=args.host,
            port=args.port,
            backends=args.backends,
            seed=args.seed,
            builtin_weights=dict(args.weights),
            builtin_ports=dict(args.ports),
        )
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    for spec in queues:
        if spec.processor is not None and spec.processor not in emu.services:
            raise _UsageError(
                f"--queue {spec.name}={spec.processor}: no service {spec.processor!r}; "
                f"the predict services are {', '.join(sorted(emu.services))}"
            )
        try:
            emu.add_queue_service(
                spec.name,
                processor=spec.processor,
                concurrency=spec.concurrency or args.workers,
                root=spec.name == args.root_queue,
            )
        except ValueError as exc:
            raise _UsageError(f"--queue {spec.name}: {exc}") from None
    return emu, queues


def describe(emu: Emulator, queues: list[QueueSpec], workers: int, root: str | None) -> list[str]:
    """The lines both command lines print once the emulator listens."""
    lines = [f"aioeas emulator listening on {emu.url}"]
    for service in emu.services.values():
        ports = ", ".join(
            str(b.port) if b.weight == 1 else f"{b.port} (weight {b.weight})"
            for b in service.backends
        )
        lines.append(f"  {service.name} ({service.kind}): backends on {ports}")
    for spec in queues:
        n = spec.concurrency or workers
        worker = f", worker runs {spec.processor} x{n}" if spec.processor else ""
        at_root = ", also at / and /sink" if spec.name == root else ""
        lines.append(f"  {spec.name} (queue): /api/predict/{spec.name}[/sink]{at_root}{worker}")
    return lines


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(sig, stop.set)
    emu, queues = build(args)
    try:
        await emu.start()
        for line in describe(emu, queues, args.workers, args.root_queue):
            print(line, flush=True)
        await stop.wait()
    finally:
        await emu.stop()  # also after a failed start: what did bind is let go


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.backends < 1:
        print(f"{PROG}: error: --backends is 1 or more", file=sys.stderr)
        return 2
    if args.workers < 1:
        print(f"{PROG}: error: --workers is 1 or more", file=sys.stderr)
        return 2
    names = [spec.name for spec in args.queue]
    if len(set(names)) != len(names):
        print(f"{PROG}: error: each --queue NAME is given once", file=sys.stderr)
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args))
    except _UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the port is in use, or not ours to bind
        print(f"{PROG}: error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
