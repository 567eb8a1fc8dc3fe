"""Timing helpers shared by the benchmark and its official-SDK worker.

Standard library only: the same file is imported by ``bench_codecs.py`` (aioeas's venv)
and by ``_official_worker.py`` (the eas-prediction venv, protobuf 3.20.3), so both sides
are timed by exactly the same loop.

How one measurement goes (``measure``):

* ``warmup`` untimed calls (the first also estimates the cost of a call);
* ``rounds`` timed rounds; a round calls the function ``number`` times back to back and
  records ``elapsed / number`` with ``time.perf_counter_ns``; ``number`` is chosen so that a
  round lasts at least ``min_round_s`` (cheap calls are batched, slow ones run once);
* fewer rounds (never below ``min_rounds``) when ``budget_s`` would be exceeded;
* the garbage collector is off while rounds run, as ``timeit`` does.

The result is the median and the spread (quartiles, min, max) of the per-call times.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["fmt_ns", "measure", "summarize"]


def summarize(samples_ns: list[float], number: int) -> dict[str, Any]:
    """Median, quartiles (inclusive method), min and max of per-call times, in ns."""
    s = sorted(samples_ns)
    if len(s) >= 2:
        q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
    else:
        q1 = q3 = s[0]
    return {
        "median_ns": statistics.median(s),
        "q1_ns": q1,
        "q3_ns": q3,
        "min_ns": s[0],
        "max_ns": s[-1],
        "rounds": len(s),
        "number": number,
    }


def measure(
    fn: Callable[[], Any],
    *,
    warmup: int = 2,
    rounds: int = 15,
    min_rounds: int = 5,
    min_round_s: float = 0.02,
    budget_s: float = 2.0,
    number: int | None = None,
) -> dict[str, Any]:
    """Time ``fn()``; see the module docstring. ``number`` fixes the calls per round."""
    perf = time.perf_counter_ns
    estimate_ns = None
    for i in range(warmup):
        t0 = perf()
        fn()
        if i == 0 or estimate_ns is None:
            estimate_ns = max(perf() - t0, 1)
        else:
            estimate_ns = min(estimate_ns, max(perf() - t0, 1))
    if number is None:
        if estimate_ns is None:  # no warm-up: one probing call, then count it as warm-up
            t0 = perf()
            fn()
            estimate_ns = max(perf() - t0, 1)
        number = max(1, math.ceil(min_round_s * 1e9 / estimate_ns))
    if estimate_ns is not None:
        affordable = int(budget_s * 1e9 // max(estimate_ns * number, 1))
        rounds = max(min_rounds, min(rounds, affordable))
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            t0 = perf()
            for _ in range(number):
                fn()
            samples.append((perf() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return summarize(samples, number)


def _num(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def fmt_ns(ns: float) -> str:
    """A duration with a unit, three significant digits or so (``41.2 µs``)."""
    for scale, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if ns >= scale * 0.9995:
            return f"{_num(ns / scale)} {unit}"
    return f"{ns:.0f} ns"
