"""The OpenTelemetry SDK's own floor for one instrumented predict, with no client at all.

Run from the repository root::

    .venv/bin/python benchmarks/bench_otel_floor.py            # about 20 s
    .venv/bin/python benchmarks/bench_otel_floor.py --rounds 11 --cpu 1

Issue 12 asks an instrumented predict to cost at most 15 µs more CPU than a plain one.
Whatever aioeas does, an instrumented predict needs the SDK to make one span, one
histogram record and one trace-context injection; this script times exactly those calls,
in their cheapest form, without aioeas in the loop, so it says whether the target is
reachable with the OpenTelemetry SDK at all. Per "call":

* ``span``: ``tracer.start_span`` of a CLIENT span with the seven attributes a gateway
  predict's span has at its start, one ``set_attribute`` (the status code), ``end()``;
* ``record``: one ``http.client.request.duration`` ``histogram.record`` with its five
  attributes (a dict made once), outside any span (so no exemplar);
* ``inject``: ``propagate.inject`` into a fresh dict (W3C ``traceparent``) from a context
  that holds the span;
* ``all``: the three, with the span made current (``context.attach``) and the record
  made in its context (an exemplar offered, as in a predict): the floor of one
  instrumented predict;
* ``all, no exemplars``: the same with the meter provider's
  ``exemplar_filter=AlwaysOffExemplarFilter()``;
* ``all, sampled out``: the same with an ``ALWAYS_OFF`` sampler (the span is not
  recorded; the injection and the measurement are still made).

One call after the other, in a tight loop: the best case (code and data in the caches, no
other live objects for the garbage collector to walk, which stays on). In a client that
does real I/O the same calls cost more (``bench_otel.py --server echo`` and
``bench_overhead.py --otel`` measure them there); this is the least they cost.
Providers: a ``TracerProvider`` with a ``SimpleSpanProcessor`` handing spans to an exporter
that drops them, a ``MeterProvider`` with an ``InMemoryMetricReader``: what
``bench_overhead.py``'s instrumented contender uses. CPU time (``time.process_time``) per
call; contenders alternate within each round, their order rotating; medians and min..max.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind

START_ATTRS = {
    "http.request.method": "POST",
    "aioeas.service": "bench",
    "aioeas.endpoint.mode": "gateway",
    "server.address": "127.0.0.1",
    "server.port": 8080,
    "url.full": "http://127.0.0.1:8080/api/predict/bench",
    "aioeas.attempts": 1,
}
METRIC_ATTRS = {
    "http.request.method": "POST",
    "server.address": "127.0.0.1",
    "server.port": 8080,
    "aioeas.service": "bench",
    "http.response.status_code": 200,
}
NAME = "EAS predict bench"


class Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def providers(sampled: bool = True, exemplars: bool = True) -> tuple[TracerProvider, MeterProvider]:
    tp = TracerProvider() if sampled else TracerProvider(sampler=ALWAYS_OFF)
    tp.add_span_processor(SimpleSpanProcessor(Drop()))
    readers = [InMemoryMetricReader()]
    if exemplars:
        return tp, MeterProvider(metric_readers=readers)
    return tp, MeterProvider(metric_readers=readers, exemplar_filter=AlwaysOffExemplarFilter())


def one_call(
    tp: TracerProvider, mp: MeterProvider
) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    """The SDK calls of one predict: span made current, injection, record in its context."""
    tracer = tp.get_tracer("floor")
    histogram = mp.get_meter("floor").create_histogram("http.client.request.duration", unit="s")
    kind = SpanKind.CLIENT

    def begin() -> Any:
        span = tracer.start_span(NAME, kind=kind, attributes=START_ATTRS)
        ctx = trace.set_span_in_context(span)
        token = context.attach(ctx)
        propagate.inject({}, context=ctx)
        context.detach(token)  # (a task's context in a predict: here, one at a time)
        return span, ctx, time.perf_counter()

    def end(held: Any) -> None:
        span, ctx, start = held
        # in the span's context, as in a predict: the SDK offers the measurement to its
        # exemplar reservoir (the default filter keeps those of sampled spans)
        histogram.record(time.perf_counter() - start, METRIC_ATTRS, context=ctx)
        span.set_attribute("http.response.status_code", 200)
        span.end()

    return begin, end


def steps() -> dict[str, tuple[Callable[[], Any], Callable[[Any], None]]]:
    """name -> (begin a call: what it holds while in flight, end it)."""
    tp, mp = providers()
    tracer = tp.get_tracer("floor")
    histogram = mp.get_meter("floor").create_histogram("http.client.request.duration", unit="s")
    kind = SpanKind.CLIENT

    def span_begin() -> Any:
        return tracer.start_span(NAME, kind=kind, attributes=START_ATTRS)

    def span_end(span: Any) -> None:
        span.set_attribute("http.response.status_code", 200)
        span.end()

    def record_begin() -> Any:
        return time.perf_counter()

    def record_end(start: Any) -> None:
        histogram.record(time.perf_counter() - start, METRIC_ATTRS)

    span_in = trace.set_span_in_context(tracer.start_span("parent"))

    def inject_begin() -> Any:
        propagate.inject({}, context=span_in)

    return {
        "nothing": (lambda: None, lambda _: None),
        "span": (span_begin, span_end),
        "record": (record_begin, record_end),
        "inject": (inject_begin, lambda _: None),
        "all": one_call(tp, mp),
        "all, no exemplars": one_call(*providers(exemplars=False)),
        "all, sampled out": one_call(*providers(sampled=False)),
    }


def per_call(begin: Callable[[], Any], end: Callable[[Any], None], calls: int) -> float:
    """CPU µs per call."""
    gc.collect()
    start = time.process_time()
    for _ in range(calls):
        end(begin())
    return (time.process_time() - start) / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--cpu", type=int, help="pin this process to one CPU")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    table = steps()
    names = list(table)
    for name in names:  # warm-up
        per_call(*table[name], args.calls // 5)
    results: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(per_call(*table[name], args.calls))
    print(
        f"OpenTelemetry SDK floor: CPU per call, {args.rounds} rounds of {args.calls} calls; "
        f"Python {platform.python_version()}, opentelemetry-sdk {version('opentelemetry-sdk')}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print("| per call | median | min .. max |")
    print("|---|---|---|")
    base = statistics.median(results["nothing"])
    for name in names[1:]:
        xs = results[name]
        print(
            f"| {name} | {statistics.median(xs) - base:.1f} µs "
            f"| {min(xs) - base:.1f} .. {max(xs) - base:.1f} µs |"
        )
    print(f"(the loop alone, {base:.2f} µs a call, is subtracted)")


if __name__ == "__main__":
    main()
