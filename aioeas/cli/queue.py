"""``aioeas queue put|get|watch|attributes|truncate|search|commit``: operate a queue service.

Each command is one ``QueueClient`` call. Records are printed one JSON object a line
(``{"index": 3, "tags": {...}, "data": "..."}``; data that is not UTF-8 comes as
``data_base64``), so the output pipes into ``jq`` or another program, and lines are flushed
as they are printed, so ``watch`` can be followed.

``watch`` commits each record after printing it, unless ``--auto-commit`` (the service
commits on delivery) or ``--no-commit`` (look without taking). It runs until ``--count``
records were printed, the queue's end of stream, or Ctrl-C; commits still in flight are
sent before it exits.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from aioeas.cli.options import CLIError, connection_options, parse_tags, run

if TYPE_CHECKING:
    from aioeas import QueueClient, QueueRecord

__all__ = ["queue"]

F = TypeVar("F", bound=Callable[..., Any])


def _queue_options(fn: F) -> F:
    fn = click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=10.0,
        show_default=True,
        help="Seconds per HTTP attempt.",
    )(fn)
    fn = connection_options(
        "--queue",
        "EAS_QUEUE_NAME",
        "The queue: a queue service's name (its input) or NAME/sink (its results).",
    )(fn)
    return fn


def _identity_options(fn: F) -> F:
    fn = click.option("--gid", default="eas", show_default=True, help="Consumer group.")(fn)
    fn = click.option("--uid", default=None, help="Consumer id (default: a fresh one).")(fn)
    return fn


def _tag_option(help_text: str) -> Callable[[F], F]:
    return click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help=help_text)


def record_json(record: QueueRecord) -> str:
    """One record as a JSON line (data as text when it is UTF-8, else base64)."""
    out: dict[str, Any] = {"index": record.index, "tags": dict(record.tags)}
    try:
        out["data"] = record.data.decode("utf-8")
    except UnicodeDecodeError:
        out["data_base64"] = base64.b64encode(record.data).decode("ascii")
    if record.message:
        out["message"] = record.message
    return json.dumps(out, ensure_ascii=False)


def _print(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


T = TypeVar("T")


def _call(
    endpoint: str,
    name: str,
    token: str,
    timeout: float,
    action: Callable[[QueueClient], Coroutine[Any, Any, T]],
    **options: Any,
) -> T:
    """Open a client, run ``action`` on it, close it; Ctrl-C cancels the call."""

    from aioeas import QueueClient  # aiohttp loads only when a command runs

    async def main(stop: asyncio.Event) -> T:
        async with QueueClient(endpoint, name, token=token, timeout=timeout, **options) as client:
            work = asyncio.ensure_future(action(client))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not work.done():
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                raise click.Abort()
            return work.result()

    return run(main)


@click.group()
def queue() -> None:
    """Operate a queue service (asynchronous inference): put, get, watch, and more.

    The queue is a queue service's name (its input queue) or NAME/sink (its results).
    """


@queue.command()
@_queue_options
@click.argument("data", nargs=-1)
@click.option(
    "--file",
    "-f",
    "file",
    type=click.File("r", encoding="utf-8"),
    help="Put each line of this file (- for stdin) as a record.",
)
@_tag_option("A tag stored with each record. Repeatable.")
@click.option("--priority", type=click.IntRange(min=0), help="e.g. 1: before normal records.")
def put(
    endpoint: str,
    name: str,
    token: str,
    timeout: float,
    data: tuple[str, ...],
    file: Any,
    tags: tuple[str, ...],
    priority: int | None,
) -> None:
    """Put each DATA (or each line of --file) as a record; print its index and request id."""
    if not data and file is None:
        raise click.UsageError("give DATA to put, or --file PATH (- for stdin)")
    if data and file is not None:
        raise click.UsageError("give DATA or --file, not both")
    checked = parse_tags(tags)
    items = list(data) if data else [line.rstrip("\n") for line in file if line.strip()]

    async def action(client: QueueClient) -> None:
        for item in items:
            index, request_id = await client.put(item, checked, priority=priority)
            _print(json.dumps({"index": index, "request_id": request_id}))

    _call(endpoint, name, token, timeout, action)


@queue.command()
@_queue_options
@_identity_options
@click.option("--index", type=click.IntRange(min=0), default=0, help="From this index (0: first).")
@click.option("--length", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for records to come.",
)
@click.option("--keep", is_flag=True, help="Leave the records in the queue (no auto-delete).")
@click.option("--request-id", default=None, help="Only the record with this request id.")
@_tag_option("Only records with this tag. Repeatable.")
def get(
    endpoint: str,
    name: str,
    token: str,
    timeout: float,
    uid: str | None,
    gid: str,
    index: int,
    length: int,
    wait: float,
    keep: bool,
    request_id: str | None,
    tags: tuple[str, ...],
) -> None:
    """Get up to --length records (deleted from the queue unless --keep); one JSON line each."""
    checked = parse_tags(tags)

    async def action(client: QueueClient) -> None:
        records = await client.get(
            index=index,
            length=length,
            timeout=wait,
            auto_delete=not keep,
            tags=checked or None,
            request_id=request_id,
        )
        for record in records:
            _print(record_json(record))

    _call(endpoint, name, token, timeout, action, uid=uid, gid=gid)


@queue.command()
@_queue_options
@_identity_options
@click.option("--index", type=click.IntRange(min=0), default=0, help="From this index (0: first).")
@click.option("--window", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many records.")
@click.option("--auto-commit", is_flag=True, help="The service commits each record it sends.")
@click.option("--no-commit", is_flag=True, help="Do not commit: the records stay to be taken.")
@click.option("--index-only", is_flag=True, help="Records without their data.")
@_tag_option("Only records with this tag. Repeatable.")
def watch(
    endpoint: str,
    name: str,
    token: str,
    timeout: float,
    uid: str | None,
    gid: str,
    index: int,
    window: int,
    count: int | None,
    auto_commit: bool,
    no_commit: bool,
    index_only: bool,
    tags: tuple[str, ...],
) -> None:
    """Print records as they come, one JSON line each, committing each after printing it.

    Runs until --count records, the queue's end of stream, or Ctrl-C (exit status 0).
    """
    if auto_commit and no_commit:
        raise click.UsageError("--auto-commit and --no-commit contradict each other")
    checked = parse_tags(tags)

    from aioeas import QueueClient

    async def main(stop: asyncio.Event) -> None:
        async with QueueClient(endpoint, name, token=token, timeout=timeout, uid=uid, gid=gid) as c:
            stopped = asyncio.ensure_future(stop.wait())
            try:
                async with c.watch(
                    index=index,
                    window=window,
                    index_only=index_only,
                    auto_commit=auto_commit,
                    tags=checked or None,
                ) as watcher:
                    seen = 0
                    while count is None or seen < count:
                        step = asyncio.ensure_future(anext(watcher))
                        await asyncio.wait({step, stopped}, return_when=asyncio.FIRST_COMPLETED)
                        if not step.done():
                            step.cancel()
                            await asyncio.gather(step, return_exceptions=True)
                            break
                        try:
                            record = step.result()
                        except StopAsyncIteration:
                            break
                        _print(record_json(record))
                        if not no_commit:
                            watcher.commit(record)
                        seen += 1
                    await watcher.flush()
                    if watcher.error is not None:
                        raise watcher.error
            finally:
                stopped.cancel()

    run(main)


@queue.command()
@_queue_options
def attributes(endpoint: str, name: str, token: str, timeout: float) -> None:
    """Print the queue's attributes (length, last entry, consumers...) as JSON."""

    async def action(client: QueueClient) -> dict[str, str]:
        return await client.attributes()

    attrs = _call(endpoint, name, token, timeout, action, discover_headers=False)
    _print(json.dumps(attrs, indent=2, sort_keys=True))


@queue.command()
@_queue_options
@click.argument("index", type=click.IntRange(min=1))
def truncate(endpoint: str, name: str, token: str, timeout: float, index: int) -> None:
    """Delete every record before INDEX."""

    async def action(client: QueueClient) -> str:
        return await client.truncate(index)

    _print(_call(endpoint, name, token, timeout, action))


@queue.command()
@_queue_options
@click.argument("index", type=click.IntRange(min=1))
def search(endpoint: str, name: str, token: str, timeout: float, index: int) -> None:
    """Where record INDEX is: its consumer, whether pending, how many wait before it.

    Exit status 1 when the queue does not hold it.
    """

    async def action(client: QueueClient) -> Any:
        return await client.search(index)

    found = _call(endpoint, name, token, timeout, action)
    if found is None:
        raise CLIError(f"record {index} is not in queue {name}")
    _print(
        json.dumps(
            {
                "index": index,
                "consumer_id": found.consumer_id,
                "is_pending": found.is_pending,
                "wait_count": found.wait_count,
            }
        )
    )


@queue.command()
@_queue_options
@click.argument("indexes", nargs=-1, required=True, type=click.IntRange(min=1))
def commit(endpoint: str, name: str, token: str, timeout: float, indexes: tuple[int, ...]) -> None:
    """Mark records INDEXES done: they are never delivered again; print the service's answer.

    Exit status 1, committing nothing, when an index is beyond the queue's last: the
    service answers OK to any index, which read as if the record had been there.
    """

    async def action(client: QueueClient) -> tuple[str | None, int]:
        attrs = await client.attributes()
        last = int(attrs.get("stream.lastEntry", "0") or 0)
        if any(i > last for i in indexes):
            return None, last
        return await client.commit(list(indexes)), last

    answer, last = _call(endpoint, name, token, timeout, action)
    if answer is None:
        beyond = [i for i in indexes if i > last]
        shown = ", ".join(map(str, beyond))
        raise CLIError(
            f"queue {name} holds no {'record' if len(beyond) == 1 else 'records'} {shown} "
            f"(its last index is {last}); nothing committed"
        )
    _print(answer)
