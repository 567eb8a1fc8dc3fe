"""The names aioeas reports under: OpenTelemetry semantic conventions where they exist.

HTTP names come from the stable conventions (``opentelemetry.semconv.attributes``); the
messaging ones are still "development" there, so they are spelt here (conventions 1.3x).
Names of aioeas's own start with ``aioeas.``. The docs' observability guide tables them.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_REQUEST_RESEND_COUNT,
    HTTP_RESPONSE_STATUS_CODE,
)
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.attributes.url_attributes import URL_FULL
from opentelemetry.semconv.metrics.http_metrics import HTTP_CLIENT_REQUEST_DURATION

__all__ = [
    "ATTEMPT",
    "ATTEMPTS",
    "BACKEND",
    "DISCOVERY_BACKENDS",
    "DISCOVERY_OUTCOME",
    "DISCOVERY_REFRESHES",
    "ENDPOINT_MODE",
    "ERROR_TYPE",
    "HTTP_CLIENT_ACTIVE_REQUESTS",
    "HTTP_CLIENT_REQUEST_DURATION",
    "HTTP_REQUEST_METHOD",
    "HTTP_REQUEST_RESEND_COUNT",
    "HTTP_RESPONSE_STATUS_CODE",
    "MESSAGING_CLIENT_CONSUMED_MESSAGES",
    "MESSAGING_CLIENT_OPERATION_DURATION",
    "MESSAGING_CLIENT_SENT_MESSAGES",
    "MESSAGING_CONSUMER_GROUP_NAME",
    "MESSAGING_DESTINATION_NAME",
    "MESSAGING_MESSAGE_ID",
    "MESSAGING_OPERATION_NAME",
    "MESSAGING_OPERATION_TYPE",
    "MESSAGING_SYSTEM",
    "MESSAGING_SYSTEM_VALUE",
    "REQUEST_ID",
    "RESULT_INDEX",
    "RETRIES",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "SERVICE",
    "TRACE_TAGS",
    "URL_FULL",
    "WATCHER_IN_HAND",
    "WATCHER_RECONNECTS",
    "error_type",
    "server_of",
    "url_without_credentials",
]

#: The record tags that carry W3C trace context through a queue (``traceparent`` and,
#: when the trace has one, ``tracestate``), as in HTTP headers of the same names.
TRACE_TAGS = ("traceparent", "tracestate")

# -- HTTP (stable conventions; the active-requests metric is still "development") --------
HTTP_CLIENT_ACTIVE_REQUESTS = "http.client.active_requests"

# -- messaging (development conventions) --------------------------------------------------
MESSAGING_SYSTEM = "messaging.system"
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_CONSUMER_GROUP_NAME = "messaging.consumer.group.name"
MESSAGING_CLIENT_SENT_MESSAGES = "messaging.client.sent.messages"
MESSAGING_CLIENT_CONSUMED_MESSAGES = "messaging.client.consumed.messages"
MESSAGING_CLIENT_OPERATION_DURATION = "messaging.client.operation.duration"
#: ``messaging.system`` of the EAS queue service (not in the conventions' list).
MESSAGING_SYSTEM_VALUE = "pai_eas_queue"

# -- aioeas's own --------------------------------------------------------------------------
SERVICE = "aioeas.service"
ENDPOINT_MODE = "aioeas.endpoint.mode"
BACKEND = "aioeas.backend"
ATTEMPT = "aioeas.attempt"
ATTEMPTS = "aioeas.attempts"
REQUEST_ID = "aioeas.queue.request_id"
RESULT_INDEX = "aioeas.queue.result_index"
RETRIES = "aioeas.client.retries"
DISCOVERY_REFRESHES = "aioeas.discovery.refreshes"
DISCOVERY_BACKENDS = "aioeas.discovery.backends"
DISCOVERY_OUTCOME = "aioeas.discovery.outcome"
WATCHER_IN_HAND = "aioeas.queue.watcher.records_in_hand"
WATCHER_RECONNECTS = "aioeas.queue.watcher.reconnects"


def error_type(status: int | None, error: BaseException | None) -> str | None:
    """``error.type`` as the HTTP conventions have it: the status code of an error answer,
    else the exception's class name; ``None`` on success."""
    if status is not None and status >= 400:
        return str(status)
    if error is not None:
        return type(error).__qualname__
    return None


@functools.lru_cache(maxsize=256)
def server_of(url: str, backend: str | None) -> tuple[str, int]:
    """``server.address`` and ``server.port`` of a try: the backend's (direct), else the
    URL's host and port (80 or 443 when the URL gives none)."""
    if backend is not None:
        host, _, port = backend.rpartition(":")
        if host and port.isdigit():
            return host.strip("[]"), int(port)
    parts = urlsplit(url)
    port_of = parts.port if parts.port is not None else (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port_of


@functools.lru_cache(maxsize=256)
def url_without_credentials(url: str) -> str:
    """``url.full``: the URL with any ``user:password@`` redacted and no query or fragment
    (the query of a predict is the caller's data; the client passes it without already)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "REDACTED:REDACTED@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
