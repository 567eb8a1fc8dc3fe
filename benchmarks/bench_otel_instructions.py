"""Instructions and simulated L1 cache misses per predict, instrumented or not, counted by
``valgrind --tool=cachegrind``: the same work, or not, with a fake transport and on a real
connection.

Run from the repository root (about 6 minutes; valgrind must be installed)::

    .venv/bin/python benchmarks/bench_otel_instructions.py
    .venv/bin/python benchmarks/bench_otel_instructions.py --baseline DIR   # + DIR's aioeas

CPU time says how long; this says how much. Each contender runs in a fresh process under
cachegrind twice, for ``--small`` and ``--large`` calls after the same warm-up, and the
difference of the two counts over ``large - small`` calls is the count of one call (the
imports, the warm-up and the exit cancel out). User-space instructions only: the kernel's
share of a socket is not counted. Contenders (``bench_otel.py``'s, on the same providers:
a ``SimpleSpanProcessor`` to an exporter that drops the spans, an in-memory reader):

* ``off``: a plain predict;
* ``floor``: the plain predict inside the OpenTelemetry SDK calls an instrumented predict
  needs, written by hand (the SDK's floor);
* ``instrumented``: ``AioeasInstrumentor`` on (``instrumented@base``: the ``--baseline``
  tree's).

Each over ``fake`` (a transport that answers at once, one call at a time) and ``echo`` (a
socket to ``_echo_server.py`` on CPU 0, 64 calls in flight; this process on CPU 1). Same
instruction counts with more CPU time means the same work run slower (caches, branch
predictors: this VM has no hardware counters to say which).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVICE = "echo"
COUNTS = {
    "instructions": r"I\s+refs",
    "L1i misses": r"I1\s+misses",
    "L1d misses": r"D1\s+misses",
}


async def _worker(mode: str, url: str, calls: int, in_flight: int) -> None:
    """``calls`` predicts of ``mode`` (after 300 of warm-up)."""
    from aioeas import PoolLimits, PredictClient, StringRequest
    from aioeas.client.transport import HTTPResponse

    class Echo:
        async def request(self, method: str, url: str, **kw: Any) -> HTTPResponse:
            return HTTPResponse(200, kw["body"] or b"", {})

        async def close(self) -> None:
            pass

    if url == "fake":
        client = PredictClient("http://127.0.0.1:8080", SERVICE, token="t", transport=Echo())
    else:
        pool = PoolLimits(max_connections=100)
        client = PredictClient(url, SERVICE, token="t", pool=pool, timeout=300.0)
    await client.init()
    req = StringRequest(b"x" * 100)
    call: Any = lambda: client.predict(req)  # noqa: E731
    if mode != "off":
        sys.path.insert(0, str(HERE))
        from bench_otel import contenders, providers  # (aioeas is imported already)

        if mode == "floor":  # bench_otel.py's, around a plain predict of its own request
            call = contenders(client, "simple", "http://127.0.0.1:8080")["SDK floor"][0]
        else:
            from aioeas.otel import AioeasInstrumentor

            tp, mp = providers("simple")
            AioeasInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)

    async def run(total: int) -> None:
        left = [total]

        async def one() -> None:
            while left[0] > 0:
                left[0] -= 1
                await call()

        await asyncio.gather(*(one() for _ in range(in_flight)))

    await run(300)
    await run(calls)
    await client.close()


def counts(root: Path, mode: str, url: str, calls: int, in_flight: int) -> dict[str, int]:
    cmd = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=yes",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        str(root / "benchmarks" / Path(__file__).name),
        "--worker",
        mode,
        url,
        str(calls),
        str(in_flight),
    ]
    if not (root / "benchmarks" / Path(__file__).name).exists():
        cmd[5] = str(Path(__file__))  # a baseline without this script: this one, its aioeas
    env = {**os.environ, "AIOEAS_ROOT": str(root)}
    out = subprocess.run(
        cmd, cwd=root, env=env, capture_output=True, text=True, preexec_fn=_pin(1), check=True
    ).stderr
    got = {}
    for name, label in COUNTS.items():
        match = re.search(label + r":\s+([\d,]+)", out)
        if match is None:
            raise RuntimeError(f"no {name} in cachegrind's output:\n{out[-2000:]}")
        got[name] = int(match.group(1).replace(",", ""))
    return got


def _pin(cpu: int) -> Any:
    if (os.cpu_count() or 1) < 2:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", type=int, default=400)
    ap.add_argument("--large", type=int, default=1400)
    ap.add_argument("--baseline", metavar="DIR", help="another checkout: its instrumented too")
    ap.add_argument("--worker", nargs=4, metavar=("MODE", "URL", "CALLS", "IN_FLIGHT"))
    args = ap.parse_args()
    if args.worker:
        sys.path.insert(0, os.environ.get("AIOEAS_ROOT", str(ROOT)))
        mode, url, calls, in_flight = args.worker
        asyncio.run(_worker(mode, url, int(calls), int(in_flight)))
        return
    sys.path.insert(0, str(HERE))
    from _procs import ServerProcess

    server = ServerProcess(
        [sys.executable, str(HERE / "_echo_server.py"), "--port", "0"],
        {0} if (os.cpu_count() or 1) >= 2 else None,
        "echo server",
        stop_wait=5,
    )
    contenders = [("off", ROOT), ("floor", ROOT), ("instrumented", ROOT)]
    if args.baseline:
        contenders.append(("instrumented@base", Path(args.baseline).resolve()))
    started = time.perf_counter()
    table: dict[tuple[str, str], dict[str, float]] = {}
    try:
        for where, url, in_flight in (("fake", "fake", 1), ("echo", server.url, 64)):
            for name, root in contenders:
                mode = name.partition("@")[0]
                small = counts(root, mode, url, args.small, in_flight)
                large = counts(root, mode, url, args.large, in_flight)
                table[where, name] = {
                    k: (large[k] - small[k]) / (args.large - args.small) for k in large
                }
                print(f"  {where} {name}: done", file=sys.stderr, flush=True)
    finally:
        server.stop()
    print(
        f"Per predict, counted by cachegrind ({args.large} - {args.small} calls); "
        f"{time.perf_counter() - started:.0f} s"
    )
    print("| transport | contender | " + " | ".join(COUNTS) + " | instructions over off |")
    print("|---|---|" + "---|" * (len(COUNTS) + 1))
    for (where, name), row in table.items():
        base = table[where, "off"]["instructions"]
        cells = " | ".join(f"{row[k]:,.0f}" for k in COUNTS)
        print(f"| {where} | {name} | {cells} | {row['instructions'] - base:+,.0f} |")


if __name__ == "__main__":
    main()
