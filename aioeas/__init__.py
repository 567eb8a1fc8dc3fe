"""aioeas: the asyncio-native client for Alibaba Cloud PAI-EAS inference services.

Requests are built from numpy arrays without per-element Python work; responses hand back
numpy arrays. Every exception derives from ``EASError`` (see ``aioeas.errors``).
"""

from aioeas.codecs.dtypes import BladeDataType, DataType
from aioeas.errors import (
    AuthError,
    ConnectError,
    DecodeError,
    EASError,
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

__all__ = [
    "AuthError",
    "BladeDataType",
    "BladeRequest",
    "BladeResponse",
    "BladeTFRequest",
    "BladeTFResponse",
    "ConnectError",
    "DataType",
    "DecodeError",
    "EASError",
    "InvalidTensorError",
    "QueueError",
    "Request",
    "RequestTimeoutError",
    "Response",
    "RetryableServiceError",
    "ServiceError",
    "StringRequest",
    "StringResponse",
    "TFRequest",
    "TFResponse",
    "TorchRequest",
    "TorchResponse",
    "TransportError",
    "UnknownOutputError",
    "UsageError",
    "__version__",
]
