"""Service discovery: which backends a service has, for clients in VPC direct mode.

Answered at both paths in use (the Python client's and the Go/Java clients'), with the
service name cut at its first ``/`` (``svc/sink`` is discovered as ``svc``)::

    {"endpoints": {"items": [{"ip": "127.0.0.1", "port": 50001, "weight": 1, "app": "svc"}]}}

Stopped backends stay listed, as a crashed instance does until the control plane notices:
that is what a client's failover is for. A backend with ``listed = False`` is left out.
Discovery has its own fault plan, so a test can make it fail, hang, or answer an empty or
invalid list (the Java client keeps its last good list then).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from aioeas.emulator.faults import Fault, FaultPlan, FaultRule
from aioeas.emulator.handler import apply_fault, decide
from aioeas.emulator.services import Service

__all__ = ["DISCOVERY_PATHS", "EMPTY_UPSTREAMS", "Discovery"]

DISCOVERY_PATHS = (
    "/api/v1/servicediscovery/upstreams/",
    "/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/",
)
#: A well-formed answer that lists nothing.
EMPTY_UPSTREAMS = b'{"endpoints": {"items": []}}'


def upstreams(service: Service) -> dict[str, Any]:
    """The discovery document of a service."""
    items = [
        {"ip": b.host, "port": b.port, "weight": b.weight, "app": service.name}
        for b in service.backends
        if b.listed
    ]
    return {"endpoints": {"items": items}}


class Discovery:
    """The discovery endpoint's controls: ``faults``, shortcuts for them, a counter."""

    def __init__(self, lookup: Callable[[str], Service | None], seed: int = 0) -> None:
        self._lookup = lookup
        self.faults = FaultPlan(seed)
        #: Discovery requests received, by service name as asked (before the cut).
        self.requests: dict[str, int] = {}

    def answer_empty(self, *, times: int | None = None) -> FaultRule:
        """Answer 200 with an empty list (for ``times`` requests, or until cancelled)."""
        return self.faults.add(Fault.error(200, EMPTY_UPSTREAMS), times=times)

    def answer_invalid(self, *, times: int | None = None) -> FaultRule:
        """Answer 200 with a body that is not JSON."""
        return self.faults.add(Fault.error(200, b"<html>upstream busy</html>"), times=times)

    def answer_error(
        self,
        status: int = 500,
        body: bytes | str = b"discovery failed",
        *,
        times: int | None = None,
    ) -> FaultRule:
        """Answer an error status."""
        return self.faults.add(Fault.error(status, body), times=times)

    def add_routes(self, app: web.Application) -> None:
        for prefix in DISCOVERY_PATHS:
            app.router.add_get(prefix + "{service:.+}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        asked = request.match_info["service"]
        self.requests[asked] = self.requests.get(asked, 0) + 1
        decision = await decide(self.faults)
        if decision.fault is not None:
            return await apply_fault(request, decision.fault)
        name = asked.partition("/")[0]
        service = self._lookup(name)
        if service is None:
            return web.Response(status=404, text=f"service {name!r} not found")
        return web.Response(
            body=json.dumps(upstreams(service)).encode(), content_type="application/json"
        )
