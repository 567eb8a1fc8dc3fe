"""Client CPU per request: aioeas against the bare aiohttp loop a user writes, side by side.

Run from the repository root::

    .venv/bin/python benchmarks/bench_overhead.py                     # ~2 minutes
    .venv/bin/python benchmarks/bench_overhead.py --rounds 9 --json out.json --chart out.svg
    .venv/bin/python benchmarks/bench_overhead.py --otel              # + aioeas instrumented
    .venv/bin/python benchmarks/bench_overhead.py --no-memory         # CPU figures only
    .venv/bin/python benchmarks/bench_overhead.py --otel --baseline ../main  # before/after

What it measures (the figures of issue 12's "hot path"):

* **CPU per request**, in two cells: ``string`` (a 100-byte body to a string echo) at 64
  requests in flight, and ``tf`` (a float32 ``[1,784]`` ``TFRequest`` to a TF echo, the
  request built and the answer decoded in the round) at 8 in flight. The figure is the
  client process's CPU time (``time.process_time``: user + system, every thread) over the
  round, per request: what the issue counts, and far steadier than requests/s on a shared
  machine, since it does not depend on how fast the server answers.
* **Peak memory of a large answer**: the rise of a fresh process's peak RSS (``VmHWM``)
  during one predict of a 100 MB answer (a TF float32 output, and raw bytes), the answer
  held, over its size.

Contenders, each in its own process (``_overhead_worker.py``) so that none pays for
another's garbage, patches or event loop:

* ``aiohttp``: the loop a user writes: a default ``aiohttp.ClientSession()``,
  ``session.post(url, data=body, headers=...)``, ``await resp.read()``, a status check (and
  ``TFRequest.to_bytes()`` / ``TFResponse(body)`` for the TF cell);
* ``aioeas``: ``await client.predict(req)`` (its own HTTP/1.1 transport, the default);
* ``aioeas-aiohttp``: the same sending through aiohttp (``transport="aiohttp"``, the
  transport before ``H1Transport``, and still the one of a borrowed session);
* ``aioeas-otel`` (``--otel``): the same with ``aioeas.otel.AioeasInstrumentor`` on an SDK
  ``TracerProvider`` (a ``SimpleSpanProcessor``, spans dropped by the exporter: no export
  thread, and nothing of an exporter's own work is counted) and ``MeterProvider`` (an
  in-memory reader); skipped with a message when ``aioeas.otel`` or the SDK is not
  importable;
* ``otel-floor`` (``--otel``): ``aioeas`` not instrumented, inside the OpenTelemetry SDK
  calls an instrumented predict needs, written by hand in their cheapest form (one span
  with the same attributes made current, one injection, one histogram record), on the same
  providers. It is the SDK's own floor measured the way ``aioeas-otel`` is: on the same
  connection, 64 in flight, garbage collector on. (Measured apart, with one call at a time
  and no socket, as ``bench_otel.py`` does, the floor is less than half of this: with 64
  requests in flight every garbage collection walks their live objects, a span's among
  them, and the spans' garbage triggers collections far more often.) ``aioeas-otel``
  minus ``otel-floor`` is what aioeas adds to the SDK's work;
* ``aioeas-uvloop`` and ``aiohttp-uvloop``: the same two on uvloop's event loop (skipped
  when uvloop is not installed: the ``uvloop`` extra).

How: the server (``_echo_server.py``, aiohttp's low-level server) runs pinned to CPU 0,
every client process to CPU 1 (``os.sched_setaffinity``). Each contender checks its answers
and warms up (connections, code paths); then ``--rounds`` rounds, each running every
contender once for ``--requests`` requests, one after the other (the order rotates round by
round), so that a slow moment of the machine hits every contender alike. The tables give
the median and min..max over the rounds, and the ratio to bare aiohttp both as a ratio of
medians and as the range of the per-round ratios (each round's contenders ran back to back).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _procs import JsonWorker, ServerProcess  # noqa: E402

#: (workload, in flight, echo service); the issue's two cells.
CELLS = {"string": (64, "echo"), "tf": (8, "echo_tf")}
CONTENDERS = (
    "aiohttp",
    "aioeas",
    "aioeas-otel",
    "otel-floor",
    "aioeas-aiohttp",
    "aioeas-uvloop",
    "aiohttp-uvloop",
)
MEMORY_SIZE = 100 * 1000 * 1000  # 100 MB
TARGETS = {"string": 1.0, "tf": 1.05}  # aioeas CPU / aiohttp CPU at most
OTEL_EXTRA_US = 15.0  # instrumented: at most this much more per request


class Worker(JsonWorker):
    """One contender's process (``_overhead_worker.py``), over JSON lines; a name ending in
    ``@base`` runs the worker (and so the aioeas) of the ``--baseline`` tree."""

    def __init__(self, contender: str, cpus: set[int] | None, baseline: str | None) -> None:
        name, at, _ = contender.partition("@")
        root = Path(baseline) if at and baseline else ROOT
        argv = [sys.executable, str(root / "benchmarks" / "_overhead_worker.py"), name]
        super().__init__(argv, cpus, contender)


def available(contenders: list[str]) -> tuple[list[str], list[str]]:
    """The contenders this environment can run, and why the others are skipped."""
    ok, skipped = [], []
    for name in contenders:
        kind = name.partition("@")[0]
        if kind.endswith("-uvloop") and importlib.util.find_spec("uvloop") is None:
            skipped.append(f"{name}: uvloop is not installed (pip install 'aioeas[uvloop]')")
            continue
        if kind.endswith("-otel") or kind == "otel-floor":
            sys.path.insert(0, str(ROOT))
            try:
                import opentelemetry.sdk  # noqa: F401

                import aioeas.otel  # noqa: F401
            except ImportError as exc:
                skipped.append(f"{name}: aioeas.otel is not importable here ({exc})")
                continue
        ok.append(name)
    return ok, skipped


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run_cpu(args: argparse.Namespace, contenders: list[str], server: ServerProcess) -> Any:
    client_cpus = None if args.no_pin else {1}
    cells: dict[str, Any] = {}
    for workload in args.workloads.split(","):
        concurrency, service = CELLS[workload]
        workers = [Worker(n, client_cpus, args.baseline) for n in contenders]
        try:
            facts = {
                w.name: w.call(op="setup", url=server.url, workload=workload, service=service)
                for w in workers
            }
            for w in workers:  # warm-up: code paths, `concurrency` pooled connections
                w.call(op="run", total=max(args.warmup, 4 * concurrency), concurrency=concurrency)
            rounds: dict[str, list[dict[str, Any]]] = {w.name: [] for w in workers}
            for r in range(args.rounds):
                shift = r % len(workers)
                for w in workers[shift:] + workers[:shift]:
                    res = w.call(op="run", total=args.requests, concurrency=concurrency)
                    if res["errors"]:
                        raise RuntimeError(
                            f"{w.name}: {res['errors']} errors: {res['first_error']}"
                        )
                    rounds[w.name].append(res)
                print(
                    f"  {workload} round {r + 1}/{args.rounds}: "
                    + ", ".join(f"{n} {v[-1]['cpu_us']:.0f} µs" for n, v in rounds.items()),
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            for w in workers:
                w.close()
        cell: dict[str, Any] = {"concurrency": concurrency, "facts": facts, "contenders": {}}
        base = [x["cpu_us"] for x in rounds.get("aiohttp", [])]
        for name, rs in rounds.items():
            cpu = [x["cpu_us"] for x in rs]
            entry = {"cpu_us": summary(cpu), "rps": summary([x["rps"] for x in rs]), "rounds": rs}
            if base:
                entry["ratio_per_round"] = summary([c / b for c, b in zip(cpu, base, strict=True)])
                entry["ratio_of_medians"] = statistics.median(cpu) / statistics.median(base)
            cell["contenders"][name] = entry
        cells[workload] = cell
    return cells


def run_memory(args: argparse.Namespace, contenders: list[str], server: ServerProcess) -> Any:
    out: dict[str, Any] = {}
    for service, label in (("big_tf", "tf"), ("big", "string")):
        for name in [n for n in contenders if n in ("aiohttp", "aioeas", "aioeas-aiohttp")]:
            proc = subprocess.run(
                [
                    sys.executable,
                    str(HERE / "_overhead_worker.py"),
                    "--memory",
                    name,
                    server.url,
                    service,
                    str(args.memory_size),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            res = json.loads(proc.stdout)
            res["ratio"] = res["rise_bytes"] / res["payload"]
            out[f"{label}/{name}"] = res
            print(f"  memory {label} {name}: {res['ratio']:.2f}x", file=sys.stderr, flush=True)
    return out


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import aiohttp

    return {
        "cpu": f"{cpu}, {os.cpu_count()} CPUs",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
    }


def report(result: dict[str, Any]) -> list[str]:
    lines = []
    for workload, cell in result.get("cpu", {}).items():
        lines.append(
            f"\n{workload} ({'100 B echo' if workload == 'string' else '[1,784] float32 TF echo'}), "
            f"{cell['concurrency']} in flight: client CPU per request, median [min .. max]"
        )
        lines.append(
            f"  {'contender':16s} {'CPU/request':>26s} {'x aiohttp (per round)':>30s} {'req/s':>10s}"
        )
        for name, e in cell["contenders"].items():
            c = e["cpu_us"]
            ratio = ""
            if "ratio_per_round" in e and name != "aiohttp":
                rr = e["ratio_per_round"]
                ratio = f"{e['ratio_of_medians']:.3f}x [{rr['min']:.2f} .. {rr['max']:.2f}]"
            lines.append(
                f"  {name:16s} {c['median']:8.1f} µs [{c['min']:6.1f} .. {c['max']:6.1f}] "
                f"{ratio:>30s} {e['rps']['median']:10,.0f}"
            )
        a, b = cell["contenders"].get("aioeas"), cell["contenders"].get("aiohttp")
        if a and b:
            ok = a["ratio_of_medians"] <= TARGETS[workload]
            lines.append(
                f"  target aioeas <= {TARGETS[workload]}x aiohttp: "
                f"{'PASS' if ok else 'FAIL'} ({a['ratio_of_medians']:.3f}x)"
            )
        o = cell["contenders"].get("aioeas-otel")
        if a and o:
            extra = o["cpu_us"]["median"] - a["cpu_us"]["median"]
            ok = extra <= OTEL_EXTRA_US
            lines.append(
                f"  target instrumented <= +{OTEL_EXTRA_US:g} µs: {'PASS' if ok else 'FAIL'} "
                f"({extra:+.1f} µs)"
            )
        f = cell["contenders"].get("otel-floor")
        if a and f:
            floor_extra = f["cpu_us"]["median"] - a["cpu_us"]["median"]
            lines.append(
                f"  OpenTelemetry SDK floor (otel-floor - aioeas): {floor_extra:+.1f} µs"
                + (
                    f"; aioeas's share (aioeas-otel - otel-floor): "
                    f"{o['cpu_us']['median'] - f['cpu_us']['median']:+.1f} µs"
                    if o
                    else ""
                )
            )
    if result.get("memory"):
        lines.append(
            f"\nPeak RSS rise over the answer's size, one predict of {result['memory_size'] / 1e6:.0f} MB"
        )
        for key, res in result["memory"].items():
            lines.append(
                f"  {key:16s} {res['ratio']:.2f}x  ({res['rise_bytes'] / 1e6:.1f} MB for "
                f"{res['payload'] / 1e6:.1f} MB{'' if res['hwm_reset'] else '; VmHWM not reset'})"
            )
    return lines


def chart(path: str, result: dict[str, Any]) -> None:
    try:
        from _charts import bar_chart
    except ImportError as exc:
        print(f"no chart: benchmarks/_charts.py is not importable ({exc})", file=sys.stderr)
        return
    groups = {
        f"{w} x{cell['concurrency']}": {
            n: (e["cpu_us"]["median"], e["cpu_us"]["min"], e["cpu_us"]["max"])
            for n, e in cell["contenders"].items()
        }
        for w, cell in result["cpu"].items()
    }
    bar_chart(path, "Client CPU per request (lower is better)", "µs", groups)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7, help="rounds (7, at least 5)")
    ap.add_argument("--requests", type=int, default=3000, help="requests per round (3000)")
    ap.add_argument("--warmup", type=int, default=500, help="warm-up requests (500)")
    ap.add_argument("--workloads", default="string,tf", help="string,tf")
    ap.add_argument(
        "--contenders",
        default="aiohttp,aioeas,aioeas-aiohttp,aioeas-uvloop,aiohttp-uvloop",
        help="comma-separated, of: " + ",".join(CONTENDERS),
    )
    ap.add_argument("--otel", action="store_true", help="add aioeas-otel and otel-floor")
    ap.add_argument(
        "--baseline",
        metavar="DIR",
        help="another checkout (e.g. `git worktree add DIR main`): its aioeas* contenders run "
        "too, as NAME@base, alternating with this tree's (a before/after in one run)",
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the 100 MB answer")
    ap.add_argument("--memory-only", action="store_true", help="only the 100 MB answer")
    ap.add_argument("--memory-size", type=int, default=MEMORY_SIZE, help="bytes (100 MB)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin server and clients")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--chart", metavar="PATH", help="draw the CPU figures (SVG)")
    args = ap.parse_args()
    if args.rounds < 5:
        ap.error("at least 5 rounds")
    wanted = args.contenders.split(",")
    if args.otel:
        for i, name in enumerate(("aioeas-otel", "otel-floor")):
            if name not in wanted:
                wanted.insert(2 + i, name)
    if args.baseline:
        wanted += [f"{name}@base" for name in wanted if name.startswith("aioeas")]
    contenders, skipped = available(wanted)
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    pinned = not args.no_pin and (os.cpu_count() or 1) >= 2
    if not pinned:
        args.no_pin = True
    facts = machine()
    facts["cpu split"] = "server on CPU 0, each client on CPU 1" if pinned else "not pinned"
    result: dict[str, Any] = {"machine": facts, "args": vars(args), "skipped": skipped}
    started = time.perf_counter()
    server = ServerProcess(
        [sys.executable, str(HERE / "_echo_server.py"), "--port", "0"],
        None if args.no_pin else {0},
        "echo server",
        stop_wait=5,
    )
    try:
        if not args.memory_only:
            result["cpu"] = run_cpu(args, contenders, server)
        if not args.no_memory:
            result["memory_size"] = args.memory_size
            result["memory"] = run_memory(args, contenders, server)
    finally:
        server.stop()
    facts["load average"] += (
        f" at start, {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end"
    )
    facts["duration"] = f"{time.perf_counter() - started:.0f} s"
    print("Machine")
    for k, v in facts.items():
        print(f"  {k:14s} {v}")
    print(f"{args.rounds} rounds of {args.requests} requests per contender, contenders alternating")
    for line in report(result):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.chart and result.get("cpu"):
        chart(args.chart, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
