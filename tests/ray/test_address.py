"""``aioeas predict --ray 127.0.0.1:PORT`` reaches a cluster started apart with ``ray start
--head``: the address path, not only the local cluster the command starts itself.

The head runs in a subprocess of its own session (its temporary directory, ports chosen
free, loopback only) and is stopped by killing that session's process group; no process of
it is left after. The command runs as a subprocess too, as a person would run it; so does
the laptop path (``--ray`` alone), which starts a cluster of its own and stops it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest

from tests.cli.support import ROOT, EmulatorThread
from tests.ray.conftest import assert_gone
from tests.ray.support import RAY_ENV, RAY_WARNINGS, free_ports

# long: starts Ray clusters (a `ray start --head` among them); run by the README's command
pytestmark = [pytest.mark.long, *RAY_WARNINGS]

_PORT_FLAGS = (
    "--node-manager-port",
    "--object-manager-port",
    "--runtime-env-agent-port",
    "--dashboard-agent-grpc-port",
    "--dashboard-agent-listen-port",
    "--metrics-export-port",
    "--ray-client-server-port",
)


#: Only stops a run that never ends from hanging the suite (a Ray starved of CPU for
#: minutes once never let its driver connect); a run takes seconds.
HANG_GUARD = 900


@pytest.fixture(scope="module")
def head() -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray head on 127.0.0.1: its address, and the environment to reach it with."""
    directory = tempfile.mkdtemp(prefix="aioeas-head-", dir="/tmp")
    env = {**os.environ, **RAY_ENV, "RAY_TMPDIR": directory}
    port, *chosen = free_ports(1 + len(_PORT_FLAGS))
    ray_cli = str(Path(sys.executable).with_name("ray"))
    ports = [
        arg for flag, free in zip(_PORT_FLAGS, chosen, strict=True) for arg in (flag, str(free))
    ]
    process = subprocess.Popen(
        [
            ray_cli, "start", "--head", "--block", "--port", str(port),
            "--node-ip-address", "127.0.0.1", "--num-cpus", "3",
            "--include-dashboard=false", "--temp-dir", directory, "--disable-usage-stats",
            *ports,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: stopped as one, with its children
    )  # fmt: skip
    try:
        assert process.stdout is not None
        said = []
        for line in process.stdout:  # until it says it runs (or ends: the test fails)
            said.append(line)
            if "Ray runtime started" in line:
                break
        else:
            raise AssertionError("ray start --head ended:\n" + "".join(said))
        yield f"127.0.0.1:{port}", env
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
        assert_gone(directory)


def test_predict_reaches_a_cluster_by_its_address(
    head: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    address, env = head
    n = 3_072  # whole batches (16 requests of 32 rows) in each file
    pq.write_table(
        pa.table({"k": list(range(n)), "fea1": [i % 9 for i in range(n)], "fea2": [1] * n}),
        tmp_path / "part-0.parquet",
    )
    pq.write_table(
        pa.table({"k": list(range(n, 2 * n)), "fea1": [2] * n, "fea2": [i % 4 for i in range(n)]}),
        tmp_path / "part-1.parquet",
    )
    emulator = EmulatorThread(seed=3)
    try:
        done = subprocess.run(
            [
                sys.executable, "-m", "aioeas", "predict", str(tmp_path / "part-*.parquet"),
                "-e", emulator.url, "--service", "scorecard_pmml_example",
                "-o", str(tmp_path / "out"), f"--ray={address}", "--actors", "2",
                "--cpus-per-actor", "1", "--id", "k",
            ],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
            timeout=HANG_GUARD,
        )  # fmt: skip
        requests = emulator.call(lambda emu: emu.service("scorecard_pmml_example").requests)
    finally:
        emulator.close()
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"predict: {2 * n:,} rows on Ray (2 actors), {2 * n:,} ok, 0 failed" in done.stderr
    assert "Connected to Ray cluster" in done.stderr  # joined the head, started none
    table = pds.dataset(tmp_path / "out", format="parquet").to_table()
    assert sorted(table.column("k").to_pylist()) == list(range(2 * n))
    assert all("score" in json.loads(r) for r in table.column("result").to_pylist())
    assert requests == 2 * n // 32  # 32 rows a request, each sent once


def test_predict_without_an_address_starts_a_cluster_and_stops_it(tmp_path: Path) -> None:
    """The laptop path: ``--ray`` alone starts a local cluster for the run (in Ray's
    temporary directory, here one of the test's) and no process of it outlives the run."""
    directory = tempfile.mkdtemp(prefix="aioeas-local-", dir="/tmp")
    env = {**os.environ, **RAY_ENV, "RAY_TMPDIR": directory}
    pq.write_table(pa.table({"fea1": [1, 2, 3], "fea2": [4, 5, 6]}), tmp_path / "in.parquet")
    emulator = EmulatorThread(seed=3)
    try:
        done = subprocess.run(
            [
                sys.executable, "-m", "aioeas", "predict", str(tmp_path / "in.parquet"),
                "-e", emulator.url, "--service", "scorecard_pmml_example",
                "-o", str(tmp_path / "out"), "--ray",
            ],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
            timeout=HANG_GUARD,
        )  # fmt: skip
    finally:
        emulator.close()
        assert_gone(directory)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Started a local Ray instance" in done.stderr
    assert "predict: 3 rows on Ray (1 actor), 3 ok, 0 failed" in done.stderr
    table = pds.dataset(tmp_path / "out", format="parquet").to_table()
    assert table.column_names == ["file", "row", "fea1", "fea2", "result", "error"]
