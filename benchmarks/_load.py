"""Load-test bookkeeping shared by ``bench_predict.py`` and ``_official_load_worker.py``.

Standard library only (the worker runs in the eas-prediction venv). A *round* is a fixed
number of requests sent by ``concurrency`` workers (coroutines or threads) that each take
the next request index from a shared counter until none is left, so exactly
``concurrency`` requests are in flight until the tail. A round records:

* ``rps``: requests / wall time from the first send to the last answer;
* ``p50_ns``, ``p99_ns``: per-request latency (send to parsed answer), over the round;
* ``cpu_us``: the client process's CPU time per request (user + system), which does not
  depend on how busy the server is.

``combine`` reduces the rounds of one measurement to the median and the min..max of each.
"""

from __future__ import annotations

import statistics
from typing import Any

__all__ = ["combine", "percentile", "round_result"]


def percentile(sorted_ns: list[int] | list[float], q: float) -> float:
    """The q-quantile by linear interpolation between closest ranks (numpy's default)."""
    if not sorted_ns:
        return float("nan")
    k = (len(sorted_ns) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_ns) - 1)
    return sorted_ns[lo] + (sorted_ns[hi] - sorted_ns[lo]) * (k - lo)


def round_result(
    n: int, elapsed_ns: int, latencies_ns: list[int], cpu_s: float | None
) -> dict[str, Any]:
    lat = sorted(latencies_ns)
    return {
        "n": n,
        "elapsed_s": elapsed_ns / 1e9,
        "rps": n / (elapsed_ns / 1e9),
        "p50_ns": percentile(lat, 0.50),
        "p99_ns": percentile(lat, 0.99),
        "cpu_us": None if cpu_s is None else cpu_s * 1e6 / n,
    }


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and min..max over the rounds of each figure; the rounds are kept too."""
    out: dict[str, Any] = {"rounds": rounds}
    for key in ("rps", "p50_ns", "p99_ns", "cpu_us", "server_cpu"):
        vals = [r[key] for r in rounds if r.get(key) is not None]
        if vals:
            out[key] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}
    return out
