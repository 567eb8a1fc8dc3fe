"""The network side: the predict client, endpoints, signing, retries (aiohttp lives here).

Sans-IO pieces (``auth``, ``wrr``, ``retry``, ``endpoints``, ``compression``, the JSON side
of ``discovery``) take values in and give values out; ``transport`` is the one module that
calls aiohttp for HTTP; ``session`` holds ``PredictClient``.
"""

from aioeas.client.config import DiscoveryConfig, PoolLimits, Timeout
from aioeas.client.endpoints import (
    ENDPOINT_TYPE_DEFAULT,
    ENDPOINT_TYPE_DIRECT,
    ENDPOINT_TYPE_GATEWAY,
)
from aioeas.client.fanout import FanOut
from aioeas.client.hooks import AttemptEnd, AttemptRetry, AttemptStart, Hooks
from aioeas.client.retry import RetryPolicy
from aioeas.client.session import PredictClient, PredictRequest
from aioeas.client.transport import AiohttpTransport, HTTPResponse, Transport
from aioeas.client.wrr import Backend

__all__ = [
    "ENDPOINT_TYPE_DEFAULT",
    "ENDPOINT_TYPE_DIRECT",
    "ENDPOINT_TYPE_GATEWAY",
    "AiohttpTransport",
    "AttemptEnd",
    "AttemptRetry",
    "AttemptStart",
    "Backend",
    "DiscoveryConfig",
    "FanOut",
    "HTTPResponse",
    "Hooks",
    "PoolLimits",
    "PredictClient",
    "PredictRequest",
    "RetryPolicy",
    "Timeout",
    "Transport",
]
