"""OpenTelemetry for aioeas (the ``otel`` extra): traces and metrics of predicts, retries,
discovery, queue puts, watchers and asynchronous inference.

    from aioeas.otel import AioeasInstrumentor
    AioeasInstrumentor().instrument(tracer_provider=provider, meter_provider=meters)

or ``opentelemetry-instrument python app.py``, which finds it through the
``opentelemetry_instrumentor`` entry point. ``import aioeas`` never imports this package
nor OpenTelemetry. Names and attributes: the observability guide and ``aioeas.otel.names``.
"""

from aioeas.otel.instrumentor import AioeasInstrumentor
from aioeas.otel.names import TRACE_TAGS
from aioeas.otel.tracing import extract_context

__all__ = ["TRACE_TAGS", "AioeasInstrumentor", "extract_context"]
