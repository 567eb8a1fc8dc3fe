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
  attributes (a dict made once);
* ``inject``: ``propagate.inject`` into a fresh dict (W3C ``traceparent``) from a context
  that holds the span;
* ``all``: the three, with the span made current (``context.attach``) around them: the
  floor of one instrumented predict.

Each is run two ways: ``x1``, one call after the other (what ``bench_otel.py``'s fake
transport sees), and ``x64``: 64 calls in flight, their spans open together and ended in
turn, with 64 dicts of 100 small objects held per call standing in for a request's live
state (aiohttp's response, buffers, futures), which every garbage collection walks. The
garbage collector stays on (spans make garbage, and collecting it is part of their cost).
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
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
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
IN_FLIGHT = 64


class Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def steps() -> dict[str, tuple[Callable[[], Any], Callable[[Any], None]]]:
    """name -> (begin a call: what it holds while in flight, end it)."""
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(Drop()))
    tracer = tp.get_tracer("floor")
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
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

    def all_begin() -> Any:
        span = tracer.start_span(NAME, kind=kind, attributes=START_ATTRS)
        ctx = trace.set_span_in_context(span)
        token = context.attach(ctx)
        propagate.inject({}, context=ctx)
        context.detach(token)  # (a task's context in a predict: here, one at a time)
        return span, time.perf_counter()

    def all_end(held: Any) -> None:
        span, start = held
        histogram.record(time.perf_counter() - start, METRIC_ATTRS)
        span.set_attribute("http.response.status_code", 200)
        span.end()

    return {
        "nothing": (lambda: None, lambda _: None),
        "span": (span_begin, span_end),
        "record": (record_begin, record_end),
        "inject": (inject_begin, lambda _: None),
        "all": (all_begin, all_end),
    }


def per_call(
    begin: Callable[[], Any], end: Callable[[Any], None], calls: int, flight: int
) -> float:
    """CPU µs per call, ``flight`` calls open at once (each with its stand-in state)."""
    ring: list[Any] = [None] * flight
    gc.collect()
    start = time.process_time()
    for i in range(calls):
        slot = i % flight
        held = ring[slot]
        if held is not None:
            end(held[0])
        ring[slot] = (begin(), {j: [j] for j in range(100)} if flight > 1 else None)
    for held in ring:
        if held is not None:
            end(held[0])
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
    cases = [(name, flight) for flight in (1, IN_FLIGHT) for name in table]
    for name, flight in cases:  # warm-up
        per_call(*table[name], args.calls // 5, flight)
    results: dict[tuple[str, int], list[float]] = {case: [] for case in cases}
    for r in range(args.rounds):
        shift = r % len(cases)
        for name, flight in cases[shift:] + cases[:shift]:
            results[name, flight].append(per_call(*table[name], args.calls, flight))
    print(
        f"OpenTelemetry SDK floor: CPU per call, {args.rounds} rounds of {args.calls} calls; "
        f"Python {platform.python_version()}, opentelemetry-sdk {version('opentelemetry-sdk')}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print("| per call | one at a time | 64 in flight |")
    print("|---|---|---|")
    base = {f: statistics.median(results["nothing", f]) for f in (1, IN_FLIGHT)}
    for name in table:
        if name == "nothing":
            continue
        cells = []
        for flight in (1, IN_FLIGHT):
            xs = results[name, flight]
            med = statistics.median(xs) - base[flight]
            lo, hi = min(xs) - base[flight], max(xs) - base[flight]
            cells.append(f"{med:.1f} µs ({lo:.1f} .. {hi:.1f})")
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print(
        f"(the loop alone, subtracted: {base[1]:.2f} µs one at a time, {base[IN_FLIGHT]:.2f} µs "
        "with 64 in flight and their stand-in state)"
    )


if __name__ == "__main__":
    main()
