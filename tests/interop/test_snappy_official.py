"""The emulator's own snappy decoder reads the official SDK's ``TorchRequest(flag=True)``
bodies (compressed by python-snappy, the official package's dependency)."""

from __future__ import annotations

import numpy as np
import pytest

from aioeas.emulator.snappy import decompress_raw
from tests.support.official_peer import OfficialPeer, encode_values

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("n", [1, 100, 20_000])
def test_official_snappy_torch_body_decodes_to_the_official_plain_body(
    peer: OfficialPeer, n: int
) -> None:
    values = np.arange(n, dtype=np.float32) % 7 * 0.5  # runs and repeats: copies
    feeds = [{"index": 0, "shape": [1, n], "dtype": 1, "content": encode_values(values)}]
    packed = peer.body("torch_request", flag=True, feeds=feeds)
    plain = peer.body("torch_request", flag=False, feeds=feeds)
    assert packed != plain
    assert decompress_raw(packed) == plain
