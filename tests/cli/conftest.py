"""The command line's tests get an emulator serving from its own thread (``emulator``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.support import EmulatorThread


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    em = EmulatorThread(token="cli-token", seed=11)
    try:
        yield em
    finally:
        em.close()
