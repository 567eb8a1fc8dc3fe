"""What OpenTelemetry instrumentation costs a predict: client CPU per call, with and without.

Run from the repository root::

    .venv/bin/python benchmarks/bench_otel.py               # about 40 s
    .venv/bin/python benchmarks/bench_otel.py --rounds 11 --calls 10000
    .venv/bin/python benchmarks/bench_otel.py --profile     # + cProfile of the instrumented loop

The predict goes through a fake transport that answers 200 with the request body at once
(no socket, no server), so what is timed is the client's own CPU: a 100 B ``StringRequest``
to a gateway endpoint with a token (each try HMAC-signed), one try per call, one call at a
time. CPU time (``time.process_time``, every thread of the process: a batch processor's
export thread counts) per call, over ``--calls`` calls a round; the garbage collector stays
on (spans make garbage, and collecting it is part of their cost).

Contenders, one after another within each round, their order rotating round by round (the
machine may be shared: contenders compared within a run see the same load):

* ``off``: not instrumented;
* ``bare span``: ``off`` plus one ``tracer.start_span("x").end()`` a call (no attributes):
  the cheapest recording span the SDK makes;
* ``SDK floor``: ``off`` plus, written out by hand, the SDK calls the instrumentation needs
  for a call, in their cheapest form: one CLIENT span with the same attributes (seven at
  start, the status code at the end), made current around the call, one ``propagate.inject`` into a dict, one
  ``http.client.request.duration`` measurement with the same five attributes;
* ``instrumented``: ``AioeasInstrumentor().instrument(...)``;
* ``SDK floor, unsampled`` and ``instrumented, unsampled``: the same with an ``ALWAYS_OFF``
  sampler (a call still propagates its trace context and records its metrics; its spans
  are not recorded);
* ``instrumented, no-op providers``: instrumented with the API's no-op tracer and meter
  providers: what is left is aioeas's own code (and the API's no-op calls).

Providers: a ``TracerProvider`` whose span processor sends to an exporter that does nothing
(``--processor batch``, the default: ``BatchSpanProcessor``, what a service runs; or
``simple``: ``SimpleSpanProcessor``, which exports on the caller's thread), and a
``MeterProvider`` with an ``InMemoryMetricReader`` (every measurement is aggregated; none is
exported). The table gives the median and min..max over the rounds, and each contender's
median minus ``off``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import platform
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import Histogram, NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import NoOpTracerProvider, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from aioeas import PredictClient, StringRequest, Timeout
from aioeas.client.transport import HTTPResponse
from aioeas.otel import AioeasInstrumentor
from aioeas.otel import names as n

URL = "http://127.0.0.1:8080"
SERVICE = "bench"


class EchoTransport:
    """Answers every request at once with its own body (``aioeas.client.transport``'s
    interface)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        return HTTPResponse(200, body or b"", {})

    async def close(self) -> None:
        pass


class NoOpExporter(SpanExporter):
    """Takes the spans and drops them: what is left is the SDK's own cost."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def providers(processor: str, sampled: bool = True) -> tuple[TracerProvider, MeterProvider]:
    tracer_provider = TracerProvider() if sampled else TracerProvider(sampler=ALWAYS_OFF)
    exporter = NoOpExporter()
    tracer_provider.add_span_processor(
        BatchSpanProcessor(exporter) if processor == "batch" else SimpleSpanProcessor(exporter)
    )
    return tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()])


Call = Callable[[], Awaitable[Any]]


def contenders(
    client: PredictClient, processor: str
) -> dict[str, tuple[Call, Callable[[], None], Callable[[], None]]]:
    """name -> (one call, set up before a round, tear down after it)."""
    req = StringRequest("x" * 100)
    tp, mp = providers(processor)
    tracer = tp.get_tracer("bench")
    histogram = mp.get_meter("bench").create_histogram(n.HTTP_CLIENT_REQUEST_DURATION, unit="s")
    unsampled = providers(processor, sampled=False)
    unsampled_tracer = unsampled[0].get_tracer("bench")
    unsampled_histogram = (
        unsampled[1].get_meter("bench").create_histogram(n.HTTP_CLIENT_REQUEST_DURATION, unit="s")
    )
    nothing = lambda: None  # noqa: E731
    instrumentor = AioeasInstrumentor()

    async def off() -> Any:
        return await client.predict(req)

    async def bare_span() -> Any:
        tracer.start_span("x").end()
        return await client.predict(req)

    start_attrs: dict[str, AttributeValue] = {
        n.HTTP_REQUEST_METHOD: "POST",
        n.SERVICE: SERVICE,
        n.ENDPOINT_MODE: "gateway",
        n.SERVER_ADDRESS: "127.0.0.1",
        n.SERVER_PORT: 8080,
        n.URL_FULL: f"{URL}/api/predict/{SERVICE}",
        n.ATTEMPTS: 1,
    }
    metric_attrs: dict[str, AttributeValue] = {
        n.HTTP_REQUEST_METHOD: "POST",
        n.SERVER_ADDRESS: "127.0.0.1",
        n.SERVER_PORT: 8080,
        n.SERVICE: SERVICE,
        n.HTTP_RESPONSE_STATUS_CODE: 200,
    }

    def floor(tracer: Tracer, histogram: Histogram) -> Call:
        async def call() -> Any:
            span = tracer.start_span(
                f"EAS predict {SERVICE}", kind=SpanKind.CLIENT, attributes=start_attrs
            )
            token = otel_context.attach(trace.set_span_in_context(span))
            try:
                propagate.inject({})
                start = time.perf_counter()
                answer = await client.predict(req)
                histogram.record(time.perf_counter() - start, metric_attrs)
            finally:
                otel_context.detach(token)
            span.set_attribute(n.HTTP_RESPONSE_STATUS_CODE, 200)
            span.end()
            return answer

        return call

    noop = (NoOpTracerProvider(), NoOpMeterProvider())

    def instrument(tp: Any, mp: Any) -> Callable[[], None]:
        return lambda: instrumentor.instrument(tracer_provider=tp, meter_provider=mp)

    return {
        "off": (off, nothing, nothing),
        "bare span": (bare_span, nothing, nothing),
        "SDK floor": (floor(tracer, histogram), nothing, nothing),
        "instrumented": (off, instrument(tp, mp), instrumentor.uninstrument),
        "SDK floor, unsampled": (floor(unsampled_tracer, unsampled_histogram), nothing, nothing),
        "instrumented, unsampled": (off, instrument(*unsampled), instrumentor.uninstrument),
        "instrumented, no-op providers": (off, instrument(*noop), instrumentor.uninstrument),
    }


async def cpu_per_call(call: Call, calls: int) -> float:
    """CPU seconds per call over ``calls`` calls."""
    gc.collect()
    start = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - start) / calls


async def run(args: argparse.Namespace) -> dict[str, list[float]]:
    async with PredictClient(URL, SERVICE, token="bench-token", transport=EchoTransport()) as c:
        table = contenders(c, args.processor)
        names = list(table)
        for call, setup, teardown in table.values():  # warm-up
            setup()
            try:
                await cpu_per_call(call, args.calls // 5)
            finally:
                teardown()
        results: dict[str, list[float]] = {name: [] for name in names}
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                call, setup, teardown = table[name]
                setup()
                try:
                    results[name].append(await cpu_per_call(call, args.calls) * 1e6)
                finally:
                    teardown()
        if args.profile:
            call, setup, teardown = table["instrumented"]
            setup()
            profile = cProfile.Profile()
            try:
                profile.enable()
                for _ in range(args.calls):
                    await call()
                profile.disable()
            finally:
                teardown()
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    results = asyncio.run(run(args))
    base = statistics.median(results["off"])
    print(
        f"CPU per predict, {args.rounds} rounds of {args.calls} calls, {args.processor} span "
        f"processor; Python {platform.python_version()}, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print("| contender | median | min .. max | median - off |")
    print("|---|---|---|---|")
    for name, samples in results.items():
        med = statistics.median(samples)
        print(
            f"| {name} | {med:.1f} us | {min(samples):.1f} .. {max(samples):.1f} us "
            f"| {med - base:+.1f} us |"
        )


if __name__ == "__main__":
    main()
