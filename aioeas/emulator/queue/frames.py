"""Queue records on the wire, sans-IO: ``DataFrameProto`` frames, lists, attributes, JSON.

Protobuf is what every official client asks for (``Accept: application/vnd.google.
protobuf``); JSON (``data`` in base64) is the answer to anyone else. The generated modules
of ``aioeas/_proto`` are used: the emulator never depends on the client's own encoders.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping

from aioeas._proto.queueservice_pb2 import AttributesProto, DataFrameListProto, DataFrameProto
from aioeas.emulator.queue.store import Record

__all__ = [
    "PROTOBUF",
    "attributes_proto",
    "frame",
    "frame_json",
    "frame_list",
    "frames_json",
    "length_prefixed",
    "wants_protobuf",
]

PROTOBUF = "application/vnd.google.protobuf"


def wants_protobuf(accept: str | None) -> bool:
    return bool(accept) and PROTOBUF in (accept or "").lower()


def _proto(record: Record, index_only: bool) -> DataFrameProto:
    df = DataFrameProto(index=record.index, tags=record.tags, message=record.message)
    if not index_only:
        df.data = record.data
    return df


def frame(record: Record, *, index_only: bool = False) -> bytes:
    """One watch frame: index and tags, and the data unless ``index_only``."""
    return bytes(_proto(record, index_only).SerializeToString())


def length_prefixed(data: bytes) -> bytes:
    """A frame of the plain-HTTP watch: its length as 4 bytes big-endian, then the frame."""
    return len(data).to_bytes(4, "big") + data


def frame_list(records: Iterable[Record]) -> bytes:
    """A get's answer: ``DataFrameListProto``."""
    out = DataFrameListProto()
    out.index.extend(_proto(r, False) for r in records)
    return bytes(out.SerializeToString())


def _json(record: Record, index_only: bool) -> dict[str, object]:
    obj: dict[str, object] = {"index": record.index, "tags": record.tags, "message": record.message}
    if not index_only:
        obj["data"] = base64.b64encode(record.data).decode("ascii")
    return obj


def frame_json(record: Record, *, index_only: bool = False) -> str:
    return json.dumps(_json(record, index_only))


def frames_json(records: Iterable[Record]) -> str:
    return json.dumps([_json(r, False) for r in records])


def attributes_proto(attrs: Mapping[str, str]) -> bytes:
    return bytes(AttributesProto(attributes=attrs).SerializeToString())
