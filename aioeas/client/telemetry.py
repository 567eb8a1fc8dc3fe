"""The instrumentation seam: one module-level slot, empty unless a tracer is installed.

The library calls into ``active`` at a few points (a predict and each of its tries,
a discovery refresh, a queue put, a watcher's hand-out, commit and reconnection, an
``AsyncInference.submit``), always behind ``if active is not None``: when nothing is
installed, that one check is the whole cost, and no tracing library is imported.

``aioeas.otel.AioeasInstrumentor`` installs an OpenTelemetry implementation here and
removes it on ``uninstrument()``; anything else that implements ``Instrument`` may too
(one at a time).

A predict asks ``active.call(...)`` for a ``CallTrace`` and reports its tries and its end
to that object, which the client hands along itself (no context variable to set and
reset, no wrapping coroutine): so a traced predict takes the same fast first try as an
untraced one.

The calls hand over values the library has anyway; an implementation must not keep them
beyond what it reports (they include request headers, whose credentials it must not
record). Its failures are its own: it must not raise into a predict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from aioeas.client.endpoints import EndpointSpec

__all__ = ["CallTrace", "Instrument", "active", "install", "traced", "uninstall"]

T = TypeVar("T")


class CallTrace(Protocol):
    """One predict, as it goes: its tries, then its end (called once, whatever happens)."""

    def attempt(
        self, attempt: int, url: str, backend: str | None, headers: MutableMapping[str, str]
    ) -> None:
        """A try is about to be sent to ``url`` (no query) with ``headers``, which may be
        added to (trace context); the signature is made already and does not cover them."""
        ...

    def attempt_end(self, status: int | None, error: BaseException | None) -> None:
        """The try begun last ended: ``status`` of the answer, ``error`` it raised (nothing
        when no try is open)."""
        ...

    def end(self, error: BaseException | None) -> None:
        """The call ended, answered or with ``error`` (a try still open ends with it)."""
        ...


class Instrument(Protocol):
    """What the library reports, and where it lets trace context into a request."""

    def call(self, service: str, spec: EndpointSpec | None) -> CallTrace:
        """A predict of ``service`` begins (before its first try)."""
        ...

    def discovered(self, service: str, backends: int, ok: bool) -> None:
        """A discovery refresh ended: ``backends`` in rotation after it."""
        ...

    def queue_put(
        self,
        queue: str,
        tags: dict[str, str],
        send: Callable[[dict[str, str]], Coroutine[Any, Any, T]],
    ) -> Awaitable[T]:
        """Run ``send(tags)`` (one put), traced; the tags may be added to (trace context)."""
        ...

    def submit(self, queue: str, send: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run ``send`` (one ``AsyncInference.submit``: put to result), traced."""
        ...

    def watching(self, watcher: Any) -> None:
        """A watcher started (its ``in_hand`` may be read until it closes)."""
        ...

    def received(self, watcher: Any, record: Any) -> None:
        """A watcher handed ``record`` (a ``QueueRecord``) to its consumer."""
        ...

    def committed(
        self, watcher: Any, records: int, seconds: float, error: BaseException | None
    ) -> None:
        """A commit request of ``records`` records ended after ``seconds``."""
        ...

    def reconnected(self, watcher: Any) -> None:
        """A watcher's connection was lost and made again."""
        ...


async def traced(send: Coroutine[Any, Any, T], call: CallTrace) -> T:
    """Await ``send`` (the tries of one call) and end ``call`` with how it went."""
    try:
        answer = await send
    except BaseException as exc:
        call.end(exc)
        raise
    call.end(None)
    return answer


#: The installed instrument, or ``None`` (the library reads it at each call).
active: Instrument | None = None


def install(instrument: Instrument) -> None:
    """Put ``instrument`` in the slot (replacing any other)."""
    global active
    active = instrument


def uninstall(instrument: Instrument | None = None) -> None:
    """Empty the slot (only if it holds ``instrument``, when given)."""
    global active
    if instrument is None or active is instrument:
        active = None
