"""An instrumented aioeas for each test, with the SDK's in-memory span exporter and metric
reader passed to ``instrument()`` explicitly: no global provider is set, and the
instrumentation is removed after each test (the slot is checked empty)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aioeas.client import telemetry
from aioeas.otel import AioeasInstrumentor


@dataclass
class Otel:
    """What a test reads: the spans ended so far, the metrics collected now."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        got = list(self.exporter.get_finished_spans())
        return [s for s in got if name is None or s.name == name]

    def metrics(self) -> dict[str, list[Any]]:
        """Every metric's data points by name (one collection)."""
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out


def points(metrics: dict[str, list[Any]], name: str, **attrs: object) -> Sequence[Any]:
    """The data points of ``name`` whose attributes include ``attrs`` (dots as ``__``)."""
    want = {k.replace("__", "."): v for k, v in attrs.items()}
    return [
        p for p in metrics.get(name, []) if all(p.attributes.get(k) == v for k, v in want.items())
    ]


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = AioeasInstrumentor()
    assert telemetry.active is None
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    assert telemetry.active is not None
    try:
        yield Otel(exporter, reader, tracer_provider, meter_provider)
    finally:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        assert telemetry.active is None
        tracer_provider.shutdown()
        meter_provider.shutdown()
