"""``aioeas emulator``: a local EAS on a port, until Ctrl-C.

The first line is ``aioeas emulator listening on http://HOST:PORT`` (the real port, also
with ``--port 0``), so a script can read where to connect; then one line per service and
per queue service. ``--queue NAME=SERVICE`` adds a queue service whose worker runs the
predict service SERVICE on each record (asynchronous inference); ``--queue NAME`` alone is
a plain queue; ``--root-queue NAME`` serves one also at ``/`` and ``/sink``.
``--weights SERVICE=W,W,...`` and ``--ports SERVICE=P,P,...`` lay out a built-in
service's backends. ``--fault SERVICE=STATUS@RATE`` makes a service answer STATUS to
about that share of its requests (seeded by ``--seed``), to try a client's retries.
The options, their parsing and the lines printed are ``python -m aioeas.emulator``'s
(``aioeas.emulator.__main__``).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from typing import TYPE_CHECKING

import click

from aioeas.cli.options import run

if TYPE_CHECKING:
    from aioeas.emulator.specs import QueueSpec

__all__ = ["emulator"]

_FAULT = re.compile(r"(?P<service>[^=]+)=(?P<status>\d{3})@(?P<rate>0?\.\d+|[01](?:\.0*)?)")


def _parse_queues(specs: tuple[str, ...]) -> list[QueueSpec]:
    from aioeas.emulator.specs import parse_queue_spec  # the emulator loads only when run

    out = []
    for spec in specs:
        try:
            out.append(parse_queue_spec(spec))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--queue") from None
    return out


def _parse_layouts(specs: tuple[str, ...], what: str) -> list[tuple[str, list[int]]]:
    from aioeas.emulator.specs import parse_layout_spec

    out = []
    for spec in specs:
        try:
            out.append(parse_layout_spec(spec, what))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=f"--{what}s") from None
    return out


def _parse_faults(specs: tuple[str, ...]) -> list[tuple[str, int, float]]:
    out = []
    for spec in specs:
        match = _FAULT.fullmatch(spec)
        if match is None:
            raise click.BadParameter(
                f"a fault is SERVICE=STATUS@RATE (e.g. echo=503@0.05), got {spec!r}",
                param_hint="--fault",
            )
        out.append((match["service"], int(match["status"]), float(match["rate"])))
    return out


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0: a free one."
)
@click.option("--token", envvar="EAS_TOKEN", default=None, help="Require this token.")
@click.option(
    "--backends",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Backends per built-in service (VPC direct spreads over them).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fault RNGs.")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    metavar="NAME[=SERVICE[:N]]",
    help="Add a queue service; with =SERVICE, a worker predicts each record with "
    "that service, N at a time (default --workers), e.g. "
    "mnist_async=mnist_saved_model_example:8. Repeatable.",
)
@click.option(
    "--root-queue",
    metavar="NAME",
    default=None,
    help="Serve queue service NAME also at / and /sink, as a deployed queue service is "
    "addressed (a plain queue unless --queue gives it).",
)
@click.option(
    "--weights",
    multiple=True,
    metavar="SERVICE=W,W,...",
    help="One backend of built-in SERVICE per weight, with those discovery weights, e.g. "
    "mnist_saved_model_example=1,2,3. Repeatable.",
)
@click.option(
    "--ports",
    multiple=True,
    metavar="SERVICE=P,P,...",
    help="The ports of built-in SERVICE's backends. Repeatable.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Records each queue worker processes at once.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SERVICE=STATUS@RATE",
    help="Answer STATUS to that share of SERVICE's requests. Repeatable.",
)
def emulator(
    host: str,
    port: int,
    token: str | None,
    backends: int,
    seed: int,
    queues: tuple[str, ...],
    root_queue: str | None,
    weights: tuple[str, ...],
    ports: tuple[str, ...],
    workers: int,
    faults: tuple[str, ...],
) -> None:
    """Run the EAS emulator (the manual's example services, discovery, queues) until
    Ctrl-C; print its URL first."""
    from aioeas.emulator import Fault
    from aioeas.emulator.__main__ import _UsageError, build, describe

    queue_specs = _parse_queues(queues)
    fault_specs = _parse_faults(faults)
    args = argparse.Namespace(
        host=host,
        port=port,
        token=token,
        backends=backends,
        seed=seed,
        queue=queue_specs,
        root_queue=root_queue,
        workers=workers,
        weights=_parse_layouts(weights, "weight"),
        ports=_parse_layouts(ports, "port"),
    )

    async def serve(stop: asyncio.Event) -> None:
        try:
            emu, all_queues = build(args)
        except _UsageError as exc:
            raise click.UsageError(str(exc)) from None
        for service, status, rate in fault_specs:
            if service not in emu.services:
                raise click.BadParameter(f"no service {service!r}", param_hint="--fault")
            emu.service(service).faults.add(Fault.error(status, "injected fault"), rate=rate)
        try:
            await emu.start()
        except OSError as exc:
            await emu.stop()
            raise click.ClickException(exc.strerror or str(exc)) from None
        try:
            for line in describe(emu, all_queues, workers, root_queue):
                click.echo(line)
            sys.stdout.flush()
            await stop.wait()
        finally:
            await emu.stop()

    run(serve)
