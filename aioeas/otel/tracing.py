"""``OtelInstrument``: the OpenTelemetry side of ``aioeas.client.telemetry``'s seam, its
predict half (``aioeas.otel.predict``) and its queue half (``aioeas.otel.queue``) over one
tracer and one set of instruments."""

from __future__ import annotations

from opentelemetry.trace import Tracer

from aioeas.otel.metrics import Instruments
from aioeas.otel.predict import PredictTracing
from aioeas.otel.queue import QueueTracing, extract_context

__all__ = ["OtelInstrument", "extract_context"]


class OtelInstrument(PredictTracing, QueueTracing):
    """Implements ``aioeas.client.telemetry.Instrument`` with a tracer and instruments."""

    def __init__(self, tracer: Tracer, instruments: Instruments) -> None:
        self._tracer = tracer
        self._m = instruments
        self._places = {}

    def close(self) -> None:
        """Stop reporting what is read at collection time (watchers, requests)."""
        self._m.watchers.clear()
        self._m.active.clear()
