"""``AioeasInstrumentor``: OpenTelemetry's instrumentor form for aioeas.

``instrument()`` installs an ``OtelInstrument`` in the library's one telemetry slot
(``aioeas.client.telemetry.active``); ``uninstrument()`` empties it, after which the
library is back to one ``is None`` check per call. Nothing is patched or wrapped.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import metrics, trace

# the module says `# type: ignore` at its top, so mypy sees nothing in it
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from aioeas import __version__
from aioeas.client import telemetry
from aioeas.otel.metrics import Instruments
from aioeas.otel.tracing import OtelInstrument

__all__ = ["AioeasInstrumentor"]

#: The OpenTelemetry semantic conventions the names follow (HTTP: stable ones).
SCHEMA_URL = "https://opentelemetry.io/schemas/1.28.0"


class AioeasInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # untyped base
    """Traces and metrics of every ``PredictClient``, ``QueueClient``, ``Watcher`` and
    ``AsyncInference`` of the process::

        AioeasInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
        ...
        AioeasInstrumentor().uninstrument()

    Without providers the global ones are used (what ``opentelemetry-instrument`` sets
    up). Like every instrumentor it is one object per process (``BaseInstrumentor``
    makes it a singleton), and ``instrument()`` twice warns and does nothing.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """None to check: the instrumented library is the one this ships in, so it is
        there, at the same version. (Naming ``aioeas`` would make ``instrument()`` look
        for its installed metadata and quietly do nothing when aioeas runs from a source
        tree on ``PYTHONPATH``.)"""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(
            "aioeas",
            __version__,
            tracer_provider=kwargs.get("tracer_provider"),
            schema_url=SCHEMA_URL,
        )
        meter = metrics.get_meter(
            "aioeas",
            __version__,
            meter_provider=kwargs.get("meter_provider"),
            schema_url=SCHEMA_URL,
        )
        instrument = OtelInstrument(tracer, Instruments(meter))
        self._aioeas_instrument: OtelInstrument | None = instrument
        telemetry.install(instrument)

    def _uninstrument(self, **kwargs: Any) -> None:
        instrument: OtelInstrument | None = getattr(self, "_aioeas_instrument", None)
        if instrument is not None:
            telemetry.uninstall(instrument)
            instrument.close()
            self._aioeas_instrument = None
