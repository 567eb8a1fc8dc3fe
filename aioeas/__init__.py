"""aioeas: the asyncio-native client for Alibaba Cloud PAI-EAS inference services.

Requests are built from numpy arrays without per-element Python work; responses hand back
numpy arrays. Every exception derives from ``EASError`` (see ``aioeas.errors``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from aioeas.codecs.dtypes import BladeDataType, DataType
from aioeas.errors import (
    AuthError,
    ConnectError,
    DecodeError,
    EASError,
    EASTimeoutError,
    InvalidTensorError,
    QueueError,
    RequestTimeoutError,
    RetryableServiceError,
    ServiceError,
    TransportError,
    UnknownOutputError,
    UsageError,
)
from aioeas.requests import (
    BladeRequest,
    BladeResponse,
    BladeTFRequest,
    BladeTFResponse,
    Request,
    Response,
    StringRequest,
    StringResponse,
    TFRequest,
    TFResponse,
    TorchRequest,
    TorchResponse,
)

__version__ = "0.1.0"

# The client (and so aiohttp) loads on first use: the sans-IO core, ``import aioeas.codecs``
# or ``aioeas.TFRequest``, works and imports quickly without it.
if _TYPE_CHECKING:
    from aioeas.client import (
        ENDPOINT_TYPE_DEFAULT,
        ENDPOINT_TYPE_DIRECT,
        ENDPOINT_TYPE_GATEWAY,
        AttemptEnd,
        AttemptRetry,
        AttemptStart,
        Backend,
        DiscoveryConfig,
        FanOut,
        Hooks,
        PoolLimits,
        PredictClient,
        PredictRequest,
        RetryPolicy,
        Timeout,
    )
    from aioeas.queue import (
        AsyncInference,
        PutUncertainError,
        QueueClient,
        QueueRecord,
        ReconnectPolicy,
        ResultTimeoutError,
        SearchResult,
        Watcher,
        WatchLostError,
    )

_CLIENT_NAMES = frozenset(
    {
        "ENDPOINT_TYPE_DEFAULT",
        "ENDPOINT_TYPE_DIRECT",
        "ENDPOINT_TYPE_GATEWAY",
        "AttemptEnd",
        "AttemptRetry",
        "AttemptStart",
        "Backend",
        "DiscoveryConfig",
        "FanOut",
        "Hooks",
        "PoolLimits",
        "PredictClient",
        "PredictRequest",
        "RetryPolicy",
        "Timeout",
    }
)


# The queue client loads the same way (it needs aiohttp too).
_QUEUE_NAMES = frozenset(
    {
        "AsyncInference",
        "PutUncertainError",
        "QueueClient",
        "QueueRecord",
        "ReconnectPolicy",
        "ResultTimeoutError",
        "SearchResult",
        "WatchLostError",
        "Watcher",
    }
)


def __getattr__(name: str) -> _Any:
    if name in _CLIENT_NAMES:
        from aioeas import client

        value = getattr(client, name)
        globals()[name] = value
        return value
    if name in _QUEUE_NAMES:
        from aioeas import queue

        value = getattr(queue, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aioeas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _CLIENT_NAMES | _QUEUE_NAMES)


__all__ = [
    "ENDPOINT_TYPE_DEFAULT",
    "ENDPOINT_TYPE_DIRECT",
    "ENDPOINT_TYPE_GATEWAY",
    "AsyncInference",
    "AttemptEnd",
    "AttemptRetry",
    "AttemptStart",
    "AuthError",
    "Backend",
    "BladeDataType",
    "BladeRequest",
    "BladeResponse",
    "BladeTFRequest",
    "BladeTFResponse",
    "ConnectError",
    "DataType",
    "DecodeError",
    "DiscoveryConfig",
    "EASError",
    "EASTimeoutError",
    "FanOut",
    "Hooks",
    "InvalidTensorError",
    "PoolLimits",
    "PredictClient",
    "PredictRequest",
    "PutUncertainError",
    "QueueClient",
    "QueueError",
    "QueueRecord",
    "ReconnectPolicy",
    "Request",
    "RequestTimeoutError",
    "Response",
    "ResultTimeoutError",
    "RetryPolicy",
    "RetryableServiceError",
    "SearchResult",
    "ServiceError",
    "StringRequest",
    "StringResponse",
    "TFRequest",
    "TFResponse",
    "Timeout",
    "TorchRequest",
    "TorchResponse",
    "TransportError",
    "UnknownOutputError",
    "UsageError",
    "WatchLostError",
    "Watcher",
    "__version__",
]
