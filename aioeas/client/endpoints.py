"""Where a predict goes, sans-IO: endpoint kinds, URL building and the signed resource.

Four kinds, chosen once when the client opens:

- gateway: ``{endpoint}/api/predict/{service}``; ``http://`` is put in front of an endpoint
  without a scheme and a trailing ``/`` dropped; an ``https://`` endpoint stays HTTPS
  (the official client turns it into ``http://https://...``).
- custom: ``custom_url`` used verbatim, authorized by the raw token.
- in-cluster: no endpoint and env ``NAMESPACE`` set: ``http://{service, _ as -}.{NAMESPACE}:8080``,
  then as a gateway.
- direct (VPC): a backend chosen by weighted round robin among those discovery lists:
  ``http://{ip}:{port}/api/predict/{service}``.

An extra path after the service and the query are part of the signed resource, so the URL
is built here once and the same string is both signed and sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from aioeas.errors import UsageError

__all__ = [
    "ENDPOINT_TYPE_DEFAULT",
    "ENDPOINT_TYPE_DIRECT",
    "ENDPOINT_TYPE_GATEWAY",
    "CustomEndpoint",
    "DirectEndpoint",
    "EndpointSpec",
    "GatewayEndpoint",
    "QueryParams",
    "discovery_service_name",
    "discovery_url",
    "encode_query",
    "normalize_endpoint",
    "predict_resource",
    "resolve_endpoint",
    "with_path_and_query",
]

#: The official values: ``set_endpoint_type(ENDPOINT_TYPE_DIRECT)`` for VPC direct connection.
ENDPOINT_TYPE_DIRECT = "DIRECT"
ENDPOINT_TYPE_DEFAULT = "DEFAULT"
#: The gateway is the default; the official docstring calls it GATEWAY.
ENDPOINT_TYPE_GATEWAY = ENDPOINT_TYPE_DEFAULT

_GATEWAY_ALIASES = {"", "DEFAULT", "GATEWAY"}

#: Query parameters: a mapping, pairs (a key may repeat), or an encoded string used as it is.
QueryParams = Mapping[str, object] | Iterable[tuple[str, object]] | str

# Characters left as they are in an extra path: unreserved, sub-delims, ':', '@' and '/'.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def normalize_endpoint(endpoint: str) -> str:
    """``http://`` in front when no scheme is given, no trailing ``/``; https stays https."""
    endpoint = endpoint.strip()
    if "://" not in endpoint:
        endpoint = "http://" + endpoint
    scheme = endpoint.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise UsageError(f"an endpoint is http:// or https://, got scheme {scheme!r}")
    return endpoint.rstrip("/")


def encode_query(query: QueryParams | None) -> str:
    """The query string as it is sent and signed (no leading ``?``)."""
    if query is None:
        return ""
    if isinstance(query, str):
        return query.lstrip("?")
    pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    return urlencode([(str(k), str(v)) for k, v in pairs], quote_via=quote)


def _path_suffix(path: str | None) -> str:
    if not path:
        return ""
    return "/" + quote(path.lstrip("/"), safe=_PATH_SAFE)


def predict_resource(service: str, path: str | None = None, query: str = "") -> str:
    """``/api/predict/{service}[/{path}][?{query}]``: the URL path, and what is signed."""
    resource = f"/api/predict/{service}{_path_suffix(path)}"
    return f"{resource}?{query}" if query else resource


def with_path_and_query(url: str, path: str | None, query: str) -> str:
    """A custom URL with a call's extra path and query appended (the URL itself verbatim)."""
    if path:
        base, sep, existing = url.partition("?")
        url = base.rstrip("/") + _path_suffix(path) + sep + existing
    if query:
        url += ("&" if "?" in url else "?") + query
    return url


def discovery_service_name(service: str) -> str:
    """Discovery knows a service by the part before the first ``/`` (``svc/sink`` -> ``svc``)."""
    return service.split("/", 1)[0]


def discovery_url(base: str, template: str, service: str, env: Mapping[str, str]) -> str:
    """One discovery URL; ``?internal=true`` from inside EAS (env has NAMESPACE and POD_NAME)."""
    url = base + template.format(service=discovery_service_name(service))
    if env.get("NAMESPACE") and env.get("POD_NAME"):
        url += "?internal=true"
    return url


@dataclass(frozen=True)
class GatewayEndpoint:
    """A fixed base URL (gateway or in-cluster); requests are signed."""

    base: str


@dataclass(frozen=True)
class CustomEndpoint:
    """A URL used verbatim; ``Authorization`` is the raw token."""

    url: str


@dataclass(frozen=True)
class DirectEndpoint:
    """VPC direct connection: ``base`` is the discovery server (the regional VPC endpoint)."""

    base: str


EndpointSpec = GatewayEndpoint | CustomEndpoint | DirectEndpoint


def resolve_endpoint(
    *,
    endpoint: str,
    service_name: str,
    custom_url: str,
    endpoint_type: str,
    env: Mapping[str, str],
) -> EndpointSpec:
    """Decide, from the client's settings and the environment, where predicts go."""
    kind = (endpoint_type or "").upper()
    if custom_url:
        return CustomEndpoint(custom_url)
    if not service_name:
        raise UsageError("a service name is needed unless a custom_url is given")
    if kind == ENDPOINT_TYPE_DIRECT:
        if not endpoint:
            raise UsageError("VPC direct connection needs an endpoint (the regional VPC one)")
        return DirectEndpoint(normalize_endpoint(endpoint))
    if kind not in _GATEWAY_ALIASES:
        raise UsageError(
            f"unsupported endpoint type {endpoint_type!r}: use ENDPOINT_TYPE_DEFAULT "
            "(gateway) or ENDPOINT_TYPE_DIRECT"
        )
    if endpoint:
        return GatewayEndpoint(normalize_endpoint(endpoint))
    namespace = env.get("NAMESPACE")
    if not namespace:
        raise UsageError(
            "an endpoint is needed outside EAS (no endpoint given and env NAMESPACE not set)"
        )
    return GatewayEndpoint(f"http://{service_name.replace('_', '-')}.{namespace}:8080")
