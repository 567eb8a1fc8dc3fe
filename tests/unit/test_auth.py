"""Request signing (aioeas.client.auth), checked against a signature built by hand."""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time

import pytest

from aioeas.client.auth import DEFAULT_CONTENT_TYPE, http_date, sign, signature, verify

TOKEN = "MzJmMDAwZDAtYzU5Ny00NjBhLWE1ZjUtMjVhYmQ1ZTM4YjEy"
RESOURCE = "/api/predict/my_service"
BODY = b'[{"fea1": 1, "fea2": 2}]'


def by_hand(token: str, body: bytes, date: str, content_type: str, resource: str) -> str:
    md5 = hashlib.md5(body).hexdigest()
    message = "POST\n" + md5 + "\n" + content_type + "\n" + date + "\n" + resource
    mac = hmac.new(token.encode(), message.encode(), "sha1").digest()
    return "EAS " + base64.b64encode(mac).decode()


@pytest.fixture
def shanghai_time():  # type: ignore[no-untyped-def]
    """Local time 8 hours ahead of GMT, so that local time labelled GMT would show."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    mp.undo()
    time.tzset()


def test_sign_matches_a_signature_built_by_hand() -> None:
    headers = sign(TOKEN, BODY, resource=RESOURCE, now=0)
    date = "Thu, 01 Jan 1970 00:00:00 GMT"
    assert headers == {
        "Content-MD5": hashlib.md5(BODY).hexdigest(),
        "Date": date,
        "Content-Type": "application/octet-stream",
        "Authorization": by_hand(TOKEN, BODY, date, "application/octet-stream", RESOURCE),
    }
    assert DEFAULT_CONTENT_TYPE == "application/octet-stream"


def test_a_known_signature() -> None:
    # from the shell, independently of Python:
    # printf 'POST\nd41d8cd98f00b204e9800998ecf8427e\napplication/octet-stream\n'\
    # 'Thu, 01 Jan 1970 00:00:00 GMT\n/api/predict/s' | openssl dgst -sha1 -hmac t -binary | base64
    headers = sign("t", b"", resource="/api/predict/s", now=0)
    assert headers["Content-MD5"] == "d41d8cd98f00b204e9800998ecf8427e"
    assert headers["Authorization"] == "EAS SOrIn7BIODxSNI5FQCnJE8jYo6c="


def test_custom_content_type_is_signed() -> None:
    headers = sign(TOKEN, BODY, resource=RESOURCE, now=0, content_type="application/json")
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == by_hand(
        TOKEN, BODY, headers["Date"], "application/json", RESOURCE
    )
    assert headers["Authorization"] != sign(TOKEN, BODY, resource=RESOURCE, now=0)["Authorization"]


@pytest.mark.usefixtures("shanghai_time")
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (0.999, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (calendar.timegm((2026, 11, 25, 13, 34, 38)), "Wed, 25 Nov 2026 13:34:38 GMT"),
        (calendar.timegm((2024, 2, 29, 23, 59, 59)), "Thu, 29 Feb 2024 23:59:59 GMT"),
    ],
)
def test_date_is_real_gmt(now: float, expected: str) -> None:
    assert time.localtime(0).tm_hour == 8  # the fixture did move local time
    assert http_date(now) == expected
    assert sign(TOKEN, BODY, resource=RESOURCE, now=now)["Date"] == expected


def test_each_call_returns_a_fresh_dict() -> None:
    first = sign(TOKEN, BODY, resource=RESOURCE, now=0)
    second = sign(TOKEN, BODY, resource=RESOURCE, now=0)
    assert first == second
    assert first is not second
    first["Authorization"] = "changed"
    first["X-Extra"] = "1"
    third = sign(TOKEN, BODY, resource=RESOURCE, now=0)
    assert third == second
    other = sign(TOKEN, b"other body", resource=RESOURCE, now=60)
    assert other["Content-MD5"] != second["Content-MD5"]
    assert second["Authorization"] == by_hand(
        TOKEN, BODY, second["Date"], DEFAULT_CONTENT_TYPE, RESOURCE
    )


def test_signature_with_another_method() -> None:
    got = signature(TOKEN, content_md5="m", content_type="t", date="d", resource="/r", method="GET")
    mac = hmac.new(TOKEN.encode(), b"GET\nm\nt\nd\n/r", hashlib.sha1).digest()
    assert got == "EAS " + base64.b64encode(mac).decode()


def _verify(
    authorization: str | None, *, token: str = TOKEN, body: bytes = BODY, **over: object
) -> bool:
    headers = sign(TOKEN, BODY, resource=RESOURCE, now=1_700_000_000)
    args: dict[str, object] = {
        "body": body,
        "method": "POST",
        "content_md5": headers["Content-MD5"],
        "content_type": headers["Content-Type"],
        "date": headers["Date"],
        "resource": RESOURCE,
    }
    args.update(over)
    return verify(token, authorization, **args)  # type: ignore[arg-type]


def _auth() -> str:
    return sign(TOKEN, BODY, resource=RESOURCE, now=1_700_000_000)["Authorization"]


def test_verify_accepts_the_raw_token_and_a_valid_signature() -> None:
    assert _verify(TOKEN)
    assert _verify(TOKEN, content_md5=None, date=None)  # the raw token needs no other header
    assert _verify(_auth())
    assert _verify(_auth() + "  ")  # trailing whitespace of a header value


@pytest.mark.parametrize(
    ("authorization", "kwargs"),
    [
        (None, {}),
        ("", {}),
        ("wrong-token", {}),
        (TOKEN[:-1], {}),
        ("EAS bm90IGEgc2lnbmF0dXJl", {}),
        ("LOL " + "x", {}),
        ("__auth__", {"token": "another-token"}),  # a signature made with another token
        ("__auth__", {"body": b"tampered"}),  # the body's MD5 does not match
        ("__auth__", {"content_md5": None}),
        ("__auth__", {"date": None}),
        ("__auth__", {"date": "Thu, 01 Jan 1970 00:00:00 GMT"}),
        ("__auth__", {"resource": "/api/predict/other"}),
        ("__auth__", {"method": "GET"}),
        ("__auth__", {"content_type": "text/plain"}),
        ("__auth__", {"content_type": None}),
    ],
)
def test_verify_refuses(authorization: str | None, kwargs: dict[str, object]) -> None:
    auth = _auth() if authorization == "__auth__" else authorization
    assert not _verify(auth, **kwargs)  # type: ignore[arg-type]


def test_verify_checks_the_md5_against_the_body() -> None:
    # a consistent signature over a wrong Content-MD5 is still refused
    wrong_md5 = hashlib.md5(b"something else").hexdigest()
    date = http_date(0)
    auth = signature(
        TOKEN,
        content_md5=wrong_md5,
        content_type=DEFAULT_CONTENT_TYPE,
        date=date,
        resource=RESOURCE,
    )
    assert not verify(
        TOKEN,
        auth,
        body=BODY,
        method="POST",
        content_md5=wrong_md5,
        content_type=DEFAULT_CONTENT_TYPE,
        date=date,
        resource=RESOURCE,
    )
