"""What OpenTelemetry instrumentation costs a predict: client CPU per call, with and without.

Run from the repository root::

    .venv/bin/python benchmarks/bench_otel.py               # about 40 s
    .venv/bin/python benchmarks/bench_otel.py --rounds 11 --calls 10000
    .venv/bin/python benchmarks/bench_otel.py --profile     # + cProfile of the instrumented loop
    .venv/bin/python benchmarks/bench_otel.py --server echo --processor simple   # real socket

By default the predict goes through a fake transport that answers 200 with the request
body at once (no socket, no server), so what is timed is the client's own CPU: a 100 B
``StringRequest`` to a gateway endpoint with a token (each try HMAC-signed), one try per
call, one call at a time. ``--server echo`` sends the same calls over a real connection
instead, to ``_echo_server.py`` pinned to CPU 0 (this process to CPU 1), ``--in-flight``
at a time (64 by default): what ``bench_overhead.py`` sees, with every contender below in
one process. CPU time (``time.process_time``, every thread of the process: a batch
processor's export thread counts) per call, over ``--calls`` calls a round; the garbage
collector stays on (spans make garbage, and collecting it is part of their cost), and the
table says how much of each contender's time went to it (``gc.callbacks``: the wall time of
each collection, per call, and collections per 1,000 calls). With many calls in flight a
collection walks all their live objects, and instrumented calls make the SDK's garbage
(about a dozen container objects a span) fast enough to trigger one every few dozen
calls: the main reason the same SDK calls cost more per call there than one at a time.

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
* ``SDK floor, no-op providers`` and ``instrumented, no-op providers``: the same on the
  API's no-op tracer and meter providers: the API's no-op calls are all that is left of
  OpenTelemetry, so the difference of the two is aioeas's own code.

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
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's aioeas, whatever is installed

from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry import propagate, trace  # noqa: E402
from opentelemetry.metrics import Histogram, NoOpMeterProvider  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF  # noqa: E402
from opentelemetry.trace import NoOpTracerProvider, SpanKind, Tracer  # noqa: E402
from opentelemetry.util.types import AttributeValue  # noqa: E402

from aioeas import PoolLimits, PredictClient, StringRequest, Timeout  # noqa: E402
from aioeas.client.transport import HTTPResponse  # noqa: E402
from aioeas.otel import AioeasInstrumentor  # noqa: E402
from aioeas.otel import names as n  # noqa: E402

URL = "http://127.0.0.1:8080"
SERVICE = "bench"
HERE = Path(__file__).resolve().parent


class GcClock:
    """Wall time spent in garbage collections, and their count (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.runs = 0
        self._start = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.runs += 1

    def reset(self) -> None:
        self.seconds, self.runs = 0.0, 0


GC = GcClock()


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
    client: PredictClient, processor: str, url: str
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
    port = int(url.rsplit(":", 1)[1])

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
        n.SERVER_PORT: port,
        n.URL_FULL: f"{url}/api/predict/{SERVICE}",
        n.ATTEMPTS: 1,
    }
    metric_attrs: dict[str, AttributeValue] = {
        n.HTTP_REQUEST_METHOD: "POST",
        n.SERVER_ADDRESS: "127.0.0.1",
        n.SERVER_PORT: port,
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
    noop_tracer = noop[0].get_tracer("bench")
    noop_histogram = noop[1].get_meter("bench").create_histogram(n.HTTP_CLIENT_REQUEST_DURATION)

    def instrument(tp: Any, mp: Any) -> Callable[[], None]:
        return lambda: instrumentor.instrument(tracer_provider=tp, meter_provider=mp)

    return {
        "off": (off, nothing, nothing),
        "bare span": (bare_span, nothing, nothing),
        "SDK floor": (floor(tracer, histogram), nothing, nothing),
        "instrumented": (off, instrument(tp, mp), instrumentor.uninstrument),
        "SDK floor, unsampled": (floor(unsampled_tracer, unsampled_histogram), nothing, nothing),
        "instrumented, unsampled": (off, instrument(*unsampled), instrumentor.uninstrument),
        "SDK floor, no-op providers": (floor(noop_tracer, noop_histogram), nothing, nothing),
        "instrumented, no-op providers": (off, instrument(*noop), instrumentor.uninstrument),
    }


async def calls_of(call: Call, calls: int, in_flight: int) -> None:
    """``calls`` calls, ``in_flight`` at a time."""
    if in_flight == 1:
        for _ in range(calls):
            await call()
        return
    left = [calls]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(in_flight)))


async def cpu_per_call(call: Call, calls: int, in_flight: int) -> tuple[float, float, float]:
    """CPU µs per call over ``calls`` calls; garbage collection µs per call and runs per
    1,000 calls."""
    gc.collect()
    GC.reset()
    start = time.process_time()
    await calls_of(call, calls, in_flight)
    cpu = time.process_time() - start
    return cpu / calls * 1e6, GC.seconds / calls * 1e6, GC.runs * 1000 / calls


Result = tuple[float, float, float]


async def run(args: argparse.Namespace, url: str) -> dict[str, list[Result]]:
    if args.server == "fake":
        client = PredictClient(url, SERVICE, token="bench-token", transport=EchoTransport())
    else:
        pool = PoolLimits(max_connections=100, keepalive_timeout=120.0)
        client = PredictClient(url, SERVICE, token="bench-token", pool=pool, timeout=30.0)
    async with client as c:
        table = contenders(c, args.processor, url)
        names = list(table)
        for call, setup, teardown in table.values():  # warm-up
            setup()
            try:
                await cpu_per_call(call, args.calls // 5, args.in_flight)
            finally:
                teardown()
        results: dict[str, list[Result]] = {name: [] for name in names}
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                call, setup, teardown = table[name]
                setup()
                try:
                    results[name].append(await cpu_per_call(call, args.calls, args.in_flight))
                finally:
                    teardown()
        if args.profile:
            call, setup, teardown = table["instrumented"]
            setup()
            profile = cProfile.Profile()
            try:
                profile.enable()
                await calls_of(call, args.calls, args.in_flight)
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
    parser.add_argument(
        "--server", choices=("fake", "echo"), default="fake", help="fake transport or a socket"
    )
    parser.add_argument("--in-flight", type=int, help="calls at once (fake: 1, echo: 64)")
    args = parser.parse_args()
    if args.in_flight is None:
        args.in_flight = 1 if args.server == "fake" else 64
    server = None
    url = URL
    if args.server == "echo":
        sys.path.insert(0, str(HERE))
        from _procs import ServerProcess

        pinned = (os.cpu_count() or 1) >= 2
        server = ServerProcess(
            [sys.executable, str(HERE / "_echo_server.py"), "--port", "0"],
            {0} if pinned else None,
            "echo server",
            stop_wait=5,
        )
        url = server.url
        if args.cpu is None and pinned:
            args.cpu = 1
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    load = os.getloadavg()[0]
    try:
        results = asyncio.run(run(args, url))
    finally:
        if server is not None:
            server.stop()
    base = statistics.median(r[0] for r in results["off"])
    where = "a fake transport" if server is None else "a socket to an echo server"
    print(
        f"CPU per predict over {where}, {args.in_flight} in flight, {args.rounds} rounds of "
        f"{args.calls} calls, {args.processor} span processor; Python "
        f"{platform.python_version()}, load average {load:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print("| contender | median | min .. max | median - off | of which GC | GC runs / 1k calls |")
    print("|---|---|---|---|---|---|")
    for name, samples in results.items():
        cpu = [r[0] for r in samples]
        med = statistics.median(cpu)
        gc_us = statistics.median(r[1] for r in samples)
        runs = statistics.median(r[2] for r in samples)
        print(
            f"| {name} | {med:.1f} us | {min(cpu):.1f} .. {max(cpu):.1f} us "
            f"| {med - base:+.1f} us | {gc_us:.1f} us | {runs:.0f} |"
        )


if __name__ == "__main__":
    main()
