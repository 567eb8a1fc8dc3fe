"""The run behind ``aioeas predict``: batches become requests, answers become outcomes.

Loaded only when a prediction runs (it brings numpy, the client and rich), so that the
command's flags are checked and its ``--help`` shown without them. At most
``--concurrency`` requests are in flight (``PredictClient.predict_many``); outcomes are
handed to the writer in input order as they come.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

from aioeas import (
    ENDPOINT_TYPE_DEFAULT,
    ENDPOINT_TYPE_DIRECT,
    AttemptEnd,
    AttemptStart,
    AuthError,
    ConnectError,
    DecodeError,
    EASError,
    Hooks,
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
from aioeas.cli.formats import ARRAY_FORMATS
from aioeas.cli.inputs import ArrayBatch, ArraySource, RowBatch, RowSource
from aioeas.cli.options import CLIError, count
from aioeas.cli.outputs import ArrayOutcome, Outcome, RowOutcome, Writer, open_writer
from aioeas.cli.predict import Job, Summary
from aioeas.cli.progress import RowProgress

__all__ = ["predict_job"]

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


def _describe(error: BaseException, tries: _Tries | None = None) -> str:
    text = str(error) or type(error).__name__
    spent = tries.pop(error) if tries is not None else None
    if spent is not None and spent[0] > 1:
        text += f" ({spent[0]} tries in {spent[1]:.2f} s)"
    return text


class _Tries:
    """How many tries a failed request took, and how long from its first try to its last
    answer: "no complete answer within 0.5 s" said neither, after five tries and 2.84 s.

    Fed by the client's hooks: each request runs in a task of its own, so the task ties
    a request's tries together, and the error of its last try is the one it raises.
    """

    def __init__(self) -> None:
        self._first: dict[asyncio.Task[Any] | None, float] = {}
        self._last: dict[asyncio.Task[Any] | None, BaseException] = {}
        self._spent: dict[int, tuple[BaseException, int, float]] = {}

    def hooks(self) -> Hooks:
        return Hooks(on_start=self._start, on_end=self._end)

    def _start(self, event: AttemptStart) -> None:
        task = asyncio.current_task()
        if event.attempt == 1:
            self._first[task] = asyncio.get_running_loop().time()
        previous = self._last.pop(task, None)
        if previous is not None:  # retried: that error is not the request's last
            self._spent.pop(id(previous), None)

    def _end(self, event: AttemptEnd) -> None:
        task = asyncio.current_task()
        first = self._first.get(task)
        if event.error is None or first is None:
            self._first.pop(task, None)
            return
        elapsed = asyncio.get_running_loop().time() - first
        self._last[task] = event.error
        self._spent[id(event.error)] = (event.error, event.attempt, elapsed)

    def pop(self, error: BaseException) -> tuple[int, float] | None:
        """(tries, seconds) of the request that failed with ``error``, once."""
        found = self._spent.pop(id(error), None)
        if found is None or found[0] is not error:
            return None
        for task, last in list(self._last.items()):
            if last is error:
                del self._last[task]
                self._first.pop(task, None)
        return found[1], found[2]


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


def _row_outcome(batch: RowBatch, result: Any, tries: _Tries | None = None) -> RowOutcome:
    if isinstance(result, BaseException):
        return RowOutcome(batch, error=_describe(result, tries))
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


def _array_outcome(
    job: Job, batch: ArrayBatch, result: Any, tries: _Tries | None = None
) -> ArrayOutcome:
    if isinstance(result, BaseException):
        return ArrayOutcome(batch, error=_describe(result, tries))
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


async def predict_job(job: Job, stop: asyncio.Event) -> Summary:
    """Run ``job`` until its input is done or ``stop`` is set; what happened, counted."""
    source: RowSource | ArraySource
    if job.input_format in ARRAY_FORMATS:
        default = "0" if job.kind == "torch" else None
        source = ArraySource(job.input_path, job.input_format, job.inputs, default)
    else:
        source = RowSource(job.input_path, job.input_format)
    summary = Summary(total=source.count())
    batches = source.batches(job.batch_size)
    requests = _Requests(job, batches)
    if isinstance(source, ArraySource):
        _check_arrays(requests, source)
    writer: Writer = open_writer(job.output_path, job.output_format, lambda: source.columns)
    tries = _Tries()
    client = PredictClient(
        job.endpoint,
        job.service,
        token=job.token,
        endpoint_type=_ENDPOINT_TYPES[job.endpoint_type],
        timeout=job.timeout,
        retry=RetryPolicy(max_attempts=job.retries + 1),
        hooks=tries.hooks(),
    )

    async def bisect(batch: RowBatch | ArrayBatch, result: Any) -> list[tuple[Any, Any]]:
        """A batch refused with a 4xx (one bad record fails the whole request) is split in
        halves, each sent again, down to the rows at fault: only they fail. In order."""
        if not _refused(result) or _sent_rows(batch) < 2:
            return [(batch, result)]
        pieces: list[tuple[Any, Any]] = []
        for half in _halves(batch):
            summary.split += 1
            try:
                answer: Any = await client.predict(requests.request(half))
            except EASError as exc:
                answer = exc
            pieces += await bisect(half, answer)
        return pieces

    def record(progress: RowProgress, pieces: list[tuple[Any, Any]]) -> None:
        """Write the answers of one batch (its pieces, when it was split), in order."""
        for piece, answer in pieces:
            outcome: Outcome = (
                _row_outcome(piece, answer, tries)
                if isinstance(piece, RowBatch)
                else _array_outcome(job, piece, answer, tries)
            )
            failed = writer.write(outcome)
            if failed and summary.first_failure is None:
                summary.first_failure = writer.first_failure
            summary.failed += failed
            progress.advance(piece.size, failed)
            summary.rows += piece.size
        summary.batches += 1

    async def consume(progress: RowProgress) -> None:
        fan = client.predict_many(
            iter(requests), concurrency=job.concurrency, return_exceptions=True
        )
        unreachable = 0  # requests in a row that could not connect, every retry spent
        between = True  # not inside a batch's handling: the output is whole up to here
        async with fan:
            try:
                async for result in fan:
                    batch = requests.in_flight.popleft()
                    if _fatal(result):
                        raise result
                    unreachable = unreachable + 1 if isinstance(result, ConnectError) else 0
                    between = False
                    record(progress, await bisect(batch, result))
                    between = True
                    if unreachable >= unreachable_limit(job):
                        raise _UnreachableError(unreachable, result)
            except asyncio.CancelledError:
                # Stopped (Ctrl-C): the answers already back are finished rows, written in
                # order (a batch refused in part is not split now: its rows fail as they
                # are); the requests still out are cancelled on the way out.
                if between:
                    for result in fan.take_done():
                        if isinstance(result, asyncio.CancelledError) or _fatal(result):
                            break
                        record(progress, [(requests.in_flight.popleft(), result)])
                raise

    try:
        async with client:
            with RowProgress(
                summary.total, quiet=job.quiet or _results_on_a_terminal(job)
            ) as progress:
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
        batches.close()  # the input file, closed now whatever stopped the run
        source.close()
        writer.close()
    return summary


def _refused(result: Any) -> bool:
    """A 4xx other than the fatal ones: the service refused what this request carried."""
    return (
        isinstance(result, ServiceError)
        and 400 <= result.status < 500
        and not _fatal(result)
        and result.status not in (408, 429)  # too slow, too many: not the records' fault
    )


def _sent_rows(batch: RowBatch | ArrayBatch) -> int:
    return len(batch.records) if isinstance(batch, RowBatch) else batch.size


def _halves(batch: RowBatch | ArrayBatch) -> list[RowBatch] | list[ArrayBatch]:
    half = batch.size // 2
    if isinstance(batch, RowBatch):
        return [
            RowBatch(batch.first, batch.rows[:half]),
            RowBatch(batch.first + half, batch.rows[half:]),
        ]
    return [
        ArrayBatch(batch.first, half, {k: a[:half] for k, a in batch.arrays.items()}),
        ArrayBatch(
            batch.first + half, batch.size - half, {k: a[half:] for k, a in batch.arrays.items()}
        ),
    ]


def _check_arrays(requests: _Requests, source: ArraySource) -> None:
    """Every batch of an array file has the same dtypes and row shapes: if the first row
    cannot be made into a request, no batch can. A usage error then, before any request
    (it used to be "50 of 50 rows failed (see w.npz)", the reason hidden in the file)."""
    with contextlib.closing(source.batches(1)) as batches:
        first = next(batches, None)
    if first is None:
        return
    request = requests.request(first)
    if isinstance(request, _Unsendable):
        raise UsageError(request.reason)


def unreachable_limit(job: Job) -> int:
    """After this many requests in a row failed to connect (each after its retries), with
    no answer in between, the service is gone and the run stops: every later request would
    only fail the same way, slowly (5,000 rows took ten minutes). Twice the requests in
    flight: the ones caught when it went, and a whole round after."""
    return 2 * job.concurrency


class _UnreachableError(EASError):
    """The run stopped because the service could no longer be reached."""

    def __init__(self, failures: int, last: BaseException) -> None:
        super().__init__(
            f"the service is unreachable: {count(failures, 'request')} in a row could not connect "
            f"(the last: {_describe(last)})"
        )


def _results_on_a_terminal(job: Job) -> bool:
    """Results go to stdout and stdout is a terminal: no bar then. The bar redraws itself
    with cursor movements; lines written to the same screen meanwhile got overwritten or
    spliced (38 of 1,865 rows in a 60-column terminal). The results come first."""
    return job.output_path == "-" and sys.stdout.isatty()


def _stopped_by(error: BaseException | None, summary: Summary) -> BaseException:
    if isinstance(error, EASError):
        left = (
            ""
            if summary.total is None
            else f"; {count(summary.total - summary.rows, 'row')} not done"
        )
        return CLIError(f"stopped after {count(summary.rows, 'row')}: {error}{left}")
    assert error is not None
    return error
