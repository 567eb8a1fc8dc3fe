"""One Ray cluster for a test module (``ray_cluster``: starting one costs seconds), on
loopback, in a temporary directory of its own; stopped and checked gone after."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest
import ray

from tests.cli.support import EmulatorThread
from tests.ray.support import RAY_ENV, processes_of


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A local Ray cluster (4 logical CPUs: actors mostly wait on the network) for the
    module; its temporary directory. No process of it is left after."""
    # Short: Ray's Unix sockets live under it, and their paths are limited to 107 bytes.
    directory = tempfile.mkdtemp(prefix="aioeas-ray-", dir="/tmp")
    try:
        with pytest.MonkeyPatch.context() as env:
            for key, value in {**RAY_ENV, "RAY_TMPDIR": directory}.items():
                env.setenv(key, value)
            try:
                ray.init(
                    num_cpus=4,
                    include_dashboard=False,
                    log_to_driver=False,
                    _node_ip_address="127.0.0.1",
                )
                ray.data.DataContext.get_current().enable_progress_bars = False
                yield directory
            finally:
                ray.shutdown()
    finally:
        assert_gone(directory)


def assert_gone(directory: str) -> None:
    """No process of the cluster in ``directory`` runs any more (each is waited for: a
    bounded number of checks, each after the processes had a chance to exit)."""
    import time

    left = processes_of(directory)
    for _ in range(600):
        if not left:
            break
        time.sleep(0.1)  # a poll, not a budget: the test fails only if they never exit
        left = processes_of(directory)
    shutil.rmtree(directory, ignore_errors=True)
    assert left == []


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    em = EmulatorThread(seed=11)
    try:
        yield em
    finally:
        em.close()
