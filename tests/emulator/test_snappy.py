"""The emulator's own snappy decoder, and an emulator without cramjam.

The decoder is checked against cramjam's compressor (an independent implementation of
google/snappy) on random data, and differentially on arbitrary bytes: it accepts exactly
what cramjam's decompressor accepts and gives the same bytes. Then an emulator whose
``cramjam`` import fails serves the official client's snappy PyTorch request, and refuses
lz4/zstd bodies saying what to install.
"""

from __future__ import annotations

import sys

import aiohttp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioeas import TorchRequest
from aioeas.emulator import Emulator, codings
from aioeas.emulator.snappy import decompress_raw

from .conftest import post

cramjam = pytest.importorskip("cramjam")


def compress(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def cramjam_decompress(data: bytes) -> bytes:
    return bytes(cramjam.snappy.decompress_raw(data))


#: Data with runs and repeats (copies of every offset width and overlapping copies)
#: as well as incompressible stretches (literals of every length encoding).
_pieces = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.binary(min_size=1, max_size=8), st.integers(1, 400)).map(lambda t: t[0] * t[1]),
    st.integers(0, 70_000).map(lambda n: np.random.default_rng(n).bytes(n)),
)
_data = (
    st.lists(_pieces, max_size=6)
    .flatmap(lambda parts: st.lists(st.sampled_from(parts) if parts else st.just(b""), max_size=8))
    .map(b"".join)
)


def _damaged(blob: bytes) -> st.SearchStrategy[bytes]:
    """The block truncated, or one byte changed."""
    if not blob:
        return st.just(blob)
    cut = st.integers(0, len(blob) - 1).map(lambda i: blob[:i])
    flip = st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 255)).map(
        lambda t: blob[: t[0]] + bytes([t[1]]) + blob[t[0] + 1 :]
    )
    return st.one_of(cut, flip)


@settings(max_examples=300, deadline=None)
@given(_data)
def test_decodes_what_cramjam_compresses(data: bytes) -> None:
    assert decompress_raw(compress(data)) == data


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=200), _data.map(compress).flatmap(_damaged)))
def test_accepts_exactly_what_cramjam_accepts(blob: bytes) -> None:
    try:
        expected: bytes | None = cramjam_decompress(blob)
    except Exception:
        expected = None
    try:
        got: bytes | None = decompress_raw(blob)
    except ValueError:
        got = None
    assert got == expected


@pytest.mark.parametrize(
    ("blob", "why"),
    [
        (b"", "bad length preamble"),
        (b"\x80\x80\x80\x80\x80\x01", "bad length preamble"),
        (b"\x05\x08ab", "truncated literal"),
        (b"\x04\x01\x00", "copy from offset 0"),  # a copy before anything was written
        (b"\x06\x04ab\x01\x03", "copy from offset 3 with 2 bytes"),
        (b"\x03\x0cabcd", "more data than the 3 bytes"),
        (b"\x05\x04ab", "2 bytes where 5 were announced"),
    ],
)
def test_corrupt_blocks_say_why(blob: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        decompress_raw(blob)


def test_overlapping_copy_repeats_a_run() -> None:
    # literal "ab", then a 1-byte-offset copy of length 6 at offset 2: "abababab"
    assert decompress_raw(b"\x08\x04ab" + bytes([0b000_010_01, 2])) == b"abababab"


def test_announced_size_over_the_limit_is_refused_before_decoding() -> None:
    with pytest.raises(ValueError, match="over the limit"):
        decompress_raw(compress(b"x" * 1000), max_size=999)


async def test_snappy_torch_request_without_cramjam(
    emu: Emulator, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.linspace(0, 1, 3 * 224 * 224, dtype=np.float32).reshape(1, 3, 224, 224)
    packed = TorchRequest(flag=True).add_feed(0, x).to_bytes()  # compressed with cramjam
    plain = TorchRequest().add_feed(0, x).to_bytes()
    monkeypatch.setitem(sys.modules, "cramjam", None)
    monkeypatch.setattr(codings, "_DECODERS", codings._decoders())
    assert "lz4" not in codings.decodable()
    url = f"{emu.url}/api/predict/pytorch_gpu_wl"
    status, body, _ = await post(http, url, packed)
    assert status == 200, body
    assert body == (await post(http, url, plain))[1]
    status, body, _ = await post(http, url, compress(plain), **{"Content-Encoding": "snappy"})
    assert status == 200, body


@pytest.mark.parametrize("coding", ["lz4", "zstd", "br"])
async def test_formats_that_need_cramjam_say_what_to_install(
    emu: Emulator, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, coding: str
) -> None:
    monkeypatch.setitem(sys.modules, "cramjam", None)
    monkeypatch.setattr(codings, "_DECODERS", codings._decoders())
    status, body, _ = await post(
        http, f"{emu.url}/api/predict/echo", b"\x00\x01", **{"Content-Encoding": coding}
    )
    assert status == 415
    assert f"reads {coding} bodies with cramjam".encode() in body
    assert b"pip install cramjam" in body
