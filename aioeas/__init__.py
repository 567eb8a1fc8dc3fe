"""aioeas: the asyncio-native client for Alibaba Cloud PAI-EAS inference services.

Requests are built from numpy arrays without per-element Python work; responses hand back
numpy arrays. Every exception derives from ``EASError`` (see ``aioeas.errors``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from aioeas.errors import (
    AuthError,
    CertificateError,
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

__version__ = "0.1.0"

# Everything but the errors loads on first use: the requests and codecs bring numpy, the
# client aiohttp, and ``aioeas --version`` or ``import aioeas.errors`` need neither.
# ``aioeas.TFRequest`` loads the sans-IO core only; ``aioeas.PredictClient`` the client.
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
    from aioeas.codecs.dtypes import BladeDataType, DataType
    from aioeas.queue import (
        AsyncInference,
        FrameTooLargeError,
        PutUncertainError,
        QueueClient,
        QueueRecord,
        ReconnectPolicy,
        ResultTimeoutError,
        SearchResult,
        Watcher,
        WatchLostError,
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
        "FrameTooLargeError",
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


# The request and response classes, and the dtypes: numpy loads with them.
_CORE_NAMES = {
    "BladeDataType": "aioeas.codecs.dtypes",
    "DataType": "aioeas.codecs.dtypes",
    **dict.fromkeys(
        (
            "BladeRequest",
            "BladeResponse",
            "BladeTFRequest",
            "BladeTFResponse",
            "Request",
            "Response",
            "StringRequest",
            "StringResponse",
            "TFRequest",
            "TFResponse",
            "TorchRequest",
            "TorchResponse",
        ),
        "aioeas.requests",
    ),
}


def __getattr__(name: str) -> _Any:
    if name in _CORE_NAMES:
        import importlib

        value = getattr(importlib.import_module(_CORE_NAMES[name]), name)
        globals()[name] = value
        return value
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
    return sorted(set(globals()) | set(_CORE_NAMES) | _CLIENT_NAMES | _QUEUE_NAMES)


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
    "CertificateError",
    "ConnectError",
    "DataType",
    "DecodeError",
    "DiscoveryConfig",
    "EASError",
    "EASTimeoutError",
    "FanOut",
    "FrameTooLargeError",
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
