"""The emulator's check of a credential, written from the protocol, not from the client.

PROTOCOL.md, "Authentication": a request carries the token itself in ``Authorization``, or
is signed::

    Authorization: EAS base64(HMAC-SHA1(key = token,
                   msg = "POST\\n{Content-MD5}\\n{Content-Type}\\n{Date}\\n{resource}"))

with ``Content-MD5`` the hex MD5 of the body and ``POST`` the request's method (every
predict is a POST; the queue's calls send the raw token). This module is the server's side of that text
and shares no code with ``aioeas.client.auth`` (an import-linter contract keeps it so): if
the client signed wrongly, a check made by the client's own code would agree with it, and
the tests that run the client against the emulator would pass on a client no EAS accepts.

Two things a server meets that the client never sends:

- The Java SDK writes ``Content-MD5`` with ``BigInteger.toString(16)``, which drops
  leading zeros: an MD5 starting with ``0x0`` goes as 31 hex digits (one in 16 bodies),
  and the signature is over the header as sent. So the message is built from the header
  exactly as it came, and the MD5 is compared as a number, not as text.
- The signed resource is the path as sent with its query; the path without the query and
  the decoded path are accepted too, for clients that sign less (the official Python SDK
  signs ``/api/predict/{service}`` only, whatever path it posts to).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

from aiohttp import web

__all__ = ["authorized", "expected_authorization", "md5_matches", "signature_valid"]

#: ``Content-MD5`` as EAS clients write it: hex, 32 digits or fewer (leading zeros dropped).
_HEX_MD5 = re.compile(r"[0-9a-fA-F]{1,32}")


def md5_matches(content_md5: str, body: bytes) -> bool:
    """Whether ``content_md5`` (hex, any case, leading zeros optional) is ``body``'s MD5."""
    if _HEX_MD5.fullmatch(content_md5) is None:
        return False
    return int(content_md5, 16) == int.from_bytes(hashlib.md5(body).digest(), "big")


def expected_authorization(
    token: str, *, method: str, content_md5: str, content_type: str, date: str, resource: str
) -> str:
    """``EAS <signature>`` for these header values, exactly as sent."""
    message = "\n".join((method, content_md5, content_type, date, resource))
    mac = hmac.new(token.encode("utf-8"), message.encode("utf-8"), hashlib.sha1)
    return "EAS " + base64.b64encode(mac.digest()).decode("ascii")


def signature_valid(
    token: str,
    authorization: str,
    *,
    method: str,
    content_md5: str | None,
    content_type: str | None,
    date: str | None,
    bodies: Iterable[bytes],
    resources: Iterable[str],
) -> bool:
    """Whether ``authorization`` signs one of ``bodies`` for one of ``resources``.

    A signature needs ``Content-MD5`` (matching a body) and ``Date``; a missing
    ``Content-Type`` is signed as empty. Comparisons of secrets are constant-time.
    """
    if content_md5 is None or date is None or not authorization.startswith("EAS "):
        return False
    if not any(md5_matches(content_md5, body) for body in bodies):
        return False
    given = authorization.encode("utf-8")
    for resource in resources:
        expected = expected_authorization(
            token,
            method=method,
            content_md5=content_md5,
            content_type=content_type or "",
            date=date,
            resource=resource,
        )
        if hmac.compare_digest(expected.encode("ascii"), given):
            return True
    return False


def authorized(request: web.Request, bodies: list[bytes], token: str) -> bool:
    """Whether ``request`` carries ``token`` raw or a valid ``EAS`` signature.

    ``bodies``: the body as sent and, for a compressed one, as decompressed (the MD5 may
    be over either).
    """
    headers = request.headers
    auth = headers.get("Authorization")
    if not auth:
        return False
    if hmac.compare_digest(auth.encode("utf-8"), token.encode("utf-8")):
        return True
    raw = request.raw_path
    return signature_valid(
        token,
        auth,
        method=request.method,
        content_md5=headers.get("Content-MD5"),
        content_type=headers.get("Content-Type"),
        date=headers.get("Date"),
        bodies=bodies,
        resources=dict.fromkeys([raw, raw.partition("?")[0], request.path]),
    )
