"""Queue service benchmark: aioeas vs the official eas-prediction QueueClient, and
submit-and-await round trips, against the emulator in its own process.

Run from the repository root::

    .venv/bin/python benchmarks/bench_queue.py             # 1.5 to 4 minutes
    .venv/bin/python benchmarks/bench_queue.py --markdown  # the tables in Markdown too
    .venv/bin/python benchmarks/bench_queue.py --quick     # 2,000 records, 2 rounds, ~40 s
    .venv/bin/python benchmarks/bench_queue.py --profile   # + cProfile of aioeas's watch phase

Workload 1, put then watch with manual commit (``--records`` 10,000 records of ``--size``
100 bytes, each round on a fresh emulator queue):

* aioeas: ``QueueClient.put`` from ``--put-concurrency`` (64) coroutines; then
  ``async with queue.watch(0, window) as w: async for rec in w: ...`` until every record
  came, each record committed in one of two forms:

  - "coalesced": ``w.commit(rec)``; the watcher gathers the commits into few PUTs (a list
    of indexes each) while the loop goes on; ``await w.flush()`` at the end (every commit
    acknowledged);
  - "commit each": ``await queue.commit(rec.index)``: one PUT per record, answered
    before the next record is taken, as the SDK's ``queue.commit(df.index)`` does;

* eas-prediction 0.36 in its own venv (``_queue_official_worker.py``): ``queue.put`` in a
  loop; then ``for df in queue.watch(0, window).run(): ...``, each record committed

  - "commit each": ``queue.commit(df.index)``, one HTTP PUT per record (the docs'
    example of manual commit);
  - "commit lists": ``queue.commit([...])`` every ``--official-batch`` (32) records and
    for the last ones: the manual's ``commit(index)`` takes a list, so this is the SDK at
    its best. The batch stays below the window: the service pushes no more than
    ``window`` uncommitted records, and a loop waiting for more before it commits would
    wait for ever.

All use the same window (``--window``, 64). The fair comparison is form against form:
aioeas coalesced against eas-prediction's lists, and commit each against commit each.
Put rate = records / put phase; watch+commit
rate = records / (open the watch .. last commit acknowledged); end-to-end = both phases.
Checked every round (not timed): each side received exactly the indexes it put, each once,
with the right bodies, and committed each once; afterwards the queue is empty (its
``stream.length`` attribute is 0) and no consumer holds a pending record.

Workload 2, submit and await: ``AsyncInference(url, "async_echo").submit(body)`` through
the emulator's asynchronous-inference worker (the built-in ``echo`` predict service as
processor, 32 records at a time) with 1, 64 and 500 submissions in flight (N coroutines
submitting until the round's count is done); submissions/s and per-submission latency
(p50, p99, from ``submit`` called to the result in hand). Every result must equal its
input; afterwards the input and sink queues are empty.

Each round records the client's CPU time (``time.process_time``) and the emulator's
(``/proc/PID/stat``). The emulator process is pinned to CPU 0 and the clients (this
process and the SDK's) to CPU 1 (``--no-pin`` leaves it to the kernel). Tables give the
median and min..max over the rounds; ratios are of medians, with the range of the
per-round (paired) ratios. Workload 1 runs ``--rounds`` (3) rounds, the contenders in
turn (the order reversed every other round), but no round after the second starts when
it would likely end past ``--budget`` seconds (300; an SDK round takes 25 s on a quiet
machine and up to 2 minutes on a busy one).

``--chart PATH`` draws workload 1 as an SVG bar chart into PATH, and workload 2 into PATH
with ``-submit`` before the suffix (matplotlib: ``pip install 'aioeas[bench]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from _charts import bar_chart, needs_log  # noqa: E402
from _load import percentile  # noqa: E402
from _procs import ServerProcess, pin  # noqa: E402
from bench_codecs import loadavg, local_facts  # noqa: E402

import aioeas  # noqa: E402, F401
from aioeas.queue import AsyncInference, QueueClient  # noqa: E402

WATCH_MIN_RATIO = 5.0  # DESIGN.md: queue watch with commit >= 5x eas-prediction's watcher
ECHO_QUEUE = "async_echo"
WORKER_CONCURRENCY = 32

# The contenders of workload 1: (name, side, commit form)
A_COALESCED = "aioeas, coalesced"
A_EACH = "aioeas, commit each"
O_EACH = "eas-prediction, commit each"
O_LIST = "eas-prediction, commit lists"
FORMS = {
    A_COALESCED: ("aioeas", "coalesced"),
    A_EACH: ("aioeas", "each"),
    O_EACH: ("eas-prediction", "each"),
    O_LIST: ("eas-prediction", "list"),
}
#: (label, aioeas form, eas-prediction form, carries DESIGN.md's target)
PAIRS = [
    ("coalesced vs lists (each at its best) ★", A_COALESCED, O_LIST, True),
    ("commit each vs commit each", A_EACH, O_EACH, False),
    ("coalesced vs commit each", A_COALESCED, O_EACH, False),
]


def payload(i: int, size: int) -> bytes:
    """Record ``i``'s body: its number in 8 digits, padded to ``size`` bytes."""
    head = b"%08d" % i
    return head + b"x" * max(0, size - len(head))


def digest(indexes: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(indexes))).encode()).hexdigest()


# ----------------------------------------------------------------------------- processes


class EmulatorProcess(ServerProcess):
    """``python -m aioeas.emulator`` with the benchmark's queues; CPU time from /proc."""

    def __init__(self, queues: list[str], cpus: set[int] | None, profile_to: str | None) -> None:
        cmd = [sys.executable]
        if profile_to:
            cmd += ["-m", "cProfile", "-o", profile_to]
        cmd += ["-m", "aioeas.emulator", "--port", "0"]
        cmd += [
            *(x for q in queues for x in ("--queue", q)),
            "--queue",
            f"{ECHO_QUEUE}=echo:{WORKER_CONCURRENCY}",
        ]
        super().__init__(cmd, cpus, "the emulator", stop_wait=15)


def official_python() -> Path:
    from tests.support.official import official_python as make

    return make()


def official_round(
    python: Path,
    url: str,
    queue: str,
    args: argparse.Namespace,
    server: EmulatorProcess,
    cpus: set[int] | None,
    commit: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = {
        "url": url,
        "queue": queue,
        "records": args.records,
        "size": args.size,
        "window": args.window,
        "server_pid": server.pid,
        "commit": commit,
        "batch": args.official_batch,
    }
    proc = subprocess.run(
        [str(python), "-W", "ignore", str(HERE / "_queue_official_worker.py")],
        input=json.dumps(spec),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        cwd=ROOT,
        preexec_fn=pin(cpus),
        timeout=600,
    )
    answer = json.loads(proc.stdout)
    return answer["result"], answer["facts"]


# ----------------------------------------------------------------------------- aioeas side


async def aioeas_round(
    url: str,
    queue: str,
    args: argparse.Namespace,
    server: EmulatorProcess,
    profiler: cProfile.Profile | None = None,
    commit: str = "coalesced",
) -> dict[str, Any]:
    n, size = args.records, args.size
    bodies = [payload(i, size) for i in range(n)]
    async with QueueClient(url, queue) as q:
        # ---- put, from put_concurrency coroutines sharing a counter
        put_indexes = [0] * n
        counter = iter(range(n))

        async def putter() -> None:
            for i in counter:
                index, _request_id = await q.put(bodies[i])
                put_indexes[i] = index

        c0, s0, t0 = time.process_time(), server.cpu_s(), time.perf_counter()
        await asyncio.gather(*(putter() for _ in range(args.put_concurrency)))
        put_s = time.perf_counter() - t0
        put_cpu, put_server = time.process_time() - c0, server.cpu_s() - s0

        # ---- watch + commit each record through the coalescing watcher
        received: list[int] = []
        seqs: list[int] = []
        bad_data = 0
        each = 0  # commits sent one by one (the "each" form)
        if profiler is not None:
            profiler.enable()
        c0, s0, t0 = time.process_time(), server.cpu_s(), time.perf_counter()
        async with q.watch(0, args.window, auto_commit=False) as w:
            async for rec in w:
                received.append(rec.index)
                seq = int(rec.data[:8])
                seqs.append(seq)
                if rec.data != bodies[seq]:
                    bad_data += 1
                if commit == "each":  # one PUT for this record, answered before the next
                    await q.commit(rec.index)
                    each += 1
                else:
                    w.commit(rec)
                if len(received) == n:
                    break
            await w.flush()
            watch_s = time.perf_counter() - t0
            watch_cpu, watch_server = time.process_time() - c0, server.cpu_s() - s0
            if profiler is not None:
                profiler.disable()
            stats = w.stats
            error = w.error
    return {
        "put_s": put_s,
        "put_cpu_s": put_cpu,
        "put_server_cpu_s": put_server,
        "watch_s": watch_s,
        "watch_cpu_s": watch_cpu,
        "watch_server_cpu_s": watch_server,
        "put_count": n,
        "put_digest": digest(put_indexes),
        "received": len(received),
        "distinct": len(set(received)),
        "received_digest": digest(received),
        "seqs_ok": sorted(seqs) == list(range(n)),
        "bad_data": bad_data,
        "commits": stats.commits_sent + each,
        "commit_requests": stats.commit_requests + each,
        "duplicates": stats.duplicates,
        "reconnects": stats.reconnects,
        "max_in_hand": stats.max_in_hand,
        "error": repr(error) if error else None,
        "first_index": min(put_indexes),
        "last_index": max(put_indexes),
    }


async def queue_state(url: str, queue: str) -> dict[str, str]:
    async with QueueClient(url, queue) as q:
        return await q.attributes()


def check_round(who: str, r: dict[str, Any], attrs: dict[str, str], n: int) -> list[str]:
    """What must hold after a round of workload 1 (problems as text; empty when fine)."""
    problems = []
    if r["put_count"] != n or r["last_index"] - r["first_index"] + 1 != n:
        problems.append(
            f"{who}: {r['put_count']} puts, indexes {r['first_index']}..{r['last_index']}"
        )
    if r["received"] != n or r["distinct"] != n:
        problems.append(
            f"{who}: received {r['received']} records, {r['distinct']} distinct, of {n}"
        )
    if r["received_digest"] != r["put_digest"]:
        problems.append(f"{who}: the indexes received are not the indexes put")
    if not r["seqs_ok"] or r["bad_data"]:
        problems.append(f"{who}: bodies wrong ({r['bad_data']} differ, all seen: {r['seqs_ok']})")
    if r["commits"] != n:
        problems.append(f"{who}: {r['commits']} commits acknowledged, expected {n}")
    if r.get("error") or r.get("duplicates") or r.get("reconnects"):
        problems.append(
            f"{who}: watcher error {r.get('error')}, {r.get('duplicates')} duplicates, "
            f"{r.get('reconnects')} reconnects"
        )
    if attrs.get("stream.length") != "0":
        problems.append(f"{who}: the queue holds {attrs.get('stream.length')} records afterwards")
    if attrs.get("stream.lastEntry") != str(r["last_index"]):
        problems.append(
            f"{who}: stream.lastEntry {attrs.get('stream.lastEntry')}, last put {r['last_index']}"
        )
    for key, line in attrs.items():
        if key.startswith("consumers.list.") and "Pending: 0," not in line:
            problems.append(f"{who}: a consumer still holds records: {line}")
    return problems


# ----------------------------------------------------------------------------- workload 2


async def submit_rounds(
    url: str, in_flight: int, total: int, rounds: int, size: int, server: EmulatorProcess
) -> tuple[list[dict[str, Any]], list[str]]:
    problems: list[str] = []
    out: list[dict[str, Any]] = []
    async with AsyncInference(url, ECHO_QUEUE, timeout=60) as inference:

        async def run(count: int, tag: int) -> dict[str, Any]:
            latencies: list[float] = []
            wrong = 0
            counter = iter(range(count))

            async def submitter() -> None:
                nonlocal wrong
                for i in counter:
                    body = payload(tag * 10_000_000 + i, size)
                    t = time.perf_counter()
                    result = await inference.submit(body)
                    latencies.append(time.perf_counter() - t)
                    if result.data != body:
                        wrong += 1

            c0, s0, t0 = time.process_time(), server.cpu_s(), time.perf_counter()
            await asyncio.gather(*(submitter() for _ in range(min(in_flight, count))))
            wall = time.perf_counter() - t0
            lat = sorted(latencies)
            return {
                "count": len(latencies),
                "wall_s": wall,
                "rate": len(latencies) / wall,
                "p50_s": percentile(lat, 0.5),
                "p99_s": percentile(lat, 0.99),
                "cpu_s": time.process_time() - c0,
                "server_cpu_s": server.cpu_s() - s0,
                "wrong": wrong,
            }

        await run(max(50, 2 * in_flight), tag=99)  # warm-up: connections, code paths
        for r in range(rounds):
            res = await run(total, tag=r + 1)
            if res["wrong"] or res["count"] != total:
                problems.append(
                    f"submit x{in_flight}: {res['count']} of {total} results, {res['wrong']} wrong"
                )
            out.append(res)
        if inference.in_flight or inference.unclaimed:
            problems.append(
                f"submit x{in_flight}: {inference.in_flight} in flight, "
                f"{inference.unclaimed} unclaimed at the end"
            )
    for name in (ECHO_QUEUE, f"{ECHO_QUEUE}/sink"):
        attrs = await queue_state(url, name)
        if attrs.get("stream.length") != "0":
            problems.append(
                f"submit x{in_flight}: {name} holds {attrs.get('stream.length')} records"
            )
    return out, problems


# ----------------------------------------------------------------------------- report


def med(rounds: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rounds))


def spread(values: list[float], fmt: Callable[[float], str]) -> str:
    return f"{fmt(statistics.median(values))} [{fmt(min(values))} .. {fmt(max(values))}]"


def f_rate(x: float) -> str:
    return f"{x:,.0f}/s"


def f_s(x: float) -> str:
    return f"{x:.2f} s"


def f_ms(x: float) -> str:
    return f"{x * 1e3:.2f} ms" if x < 0.1 else f"{x * 1e3:.0f} ms"


def f_us(x: float) -> str:
    return f"{x * 1e6:.0f} µs"


def f_x(x: float) -> str:
    return f"{x:.1f}x" if x < 100 else f"{x:.0f}x"


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def workload1_tables(
    results: dict[str, list[dict[str, Any]]], n: int
) -> tuple[tuple[list[str], list[list[str]]], tuple[list[str], list[list[str]]], bool | None]:
    headers = [
        "client, commit form",
        "put rate",
        "watch+commit rate",
        "end-to-end",
        "client CPU / record (put, watch)",
        "server CPU / record (put, watch)",
        "commit PUTs / round",
    ]
    rows = []
    for who, rs in results.items():
        if not rs:
            continue
        put_rates = [n / r["put_s"] for r in rs]
        watch_rates = [n / r["watch_s"] for r in rs]
        e2e = [r["put_s"] + r["watch_s"] for r in rs]
        cpu = f"{f_us(med(rs, 'put_cpu_s') / n)}, {f_us(med(rs, 'watch_cpu_s') / n)}"
        if "put_server_cpu_s" in rs[0]:
            srv = (
                f"{f_us(med(rs, 'put_server_cpu_s') / n)}, "
                f"{f_us(med(rs, 'watch_server_cpu_s') / n)}"
            )
        else:
            srv = "—"
        rows.append(
            [
                who,
                spread(put_rates, f_rate),
                spread(watch_rates, f_rate),
                spread(e2e, f_s),
                cpu,
                srv,
                ", ".join(str(r["commit_requests"]) for r in rs),
            ]
        )
    ratio_headers = ["aioeas / eas-prediction", "rate", "ratio of medians", "per-round range"]
    ratio_headers.append("target")
    ratio_rows: list[list[str]] = []
    passed: bool | None = None
    for label, ours_name, theirs_name, carries_target in PAIRS:
        a, o = results.get(ours_name) or [], results.get(theirs_name) or []
        if not (a and o):
            continue
        pairs = list(zip(a, o, strict=False))
        for what, key in (("put", "put_s"), ("watch+commit", "watch_s"), ("end-to-end", None)):
            if key is None:
                ours = statistics.median(r["put_s"] + r["watch_s"] for r in a)
                theirs = statistics.median(r["put_s"] + r["watch_s"] for r in o)
                per = [(y["put_s"] + y["watch_s"]) / (x["put_s"] + x["watch_s"]) for x, y in pairs]
            else:
                ours, theirs = med(a, key), med(o, key)
                per = [y[key] / x[key] for x, y in pairs]
            ratio = theirs / ours
            verdict = "—"
            if carries_target and key == "watch_s":
                ok = ratio >= WATCH_MIN_RATIO
                passed = ok
                verdict = f"{'PASS' if ok else 'FAIL'} (>= {WATCH_MIN_RATIO:g}x)"
            ratio_rows.append(
                [label, what, f_x(ratio), f"{f_x(min(per))} .. {f_x(max(per))}", verdict]
            )
    return (headers, rows), (ratio_headers, ratio_rows), passed


def workload2_table(results: dict[int, list[dict[str, Any]]]) -> tuple[list[str], list[list[str]]]:
    headers = [
        "in flight",
        "submissions / round",
        "submissions/s",
        "latency p50",
        "latency p99",
        "client CPU / submission",
        "server CPU / submission",
    ]
    rows = []
    for level, rs in results.items():
        count = rs[0]["count"]
        rows.append(
            [
                str(level),
                f"{count:,}",
                spread([r["rate"] for r in rs], f_rate),
                spread([r["p50_s"] for r in rs], f_ms),
                spread([r["p99_s"] for r in rs], f_ms),
                f_us(med(rs, "cpu_s") / count),
                f_us(med(rs, "server_cpu_s") / count),
            ]
        )
    return headers, rows


def print_profile(prof: cProfile.Profile, records: int, top: int = 25) -> None:
    st = pstats.Stats(prof)
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        short = f"{Path(file).name}:{line}({fn})" if file != "~" else fn
        rows.append((tt, ct, nc, short))
    total = sum(r[0] for r in rows)
    rows.sort(reverse=True)
    print(f"cProfile of aioeas's watch+commit phase ({records:,} records): own time per record")
    print(f"  total {total / records * 1e6:.1f} µs per record of Python time")
    for tt, ct, nc, name in rows[:top]:
        print(
            f"  {tt / records * 1e6:7.2f} µs own {ct / records * 1e6:7.2f} µs cum "
            f"{nc / records:6.2f} calls  {name}"
        )


def draw_charts(
    w1: dict[str, list[dict[str, Any]]],
    w2: dict[int, list[dict[str, Any]]],
    args: argparse.Namespace,
) -> None:
    """Workload 1 (rates per commit form) into ``args.chart``; workload 2 next to it."""

    def rate(values: list[float]) -> tuple[float, float, float]:
        return statistics.median(values), min(values), max(values)

    n = args.records
    groups: dict[str, dict[str, tuple[float, float, float]]] = {"put": {}, "watch + commit": {}}
    for who, rs in w1.items():
        if rs:
            groups["put"][who] = rate([n / r["put_s"] for r in rs])
            groups["watch + commit"][who] = rate([n / r["watch_s"] for r in rs])
    if any(groups.values()):
        bar_chart(
            args.chart,
            f"Queue: {n:,} records of {args.size} B, window {args.window} (median, min..max)",
            "records per second",
            groups,
            log=needs_log(groups),
        )
    if w2:
        path = Path(args.chart)
        submit = {
            f"{level} in flight": {"aioeas AsyncInference": rate([r["rate"] for r in rs])}
            for level, rs in w2.items()
        }
        bar_chart(
            path.with_name(path.stem + "-submit" + path.suffix),
            "Submit and await through the emulator's worker (median, min..max)",
            "submissions per second",
            submit,
            log=needs_log(submit),
        )


# ----------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> int:
    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    facts = local_facts()  # before pinning: it counts the usable cores
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = not args.no_pin and len(cpus) >= 2
    server_cpus = {cpus[0]} if pin else None
    client_cpus = set(cpus[1:]) if pin else None
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    facts["pinning"] = (
        f"emulator on CPU {cpus[0]}, clients on CPU {','.join(map(str, cpus[1:]))}"
        if pin
        else "none"
    )
    python = None if args.no_official else await asyncio.to_thread(official_python)
    contenders = [
        who for who in args.forms if not (args.no_official and FORMS[who][0] == "eas-prediction")
    ]
    slot = {who: i for i, who in enumerate(FORMS)}  # each contender's own queue per round
    queues = [f"q{r}_{slot[who]}" for r in range(args.rounds) for who in contenders]
    queues.append(f"q{args.rounds}_profile")
    server = EmulatorProcess(
        queues, server_cpus, str(args.server_profile) if args.server_profile else None
    )
    progress(f"emulator at {server.url} (pid {server.pid})")
    problems: list[str] = []
    notes: list[str] = []
    official_facts: dict[str, Any] = {}
    w1: dict[str, list[dict[str, Any]]] = {who: [] for who in contenders}
    w2: dict[int, list[dict[str, Any]]] = {}
    profiler = cProfile.Profile() if args.profile else None
    try:
        if not args.skip_queue:
            w1_started = time.perf_counter()
            for r in range(args.rounds):
                spent = time.perf_counter() - w1_started
                if r >= 2 and spent + spent / r > args.budget:
                    notes.append(
                        f"workload 1 stopped after {r} of {args.rounds} rounds: another would "
                        f"pass the {args.budget:g} s budget (--budget)"
                    )
                    progress(notes[-1])
                    break
                order = contenders if r % 2 == 0 else contenders[::-1]
                for who in order:
                    queue = f"q{r}_{slot[who]}"
                    side, form = FORMS[who]
                    if side == "aioeas":
                        res = await aioeas_round(server.url, queue, args, server, commit=form)
                    else:
                        assert python is not None
                        res, official_facts = await asyncio.to_thread(
                            official_round,
                            python,
                            server.url,
                            queue,
                            args,
                            server,
                            client_cpus,
                            form,
                        )
                    attrs = await queue_state(server.url, queue)
                    problems += check_round(f"{who} round {r + 1}", res, attrs, args.records)
                    w1[who].append(res)
                    progress(
                        f"round {r + 1} {who}: put {args.records / res['put_s']:,.0f}/s, "
                        f"watch+commit {args.records / res['watch_s']:,.0f}/s"
                    )
            if profiler is not None:
                queue = f"q{args.rounds}_profile"
                await aioeas_round(server.url, queue, args, server, profiler=profiler)
                progress("profiled round done")
        for level, total in zip(args.in_flight, args.submissions, strict=True):
            rs, probs = await submit_rounds(
                server.url, level, total, args.submit_rounds, args.size, server
            )
            w2[level] = rs
            problems += probs
            progress(
                f"submit x{level}: {statistics.median(x['rate'] for x in rs):,.0f}/s, "
                f"p50 {statistics.median(x['p50_s'] for x in rs) * 1e3:.2f} ms"
            )
    finally:
        server.stop()

    # ---- report
    facts["load average"] += f" at start, {loadavg()} at the end"
    print()
    print("Machine")
    for k, v in facts.items():
        print(f"  {k:18s} {v}")
    if official_facts:
        print("  eas-prediction side: " + ", ".join(f"{k} {v}" for k, v in official_facts.items()))
    print(
        f"\nWorkload 1: put {args.records:,} records of {args.size} bytes, then watch and commit "
        f"each (window {args.window}; aioeas puts from {args.put_concurrency} coroutines; "
        f"eas-prediction's lists of {args.official_batch}); {args.rounds} rounds, "
        "median [min .. max]"
    )
    tables: list[tuple[list[str], list[list[str]]]] = []
    passed: bool | None = None
    if not args.skip_queue:
        for note in notes:
            print(f"NOTE: {note}")
        t1, t2, passed = workload1_tables(w1, args.records)
        print(text_table(*t1))
        tables.append(t1)
        if t2[1]:
            print()
            print(text_table(*t2))
            tables.append(t2)
        in_hand = [x["max_in_hand"] for x in w1.get(A_COALESCED, [])]
        if in_hand:  # commits through the watcher: it counts what is in hand
            print(f"{A_COALESCED}: at most {max(in_hand)} records in hand (the window bounds it)")
    print(
        f"\nWorkload 2: submit and await through the emulator's worker (echo, "
        f"{WORKER_CONCURRENCY} at a time), {args.submit_rounds} rounds, median [min .. max]"
    )
    t3 = workload2_table(w2)
    print(text_table(*t3))
    tables.append(t3)
    print()
    if passed is not None:
        print(
            f"Target: watch+commit >= {WATCH_MIN_RATIO:g}x eas-prediction: "
            f"{'PASS' if passed else 'FAIL'}"
        )
    checked = sum(len(v) for v in w1.values())
    print(
        f"Checks: {checked} workload-1 rounds and {sum(len(v) for v in w2.values())} "
        "submit rounds verified" + ("" if not problems else "; PROBLEMS:")
    )
    for p in problems:
        print(f"  PROBLEM: {p}")
    if profiler is not None:
        print()
        print_profile(profiler, args.records)
    if args.chart:
        draw_charts(w1, w2, args)
    if args.markdown:
        for headers, rows in tables:
            print()
            print(markdown_table(headers, rows))
    if args.json:
        await asyncio.to_thread(
            Path(args.json).write_text,
            json.dumps(
                {
                    "facts": facts,
                    "official_facts": official_facts,
                    "args": {k: v for k, v in vars(args).items() if k != "server_profile"},
                    "workload1": w1,
                    "workload2": {str(k): v for k, v in w2.items()},
                    "problems": problems,
                },
                indent=1,
            ),
        )
    progress("done")
    return 1 if problems else 0


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=10_000, help="records per round (10,000)")
    ap.add_argument("--size", type=int, default=100, help="bytes per record (100)")
    ap.add_argument("--window", type=int, default=64, help="watch window, both clients (64)")
    ap.add_argument("--put-concurrency", type=int, default=64, help="aioeas puts in flight (64)")
    ap.add_argument("--rounds", type=int, default=3, help="workload-1 rounds (3)")
    ap.add_argument(
        "--official-batch",
        type=int,
        default=32,
        help="eas-prediction's commit lists: records per list, below the window (32)",
    )
    ap.add_argument(
        "--forms",
        type=lambda t: [x.strip() for x in t.split(";") if x.strip()],
        default=list(FORMS),
        help="workload-1 contenders, ';'-separated (all four: " + "; ".join(FORMS) + ")",
    )
    ap.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds for workload 1: no round starts (after the 2nd) that would pass it (300)",
    )
    ap.add_argument("--in-flight", type=_ints, default=[1, 64, 500], help="1,64,500")
    ap.add_argument(
        "--submissions", type=_ints, default=[300, 3000, 4000], help="per round, per level"
    )
    ap.add_argument("--submit-rounds", type=int, default=3, help="workload-2 rounds (3)")
    ap.add_argument("--quick", action="store_true", help="2,000 records, 2 rounds, fewer submits")
    ap.add_argument("--no-official", action="store_true", help="aioeas only")
    ap.add_argument("--skip-queue", action="store_true", help="workload 2 only")
    ap.add_argument("--no-pin", action="store_true", help="no CPU pinning")
    ap.add_argument("--profile", action="store_true", help="cProfile one more aioeas round")
    ap.add_argument(
        "--server-profile", metavar="PATH", help="run the emulator under cProfile, stats to PATH"
    )
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown too")
    ap.add_argument("--json", metavar="PATH", help="write every round as JSON")
    ap.add_argument(
        "--chart",
        metavar="PATH",
        help="SVG bar charts of both workloads (PATH, PATH-submit; needs aioeas[bench]); "
        "docs/img/bench-queue.svg is the one docs/benchmarks.md shows",
    )
    args = ap.parse_args()
    unknown = [f for f in args.forms if f not in FORMS]
    if unknown:
        ap.error(f"unknown --forms {unknown}: pick from {list(FORMS)}")
    if not 0 < args.official_batch < args.window:
        ap.error("--official-batch must be below --window (else the SDK's loop waits for ever)")
    if args.quick:
        args.records, args.rounds, args.submit_rounds = 2000, 2, 2
        args.submissions = [100, 1000, 1500]
    if len(args.in_flight) != len(args.submissions):
        ap.error("--in-flight and --submissions need as many values")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
