"""Predict throughput and latency: aioeas vs bare aiohttp vs the official eas-prediction SDK.

Run from the repository root::

    .venv/bin/python benchmarks/bench_predict.py              # about 3 minutes (more on a busy machine)
    .venv/bin/python benchmarks/bench_predict.py --markdown   # the tables as Markdown too
    .venv/bin/python benchmarks/bench_predict.py --quick      # 600 requests a round, ~1 min
    .venv/bin/python benchmarks/bench_predict.py --profile    # + cProfile of aioeas, 64 in flight

Workloads: ``string`` (a 32-byte body to a string echo) and ``tf`` (a float32 [1,784]
``TFRequest``, signature ``predict_images``, input ``images``), at 1, 8 and 64 requests in
flight, against two servers, each in its own process:

* ``echo``: ``benchmarks/_echo_server.py``, aiohttp's low-level server answering the
  string echo and a TF echo by rewriting wire bytes (the server's cost per request is as
  small as aiohttp allows, so the client's side dominates);
* ``emulator``: ``python -m aioeas.emulator`` (services ``echo`` and
  ``mnist_saved_model_example``: routing, counters, fault plans, protobuf decode, a
  [1,784]x[784,10] model, protobuf encode).

Contenders, one after another within each round (their order rotates round by round):

* ``aiohttp``: a bare ``aiohttp.ClientSession`` posting pre-built body bytes to the same
  URL (the floor: what any asyncio client pays);
* ``aioeas``: ``await client.predict(req)`` of a ``PredictClient`` (request objects built
  once; ``predict`` serializes and parses on each call, as the SDK does);
* ``aioeas many``: ``await client.predict_many(reqs, concurrency=N)`` (throughput only);
* ``aioeas token``: ``aioeas`` with a token (every request HMAC-signed; the echo server
  does not verify it, so this is the client's signing cost alone);
* ``eas-prediction``: the official SDK 0.36 in its own venv (``_official_load_worker.py``):
  one ``PredictClient`` shared by N threads, each calling ``predict`` in a loop.

The asyncio contenders use the same driver: N coroutines that each take the next request
index from a shared counter until the round's requests are done (N in flight until the
tail); the SDK's threads do the same. A measurement is a warm-up, then ``--rounds``
rounds of ``--requests`` requests; the tables give the median and min..max over the
rounds of requests/s, of the per-request latency's p50 and p99 (each over one round's
requests), of the client's CPU time per request, and of the server's CPU use.

CPU split (2 cores): the server process is pinned to CPU 0, the client processes (this one,
and the SDK's worker) to CPU 1, so a client never competes with the server for a core and
client CPU per request reads directly. ``--no-pin`` leaves scheduling to the kernel.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import aiohttp  # noqa: E402
from _load import combine, round_result  # noqa: E402
from _procs import JsonWorker, ServerProcess  # noqa: E402
from _timing import fmt_ns  # noqa: E402
from bench_codecs import loadavg, local_facts, official_python  # noqa: E402
from yarl import URL  # noqa: E402

from aioeas import PoolLimits, PredictClient, StringRequest, TFRequest, TFResponse  # noqa: E402
from aioeas.emulator import models  # noqa: E402

CONCURRENCY = (1, 8, 64)
K = 8  # distinct requests per workload, cycled
SIGNATURE, INPUT = "predict_images", "images"
STRING_BODY_LEN = 32
TOKEN = "bench-token-0123456789abcdef"
AIOHTTP_MIN = 0.85  # aioeas >= 0.85x bare aiohttp
EAS_MIN = 2.0  # aioeas >= 2x eas-prediction, at 64 in flight
FORMAL_CONCURRENCY = 64
KEEPALIVE_S = 120.0  # longer than any round, so no pool goes cold between rounds

ALL_CONTENDERS = ("aiohttp", "aioeas", "aioeas many", "aioeas token", "eas-prediction")
SERVICES = {  # server -> workload -> service
    "echo": {"string": "echo", "tf": "echo_tf"},
    "emulator": {"string": "echo", "tf": "mnist_saved_model_example"},
}
#: Optional contenders, run at 64 in flight only (``--all-levels``: at every level).
EXTRA = ("aioeas many", "aioeas token")
CONTENDERS = {  # the token row needs a server that ignores or checks the token: echo only
    "echo": ALL_CONTENDERS,
    "emulator": ("aiohttp", "aioeas", "eas-prediction"),
}

# ----------------------------------------------------------------------------- data


def string_bodies() -> list[bytes]:
    filler = b"abcdefghijklmnopqrstuvwxyz0123456789"
    return [(b"req%02d:" % i + filler)[:STRING_BODY_LEN] for i in range(K)]


def tf_arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(20261125)
    return [rng.random((1, 784), dtype=np.float32) for _ in range(K)]


@dataclass
class Workload:
    name: str  # string | tf
    service: str
    server: str
    bodies: list[bytes]  # pre-built wire bytes (the aiohttp floor posts these)
    requests: list[Any]  # aioeas request objects
    arrays: list[np.ndarray] = field(default_factory=list)

    def expected_ok(self, answer: Any, i: int) -> str | None:
        """None when ``answer`` (aioeas's parsed response, or an adapter's) is right."""
        if self.name == "string":
            got = bytes(answer)
            return None if got == self.bodies[i] else f"echo answered {got[:40]!r}"
        arr = self.arrays[i]
        if self.service == "echo_tf":
            values = np.asarray(answer["images"])
            return None if np.array_equal(values, arr) else "TF echo answered other values"
        want = models.mnist({"images": arr})
        scores = np.asarray(answer["scores"], dtype=np.float32).reshape(want["scores"].shape)
        classes = np.asarray(answer["classes"]).reshape(want["classes"].shape)
        if not np.allclose(scores, want["scores"], rtol=1e-4, atol=1e-6):
            return "mnist scores differ from the model's"
        if not np.array_equal(classes, want["classes"]):
            return "mnist classes differ from the model's"
        return None


def make_workload(name: str, server: str) -> Workload:
    service = SERVICES[server][name]
    if name == "string":
        bodies = string_bodies()
        return Workload(name, service, server, bodies, [StringRequest(b) for b in bodies])
    arrays = tf_arrays()
    reqs = [TFRequest(SIGNATURE).add_feed(INPUT, a) for a in arrays]
    return Workload(name, service, server, [r.to_bytes() for r in reqs], reqs, arrays)


# ----------------------------------------------------------------------------- processes


class Server(ServerProcess):
    """The echo server or the emulator, in its own process."""

    def __init__(self, kind: str, cpus: set[int] | None) -> None:
        if kind == "echo":
            cmd = [sys.executable, str(HERE / "_echo_server.py"), "--port", "0"]
        else:
            cmd = [sys.executable, "-m", "aioeas.emulator", "--port", "0"]
        self.kind = kind
        super().__init__(cmd, cpus, f"{kind} server", stop_wait=5)


class Official(JsonWorker):
    """The eas-prediction worker (``_official_load_worker.py``), over JSON lines."""

    def __init__(self, cpus: set[int] | None) -> None:
        argv = [str(official_python()), str(HERE / "_official_load_worker.py")]
        super().__init__(argv, cpus, "eas-prediction", stop_wait=5)


# ----------------------------------------------------------------------------- drivers

Call = Callable[[Any], Awaitable[Any]]


async def drive(call: Call, items: list[Any], total: int, concurrency: int) -> dict[str, Any]:
    """``concurrency`` coroutines sharing one counter; see the module docstring."""
    k = len(items)
    latencies = [0] * total
    state = [0, 0]  # next index, errors
    first_error: list[str] = []
    perf = time.perf_counter_ns

    async def worker() -> None:
        while True:
            i = state[0]
            if i >= total:
                return
            state[0] = i + 1
            t0 = perf()
            try:
                await call(items[i % k])
            except Exception as exc:  # counted and reported; the run goes on
                state[1] += 1
                if not first_error:
                    first_error.append(f"{type(exc).__name__}: {exc}")
            latencies[i] = perf() - t0

    gc.collect()
    cpu0 = time.process_time()
    t0 = perf()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = perf() - t0
    out = round_result(total, elapsed, latencies, time.process_time() - cpu0)
    out["errors"] = state[1]
    if first_error:
        out["first_error"] = first_error[0]
    return out


async def drive_many(
    client: PredictClient, items: list[Any], total: int, concurrency: int
) -> dict[str, Any]:
    reqs = [items[i % len(items)] for i in range(total)]
    gc.collect()
    cpu0 = time.process_time()
    t0 = time.perf_counter_ns()
    results = await client.predict_many(reqs, concurrency=concurrency, return_exceptions=True)
    elapsed = time.perf_counter_ns() - t0
    out = round_result(total, elapsed, [], time.process_time() - cpu0)
    out["p50_ns"] = out["p99_ns"] = None  # not observable per request through predict_many
    errors = [r for r in results if isinstance(r, Exception)]
    out["errors"] = len(errors)
    if errors:
        out["first_error"] = f"{type(errors[0]).__name__}: {errors[0]}"
    return out


class Contenders:
    """Every contender for one server, opened once and reused across rounds."""

    def __init__(self, server: Server, official: Official | None, names: tuple[str, ...]):
        self.server = server
        self.official = official
        self.names = [n for n in names if n != "eas-prediction" or official is not None]
        self.session: aiohttp.ClientSession | None = None
        self.clients: dict[tuple[str, str], PredictClient] = {}

    async def open(self, workloads: list[Workload]) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=KEEPALIVE_S),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        pool = PoolLimits(max_connections=100, keepalive_timeout=KEEPALIVE_S)
        for w in workloads:
            for name in ("aioeas", "aioeas many", "aioeas token"):
                if name in self.names:
                    token = TOKEN if name == "aioeas token" else None
                    client = PredictClient(
                        self.server.url, w.service, token=token, pool=pool, timeout=30.0
                    )
                    await client.init()
                    self.clients[name, w.name] = client
            if self.official is not None:
                spec: dict[str, Any] = {
                    "key": f"{self.server.kind}/{w.name}",
                    "url": self.server.url,
                    "service": w.service,
                    "kind": w.name,
                }
                if w.name == "string":
                    spec["bodies"] = [b.decode("latin-1") for b in w.bodies]
                else:
                    spec.update(
                        arrays=[a.ravel().tolist() for a in w.arrays],
                        shape=[1, 784],
                        signature=SIGNATURE,
                        input=INPUT,
                        output=["images"] if w.service == "echo_tf" else ["scores", "classes"],
                    )
                self.official.call(op="setup", **spec)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        if self.session is not None:
            await self.session.close()

    def _post(self, w: Workload) -> Call:
        assert self.session is not None
        session = self.session
        url = URL(f"{self.server.url}/api/predict/{w.service}", encoded=True)
        headers = {"Content-Type": "application/octet-stream"}

        async def post(body: bytes) -> bytes:
            async with session.post(url, data=body, headers=headers) as resp:
                data = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}: {data[:100]!r}")
                return data

        return post

    async def check(self, w: Workload) -> list[str]:
        """Each contender predicts each distinct request once; wrong answers returned."""
        problems: list[str] = []
        for name in self.names:
            if name == "eas-prediction":
                assert self.official is not None
                answers = self.official.call(op="check", key=f"{self.server.kind}/{w.name}")
                parsed: list[Any] = []
                for a in answers:
                    if isinstance(a, str):
                        parsed.append(a.encode("latin-1"))
                    else:
                        parsed.append(
                            {k: np.asarray(v["values"]).reshape(v["shape"]) for k, v in a.items()}
                        )
            elif name == "aiohttp":
                post = self._post(w)
                raw = [await post(b) for b in w.bodies]
                parsed = raw if w.name == "string" else [TFResponse(r) for r in raw]
            else:
                client = self.clients[name, w.name]
                parsed = [await client.predict(r) for r in w.requests]
                if w.name == "string":
                    parsed = [p.content for p in parsed]
            for i, answer in enumerate(parsed):
                wrong = w.expected_ok(answer, i)
                if wrong:
                    problems.append(f"{self.server.kind}/{w.name}/{name} request {i}: {wrong}")
        return problems

    async def run(self, name: str, w: Workload, total: int, concurrency: int) -> dict[str, Any]:
        cpu0 = self.server.cpu_s()
        if name == "eas-prediction":
            assert self.official is not None
            res: dict[str, Any] = self.official.call(
                op="run", key=f"{self.server.kind}/{w.name}", total=total, concurrency=concurrency
            )
        elif name == "aiohttp":
            res = await drive(self._post(w), w.bodies, total, concurrency)
        elif name == "aioeas many":
            res = await drive_many(self.clients[name, w.name], w.requests, total, concurrency)
        else:
            res = await drive(self.clients[name, w.name].predict, w.requests, total, concurrency)
        res["server_cpu"] = (self.server.cpu_s() - cpu0) / res["elapsed_s"]
        return res


# ----------------------------------------------------------------------------- report


@dataclass
class Cell:
    server: str
    workload: str
    concurrency: int
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # contender -> combined
    errors: dict[str, int] = field(default_factory=dict)


def med(cell: Cell, who: str, key: str = "rps") -> float | None:
    r = cell.results.get(who, {}).get(key)
    return None if r is None else float(r["median"])


def fx(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}x"


def rps_cell(r: dict[str, Any] | None) -> str:
    if not r or "rps" not in r:
        return "—"
    s = r["rps"]
    return f"{s['median']:,.0f} [{s['min']:,.0f} .. {s['max']:,.0f}]"


def lat_cell(r: dict[str, Any] | None) -> str:
    if not r or "p50_ns" not in r:
        return "—"
    a, b = r["p50_ns"], r["p99_ns"]
    return (
        f"{fmt_ns(a['median'])} [{fmt_ns(a['min'])} .. {fmt_ns(a['max'])}] / "
        f"{fmt_ns(b['median'])} [{fmt_ns(b['min'])} .. {fmt_ns(b['max'])}]"
    )


def cpu_cell(r: dict[str, Any] | None) -> str:
    if not r or "cpu_us" not in r:
        return "—"
    c, s = r["cpu_us"], r.get("server_cpu")
    out = f"{c['median']:.0f} µs"
    if s:
        out += f" / {s['median'] * 100:.0f}%"
    return out


def cpu_ratio(cell: Cell) -> float | None:
    """aiohttp's client CPU per request over aioeas's: the throughput ratio a client
    alone on its core would see, and far less sensitive to other load than req/s."""
    a, b = med(cell, "aioeas", "cpu_us"), med(cell, "aiohttp", "cpu_us")
    return b / a if a and b else None


def targets(cell: Cell) -> list[tuple[str, bool, float]]:
    out = []
    r = None
    a, b, e = med(cell, "aioeas"), med(cell, "aiohttp"), med(cell, "eas-prediction")
    if a and b:
        r = a / b
        out.append((f">= {AIOHTTP_MIN}x aiohttp", r >= AIOHTTP_MIN, r))
    if a and e and cell.concurrency == FORMAL_CONCURRENCY:
        r = a / e
        out.append((f">= {EAS_MIN:g}x eas-prediction", r >= EAS_MIN, r))
    return out


def label(cell: Cell) -> list[str]:
    star = " ★" if cell.concurrency == FORMAL_CONCURRENCY else ""
    return [cell.server, cell.workload, f"{cell.concurrency}{star}"]


def tables(
    cells: list[Cell], names: tuple[str, ...]
) -> dict[str, tuple[list[str], list[list[str]]]]:
    head = ["server", "workload", "in flight"]
    thr_h = (
        head
        + [f"{n} req/s" for n in names]
        + [
            "aioeas / aiohttp",
            "aioeas / eas-prediction",
            "targets",
            "CPU: aiohttp / aioeas",
        ]
    )
    thr, lat, cpu = [], [], []
    for c in cells:
        a, b, e = med(c, "aioeas"), med(c, "aiohttp"), med(c, "eas-prediction")
        verdict = " ".join("PASS" if ok else "FAIL" for _, ok, _ in targets(c)) or "—"
        thr.append(
            label(c)
            + [rps_cell(c.results.get(n)) for n in names]
            + [fx(a / b if a and b else None), fx(a / e if a and e else None), verdict]
            + [fx(cpu_ratio(c))]
        )
        lat_names = [n for n in names if n != "aioeas many"]
        lat.append(label(c) + [lat_cell(c.results.get(n)) for n in lat_names])
        cpu.append(label(c) + [cpu_cell(c.results.get(n)) for n in names])
    lat_names = [n for n in names if n != "aioeas many"]
    return {
        "Throughput, requests/s: median [min .. max] over the rounds": (thr_h, thr),
        "Latency per request, p50 / p99: median [min .. max] over the rounds": (
            head + lat_names,
            lat,
        ),
        "Client CPU per request / server CPU use (% of one core), medians": (
            head + list(names),
            cpu,
        ),
    }


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    # a cell with brackets in code spans, so that Markdown reads no link in "[1,784]"
    out += ["| " + " | ".join(f"`{v}`" if "[" in v else v for v in r) + " |" for r in rows]
    return "\n".join(out)


# ----------------------------------------------------------------------------- profile


def _own_times(prof: cProfile.Profile) -> dict[str, float]:
    """Function -> own (tottime) seconds."""
    stats = pstats.Stats(prof)
    out: dict[str, float] = {}
    for (path, line, func), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = path.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        out[f"{short}:{line}({func})"] = out.get(f"{short}:{line}({func})", 0.0) + tt
    return out


async def profile_aioeas(
    url: str, contenders: Contenders, w: Workload, total: int, concurrency: int
) -> str:
    """cProfile of the aiohttp floor and of aioeas on the same workload, and the
    functions whose own time differs most, per request: where aioeas's extra time goes."""
    pool = PoolLimits(max_connections=100, keepalive_timeout=KEEPALIVE_S)
    times: dict[str, dict[str, float]] = {}
    totals: dict[str, float] = {}
    async with PredictClient(url, w.service, pool=pool, timeout=30.0) as client:
        calls: dict[str, tuple[Call, list[Any]]] = {
            "aiohttp": (contenders._post(w), w.bodies),
            "aioeas": (client.predict, w.requests),
        }
        for name, (call, items) in calls.items():
            await drive(call, items, 500, concurrency)  # warm-up
            prof = cProfile.Profile()
            prof.enable()
            await drive(call, items, total, concurrency)
            prof.disable()
            times[name] = _own_times(prof)
            totals[name] = sum(times[name].values())
    lines = [
        f"own time under cProfile, µs per request (profiling inflates it 2-3x): "
        f"aiohttp {totals['aiohttp'] / total * 1e6:.0f}, aioeas {totals['aioeas'] / total * 1e6:.0f}",
        "functions with the largest difference (aioeas - aiohttp), µs per request:",
    ]
    keys = set(times["aiohttp"]) | set(times["aioeas"])
    diffs = sorted(
        ((times["aioeas"].get(k, 0.0) - times["aiohttp"].get(k, 0.0), k) for k in keys),
        reverse=True,
    )
    for d, k in diffs[:22]:
        a, b = times["aiohttp"].get(k, 0.0), times["aioeas"].get(k, 0.0)
        lines.append(
            f"  {d / total * 1e6:+7.2f}   ({a / total * 1e6:6.2f} -> {b / total * 1e6:6.2f})  {k}"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> int:
    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    pin = (os.cpu_count() or 1) >= 2 and not args.no_pin
    server_cpus, client_cpus = ({0}, {1}) if pin else (None, None)
    facts = local_facts()  # before pinning, so that it counts the machine's usable cores
    if client_cpus is not None:
        os.sched_setaffinity(0, client_cpus)
    facts["aiohttp"] = aiohttp.__version__
    facts["event loop"] = type(asyncio.get_running_loop()).__name__
    facts["cpu split"] = (
        "server process on CPU 0, client processes (this one, the SDK's worker) on CPU 1"
        if pin
        else "not pinned"
    )
    official = None if args.no_official else Official(client_cpus)
    official_facts = official.call(op="facts") if official is not None else {}
    concurrency = tuple(int(c) for c in args.concurrency.split(","))
    servers = args.servers.split(",")
    workloads_names = args.workloads.split(",")
    cells: list[Cell] = []
    problems: list[str] = []
    profiles: list[str] = []
    try:
        for kind in servers:
            server = Server(kind, server_cpus)
            progress(f"{kind} server at {server.url} (pid {server.proc.pid})")
            names = tuple(
                n
                for n in CONTENDERS[kind]
                if args.contenders in (None, "") or n in args.contenders.split(",")
            )
            contenders = Contenders(server, official, names)
            workloads = [make_workload(n, kind) for n in workloads_names]
            try:
                await contenders.open(workloads)
                for w in workloads:
                    problems += await contenders.check(w)
                    for conc in concurrency:
                        cell = Cell(kind, w.name, conc)
                        here = [
                            n
                            for n in contenders.names
                            if n not in EXTRA or conc == FORMAL_CONCURRENCY or args.all_levels
                        ]
                        rounds: dict[str, list[dict[str, Any]]] = {n: [] for n in here}
                        for n in here:  # warm-up: code paths and `conc` connections
                            await contenders.run(n, w, max(args.warmup, conc * 4), conc)
                        for r in range(args.rounds):
                            shift = r % len(here)
                            order = here[shift:] + here[:shift]
                            for n in order:
                                res = await contenders.run(n, w, args.requests, conc)
                                rounds[n].append(res)
                                if res.get("errors"):
                                    problems.append(
                                        f"{kind}/{w.name}/{conc}/{n}: {res['errors']} errors, "
                                        f"first: {res.get('first_error')}"
                                    )
                        cell.results = {n: combine(v) for n, v in rounds.items()}
                        cells.append(cell)
                        progress(
                            f"{kind} {w.name} x{conc}: "
                            + ", ".join(
                                f"{n} {cell.results[n]['rps']['median']:,.0f}/s" for n in here
                            )
                        )
                    problems += await contenders.check(w)  # still right after the load
                if args.profile and kind == servers[0]:
                    for w in workloads:
                        progress(f"profiling aioeas, {kind} {w.name} x{FORMAL_CONCURRENCY}")
                        text = await profile_aioeas(
                            server.url, contenders, w, args.requests, FORMAL_CONCURRENCY
                        )
                        profiles.append(
                            f"--- cProfile: aioeas, {kind} {w.name}, "
                            f"{FORMAL_CONCURRENCY} in flight, {args.requests} "
                            f"requests ---\n{text}"
                        )
            finally:
                await contenders.close()
                server.stop()
    finally:
        if official is not None:
            official.close()

    # ---- report
    names = tuple(n for n in ALL_CONTENDERS if any(n in c.results for c in cells))
    facts["load average"] += f" at start, {loadavg()} at the end"
    print()
    print("Machine")
    for k, v in facts.items():
        print(f"  {k:18s} {v}")
    if official_facts:
        print("  eas-prediction side: " + ", ".join(f"{k} {v}" for k, v in official_facts.items()))
    print(
        f"\n{args.rounds} rounds of {args.requests} requests per contender and cell, after a "
        f"warm-up of max({args.warmup}, 4 x in flight); ★ = DESIGN.md's formal rows "
        f"(64 in flight)."
    )
    built = tables(cells, names)
    for title, (h, rows) in built.items():
        print(f"\n{title}\n")
        print(text_table(h, rows))
    print("\nTargets")
    for c in cells:
        for name, ok, ratio in targets(c):
            print(
                f"  [{'PASS' if ok else 'FAIL'}] {' '.join(label(c)):28s} aioeas {name}: {ratio:.2f}x"
            )
    checks = len(cells) and "answers checked before and after each workload's rounds"
    print(f"\nCorrectness: {checks}; " + ("all right" if not problems else "PROBLEMS:"))
    for p in problems:
        print(f"  PROBLEM: {p}")
    if args.markdown:
        for title, (h, rows) in built.items():
            print(f"\n**{title}**\n")
            print(markdown_table(h, rows))
    for text in profiles:
        print()
        print(text)
    if args.json:
        Path(args.json).write_text(  # noqa: ASYNC240 - the run is over, nothing else waits
            json.dumps(
                {
                    "facts": facts,
                    "official_facts": official_facts,
                    "args": vars(args),
                    "cells": [
                        {
                            "server": c.server,
                            "workload": c.workload,
                            "concurrency": c.concurrency,
                            "results": c.results,
                        }
                        for c in cells
                    ],
                    "problems": problems,
                },
                indent=1,
            )
        )
    progress("done")
    return 1 if problems else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="requests per round (2000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per contender and cell (3)")
    ap.add_argument("--warmup", type=int, default=200, help="warm-up requests (200)")
    ap.add_argument("--concurrency", default="1,8,64", help="in-flight levels (1,8,64)")
    ap.add_argument("--servers", default="echo,emulator", help="echo,emulator")
    ap.add_argument("--workloads", default="string,tf", help="string,tf")
    ap.add_argument(
        "--contenders",
        default=None,
        help="a comma-separated subset of: " + ",".join(ALL_CONTENDERS),
    )
    ap.add_argument(
        "--all-levels", action="store_true", help="'aioeas many'/'aioeas token' at every level"
    )
    ap.add_argument("--quick", action="store_true", help="600 requests a round, 100 warm-up")
    ap.add_argument("--no-official", action="store_true", help="skip eas-prediction")
    ap.add_argument("--no-pin", action="store_true", help="do not pin server/client to CPUs")
    ap.add_argument("--profile", action="store_true", help="cProfile aioeas at 64 in flight")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown too")
    ap.add_argument("--json", metavar="PATH", help="write every round as JSON")
    args = ap.parse_args()
    if args.quick:
        args.requests, args.warmup = 600, 100
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
