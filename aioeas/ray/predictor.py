"""``Predictor``: a callable class for ``Dataset.map_batches`` that predicts every row.

Ray Data makes one instance per actor of the pool and, because ``__call__`` is an async
generator, runs it on an event loop of the actor's own (a thread Ray starts for async
UDFs), several batches at once. So the instance keeps one ``PredictClient`` for the
actor's life: opened on that loop by the first batch, closed when Ray lets the actor go
(``__del__``, which Ray's graceful shutdown triggers) or by ``close()``. Every batch's
requests go through one semaphore of ``concurrency`` slots: the limit is per actor,
whatever number of batches Ray runs at once.

A batch becomes requests (``aioeas.ray.requests``), the answers become columns appended to
the batch, in its format and row order: for string services a ``result`` column with each
row's answer as JSON text, for tensor services one column per output; and an ``error``
column, None where the row was answered. With ``on_error="raise"`` the first failure
raises instead. A rejected token (401/403) or an unknown service (404) always raises:
every later row would fail the same way.
"""

from __future__ import annotations

import asyncio
import json
import ssl as _ssl
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from aioeas.errors import AuthError, EASError, ServiceError, UsageError
from aioeas.ray import batches as fmt
from aioeas.ray.requests import KINDS, Unit, build_units, outputs_of, split_outputs

__all__ = ["Predictor"]

_ON_ERROR = ("column", "raise")
#: ``PredictClient`` keywords that cannot travel to an actor as they are.
_NOT_SHIPPABLE = {
    "session": "an aiohttp session belongs to the event loop that made it; each actor opens its own",
}


class Predictor:
    """Predict every row of a Ray Data batch through an EAS service; see the module doc.

    ``ds.map_batches(Predictor, fn_constructor_kwargs={...},
    compute=ray.data.ActorPoolStrategy(size=2))`` (or ``aioeas.ray.predict(ds, ...)``,
    which checks the arguments in the driver first). Ray makes one per actor.

    Arguments: ``endpoint``, ``service_name``, ``custom_url`` and every other
    ``PredictClient`` keyword (``token``, ``endpoint_type``, ``timeout``, ``retry``,
    ``pool``, ``discovery``, ``headers``, ``content_type``, ``compression``, ``hooks``,
    ``env``...); ``ssl`` may be a function that makes the ``SSLContext``, called on the
    actor (a context cannot be pickled). Then:

    - ``kind``: ``string`` (JSON records), ``tf``, ``torch`` or ``blade``.
    - ``columns`` (string): the columns a record is made of (default: all); ``record``: a
      function from a row (dict) to what is sent for it instead (made JSON-ready as
      ``StringRequest.from_records`` does).
    - ``json_column`` (string): a column whose cells are each row's record already as
      JSON text (made once by a reader, as ``aioeas predict --ray``'s are): sent as it
      is, ``rows_per_request`` of them as a JSON list; no conversion on the actor.
      ``unread_column``: a column of reasons rows could not be read (None for the rest):
      such a row is not sent and gets its reason as its error. Both columns are left out
      of the output (they were made for the requests).
    - ``rows_per_request``: ``None`` sends each row alone (a string service gets the
      record itself); ``N`` sends up to N rows at once (a JSON list of records; tensors
      stacked along axis 0), and the answer is split back into rows. A request refused
      with a 4xx is split in halves until only the rows at fault fail.
    - ``inputs`` (tensors): ``{input name: column}`` (PyTorch: ``{index: column}``);
      ``outputs``: the outputs to fetch (default: all the service answers); ``signature``.
    - ``result_column``, ``output_prefix``, ``error_column``: names of the new columns.
    - ``on_error``: ``column`` (default) or ``raise``. ``concurrency``: requests in flight
      per actor.
    """

    def __init__(
        self,
        endpoint: str = "",
        service_name: str = "",
        custom_url: str = "",
        *,
        kind: str = "string",
        columns: Sequence[str] | None = None,
        record: Callable[[dict[str, Any]], Any] | None = None,
        json_column: str | None = None,
        unread_column: str | None = None,
        rows_per_request: int | None = None,
        inputs: Mapping[Any, str] | None = None,
        outputs: Sequence[Any] | None = None,
        signature: str | None = None,
        result_column: str = "result",
        output_prefix: str = "",
        error_column: str = "error",
        on_error: str = "column",
        concurrency: int = 16,
        **client_options: Any,
    ) -> None:
        from aioeas.client import PredictClient

        if kind not in KINDS:
            raise UsageError(f"kind is one of {', '.join(KINDS)}, got {kind!r}")
        if on_error not in _ON_ERROR:
            raise UsageError(f"on_error is 'column' or 'raise', got {on_error!r}")
        _check_count("concurrency", concurrency)
        if rows_per_request is not None:
            _check_count("rows_per_request", rows_per_request)
        if kind == "string":
            if inputs or outputs or signature:
                raise UsageError("inputs, outputs and signature are for tensor services")
        else:
            if columns is not None or record is not None or json_column is not None:
                raise UsageError(
                    "columns and record are for string services (kind='string'), "
                    "and so is json_column"
                )
            if not inputs:
                raise UsageError(f"a {kind} service needs inputs={{input: column}}")
        if json_column is not None and (columns is not None or record is not None):
            raise UsageError("json_column holds the records: columns and record do not apply")
        if unread_column is not None and json_column is None:
            raise UsageError("unread_column goes with json_column (the rows a reader made)")
        for name in ("json_column", "unread_column"):
            value = locals()[name]
            if value is not None and (not isinstance(value, str) or not value):
                raise UsageError(f"{name} must be a non-empty str, got {value!r}")
        if record is not None and not callable(record):
            raise UsageError(f"record is a function of a row, got {type(record).__name__}")
        for name in ("result_column", "error_column"):
            value = locals()[name]
            if not isinstance(value, str) or not value:
                raise UsageError(f"{name} must be a non-empty str, got {value!r}")
        if result_column == error_column:
            raise UsageError(f"result_column and error_column are both {error_column!r}")
        for key, why in _NOT_SHIPPABLE.items():
            if key in client_options:
                raise UsageError(f"{key} cannot be passed to a Ray actor: {why}")
        maker = client_options.get("ssl")
        if maker is not None and not isinstance(maker, _ssl.SSLContext):
            if not callable(maker):
                raise UsageError("ssl is an ssl.SSLContext or a function that makes one")
            client_options["ssl"] = maker()
        self.kind = kind
        self.columns = None if columns is None else [str(c) for c in columns]
        self.record = record
        self.json_column = json_column
        self.unread_column = unread_column
        self.rows_per_request = rows_per_request
        self.inputs = dict(inputs or {})
        self.outputs = list(outputs or [])
        self.signature = signature
        self.result_column = result_column
        self.output_prefix = output_prefix
        self.error_column = error_column
        self.on_error = on_error
        self.concurrency = concurrency
        try:
            # Made here, so that a bad option fails now and in the driver; it opens (a
            # session, bound to the running loop) with the first batch, on Ray's loop.
            self._client = PredictClient(endpoint, service_name, custom_url, **client_options)
        except TypeError as exc:
            raise UsageError(f"not a PredictClient option: {exc}") from None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Predictor {self.kind} {self._client!r}>"

    # -- the actor's client ------------------------------------------------------------

    async def _open(self) -> asyncio.Semaphore:
        """The client opened on this loop (once: Ray starts several batches at once)."""
        if self._slots is None:
            loop = asyncio.get_running_loop()
            with self._lock:
                if self._loop is not None and self._loop is not loop:
                    raise UsageError("a Predictor serves one event loop (one actor's)")
                self._loop = loop
                self._slots = asyncio.Semaphore(self.concurrency)
            await self._client.init()
        return self._slots

    async def aclose(self) -> None:
        """Close the client (on its loop). Idempotent."""
        await self._client.close()

    def close(self) -> None:
        """Close the client from any thread: on its own loop, waited for when that loop
        runs in another thread (Ray's), scheduled when called from the loop itself."""
        loop = self._loop
        if loop is None or self._client.closed:
            return
        if loop.is_closed() or not loop.is_running():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(self.aclose())
            return
        future = asyncio.run_coroutine_threadsafe(self.aclose(), loop)
        try:
            future.result(timeout=30)
        except Exception:  # closing at the actor's end: nothing left to report to
            future.cancel()

    def __del__(self) -> None:
        # Ray's graceful actor shutdown drops the UDF instance: the client goes with it.
        if getattr(self, "_client", None) is not None:
            self.close()

    # -- a batch -----------------------------------------------------------------------

    async def __call__(self, batch: Any) -> AsyncIterator[Any]:
        """The batch with the new columns: one yield per batch, rows in order."""
        kind = fmt.batch_format(batch)
        n = fmt.num_rows(batch, kind)
        slots = await self._open()
        units = build_units(self, batch, kind, n)
        tasks = [asyncio.ensure_future(self._answer(slots, unit)) for unit in units]
        try:
            answers = await asyncio.gather(*tasks)
        except BaseException:
            # a failure that stops the batch (a rejected token, on_error="raise" is later):
            # the batch's other requests are not left running on the actor's loop
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        made = [c for c in (self.json_column, self.unread_column) if c is not None]
        answered = self._columns(n, [p for a in answers for p in a])
        yield fmt.with_columns(batch, kind, answered, drop=made)

    async def _answer(self, slots: asyncio.Semaphore, unit: Unit) -> list[tuple[Unit, Any]]:
        """``unit``'s answer, or its pieces' when a refused request was split."""
        if unit.request is None:
            return [(unit, UsageError(unit.error or "cannot be sent"))]
        async with slots:
            try:
                answer: Any = await self._client.predict(unit.request)
            except EASError as exc:
                answer = exc
        if _fatal(answer):
            raise answer
        if _refused(answer) and len(unit.rows) > 1:
            pieces: list[tuple[Unit, Any]] = []
            for half in unit.halves(self):
                pieces += await self._answer(slots, half)
            return pieces
        return [(unit, answer)]

    def _columns(self, n: int, answered: list[tuple[Unit, Any]]) -> dict[str, Any]:
        errors: list[str | None] = [None] * n
        if self.kind == "string":
            results: list[str | None] = [None] * n
            for unit, answer in answered:
                texts = _string_results(unit, answer)
                for row, text in zip(unit.rows, texts, strict=True):
                    if isinstance(text, _Failed):
                        errors[row] = text.reason
                    else:
                        results[row] = text
            self._raise_first(errors)
            return {self.result_column: results, self.error_column: errors}
        per_row: dict[str, list[Any]] = {}
        for unit, answer in answered:
            if isinstance(answer, BaseException):
                for row in unit.rows:
                    errors[row] = _describe(answer)
                continue
            outputs = outputs_of(self, answer)
            split, reason = split_outputs(outputs, len(unit.rows))
            for row_index, row in enumerate(unit.rows):
                if reason is not None:
                    errors[row] = reason
                    continue
                for name, array in split.items():
                    per_row.setdefault(name, [None] * n)[row] = array[row_index]
        self._raise_first(errors)
        columns: dict[str, Any] = {
            self.output_prefix + name: _stack(values) for name, values in per_row.items()
        }
        columns[self.error_column] = errors
        return columns

    def _raise_first(self, errors: list[str | None]) -> None:
        if self.on_error == "raise":
            for row, error in enumerate(errors):
                if error is not None:
                    raise RowError(f"row {row} of the batch: {error}")


class RowError(EASError):
    """``on_error="raise"``: a row failed; the message names it and says why."""


class _Failed:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be an int >= 1, got {value!r}")


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _fatal(answer: Any) -> bool:
    """Failures every later row would repeat: a rejected token, an unknown service."""
    return isinstance(answer, AuthError) or (
        isinstance(answer, ServiceError) and answer.status == 404
    )


def _refused(answer: Any) -> bool:
    """A 4xx that is about what the request carried (not 408 too slow, 429 too many)."""
    return (
        isinstance(answer, ServiceError)
        and 400 <= answer.status < 500
        and answer.status not in (408, 429)
    )


def _string_results(unit: Unit, answer: Any) -> list[str | _Failed]:
    """One JSON text per row of ``unit``: a list answer with an item per row is split; a
    single row's answer is that row's whole; anything else fails the rows, saying why."""
    if isinstance(answer, BaseException):
        return [_Failed(_describe(answer))] * len(unit.rows)
    try:
        value = answer.json()
    except EASError:
        if not unit.as_list or len(unit.rows) == 1:
            return [answer.text] * len(unit.rows)
        value = None
    if unit.as_list and isinstance(value, list) and len(value) == len(unit.rows):
        return [_dumps(item) for item in value]
    if len(unit.rows) == 1:
        return [_dumps(value)]
    return [
        _Failed(
            f"the answer to {len(unit.rows)} rows is not a list of as many results "
            "(send one row per request: rows_per_request=None)"
        )
    ] * len(unit.rows)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _stack(values: list[Any]) -> npt.NDArray[Any]:
    """Rows of one output as an array; a failed row (None) is zeros (NaN for floats)."""
    present = [v for v in values if v is not None]
    first = np.asarray(present[0])
    if any(np.shape(v) != first.shape for v in present):
        out = np.empty(len(values), dtype=object)
        out[:] = [None if v is None else np.asarray(v) for v in values]
        return out
    fill = np.zeros(first.shape, first.dtype)
    if np.issubdtype(first.dtype, np.floating):
        fill = np.full(first.shape, np.nan, first.dtype)
    return np.stack([fill if v is None else np.asarray(v) for v in values])
