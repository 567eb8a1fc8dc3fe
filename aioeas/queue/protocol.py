"""The queue service's requests and answers, sans-IO: headers, queries, validation, parsing.

Every function takes values and gives values; nothing here touches a socket or a clock, so
the whole protocol surface is unit-tested without a server. The client and the watcher
call these and do only the I/O.

Validation happens here, before any I/O, and raises ``UsageError``: tag keys that start
with ``_`` (reserved for the service's own parameters, such as ``_index_``; a tag named so
would change the meaning of the request), control characters (CR and LF would break a
header, NUL and the rest break the service's parsers), a negative-ack code that is not
CamelCase words or digits.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from aioeas.client.checks import check_header_name, check_header_value, is_header_name
from aioeas.client.endpoints import normalize_endpoint
from aioeas.codecs.frames import decode_attributes
from aioeas.errors import (
    AuthError,
    DecodeError,
    EASError,
    RetryableServiceError,
    ServiceError,
    UsageError,
)

__all__ = [
    "ACCEPT_PROTOBUF",
    "DEFAULT_GID",
    "DEFAULT_MAX_PAYLOAD",
    "FRAME_OVERHEAD",
    "HEADER_GID",
    "HEADER_REQUEST_ID",
    "HEADER_UID",
    "Identity",
    "SearchResult",
    "attributes_query",
    "check_header_value",
    "check_index",
    "check_indexes",
    "check_tags",
    "commit_query",
    "count_query",
    "delete_query",
    "eos_query",
    "error_for",
    "get_query",
    "identity_from_attributes",
    "negative_ack_body",
    "negative_ack_query",
    "parse_attributes",
    "parse_count",
    "parse_put",
    "parse_search",
    "parse_timeout",
    "payload_limit",
    "put_query",
    "queue_url",
    "search_query",
    "truncate_query",
    "watch_query",
    "websocket_url",
]

HEADER_UID = "X-EAS-QueueService-Redis-Uid"
HEADER_GID = "X-EAS-QueueService-Redis-Gid"
#: The answer header of ``put`` carrying the generated request id.
HEADER_REQUEST_ID = "X-Eas-Queueservice-Request-Id"
ACCEPT_PROTOBUF = "application/vnd.google.protobuf"
DEFAULT_GID = "eas"
#: The payload limit assumed when the queue's attributes do not give ``meta.maxPayloadBytes``
#: (they could not be read, or ``discover_headers=False``): generous, so no record a real
#: queue holds is refused, and still a bound on what one WebSocket message may allocate.
DEFAULT_MAX_PAYLOAD = 64 << 20
#: What a watched record's frame adds to its payload: the index, the tags (which travel in
#: a put's query, so a few KiB at most), the message and the protobuf framing.
FRAME_OVERHEAD = 64 << 10

_DIGITS = re.compile(r"[0-9]{1,19}")
_NACK_CODE = re.compile(r"(?:[A-Z][a-z0-9]*|[0-9]+)+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


# ----------------------------------------------------------------------------- identity


@dataclass(frozen=True)
class Identity:
    """Who a client is to the queue: uid and gid, and the header names that carry them.

    The names default to the official ones; a queue whose attributes name others
    (``meta.header.user``, ``meta.header.group``, ``meta.header.priority``) is answered in
    its own names (``identity_from_attributes``).
    """

    uid: str
    gid: str = DEFAULT_GID
    uid_header: str = HEADER_UID
    gid_header: str = HEADER_GID
    #: Sent with a priority put only when the queue names it in ``meta.header.priority``,
    #: as the Java client does; ``_priority_`` in the query always carries the priority.
    priority_header: str | None = None

    def __post_init__(self) -> None:
        check_header_value("uid", self.uid)
        check_header_value("gid", self.gid)
        if not self.uid or not self.gid:
            raise UsageError("uid and gid must not be empty")
        for name in (self.uid_header, self.gid_header, self.priority_header):
            if name is not None:
                check_header_name(name)

    def headers(self, token: str, *, accept: str | None = None) -> dict[str, str]:
        """A new dict for every call (never shared between concurrent calls)."""
        out = {self.uid_header: self.uid, self.gid_header: self.gid}
        if token:
            out["Authorization"] = token
        if accept:
            out["Accept"] = accept
        return out


def identity_from_attributes(identity: Identity, attributes: Mapping[str, str]) -> Identity:
    """``identity`` with the header names the queue's attributes give (the Go client's way).

    A name that is missing, empty or not a valid header name leaves the default.
    """

    def pick(key: str, default: str | None) -> str | None:
        value = attributes.get(key)
        return value if isinstance(value, str) and is_header_name(value) else default

    return Identity(
        uid=identity.uid,
        gid=identity.gid,
        uid_header=pick("meta.header.user", identity.uid_header) or identity.uid_header,
        gid_header=pick("meta.header.group", identity.gid_header) or identity.gid_header,
        priority_header=pick("meta.header.priority", identity.priority_header),
    )


def payload_limit(attributes: Mapping[str, str]) -> int | None:
    """The queue's payload limit in bytes (``meta.maxPayloadBytes``); ``None`` when the
    attributes do not give a positive whole number."""
    value = attributes.get("meta.maxPayloadBytes")
    if not isinstance(value, str) or _DIGITS.fullmatch(value.strip()) is None:
        return None
    limit = int(value)
    return limit if limit > 0 else None


# ---------------------------------------------------------------------------- validation


def check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``tags`` after the checks every call makes before any I/O.

    Keys are non-empty strings not starting with ``_`` (reserved: ``_index_`` and the other
    parameters travel in the same query); keys and values hold no control characters.
    Values are sent URL-encoded, so ``&``, ``=``, ``/`` and non-ASCII are fine.
    """
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise UsageError(f"tags must be a mapping of str to str, got {type(tags).__name__}")
    out: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key:
            raise UsageError(f"a tag key must be a non-empty str, got {key!r}")
        if key.startswith("_"):
            raise UsageError(
                f"tag key {key!r} starts with '_': such keys are reserved for the queue "
                "service's own parameters"
            )
        check_header_value(f"tag key {key!r}", key)
        if not isinstance(value, str):
            raise UsageError(f"tag {key!r} must have a str value, got {type(value).__name__}")
        check_header_value(f"the value of tag {key!r}", value)
        out[key] = value
    return out


def check_index(index: object, *, what: str = "index", minimum: int = 0) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise UsageError(f"{what} must be an int, got {type(index).__name__}")
    if index < minimum:
        raise UsageError(f"{what} must be >= {minimum}, got {index}")
    return index


def check_indexes(indexes: int | Iterable[int]) -> list[int]:
    """One index or several, each a positive int; at least one."""
    items = [indexes] if isinstance(indexes, int) else list(indexes)
    if not items:
        raise UsageError("no indexes given")
    return [check_index(i, what="an index", minimum=1) for i in items]


def parse_timeout(timeout: str | float) -> tuple[str, float]:
    """A long-poll timeout as sent (``_timeout_``) and in seconds.

    Takes seconds as a number, or a Go duration (``5s``, ``500ms``, ``1m30s``) or bare
    seconds (``"5"``) as text. Numbers are sent as Go durations, which every server reads.
    """
    if isinstance(timeout, bool):
        raise UsageError(f"timeout must be seconds or a duration like '5s', got {timeout!r}")
    if isinstance(timeout, (int, float)):
        seconds = float(timeout)
        if not math.isfinite(seconds) or seconds < 0:
            raise UsageError(f"timeout must be a finite number >= 0, got {timeout!r}")
        millis = round(seconds * 1000)
        wire = f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"
        return wire, seconds
    if not isinstance(timeout, str):
        raise UsageError(f"timeout must be seconds or a duration like '5s', got {timeout!r}")
    text = timeout.strip()
    try:
        seconds = float(text)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise UsageError(f"not a duration: {timeout!r} (use e.g. '5s', '500ms')") from None
        return text, seconds
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"timeout must be a finite number >= 0, got {timeout!r}")
    return text, seconds


# -------------------------------------------------------------------------------- URLs


def queue_url(endpoint: str, queue_name: str, custom_url: str = "") -> str:
    """``{endpoint}/api/predict/{queue}``, or ``custom_url`` verbatim (without query)."""
    if custom_url:
        return custom_url.rstrip("?")
    if not queue_name:
        raise UsageError("a queue name is needed unless a custom_url is given")
    check_header_value("queue name", queue_name)
    if not endpoint:
        raise UsageError(
            "an endpoint is needed (e.g. http://1234.cn-shanghai.pai-eas.aliyuncs.com)"
        )
    path = quote(queue_name.strip("/"), safe="/")
    return f"{normalize_endpoint(endpoint)}/api/predict/{path}"


def websocket_url(http_url: str) -> str:
    """The same URL with ``ws://`` for ``http://`` and ``wss://`` for ``https://``."""
    scheme, sep, rest = http_url.partition("://")
    if not sep:
        return "ws://" + http_url
    return {"http": "ws", "https": "wss"}.get(scheme.lower(), scheme) + "://" + rest


def with_query(url: str, query: str) -> str:
    if not query:
        return url
    return url + ("&" if "?" in url else "?") + query


def _encode(pairs: Iterable[tuple[str, str]]) -> str:
    # quote with safe="" (urlencode's default with quote_via): '/', '&', '=', '+' all escaped
    return urlencode(list(pairs), quote_via=quote)


def _indexes(indexes: Iterable[int]) -> str:
    return ",".join(str(i) for i in indexes)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def put_query(tags: Mapping[str, str], priority: int | None = None) -> str:
    pairs = list(tags.items())
    if priority is not None:
        pairs.append(("_priority_", str(priority)))
    return _encode(pairs)


def get_query(
    *,
    index: int,
    length: int,
    timeout: str,
    auto_delete: bool,
    tags: Mapping[str, str],
    request_id: str | None,
) -> str:
    pairs = [
        ("_index_", str(index)),
        ("_length_", str(length)),
        ("_timeout_", timeout),
        ("_raw_", "false"),
        ("_auto_delete_", _bool(auto_delete)),
    ]
    if request_id is not None:
        pairs.append(("requestId", request_id))
    pairs.extend(tags.items())
    return _encode(pairs)


def delete_query(indexes: Iterable[int]) -> str:
    return _encode([("_indexes_", _indexes(indexes))])


def commit_query(indexes: Iterable[int]) -> str:
    return _encode([("_indexes_", _indexes(indexes))])


def truncate_query(index: int) -> str:
    return _encode([("_index_", str(index)), ("_trunc_", "true")])


def attributes_query() -> str:
    return "_attrs_=true"


def search_query(index: int) -> str:
    return _encode([("_search_", "true"), ("_index_", str(index))])


def count_query(priority: int | None = None) -> str:
    pairs = [("_count_", "true")]
    if priority is not None:
        pairs.append(("_priority_", str(priority)))
    return _encode(pairs)


def negative_ack_query(indexes: Iterable[int]) -> str:
    return _encode([("_indexes_", _indexes(indexes)), ("_negative_", "true")])


def negative_ack_body(code: str, reason: str) -> bytes:
    """The form body ``_code_=...&_reason_=...``; the code is CamelCase words or digits."""
    if not isinstance(code, str) or not 0 < len(code) <= 20 or not _NACK_CODE.fullmatch(code):
        raise UsageError(
            f"a negative-ack code is CamelCase words or digits, at most 20 characters "
            f"(e.g. 'Shutdown', 'Timeout', '503'), got {code!r}"
        )
    if not isinstance(reason, str):
        raise UsageError(f"reason must be a str, got {type(reason).__name__}")
    return urlencode([("_code_", code), ("_reason_", reason)]).encode("ascii")


def eos_query(force: bool = False) -> str:
    return "_eos_=true&_force_=true" if force else "_eos_=true"


def watch_query(
    *,
    index: int,
    window: int,
    index_only: bool,
    auto_commit: bool,
    tags: Mapping[str, str],
) -> str:
    pairs = [
        ("_watch_", "true"),
        ("_index_", str(index)),
        ("_window_", str(window)),
        ("_index_only_", _bool(index_only)),
        ("_auto_commit_", _bool(auto_commit)),
    ]
    pairs.extend(tags.items())
    return _encode(pairs)


# ----------------------------------------------------------------------------- answers


def error_for(status: int, body: bytes, url: str) -> EASError | None:
    """``None`` for a 2xx answer, else the error a caller can act on (status and body)."""
    if 200 <= status < 300:
        return None
    if status in (401, 403):
        return AuthError(status, body, url=url)
    if status >= 500:
        return RetryableServiceError(status, body, url=url)
    return ServiceError(status, body, url=url)


def parse_put(body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
    """The new index (0 when a 204 carries none) and the request id (``""`` if absent).

    ``headers`` has lower-case keys (as ``HTTPResponse`` gives them).
    """
    text = body.strip()
    request_id = headers.get(HEADER_REQUEST_ID.lower(), "")
    if not text:
        return 0, request_id
    try:
        return int(text), request_id
    except ValueError:
        raise DecodeError("the index answered by put", "not a decimal number", body) from None


def parse_count(body: bytes) -> int:
    try:
        return int(body.strip())
    except ValueError:
        raise DecodeError("the count", "not a decimal number", body) from None


def parse_attributes(body: bytes, content_type: str) -> dict[str, str]:
    """JSON (an object; values made strings) or ``AttributesProto`` by Content-Type."""
    if "protobuf" in content_type:
        return decode_attributes(body)
    try:
        value = json.loads(body) if body.strip() else {}
        if not isinstance(value, dict):
            raise DecodeError("the queue attributes", "not a JSON object", body)
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError("the queue attributes", f"not JSON ({exc})", body) from None


@dataclass(frozen=True)
class SearchResult:
    """Where a record is: which consumer holds it, whether it is pending, how many wait
    before it. ``raw`` is the whole JSON answer (servers may add fields)."""

    consumer_id: str
    is_pending: bool
    wait_count: int
    raw: dict[str, object] = field(default_factory=dict)


def parse_search(body: bytes) -> SearchResult:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise DecodeError("the search answer", f"not JSON ({exc})", body) from None
    if not isinstance(value, dict):
        raise DecodeError("the search answer", "not a JSON object", body)
    try:
        wait = int(value.get("WaitCount") or 0)  # absent, null, 0, "": none waiting
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
        raise DecodeError("the search answer", "WaitCount is not a number", body) from None
    pending = value.get("IsPending")  # absent or null: not pending
    if isinstance(pending, str):
        pending = pending.lower() == "true"
    return SearchResult(
        consumer_id=str(value.get("ConsumerId") or ""),
        is_pending=bool(pending),
        wait_count=wait,
        raw=value,
    )
