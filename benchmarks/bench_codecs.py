"""Encode/decode benchmark: aioeas vs a numpy copy vs the official eas-prediction SDK.

Run from the repository root::

    .venv/bin/python benchmarks/bench_codecs.py            # about 1.5 minutes
    .venv/bin/python benchmarks/bench_codecs.py --markdown # the table as Markdown too
    .venv/bin/python benchmarks/bench_codecs.py --full     # + eas-prediction on the
                                                           #   [64,3,224,224] Torch/Blade rows

What each column times (per call; median and interquartile range over the rounds):

* aioeas encode: ``TFRequest(sig).add_feed(name, arr).to_bytes()`` (Torch:
  ``TorchRequest().add_feed(0, arr)``, Blade: ``BladeRequest(sig).add_feed(name, arr)``);
  aioeas decode: ``TFResponse(body)[name]`` (a shaped ndarray; a zero-copy view for floats).
* ``bytes(arr)``: a fresh ``bytes`` holding the tensor's bytes (the encode baseline: it
  makes what ``to_bytes`` makes). ``arr.copy()``: a fresh ndarray (the decode baseline).
* eas-prediction 0.36, in its own venv (protobuf 3.20.3, whose Python 3.11 build is the
  pure-Python implementation), run in a subprocess (``_official_worker.py``): ``add_feed``
  with ``arr.ravel().tolist()`` built before timing ("fed a list"), or with
  ``arr.ravel()`` ("fed the ndarray"), then ``to_string()``; decode is
  ``np.asarray(TFResponse(body).get_values(name), dtype).reshape(get_tensor_shape(name))``.

Each measurement warms up, then runs timed rounds (``_timing.measure``: a round batches
enough calls to last >= 20 ms, gc off, ``time.perf_counter_ns``). eas-prediction on
[64,3,224,224] takes 8-15 s a call, so those rows run 2 rounds without warm-up
(``--big-rounds``) and the Torch/Blade ones are skipped unless ``--full``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import google.protobuf  # noqa: E402
from _charts import bar_chart, needs_log  # noqa: E402
from _timing import fmt_ns, measure  # noqa: E402
from google.protobuf.internal import api_implementation  # noqa: E402

import aioeas  # noqa: E402
from aioeas.requests.blade import BladeRequest  # noqa: E402
from aioeas.requests.served import encode_tf_response  # noqa: E402
from aioeas.requests.tf import TFRequest, TFResponse  # noqa: E402
from aioeas.requests.torch import TorchRequest  # noqa: E402

SIGNATURE = "predict"
NAME = "x"
SMALL, MID, BIG = (1, 784), (1, 3, 224, 224), (64, 3, 224, 224)
FLOAT_COPY_MAX = 2.0  # aioeas <= 2x a numpy copy
FLOAT_EAS_MIN = 100.0  # eas-prediction (list) >= 100x aioeas, floats
INT_EAS_MIN = 20.0  # eas-prediction >= 20x aioeas, int32/int64

AIOEAS_TIMING = {"warmup": 3, "rounds": 15, "min_rounds": 5, "min_round_s": 0.02, "budget_s": 1.5}
EAS_TIMING = {"warmup": 1, "rounds": 7, "min_rounds": 3, "min_round_s": 0.02, "budget_s": 1.5}


@dataclass(frozen=True)
class Data:
    key: str
    label: str  # what the table shows: float32, int32 [-1000,1000], ...
    arr: np.ndarray


@dataclass
class Case:
    op: str  # encode | decode
    api: str  # tf | torch | blade
    data: Data
    star: bool = False  # one of DESIGN.md's formal target rows
    aioeas: dict[str, Any] = field(default_factory=dict)
    eas_list: dict[str, Any] | None = None
    eas_nd: dict[str, Any] | None = None
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.op}-{self.api}-{self.data.key}"

    @property
    def is_float(self) -> bool:
        return self.data.arr.dtype.kind == "f"

    @property
    def is_big(self) -> bool:
        return self.data.arr.nbytes > 10_000_000


def make_data() -> list[Data]:
    rng = np.random.default_rng(20261125)
    return [
        Data("f32-small", "float32", rng.random(SMALL, dtype=np.float32)),
        Data("f32-mid", "float32", rng.random(MID, dtype=np.float32)),
        Data("f32-big", "float32", rng.random(BIG, dtype=np.float32)),
        Data("i32-mixed", "int32 [-1000,1000]", rng.integers(-1000, 1001, MID, dtype=np.int32)),
        Data("i32-small", "int32 [0,100)", rng.integers(0, 100, MID, dtype=np.int32)),
        Data("i64-mixed", "int64 [-1000,1000]", rng.integers(-1000, 1001, MID, dtype=np.int64)),
    ]


def make_cases(data: list[Data]) -> list[Case]:
    by = {d.key: d for d in data}
    cases: list[Case] = []
    for api in ("tf", "torch", "blade"):
        for key in ("f32-small", "f32-mid", "f32-big"):
            cases.append(Case("encode", api, by[key], star=key == "f32-mid"))
    for key in ("i32-mixed", "i32-small", "i64-mixed"):
        cases.append(Case("encode", "tf", by[key]))
    for d in data:
        cases.append(Case("decode", "tf", d, star=d.key == "f32-mid"))
    return cases


def aioeas_fn(case: Case, body: bytes | None) -> Callable[[], Any]:
    arr = case.data.arr
    if case.op == "decode":
        assert body is not None
        return lambda: TFResponse(body)[NAME]
    if case.api == "tf":
        return lambda: TFRequest(SIGNATURE).add_feed(NAME, arr).to_bytes()
    if case.api == "torch":
        return lambda: TorchRequest().add_feed(0, arr).to_bytes()
    return lambda: BladeRequest(SIGNATURE).add_feed(NAME, arr).to_bytes()


# ----------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def loadavg() -> str:
    """1/5/15-minute load: other work on the machine shows up as spread in the timings."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def local_facts() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "aioeas"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit += " (aioeas/ modified)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory": mem_total(),
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "load average": loadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "protobuf": google.protobuf.__version__,
        "protobuf_impl": api_implementation.Type(),
        "aioeas": f"{aioeas.__version__} @ {commit}",
    }


# ----------------------------------------------------------------------------- official


def official_python() -> Path:
    from tests.support.official import official_python as make

    return make()


def run_official(
    cases: list[Case], files: dict[str, tuple[str, str]], args: argparse.Namespace
) -> dict[str, Any]:
    spec: list[dict[str, Any]] = []
    for c in cases:
        npy, body = files[c.data.key]
        base = {
            "api": c.api,
            "npy": npy,
            "body": body,
            "name": NAME,
            "signature": SIGNATURE,
            "dtype": c.data.arr.dtype.name,
            "op": c.op,
        }
        if c.is_big:
            if c.api != "tf" and not args.full:
                c.note = "eas-prediction skipped (bounded run; --full runs it)"
                continue
            timing: dict[str, Any] = {
                "warmup": 0,
                "number": 1,
                "rounds": args.big_rounds,
                "min_rounds": 1,
            }
            base["check"] = False
        else:
            timing = dict(EAS_TIMING)
        base["timing"] = timing
        if c.op == "encode":
            spec.append({**base, "id": c.id + "/list", "feed": "list"})
            spec.append({**base, "id": c.id + "/ndarray", "feed": "ndarray"})
        else:
            spec.append({**base, "id": c.id + "/list", "feed": "list"})
    python = official_python()
    proc = subprocess.run(
        [str(python), str(HERE / "_official_worker.py")],
        input=json.dumps({"cases": spec}),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        cwd=ROOT,
    )
    answer: dict[str, Any] = json.loads(proc.stdout)
    for c in cases:
        c.eas_list = answer["results"].get(c.id + "/list")
        c.eas_nd = answer["results"].get(c.id + "/ndarray")
    return answer["facts"]


# ----------------------------------------------------------------------------- report


def med(r: dict[str, Any] | None) -> float | None:
    if not r or "median_ns" not in r:
        return None
    return float(r["median_ns"])


def cell(r: dict[str, Any] | None, *, capped: bool = False) -> str:
    if r is None:
        return "—"
    if "error" in r:
        return "rejects it"
    mark = "†" if capped else ""
    return f"{fmt_ns(r['median_ns'])} [{fmt_ns(r['q1_ns'])} .. {fmt_ns(r['q3_ns'])}]{mark}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def fx(x: float | None) -> str:
    if x is None:
        return "—"
    if x < 0.01:
        return f"{x:.1g}x"
    return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def checks_for(c: Case, base: dict[str, dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """(target, passed, detail) for each target that applies to the row."""
    out: list[tuple[str, bool, str]] = []
    ours = med(c.aioeas)
    copy_key = "bytes" if c.op == "encode" else "copy"
    r_copy = ratio(ours, med(base[copy_key]))
    if c.is_float and r_copy is not None:
        out.append((f"<= {FLOAT_COPY_MAX:g}x numpy copy", r_copy <= FLOAT_COPY_MAX, fx(r_copy)))
    r_list = ratio(med(c.eas_list), ours)
    r_nd = ratio(med(c.eas_nd), ours)
    if c.is_float and r_list is not None:
        out.append(
            (f">= {FLOAT_EAS_MIN:g}x eas-prediction (list)", r_list >= FLOAT_EAS_MIN, fx(r_list))
        )
    if not c.is_float:
        got = [r for r in (r_list, r_nd) if r is not None]
        if got:
            worst = min(got)
            out.append(
                (
                    f">= {INT_EAS_MIN:g}x eas-prediction (its faster input)",
                    worst >= INT_EAS_MIN,
                    fx(worst),
                )
            )
    return out


def row_label(c: Case) -> tuple[str, str]:
    api = {"tf": "TF", "torch": "Torch", "blade": "Blade"}[c.api]
    shape = "[" + ",".join(str(d) for d in c.data.arr.shape) + "]"
    return f"{c.op} {api}{' ★' if c.star else ''}", f"{c.data.label} {shape}"


def build_rows(
    cases: list[Case], baselines: dict[str, dict[str, dict[str, Any]]]
) -> list[list[str]]:
    rows = []
    for c in cases:
        base = baselines[c.data.key]
        ours = med(c.aioeas)
        copy_key = "bytes" if c.op == "encode" else "copy"
        capped = c.is_big
        checks = checks_for(c, base)
        verdict = " ".join(("PASS" if ok else "FAIL") for _, ok, _ in checks) or "—"
        op, tensor = row_label(c)
        rows.append(
            [
                op,
                tensor,
                cell(c.aioeas),
                cell(base["bytes"]) if c.op == "encode" else "—",
                cell(base["copy"]),
                cell(c.eas_list, capped=capped),
                cell(c.eas_nd, capped=capped) if c.op == "encode" else "—",
                fx(ratio(ours, med(base[copy_key]))),
                fx(ratio(med(c.eas_list), ours)),
                fx(ratio(med(c.eas_nd), ours)) if c.op == "encode" else "—",
                verdict,
            ]
        )
    return rows


HEADERS = [
    "op",
    "tensor",
    "aioeas",
    "bytes(arr)",
    "arr.copy()",
    "eas-prediction (list)",
    "eas-prediction (ndarray)",
    "aioeas / copy",
    "eas list / aioeas",
    "eas ndarray / aioeas",
    "targets",
]


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    line = "  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    # a cell with brackets in code spans, so that Markdown reads no link in "[1,784]"
    out += ["| " + " | ".join(f"`{v}`" if "[" in v else v for v in r) + " |" for r in rows]
    return "\n".join(out)


def _us(r: dict[str, Any]) -> tuple[float, float, float]:
    return r["median_ns"] / 1e3, r["q1_ns"] / 1e3, r["q3_ns"] / 1e3


def draw_chart(
    cases: list[Case], baselines: dict[str, dict[str, dict[str, Any]]], path: str
) -> None:
    """The TensorFlow float32 rows as grouped bars: aioeas, the numpy copy, eas-prediction
    (the integer rows are in the table only)."""
    groups: dict[str, dict[str, tuple[float, float, float]]] = {}
    for c in cases:
        if c.api != "tf" or not c.is_float:
            continue
        bars = {"aioeas": _us(c.aioeas)}
        bars["numpy copy"] = _us(baselines[c.data.key]["bytes" if c.op == "encode" else "copy"])
        for name, r in (
            ("eas-prediction (list)", c.eas_list),
            ("eas-prediction (ndarray)", c.eas_nd),
        ):
            if r and "median_ns" in r:
                bars[name] = _us(r)
        shape = "[" + ",".join(str(d) for d in c.data.arr.shape) + "]"
        groups[f"{c.op}\n{c.data.label.split(' ')[0]} {shape}"] = bars
    bar_chart(
        path,
        "TensorFlow float32 tensors: encode a request, decode a response (median, IQR)",
        "µs per call",
        groups,
        log=needs_log(groups),
    )


def minor_faults(fn: Callable[[], Any], n: int = 5) -> float:
    """Minor page faults per call (evidence for where large copies spend their time)."""
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n


# ----------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--full",
        action="store_true",
        help="also time eas-prediction on the [64,3,224,224] Torch/Blade rows (+~1 min)",
    )
    ap.add_argument(
        "--big-rounds",
        type=int,
        default=2,
        help="rounds for eas-prediction on [64,3,224,224] (8-15 s each; default 2)",
    )
    ap.add_argument("--no-official", action="store_true", help="aioeas and numpy only")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    ap.add_argument("--json", metavar="PATH", help="write every measurement as JSON")
    ap.add_argument(
        "--chart",
        metavar="PATH",
        help="draw the TF rows as an SVG bar chart (needs matplotlib: aioeas[bench]); "
        "docs/img/bench-codecs.svg is the one docs/benchmarks.md shows",
    )
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    data = make_data()
    cases = make_cases(data)
    facts = local_facts()

    # Response bodies are made by aioeas's server-side encoder (what the emulator sends).
    bodies = {d.key: encode_tf_response({NAME: d.arr}) for d in data}

    # ---- aioeas and numpy, in this process
    baselines: dict[str, dict[str, dict[str, Any]]] = {}
    for d in data:
        arr = d.arr
        baselines[d.key] = {
            "bytes": measure(lambda arr=arr: bytes(arr), **AIOEAS_TIMING),
            "copy": measure(lambda arr=arr: arr.copy(), **AIOEAS_TIMING),
        }
        progress(
            f"numpy {d.key}: bytes(arr) {fmt_ns(baselines[d.key]['bytes']['median_ns'])}, "
            f"arr.copy() {fmt_ns(baselines[d.key]['copy']['median_ns'])}"
        )
    problems: list[str] = []
    for c in cases:
        fn = aioeas_fn(c, bodies[c.data.key])
        got = fn()
        if c.op == "decode" and not np.array_equal(got, c.data.arr):
            problems.append(f"{c.id}: aioeas decoded different values")
        c.aioeas = measure(fn, **AIOEAS_TIMING)
        if c.op == "encode":
            c.aioeas["sha256"] = hashlib.sha256(got).hexdigest()
            c.aioeas["nbytes"] = len(got)
        progress(f"aioeas {c.id}: {fmt_ns(c.aioeas['median_ns'])}")

    faults = {}
    big = next(d for d in data if d.key == "f32-big")
    faults["bytes(arr)"] = minor_faults(lambda: bytes(big.arr))
    faults["arr.copy()"] = minor_faults(lambda: big.arr.copy())
    faults["aioeas TF encode"] = minor_faults(
        lambda: TFRequest(SIGNATURE).add_feed(NAME, big.arr).to_bytes()
    )

    # ---- eas-prediction, in its own venv
    official: dict[str, Any] = {}
    if not args.no_official:
        progress("eas-prediction (subprocess, its own venv) ...")
        with tempfile.TemporaryDirectory(prefix="aioeas-bench-") as tmp:
            files = {}
            for d in data:
                npy = os.path.join(tmp, d.key + ".npy")
                body = os.path.join(tmp, d.key + ".body")
                np.save(npy, d.arr)
                Path(body).write_bytes(bodies[d.key])
                files[d.key] = (npy, body)
            official = run_official(cases, files, args)
        for c in cases:
            sha = (c.eas_list or {}).get("sha256")
            if c.op == "encode" and sha and sha != c.aioeas["sha256"]:
                problems.append(f"{c.id}: aioeas bytes differ from eas-prediction's")
            if c.op == "decode" and c.eas_list and c.eas_list.get("ok") is False:
                problems.append(f"{c.id}: eas-prediction decoded different values")

    # ---- report
    rows = build_rows(cases, baselines)
    facts["load average"] += f" at start, {loadavg()} at the end"
    print()
    print("Machine")
    for k, v in facts.items():
        print(f"  {k:18s} {v}")
    if official:
        print(
            "  eas-prediction side: "
            + ", ".join(f"{k} {v}" for k, v in official.items() if k != "executable")
        )
    print()
    print(text_table(rows))
    print()
    print(
        "median [interquartile range] per call. Ratios use medians; 'copy' is bytes(arr) for "
        "encode, arr.copy() for decode."
    )
    print(
        "★ = DESIGN.md's formal target rows. † = eas-prediction on [64,3,224,224]: "
        f"{args.big_rounds} rounds of 1 call, no warm-up (8-15 s a call)."
    )
    notes = [c for c in cases if c.note]
    for c in notes:
        print(f"  {' '.join(row_label(c))}: {c.note}")
    print()
    print("Targets")
    for c in cases:
        for name, ok, detail in checks_for(c, baselines[c.data.key]):
            print(f"  [{'PASS' if ok else 'FAIL'}] {' '.join(row_label(c)):45s} {name}: {detail}")
    print()
    print(
        "Minor page faults per call, float32 [64,3,224,224] (38.5 MB): "
        + ", ".join(f"{k} {v:.0f}" for k, v in faults.items())
    )
    checked = sum(1 for c in cases if c.op == "encode" and c.eas_list and "sha256" in c.eas_list)
    if official:
        print(
            f"Byte-for-byte: aioeas's request equals eas-prediction's in {checked} encode cases "
            f"checked" + ("" if not problems else "; PROBLEMS below")
        )
    for p in problems:
        print(f"  PROBLEM: {p}")
    if args.markdown:
        print()
        print(markdown_table(rows))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "facts": facts,
                    "official_facts": official,
                    "page_faults": faults,
                    "baselines": baselines,
                    "cases": [
                        {
                            "id": c.id,
                            "star": c.star,
                            "aioeas": c.aioeas,
                            "eas_list": c.eas_list,
                            "eas_ndarray": c.eas_nd,
                            "note": c.note,
                        }
                        for c in cases
                    ],
                },
                indent=1,
            )
        )
    if args.chart:
        draw_chart(cases, baselines, args.chart)
    progress("done")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
