"""Request builders and response readers for every kind of EAS service (no I/O)."""

from aioeas.requests.base import Request, Response
from aioeas.requests.blade import BladeRequest, BladeResponse, BladeTFRequest, BladeTFResponse
from aioeas.requests.string import StringRequest, StringResponse
from aioeas.requests.tf import TFRequest, TFResponse
from aioeas.requests.torch import TorchRequest, TorchResponse

__all__ = [
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
]
