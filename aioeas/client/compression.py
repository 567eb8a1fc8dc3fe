"""Request compression and answer decompression, sans-IO.

gzip and zlib come from the standard library; snappy, lz4 and zstd (and brotli) only when
``cramjam`` is importable, so none of them is a hard dependency (the official client's
module-level ``import snappy`` makes python-snappy one). A compressed request carries no
``Content-Encoding``: an EAS service decides from its own configuration, as the Java
client assumes. Answers are decoded by their ``Content-Encoding``.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from types import ModuleType

from aioeas.errors import DecodeError, UsageError

__all__ = ["accept_encoding", "available", "check", "compress", "decodable", "decompress"]


def _cramjam() -> ModuleType | None:
    try:
        import cramjam
    except ImportError:  # pragma: no cover - cramjam is installed in the test environment
        return None
    return cramjam


_CRAMJAM = _cramjam()


def _inflate(data: bytes) -> bytes:
    # "deflate" is zlib-wrapped by the RFC, but some servers send raw deflate.
    try:
        return zlib.decompress(data)
    except zlib.error:
        return zlib.decompress(data, -zlib.MAX_WBITS)


def _gzip(data: bytes) -> bytes:
    """gzip with a zero header time: the same body gives the same bytes (no clock read, and
    a retried or compared request is byte-identical across a second boundary)."""
    return gzip.compress(data, mtime=0)


def _compressors() -> dict[str, Callable[[bytes], bytes]]:
    found: dict[str, Callable[[bytes], bytes]] = {"gzip": _gzip, "zlib": zlib.compress}
    if _CRAMJAM is not None:
        cj = _CRAMJAM
        found["snappy"] = lambda b: bytes(cj.snappy.compress_raw(b))
        found["lz4"] = lambda b: bytes(cj.lz4.compress_block(b))
        found["zstd"] = lambda b: bytes(cj.zstd.compress(b))
    return found


def _decompressors() -> dict[str, Callable[[bytes], bytes]]:
    found: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.decompress,
        "x-gzip": gzip.decompress,
        "deflate": _inflate,
        "zlib": _inflate,
        "identity": bytes,
    }
    if _CRAMJAM is not None:
        cj = _CRAMJAM
        found["snappy"] = lambda b: bytes(cj.snappy.decompress_raw(b))
        found["lz4"] = lambda b: bytes(cj.lz4.decompress_block(b))
        found["zstd"] = lambda b: bytes(cj.zstd.decompress(b))
        found["br"] = lambda b: bytes(cj.brotli.decompress(b))
    return found


_COMPRESS = _compressors()
_DECOMPRESS = _decompressors()


def available() -> frozenset[str]:
    """The request compressions this installation can apply."""
    return frozenset(_COMPRESS)


def decodable() -> frozenset[str]:
    """The ``Content-Encoding`` codings this installation can undo."""
    return frozenset(_DECOMPRESS)


_ACCEPT_ENCODING = ", ".join(e for e in ("gzip", "deflate", "br", "zstd") if e in _DECOMPRESS)


def accept_encoding() -> str:
    """The ``Accept-Encoding`` this installation can decode."""
    return _ACCEPT_ENCODING


def check(name: str | None) -> str | None:
    """Validate a compression name before any I/O (``None``: no compression)."""
    if name is None:
        return None
    key = name.lower()
    if key not in _COMPRESS:
        known = ", ".join(sorted(_COMPRESS))
        raise UsageError(
            f"unknown or unavailable compression {name!r} (available: {known}; "
            "snappy, lz4 and zstd need the cramjam package)"
        )
    return key


def compress(body: bytes, name: str | None) -> bytes:
    """``body`` compressed with ``name`` (``None``: as it is)."""
    key = check(name)
    return body if key is None else _COMPRESS[key](body)


def decompress(body: bytes, content_encoding: str | None) -> bytes:
    """An answer's body decoded by its ``Content-Encoding`` (codings applied right to left)."""
    if not content_encoding:
        return body
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        decode = _DECOMPRESS.get(coding)
        if decode is None:
            raise DecodeError("response", f"unsupported Content-Encoding {coding!r}", body)
        try:
            body = decode(body)
        except Exception as exc:
            raise DecodeError("response", f"bad {coding} data ({exc})", body) from None
    return body
