"""``python -m aioeas.emulator [--host H] [--port P] [--token T] [--backends N] [--seed S]
[--queue NAME[=SERVICE[:CONCURRENCY]]]... [--workers N]``.

Serves the built-in services until interrupted. The first line printed is
``aioeas emulator listening on http://HOST:PORT`` with the real port (``--port 0`` picks
a free one), so a script or a test can read where to connect.

``--queue NAME`` (repeatable) adds a queue service: input queue ``NAME`` and sink
``NAME/sink``. ``--queue NAME=SERVICE`` also attaches the asynchronous-inference worker,
running each input record through the predict service ``SERVICE`` of this emulator (a
built-in such as ``echo``), ``CONCURRENCY`` records at a time (``--workers``, 4, when
left out), e.g. ``--queue async_echo=echo:32``; ``aioeas emulator`` takes the same forms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from aioeas.emulator.server import Emulator
from aioeas.emulator.specs import QueueSpec, parse_queue_spec

__all__ = ["QueueSpec", "main"]


def queue_spec(text: str) -> QueueSpec:
    """Parse ``NAME``, ``NAME=SERVICE`` or ``NAME=SERVICE:CONCURRENCY`` for argparse."""
    try:
        return parse_queue_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m aioeas.emulator", description=__doc__)
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
        "--workers",
        type=int,
        default=4,
        help="records each queue worker processes at once, unless :CONCURRENCY says (4)",
    )
    return p


class _UsageError(Exception):
    """A command-line value the emulator cannot serve (printed, exit status 2)."""


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(sig, stop.set)
    async with Emulator(
        token=args.token, host=args.host, port=args.port, backends=args.backends, seed=args.seed
    ) as emu:
        for spec in args.queue:
            if spec.processor is not None and spec.processor not in emu.services:
                raise _UsageError(
                    f"--queue {spec.name}={spec.processor}: no predict service "
                    f"{spec.processor!r}; they are {', '.join(sorted(emu.services))}"
                )
            concurrency = spec.concurrency or args.workers
            try:
                emu.add_queue_service(spec.name, processor=spec.processor, concurrency=concurrency)
            except ValueError as exc:
                raise _UsageError(f"--queue {spec.name}: {exc}") from None
        print(f"aioeas emulator listening on {emu.url}", flush=True)
        for service in emu.services.values():
            ports = ", ".join(str(b.port) for b in service.backends)
            print(f"  {service.name} ({service.kind}): backends on {ports}", flush=True)
        for spec in args.queue:
            n = spec.concurrency or args.workers
            worker = f", worker: {spec.processor} x{n}" if spec.processor else ""
            print(f"  {spec.name} (queue): /api/predict/{spec.name}[/sink]{worker}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.backends < 1:
        print("--backends is 1 or more", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("--workers is 1 or more", file=sys.stderr)
        return 2
    names = [spec.name for spec in args.queue]
    if len(set(names)) != len(names):
        print("each --queue NAME is given once", file=sys.stderr)
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args))
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
