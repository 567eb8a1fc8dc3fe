"""A local PAI-EAS: predict services, service discovery, auth and fault injection.

``Emulator`` speaks the protocol of ``shared/PROTOCOL.md`` on real ports, so aioeas, the
official SDKs and plain HTTP clients can be tested against it; ``python -m aioeas.emulator``
runs one from the shell, and ``aioeas.testing`` gives pytest fixtures. The library itself
never imports this package.
"""

from aioeas.emulator.calls import Call, Reject, current_call
from aioeas.emulator.discovery import DISCOVERY_PATHS, EMPTY_UPSTREAMS, Discovery
from aioeas.emulator.faults import Fault, FaultKind, FaultPlan, FaultRule
from aioeas.emulator.server import BUILTIN_SERVICES, Emulator
from aioeas.emulator.services import Backend, Service

__all__ = [
    "BUILTIN_SERVICES",
    "DISCOVERY_PATHS",
    "EMPTY_UPSTREAMS",
    "Backend",
    "Call",
    "Discovery",
    "Emulator",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "Reject",
    "Service",
    "current_call",
]
