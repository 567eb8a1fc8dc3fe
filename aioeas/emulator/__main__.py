"""``python -m aioeas.emulator [--host H] [--port P] [--token T] [--backends N] [--seed S]``.

Serves the built-in services until interrupted. The first line printed is
``aioeas emulator listening on http://HOST:PORT`` with the real port (``--port 0`` picks
a free one), so a script or a test can read where to connect.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from aioeas.emulator.server import Emulator

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m aioeas.emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="gateway port; 0 picks a free one")
    p.add_argument("--token", default=None, help="require this token (raw or signed)")
    p.add_argument("--backends", type=int, default=1, help="backends per built-in service")
    p.add_argument("--seed", type=int, default=0, help="seed of the fault plans' RNGs")
    return p


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(sig, stop.set)
    async with Emulator(
        token=args.token, host=args.host, port=args.port, backends=args.backends, seed=args.seed
    ) as emu:
        print(f"aioeas emulator listening on {emu.url}", flush=True)
        for service in emu.services.values():
            ports = ", ".join(str(b.port) for b in service.backends)
            print(f"  {service.name} ({service.kind}): backends on {ports}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.backends < 1:
        print("--backends is 1 or more", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
