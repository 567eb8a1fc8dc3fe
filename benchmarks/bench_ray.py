"""Rows per second on Ray Data: aioeas against a synchronous UDF, and against one process.

Run from the repository root (the ``bench`` extra: ray[data], requests)::

    .venv/bin/python benchmarks/bench_ray.py                  # 3 rounds of 20,000 rows, ~6 min
    .venv/bin/python benchmarks/bench_ray.py --rows 5000 --rounds 3 --markdown

One emulator (on a thread of this process) serves every contender, and counts the rows
it answers and when the first and the last came; one local Ray cluster (started once, on
loopback, in a temporary directory) runs the Ray ones. Every contender's driver is a
process of its own (``python -m aioeas predict ...``), as a user runs it.
The input is a Parquet file of ``--rows`` rows (``fea1``, ``fea2``) for the scorecard
service; every contender sends one row per request, so all send the same requests:

* ``cli``: ``aioeas predict in.parquet -o out.parquet --batch-size 1`` in one process
  (16 requests in flight);
* ``ray N``: ``aioeas predict in.parquet --ray --actors N --batch-size 1`` (16 in flight
  per actor), on the shared cluster;
* ``requests.post N``: the same Ray pipeline (read, repartition, map_batches on an actor
  pool of N, write Parquet) with a UDF written as users write one without aioeas: a
  synchronous ``requests.post`` per row, in a loop over the batch;
* ``ray 2, 32 rows``: ``--ray --actors 2`` with the default 32 rows a request (what the
  command does unless told), for scale.

Contenders alternate within each round (the order rotates round by round); a contender's
figures are rows per second at the service (rows / time from its first request to its
last: the steady rate, start-up excluded) and rows / wall time of the whole run (process,
driver and actors starting included: what a user waits), each the median and min..max
over the rounds. Actors reserve 0.5 CPU each, as two actors
and the readers share 2 cores here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_codecs import loadavg, local_facts  # noqa: E402

SERVICE = "scorecard_pmml_example"
CPUS_PER_ACTOR = 0.5
BLOCK = 1024  # rows per block and batch: what --ray makes for --batch-size 1


class SyncPostPerRow:
    """A Ray Data UDF as written without aioeas: ``requests.post`` for each row, in turn."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa
        import requests

        results = []
        for row in batch.to_pylist():
            answer = requests.post(self.url, data=json.dumps([row]), timeout=10)
            answer.raise_for_status()
            results.append(json.dumps(answer.json()[0]))
        return batch.append_column("result", pa.array(results, pa.string()))


class ServedRows:
    """The scorecard, counting the rows it answers and when the first and the last came:
    the service's view of a run's steady rate, without the driver's and the actors'
    start-up (which the wall time includes)."""

    def __init__(self) -> None:
        self.rows = 0
        self.first = 0.0
        self.last = 0.0

    def reset(self) -> None:
        self.rows, self.first, self.last = 0, 0.0, 0.0

    def __call__(self, body: bytes) -> bytes:
        from aioeas.emulator import models

        now = time.perf_counter()
        if not self.rows:
            self.first = now
        answer = models.scorecard(body)
        self.rows += len(json.loads(body))
        self.last = time.perf_counter()
        return answer


def _driver(args: list[str], env: dict[str, str]) -> None:
    """A contender's driver: a process of its own, as a user runs it (the emulator's
    thread in this process shares no interpreter lock with it)."""
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")


def contenders(
    url: str, address: str, data: Path, work: Path, env: dict[str, str]
) -> dict[str, Callable[[], None]]:
    common = ["-e", url, "--service", SERVICE, "-q"]
    cpus = ["--cpus-per-actor", str(CPUS_PER_ACTOR)]

    def out(name: str) -> str:
        path = work / name
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return str(path)

    def cli() -> None:
        _driver(
            ["-m", "aioeas", "predict", str(data), "-o", out("cli.parquet"), "--batch-size", "1",
             *common],
            env,
        )  # fmt: skip

    def on_ray(actors: int, batch: int) -> Callable[[], None]:
        def run() -> None:
            _driver(
                ["-m", "aioeas", "predict", str(data), "-o", out(f"ray{actors}"),
                 f"--ray={address}", "--actors", str(actors), "--batch-size", str(batch),
                 *cpus, *common],
                env,
            )  # fmt: skip

        return run

    def sync(actors: int) -> Callable[[], None]:
        def run() -> None:
            _driver(
                [__file__, "--sync-driver", address, f"{url}/api/predict/{SERVICE}",
                 str(data), out(f"sync{actors}"), str(actors)],
                env,
            )  # fmt: skip

        return run

    return {
        "cli": cli,
        "ray 1": on_ray(1, 1),
        "ray 2": on_ray(2, 1),
        "requests.post 1": sync(1),
        "requests.post 2": sync(2),
        "ray 2, 32 rows": on_ray(2, 32),
    }


def sync_driver(address: str, url: str, data: str, out: str, actors: int) -> None:
    """The ``requests.post`` contender's driver: the same pipeline as ``--ray``."""
    import ray
    import ray.data

    ray.init(address=address, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    ds = ray.data.read_parquet(data)
    ds = ds.repartition(target_num_rows_per_block=BLOCK)  # as --ray --batch-size 1 does
    ds = ds.map_batches(
        SyncPostPerRow,
        fn_constructor_kwargs={"url": url},
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_size=BLOCK,
        batch_format="pyarrow",
        num_cpus=CPUS_PER_ACTOR,
    )
    ds.write_parquet(out)
    ray.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--sync-driver", nargs=5, metavar="ARG", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.sync_driver:
        address, url, data, out, actors = opts.sync_driver
        sync_driver(address, url, data, out, int(actors))
        return 0

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    from tests.cli.support import EmulatorThread

    ray_dir = tempfile.mkdtemp(prefix="bench-ray-", dir="/tmp")
    work = Path(tempfile.mkdtemp(prefix="bench-ray-work-"))
    env = {
        **os.environ,
        "RAY_TMPDIR": ray_dir,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    os.environ.update(env)
    emulator = EmulatorThread(builtins=False)
    served = ServedRows()
    emulator.call(lambda emu: emu.add_service(SERVICE, served))
    n = opts.rows
    samples: dict[str, list[tuple[float, float]]] = {}
    try:
        data = work / "in.parquet"
        pq.write_table(pa.table({"fea1": np.arange(n) % 7, "fea2": np.arange(n) % 5}), data)
        ray.init(
            num_cpus=4, include_dashboard=False, log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )  # fmt: skip
        address = ray.get_runtime_context().gcs_address
        runs = contenders(emulator.url, address, data, work, env)
        names = list(runs)
        samples = {name: [] for name in names}
        for r in range(opts.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                emulator.call(lambda emu: served.reset())
                t0 = time.perf_counter()
                runs[name]()
                wall = time.perf_counter() - t0
                rows, first, last = emulator.call(
                    lambda emu: (served.rows, served.first, served.last)
                )
                if rows != n:
                    raise RuntimeError(f"{name}: the service answered {rows} rows of {n}")
                samples[name].append((n / wall, n / (last - first)))
                print(
                    f"round {r + 1} {name}: {n / wall:,.0f} rows/s wall, "
                    f"{n / (last - first):,.0f} rows/s at the service",
                    flush=True,
                )
        ray.shutdown()
    finally:
        emulator.close()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(ray_dir, ignore_errors=True)
    print(f"\n{n:,} rows, {opts.rounds} rounds; load {loadavg()}; {local_facts()}")
    lines = [
        "| contender | rows/s at the service, median [min .. max] | vs requests.post, same actors "
        "| rows/s wall (start-up included), median [min .. max] |",
        "| --- | --- | --- | --- |",
    ]
    steady = {name: statistics.median(s for _, s in ss) for name, ss in samples.items()}
    for name, ss in samples.items():
        walls, rates = [w for w, _ in ss], [s for _, s in ss]
        versus = ""
        if name in ("ray 1", "ray 2"):
            versus = f"{steady[name] / steady['requests.post ' + name[-1]]:.1f}x"
        lines.append(
            f"| {name} | {steady[name]:,.0f} [{min(rates):,.0f} .. {max(rates):,.0f}] | {versus} "
            f"| {statistics.median(walls):,.0f} [{min(walls):,.0f} .. {max(walls):,.0f}] |"
        )
    print("\n".join(lines) if opts.markdown else "\n".join(lines).replace("|", " "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
