"""One contender of ``bench_overhead.py``, in its own process, driven over JSON lines.

    python benchmarks/_overhead_worker.py CONTENDER

CONTENDER is ``aiohttp``, ``aiohttp-uvloop``, ``aioeas``, ``aioeas-uvloop``, ``aioeas-otel``,
``otel-floor`` or ``aioeas-aiohttp`` (aioeas sending through aiohttp: ``transport="aiohttp"``).
Each contender runs alone in its process so that none pays for another's
garbage, import-time patches (OpenTelemetry) or event loop (uvloop); the parent pins it to
the client core and asks it for one round at a time, so the contenders alternate while the
idle ones wait on their stdin. Commands (one JSON object a line, one answer a line):

* ``{"op": "setup", "url": ..., "workload": "string"|"tf", "service": ...}``: open the
  session or client and check the answers;
* ``{"op": "run", "total": N, "concurrency": C}``: one round; answers the process's CPU
  time (``time.process_time``: user + system of every thread) and wall time, per request;
* ``{"op": "quit"}``.

``python benchmarks/_overhead_worker.py --memory CONTENDER URL SERVICE BYTES`` instead
makes one predict of a ``BYTES``-byte answer in this fresh process and prints how much its
peak RSS rose (``VmHWM`` of ``/proc/self/status``, reset to the current RSS through
``/proc/self/clear_refs`` after a small warm-up predict), the answer still held.

The bare aiohttp loop is written as a user writes it: a default ``ClientSession()``, a
``str`` URL, ``session.post(url, data=body, headers=...)``, ``await resp.read()`` and a
status check. Both sides build the request and decode the answer in the round: the TF
workload calls ``TFRequest.to_bytes()`` and ``TFResponse(body)`` on the aiohttp side too,
which ``client.predict`` does inside.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import numpy as np  # noqa: E402

from aioeas import PoolLimits, PredictClient, StringRequest, TFRequest, TFResponse  # noqa: E402

K = 8  # distinct requests, cycled
STRING_BODY_LEN = 100


def string_requests() -> list[StringRequest]:
    filler = b"abcdefghijklmnopqrstuvwxyz0123456789" * 3
    return [StringRequest((b"req%02d:" % i + filler)[:STRING_BODY_LEN]) for i in range(K)]


def tf_requests() -> list[TFRequest]:
    rng = np.random.default_rng(20261130)
    return [
        TFRequest("predict_images").add_feed("images", rng.random((1, 784), dtype=np.float32))
        for _ in range(K)
    ]


def make_loop(contender: str) -> asyncio.AbstractEventLoop:
    if contender.endswith("-uvloop"):
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def providers() -> tuple[Any, Any]:
    """An SDK tracer provider whose ``SimpleSpanProcessor`` hands every span to an exporter
    that drops it, and a meter provider with an in-memory reader (every measurement is
    aggregated, none exported): the same for ``aioeas-otel`` and ``otel-floor``."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Drop()))
    return tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()])


def instrument() -> Any:
    """aioeas.otel's instrumentor on ``providers()``."""
    from aioeas.otel import AioeasInstrumentor

    tracer_provider, meter_provider = providers()
    instrumentor = AioeasInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return instrumentor


def floor(predict: Callable[[Any], Awaitable[Any]], url: str, service: str) -> Any:
    """``predict`` (not instrumented) inside the OpenTelemetry SDK calls an instrumented
    predict needs, written by hand in their cheapest form, on ``providers()``: one CLIENT
    span with the same eight attributes (seven at its start, the status code at its end),
    current while the call runs; one ``propagate.inject`` (into a dict of its own: the
    request goes without it); one ``http.client.request.duration`` record with the same
    five attributes (a dict made once). The SDK's floor for one predict, measured the way
    ``aioeas-otel`` is (same connection, in flight, garbage collector)."""
    import time as _time
    from urllib.parse import urlsplit

    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import SpanKind

    from aioeas.otel import names as n

    tracer_provider, meter_provider = providers()
    tracer = tracer_provider.get_tracer("floor")
    histogram = meter_provider.get_meter("floor").create_histogram(
        n.HTTP_CLIENT_REQUEST_DURATION, unit="s"
    )
    parts = urlsplit(url)
    address, port = parts.hostname or "", parts.port or 80
    start_attrs = {
        n.HTTP_REQUEST_METHOD: "POST",
        n.SERVICE: service,
        n.ENDPOINT_MODE: "gateway",
        n.SERVER_ADDRESS: address,
        n.SERVER_PORT: port,
        n.URL_FULL: f"{url}/api/predict/{service}",
        n.ATTEMPTS: 1,
    }
    metric_attrs = {
        n.HTTP_REQUEST_METHOD: "POST",
        n.SERVER_ADDRESS: address,
        n.SERVER_PORT: port,
        n.SERVICE: service,
        n.HTTP_RESPONSE_STATUS_CODE: 200,
    }
    name = f"EAS predict {service}"
    client_kind = SpanKind.CLIENT

    async def call(req: Any) -> Any:
        span = tracer.start_span(name, kind=client_kind, attributes=start_attrs)
        token = context.attach(trace.set_span_in_context(span))
        try:
            propagate.inject({})
            start = _time.perf_counter()
            answer = await predict(req)
            histogram.record(_time.perf_counter() - start, metric_attrs)
        finally:
            context.detach(token)
        span.set_attribute(n.HTTP_RESPONSE_STATUS_CODE, 200)
        span.end()
        return answer

    return call


class Worker:
    def __init__(self, contender: str) -> None:
        self.contender = contender
        self.call: Callable[[Any], Awaitable[Any]] | None = None
        self.items: list[Any] = []
        self.session: aiohttp.ClientSession | None = None
        self.client: PredictClient | None = None

    async def setup(self, url: str, workload: str, service: str) -> dict[str, Any]:
        items: list[Any] = string_requests() if workload == "string" else tf_requests()
        if self.contender.startswith("aiohttp"):
            session = self.session = aiohttp.ClientSession()
            target = f"{url}/api/predict/{service}"
            headers = {"Content-Type": "application/octet-stream"}
            tf = workload == "tf"

            async def post(req: Any) -> Any:
                async with session.post(target, data=req.to_bytes(), headers=headers) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"HTTP {resp.status}: {body[:100]!r}")
                return TFResponse(body) if tf else body

            self.call = post
        else:
            pool = PoolLimits(max_connections=100, keepalive_timeout=120.0)
            transport = "aiohttp" if self.contender == "aioeas-aiohttp" else "h1"
            client = self.client = PredictClient(
                url, service, pool=pool, timeout=30.0, transport=transport
            )
            await client.init()
            self.call = client.predict
            if self.contender == "otel-floor":
                self.call = floor(client.predict, url, service)
        self.items = items
        # the answers are right (and the code paths warm)
        for req in items:
            answer = await self.call(req)
            if workload == "string":
                got = answer if isinstance(answer, bytes) else answer.content
                if got != req.to_bytes():
                    raise RuntimeError(f"echo answered {got[:40]!r}")
            else:
                sent = req._inputs  # the echo answers the inputs as outputs
                if list(answer) != list(sent):
                    raise RuntimeError(f"TF echo answered outputs {list(answer)}")
        return {"python": sys.version.split()[0], "loop": type(asyncio.get_running_loop()).__name__}

    async def run(self, total: int, concurrency: int) -> dict[str, Any]:
        call, items = self.call, self.items
        assert call is not None
        k = len(items)
        state = [0, 0]  # next index, errors
        first_error: list[str] = []

        async def worker() -> None:
            while True:
                i = state[0]
                if i >= total:
                    return
                state[0] = i + 1
                try:
                    await call(items[i % k])
                except Exception as exc:  # counted and reported; the round goes on
                    state[1] += 1
                    if not first_error:
                        first_error.append(f"{type(exc).__name__}: {exc}")

        gc.collect()
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        return {
            "cpu_us": cpu * 1e6 / total,
            "rps": total / wall,
            "errors": state[1],
            "first_error": first_error[0] if first_error else None,
        }

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self.session is not None:
            await self.session.close()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


async def _one_large(contender: str, url: str, service: str, size: int) -> dict[str, Any]:
    """Peak RSS rise of one predict of a ``size``-byte answer (warm-up first)."""
    req: Any = StringRequest(b"x")
    if contender.startswith("aiohttp"):
        session = aiohttp.ClientSession()

        async def call(n: int) -> Any:
            target = f"{url}/api/predict/{service}?bytes={n}"
            async with session.post(target, data=req.to_bytes()) as resp:
                body = await resp.read()
            return TFResponse(body) if service == "big_tf" else body

        close = session.close
    else:
        transport = "aiohttp" if contender == "aioeas-aiohttp" else "h1"
        client = PredictClient(url, service, timeout=60.0, transport=transport)
        await client.init()
        parse = TFResponse if service == "big_tf" else None

        async def call(n: int) -> Any:
            body = await client.predict_bytes(b"x", query={"bytes": n})
            return body if parse is None else parse(body)

        close = client.close
    try:
        await call(4096)  # warm: imports, connection, code paths
        gc.collect()
        try:
            Path("/proc/self/clear_refs").write_text("5")  # noqa: ASYNC240 - VmHWM := VmRSS, a procfs write
            reset = True
        except OSError:
            reset = False
        before = _status_kib("VmRSS")
        answer = await call(size)
        peak = _status_kib("VmHWM")
        held = len(answer.content if hasattr(answer, "content") else answer)
        return {
            "rise_bytes": (peak - before) * 1024,
            "payload": held,
            "hwm_reset": reset,
        }
    finally:
        await close()


def main() -> None:
    if sys.argv[1] == "--memory":
        _, _, contender, url, service, size = sys.argv
        loop = make_loop(contender)
        try:
            print(
                json.dumps(loop.run_until_complete(_one_large(contender, url, service, int(size))))
            )
        finally:
            loop.close()
        return
    contender = sys.argv[1].split("#", 1)[0]  # "aiohttp#2": the same contender again (an A/A check)
    instrumentor = instrument() if contender.endswith("-otel") else None
    loop = make_loop(contender)
    worker = Worker(contender)
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            op = cmd.pop("op")
            try:
                if op == "quit":
                    print(json.dumps({"ok": True, "result": None}), flush=True)
                    break
                coro = worker.setup(**cmd) if op == "setup" else worker.run(**cmd)
                result = loop.run_until_complete(coro)
                reply: dict[str, Any] = {"ok": True, "result": result}
            except Exception as exc:
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)
    finally:
        loop.run_until_complete(worker.close())
        loop.close()
        if instrumentor is not None:
            instrumentor.uninstrument()


if __name__ == "__main__":
    main()
