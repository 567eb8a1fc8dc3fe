"""``aioeas predict``: batch predictions from a file, against any EAS endpoint.

Rows (JSON lines, CSV, Parquet) go to string services as JSON records, ``--batch-size`` per
request; arrays (.npy, .npz) go to TensorFlow or PyTorch services, split along the first
axis. At most ``--concurrency`` requests are in flight (``PredictClient.predict_many``);
results are written in input order as they come (see ``aioeas.cli.outputs`` for the
formats), so the head of the file is on disk while the tail is still being predicted.

A failed batch does not stop the run: its rows carry the error and the exit status is 1.
Two failures do stop it, because every later batch would fail the same way: a rejected
token (401/403) and an unknown service (404). Ctrl-C stops cleanly: what finished, in
order, is written, and the count of rows not done is printed (exit status 130).
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from aioeas import (
    ENDPOINT_TYPE_DEFAULT,
    ENDPOINT_TYPE_DIRECT,
    AuthError,
    DecodeError,
    EASError,
    PredictClient,
    RetryPolicy,
    ServiceError,
    StringRequest,
    StringResponse,
    TFRequest,
    TFResponse,
    TorchRequest,
    TorchResponse,
    UsageError,
)
from aioeas.cli.inputs import (
    ARRAY_FORMATS,
    ArrayBatch,
    ArraySource,
    RowBatch,
    RowSource,
    detect_format,
)
from aioeas.cli.options import CLIError, connection_options, retry_options, run
from aioeas.cli.outputs import ArrayOutcome, Outcome, RowOutcome, Writer, open_writer
from aioeas.cli.progress import RowProgress

__all__ = ["predict"]

_ENDPOINT_TYPES = {"gateway": ENDPOINT_TYPE_DEFAULT, "direct": ENDPOINT_TYPE_DIRECT}
_TORCH_KEY = re.compile(r"(?:arr_)?(\d+)")  # np.savez(a, b) names them arr_0, arr_1


class _Unsendable:
    """A batch that cannot be made into a request: it fails in ``predict`` (before any I/O)
    with the reason, so it is reported at its place like any other failed batch."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def to_bytes(self) -> bytes:
        raise UsageError(self.reason)

    def parse_response(self, body: bytes) -> None:  # pragma: no cover - never sent
        raise AssertionError("an unsendable batch was sent")


def _json_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON")


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class Job:
    """Everything one run needs, checked: made by the command from its flags."""

    endpoint: str
    service: str
    token: str
    endpoint_type: str
    timeout: float
    retries: int
    input_path: str
    input_format: str
    output_path: str
    output_format: str
    kind: str  # string | tf | torch
    batch_size: int
    concurrency: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    signature: str | None
    quiet: bool


@dataclass
class Summary:
    total: int | None
    rows: int = 0
    batches: int = 0
    failed: int = 0
    interrupted: bool = False


class _Requests:
    """Turns batches into requests, remembering the batches in flight (in order), so each
    answer the fan-out hands back is matched with the rows it answers."""

    def __init__(self, job: Job, batches: Iterator[RowBatch] | Iterator[ArrayBatch]) -> None:
        self.job = job
        self.batches = batches
        self.in_flight: collections.deque[RowBatch | ArrayBatch] = collections.deque()

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches:
            self.in_flight.append(batch)
            yield self.request(batch)

    def request(self, batch: RowBatch | ArrayBatch) -> Any:
        try:
            if isinstance(batch, RowBatch):
                return self._string(batch)
            if self.job.kind == "torch":
                return self._torch(batch)
            return self._tf(batch)
        except EASError as exc:
            return _Unsendable(f"cannot build the request: {exc}")

    def _string(self, batch: RowBatch) -> StringRequest | _Unsendable:
        records = batch.records
        if not records:
            return _Unsendable("no row of this batch could be read")
        try:
            text = json.dumps(
                records,
                separators=(", ", ": "),
                ensure_ascii=False,
                allow_nan=False,
                default=_json_value,
            )
        except (TypeError, ValueError) as exc:
            return _Unsendable(f"cannot send these rows as JSON: {exc}")
        return StringRequest(text)

    def _tf(self, batch: ArrayBatch) -> TFRequest:
        request = TFRequest(self.job.signature)
        for name, array in batch.arrays.items():
            request.add_feed(name, array)
        for name in self.job.outputs:
            request.add_fetch(name)
        return request

    def _torch(self, batch: ArrayBatch) -> TorchRequest:
        request = TorchRequest()
        for name, array in batch.arrays.items():
            match = _TORCH_KEY.fullmatch(name)
            if match:
                request.add_feed(int(match[1]), array)
            else:
                request.add_feed_map(name, array)
        for index in self.job.outputs:
            request.add_fetch(int(index))
        return request


def _row_outcome(batch: RowBatch, result: Any) -> RowOutcome:
    if isinstance(result, BaseException):
        return RowOutcome(batch, error=_describe(result))
    assert isinstance(result, StringResponse)
    try:
        value = result.json()
    except DecodeError:
        value = result.text
    sent = len(batch.records)
    if isinstance(value, list) and len(value) == sent:
        return RowOutcome(batch, results=value)
    if sent == 1:
        return RowOutcome(batch, results=[value])
    return RowOutcome(batch, whole=value)


def _array_outcome(job: Job, batch: ArrayBatch, result: Any) -> ArrayOutcome:
    if isinstance(result, BaseException):
        return ArrayOutcome(batch, error=_describe(result))
    if isinstance(result, TFResponse):
        return ArrayOutcome(batch, outputs={name: result[name] for name in result})
    assert isinstance(result, TorchResponse)
    outputs = result.outputs
    names = list(job.outputs) if len(job.outputs) == len(outputs) else range(len(outputs))
    arrays = {str(name): array for name, array in zip(names, outputs, strict=False)}
    arrays.update(result.map_outputs)
    return ArrayOutcome(batch, outputs=arrays)


def _fatal(result: Any) -> bool:
    """Failures every later batch would repeat: a rejected token, an unknown service."""
    return isinstance(result, AuthError) or (
        isinstance(result, ServiceError) and result.status == 404
    )


async def _predict(job: Job, stop: asyncio.Event) -> Summary:
    source: RowSource | ArraySource
    if job.input_format in ARRAY_FORMATS:
        default = "0" if job.kind == "torch" else None
        source = ArraySource(job.input_path, job.input_format, job.inputs, default)
    else:
        source = RowSource(job.input_path, job.input_format)
    summary = Summary(total=source.count())
    requests = _Requests(job, source.batches(job.batch_size))
    writer: Writer = open_writer(job.output_path, job.output_format, lambda: source.columns)
    client = PredictClient(
        job.endpoint,
        job.service,
        token=job.token,
        endpoint_type=job.endpoint_type,
        timeout=job.timeout,
        retry=RetryPolicy(max_attempts=job.retries + 1),
    )

    async def consume(progress: RowProgress) -> None:
        fan = client.predict_many(
            iter(requests), concurrency=job.concurrency, return_exceptions=True
        )
        async with fan:
            async for result in fan:
                batch = requests.in_flight.popleft()
                if _fatal(result):
                    raise result
                outcome: Outcome = (
                    _row_outcome(batch, result)
                    if isinstance(batch, RowBatch)
                    else _array_outcome(job, batch, result)
                )
                failed = writer.write(outcome)
                summary.rows += batch.size
                summary.batches += 1
                summary.failed += failed
                progress.advance(batch.size, failed)

    try:
        async with client:
            with RowProgress(summary.total, quiet=job.quiet) as progress:
                work = asyncio.create_task(consume(progress))
                stopped = asyncio.create_task(stop.wait())
                await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                if not work.done():
                    summary.interrupted = True
                    work.cancel()
                await asyncio.gather(work, stopped, return_exceptions=True)
                if not work.cancelled() and work.exception() is not None:
                    raise _stopped_by(work.exception(), summary)
    finally:
        writer.close()
    return summary


def _stopped_by(error: BaseException | None, summary: Summary) -> BaseException:
    if isinstance(error, EASError):
        left = "" if summary.total is None else f"; {summary.total - summary.rows:,} rows not done"
        return CLIError(f"stopped after {summary.rows:,} rows: {error}{left}")
    assert error is not None
    return error


def _check(job: Job) -> None:
    arrays = job.input_format in ARRAY_FORMATS
    if arrays and job.kind == "string":
        raise click.UsageError("array inputs (.npy, .npz) are for --type tf or --type torch")
    if not arrays and job.kind != "string":
        raise click.UsageError(
            f"rows ({job.input_format}) are sent to string services; "
            "TF and PyTorch services take .npy or .npz"
        )
    if job.output_path != "-":
        parent = Path(job.output_path).parent
        if not parent.is_dir():
            raise click.BadParameter(
                f"{job.output_path!r}: the directory {str(parent)!r} does not exist",
                param_hint="--out",
            )
    allowed = ("jsonl", "npz") if arrays else ("jsonl", "csv", "parquet")
    if job.output_format not in allowed:
        raise click.UsageError(
            f"{job.input_format} input can be written as {' or '.join(allowed)}, "
            f"not {job.output_format}"
        )
    if job.kind == "torch" and not all(o.isdigit() for o in job.outputs):
        raise click.BadParameter("PyTorch outputs are indexes (0, 1, ...)", param_hint="--output")
    if not arrays and (job.inputs or job.outputs or job.signature):
        raise click.UsageError("--input, --output and --signature are for array inputs")


@click.command()
@click.argument(
    "input_path",
    metavar="INPUT",
    type=click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True),
)
@click.option(
    "--out",
    "-o",
    "output_path",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    help="Where the results go: .jsonl, .csv, .parquet, .npz, or - (JSON lines on stdout).",
)
@connection_options("--service", "EAS_SERVICE_NAME", "The service to call.")
@click.option(
    "--endpoint-type",
    type=click.Choice(sorted(_ENDPOINT_TYPES)),
    default="gateway",
    show_default=True,
    help="Through the gateway, or VPC direct to the service's instances.",
)
@retry_options
@click.option(
    "--type",
    "kind",
    type=click.Choice(["string", "tf", "torch"]),
    default=None,
    help="The service's kind [default: string for rows, tf for arrays].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Rows per request.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME[=KEY]",
    help="Array inputs: a .npy's input name (TF) or index (PyTorch, default 0); for a .npz, "
    "the arrays to send (default: all, each under its key). Repeatable.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="NAME",
    help="Outputs to ask for (TF names, PyTorch indexes; default: all). Repeatable.",
)
@click.option("--signature", default=None, help="The TF signature name (e.g. predict_images).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def predict(
    input_path: str,
    output_path: str,
    endpoint: str,
    name: str,
    token: str,
    endpoint_type: str,
    timeout: float,
    retries: int,
    kind: str | None,
    batch_size: int,
    concurrency: int,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    signature: str | None,
    quiet: bool,
) -> None:
    """Predict every row of INPUT (a file, or - for JSON lines on stdin), in order.

    \b
    Rows: .jsonl/.json (one JSON value a line), .csv (numbers sent as numbers), .parquet;
    sent to string services as a JSON list of records, --batch-size rows a request.
    Arrays: .npy/.npz, split along the first axis, for --type tf or torch.

    \b
    Results, in input order: JSON lines have one line per row, {"row": i, "result": ...}
    or {"row": i, "error": ...} ({"rows": [...], ...} when an answer does not split into
    one result per row); CSV/Parquet add the result's columns and an error column to the
    input's; .npz holds each output concatenated along axis 0, with _row, _failed_rows and
    _errors.

    Exit status: 0 when every row succeeded, 1 when any failed (they are in the output),
    130 when interrupted (what finished is written), 2 for a usage error.
    """
    input_format = detect_format(input_path, "INPUT")
    job = Job(
        endpoint=endpoint,
        service=name,
        token=token,
        endpoint_type=_ENDPOINT_TYPES[endpoint_type],
        timeout=timeout,
        retries=retries,
        input_path=input_path,
        input_format=input_format,
        output_path=output_path,
        output_format=detect_format(output_path, "--out"),
        kind=kind or ("tf" if input_format in ARRAY_FORMATS else "string"),
        batch_size=batch_size,
        concurrency=concurrency,
        inputs=inputs,
        outputs=outputs,
        signature=signature,
        quiet=quiet,
    )
    _check(job)
    summary = run(lambda stop: _predict(job, stop))
    where = "stdout" if output_path == "-" else output_path
    if summary.interrupted:
        left = (
            f"{summary.total - summary.rows:,} rows"
            if summary.total is not None
            else "the rest of the input"
        )
        click.echo(
            f"interrupted: wrote {summary.rows:,} rows in order to {where}; {left} not done",
            err=True,
        )
        raise click.exceptions.Exit(130)
    if not quiet:
        click.echo(
            f"predict: {summary.rows:,} rows in {summary.batches:,} requests, "
            f"{summary.rows - summary.failed:,} ok, {summary.failed:,} failed -> {where}",
            err=True,
        )
    if summary.failed:
        raise CLIError(f"{summary.failed:,} of {summary.rows:,} rows failed (see {where})")
