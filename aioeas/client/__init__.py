"""The network side: the predict client, endpoints, signing, retries, the transports.

Sans-IO pieces (``auth``, ``wrr``, ``retry``, ``endpoints``, ``compression``, ``h1wire``,
the JSON side of ``discovery``) take values in and give values out; ``transport`` holds
the ``Transport`` seam and the one module that calls aiohttp for HTTP, ``h1`` the client's
own HTTP/1.1 connections (the default); ``session`` holds ``PredictClient``.
"""

from aioeas.client.config import DiscoveryConfig, PoolLimits, Timeout
from aioeas.client.endpoints import (
    ENDPOINT_TYPE_DEFAULT,
    ENDPOINT_TYPE_DIRECT,
    ENDPOINT_TYPE_GATEWAY,
)
from aioeas.client.fanout import FanOut
from aioeas.client.h1 import H1Transport
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
    "H1Transport",
    "HTTPResponse",
    "Hooks",
    "PoolLimits",
    "PredictClient",
    "PredictRequest",
    "RetryPolicy",
    "Timeout",
    "Transport",
]
