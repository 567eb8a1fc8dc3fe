"""The instrumentor's life: ``uninstrument()`` leaves nothing behind, instrumenting again
works, the entry point ``opentelemetry-instrument`` looks for is declared, and ``import
aioeas`` (client, queue) never loads OpenTelemetry."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from aioeas import PredictClient, QueueClient, RetryPolicy, StringRequest
from aioeas.client import telemetry
from aioeas.emulator import Emulator, current_call
from aioeas.otel import AioeasInstrumentor
from aioeas.otel import names as n
from tests.otel.conftest import Otel

TOKEN = "l1fe-T0KEN"
ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINT = "aioeas.otel:AioeasInstrumentor"


async def _traffic(emu: Emulator, headers: list[str | None]) -> dict[str, str]:
    """One predict and one put; returns the put record's tags as stored."""
    async with PredictClient(emu.url, "echo", token=TOKEN) as client:
        await client.predict(StringRequest("x"))
    async with QueueClient(emu.url, "svc", token=TOKEN, retry=RetryPolicy(max_attempts=1)) as q:
        index, _ = await q.put(b"r", {"k": "v"})
    [record] = [r for r in emu.queue("svc").records if r.index == index]
    return dict(record.tags)


def _counts(otel: Otel) -> dict[str, float]:
    """Each metric's total (sum of counts or values): what new data would change."""
    out = {}
    for name, pts in otel.metrics().items():
        out[name] = sum(getattr(p, "count", None) or getattr(p, "value", 0) for p in pts)
    return out


async def test_uninstrument_leaves_nothing_behind(otel: Otel) -> None:
    headers: list[str | None] = []

    def echo(body: bytes) -> bytes:
        headers.append(current_call().headers.get("traceparent"))
        return body

    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_service("echo", echo)
        emu.add_queue_service("svc", grace=0.0)
        async with QueueClient(emu.url, "svc", token=TOKEN, uid="u", gid="g") as consumer:
            watcher = await consumer.watch(window=4)
            tags = await _traffic(emu, headers)
            await watcher.next(timeout=5)
            assert "traceparent" in tags
            assert headers[-1] is not None
            spans_before = len(otel.spans())
            assert {s.name for s in otel.spans()} == {"EAS predict echo", "send svc", "receive svc"}
            counts = _counts(otel)
            assert counts[n.WATCHER_IN_HAND] == 1

            AioeasInstrumentor().uninstrument()
            assert telemetry.active is None
            tags = await _traffic(emu, headers)
            record = await watcher.next(timeout=5)
            assert watcher.in_hand == 2
            after = _counts(otel)
            watcher.commit(record)
            await watcher.flush()
            await watcher.close()

            assert tags == {"k": "v", "requestId": tags["requestId"]}  # no trace context
            assert headers[-1] is None
            assert len(otel.spans()) == spans_before
            assert _counts(otel) == after
            # what is read at collection time is not reported once uninstrumented
            assert n.WATCHER_IN_HAND not in after
            assert n.HTTP_CLIENT_ACTIVE_REQUESTS not in after
            del counts[n.WATCHER_IN_HAND], counts[n.HTTP_CLIENT_ACTIVE_REQUESTS]
            assert after == counts  # nothing recorded since

            # and it can be instrumented again
            AioeasInstrumentor().instrument(
                tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
            )
            assert telemetry.active is not None
            tags = await _traffic(emu, headers)
            assert "traceparent" in tags
            assert len(otel.spans()) == spans_before + 2


def test_the_entry_point_is_declared() -> None:
    """The source declares it, and it names the instrumentor."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    # (tomllib is 3.11+; the section is two lines)
    section = text.split("[project.entry-points.opentelemetry_instrumentor]\n", 1)[1]
    assert section.split("\n", 1)[0] == f'aioeas = "{ENTRY_POINT}"'
    module, _, attr = ENTRY_POINT.partition(":")
    target = getattr(importlib.import_module(module), attr)
    assert target is AioeasInstrumentor
    assert issubclass(target, BaseInstrumentor)


def test_the_installed_package_exposes_the_entry_point() -> None:
    """What ``opentelemetry-instrument`` reads: the installed distribution's metadata.
    (An editable install made before the entry point was added needs reinstalling.)"""
    found = [
        ep
        for ep in importlib.metadata.entry_points(group="opentelemetry_instrumentor")
        if ep.name == "aioeas"
    ]
    assert [ep.value for ep in found] == [ENTRY_POINT]
    assert found[0].load() is AioeasInstrumentor


def test_importing_aioeas_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, aioeas, aioeas.client, aioeas.queue\n"
        "aioeas.PredictClient, aioeas.AsyncInference, aioeas.Watcher\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('opentelemetry'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_instrument_needs_no_installed_metadata() -> None:
    """It ships in the library it instruments: nothing to check against what pip knows
    (aioeas run from a source tree, unlisted, is instrumented all the same)."""
    assert list(AioeasInstrumentor().instrumentation_dependencies()) == []
