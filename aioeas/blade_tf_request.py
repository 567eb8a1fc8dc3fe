"""``from aioeas.blade_tf_request import TFRequest``: the official SDK's import path for
Blade's TF-compatible request, so that migrating is a search-and-replace."""

from aioeas.requests.blade import BladeTFRequest as TFRequest
from aioeas.requests.blade import BladeTFResponse as TFResponse

__all__ = ["TFRequest", "TFResponse"]
