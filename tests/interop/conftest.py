"""One official-SDK peer process for the whole session (see tests/support/official_peer.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.official import official_python
from tests.support.official_peer import OfficialPeer


@pytest.fixture(scope="session")
def peer() -> Iterator[OfficialPeer]:
    """The official SDK behind a JSON-lines pipe; shut down at the end of the session."""
    with OfficialPeer(official_python()) as running:
        versions = running.call("versions")
        assert versions["eas_prediction"] == "0.36", versions
        assert versions["protobuf"] == "3.20.3", versions
        yield running
