"""EAS request signing, sans-IO: bytes and a clock reading in, headers out.

With a token and a gateway or direct endpoint, every predict is signed::

    Authorization: EAS base64(HMAC-SHA1(token, "POST\\n{Content-MD5}\\n{Content-Type}\\n{Date}\\n{resource}"))

where ``resource`` is ``/api/predict/{service}`` plus any extra path and query. With a
custom URL, and for every queue call, ``Authorization`` is the token itself. Each call
returns a new dict: headers are never shared between requests.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from email.utils import formatdate

__all__ = ["DEFAULT_CONTENT_TYPE", "Signer", "http_date", "sign", "signature", "verify"]

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@functools.lru_cache(maxsize=4)
def _date_of_second(second: int) -> str:
    return formatdate(second, usegmt=True)


def http_date(now: float) -> str:
    """RFC 1123 date in real GMT (``Wed, 25 Nov 2026 13:34:38 GMT``) for a POSIX timestamp.

    It changes once a second: the text is made once per second, not once per request.
    """
    return _date_of_second(int(now))


class Signer:
    """Signs requests with one token. The HMAC key schedule runs once, when it is made,
    and each signature copies the keyed state. A client holds its own and drops it when it
    closes (or its token changes): no token outlives its client in a module-level cache."""

    __slots__ = ("_mac",)

    def __init__(self, token: str) -> None:
        self._mac = hmac.new(token.encode("utf-8"), digestmod=hashlib.sha1)

    def __repr__(self) -> str:
        return "<Signer token=***>"

    def signature(
        self,
        *,
        content_md5: str,
        content_type: str,
        date: str,
        resource: str,
        method: str = "POST",
    ) -> str:
        """The ``Authorization`` value of a signed request: ``EAS <base64 HMAC-SHA1>``."""
        message = f"{method}\n{content_md5}\n{content_type}\n{date}\n{resource}"
        mac = self._mac.copy()
        mac.update(message.encode("utf-8"))
        return "EAS " + base64.b64encode(mac.digest()).decode("ascii")

    def sign(
        self,
        body: bytes,
        *,
        resource: str,
        now: float,
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> dict[str, str]:
        """The headers that sign ``body`` for ``resource`` at time ``now``."""
        md5 = hashlib.md5(body).hexdigest()
        date = http_date(now)
        return {
            "Content-MD5": md5,
            "Date": date,
            "Content-Type": content_type,
            "Authorization": self.signature(
                content_md5=md5, content_type=content_type, date=date, resource=resource
            ),
        }


def signature(
    token: str,
    *,
    content_md5: str,
    content_type: str,
    date: str,
    resource: str,
    method: str = "POST",
) -> str:
    """The ``Authorization`` value of a signed request: ``EAS <base64 HMAC-SHA1>``."""
    return Signer(token).signature(
        content_md5=content_md5,
        content_type=content_type,
        date=date,
        resource=resource,
        method=method,
    )


def sign(
    token: str,
    body: bytes,
    *,
    resource: str,
    now: float,
    content_type: str = DEFAULT_CONTENT_TYPE,
) -> dict[str, str]:
    """The headers that sign ``body`` for ``resource`` at time ``now`` (a ``Signer`` made
    for this one call; a client keeps one instead)."""
    return Signer(token).sign(body, resource=resource, now=now, content_type=content_type)


def verify(
    token: str,
    authorization: str | None,
    *,
    body: bytes,
    method: str,
    content_md5: str | None,
    content_type: str | None,
    date: str | None,
    resource: str,
) -> bool:
    """Whether ``authorization`` is the raw token or a valid signature of this request.

    The body's MD5 must match ``Content-MD5`` when a signature is given. Comparisons are
    constant-time.
    """
    if not authorization:
        return False
    if hmac.compare_digest(authorization.encode(), token.encode()):
        return True
    if not authorization.startswith("EAS ") or content_md5 is None or date is None:
        return False
    if not hmac.compare_digest(hashlib.md5(body).hexdigest(), content_md5.lower()):
        return False
    expected = signature(
        token,
        content_md5=content_md5,
        content_type=content_type or "",
        date=date,
        resource=resource,
        method=method,
    )
    return hmac.compare_digest(expected.encode(), authorization.strip().encode())
