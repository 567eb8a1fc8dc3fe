"""The emulator's own signature check (aioeas.emulator.auth), against vectors computed
outside Python and requests written byte for byte.

The vectors come from the protocol text and the shell, never from aioeas's signing code::

    printf 'POST\\n1469a0ffeadb85e6f0c13bb37bd148\\napplication/octet-stream\\n'\\
    'Thu, 01 Jan 1970 00:00:00 GMT\\n/api/predict/echo' | openssl dgst -sha1 -hmac t0ken -binary | base64
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from aioeas.emulator import Emulator
from aioeas.emulator.auth import expected_authorization, md5_matches, signature_valid

TOKEN = "t0ken"
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
OCTETS = "application/octet-stream"
#: md5(b"order-4") = 001469a0...: the Java SDK's BigInteger.toString(16) sends 30 digits.
BODY_00 = b"order-4"
MD5_00 = "001469a0ffeadb85e6f0c13bb37bd148"
JAVA_MD5_00 = "1469a0ffeadb85e6f0c13bb37bd148"
#: md5(b"order-25") = 0a6ccae5...: 31 digits from the Java SDK.
BODY_0A = b"order-25"
JAVA_MD5_0A = "a6ccae5688f8171c21251926bd390cc"

#: (content_md5 as sent, content type, date, resource, the Authorization openssl made)
VECTORS = [
    # PROTOCOL.md's form, the empty body, token "t" (the client's known vector too)
    ("d41d8cd98f00b204e9800998ecf8427e", OCTETS, EPOCH, "/api/predict/s", "t", b"",
     "EAS SOrIn7BIODxSNI5FQCnJE8jYo6c="),
    # the Java SDK's short MD5, signed as sent
    (JAVA_MD5_00, OCTETS, EPOCH, "/api/predict/echo", TOKEN, BODY_00,
     "EAS C5sb77gJpEhqhlxb1tLNKIgVB4Y="),
    # the same body, the MD5 in full
    (MD5_00, OCTETS, EPOCH, "/api/predict/echo", TOKEN, BODY_00,
     "EAS PzWbRdPRT12PtbimJW7Q6Hqwcs4="),
    # 31 digits, another content type, a query in the resource
    (JAVA_MD5_0A, "application/json", "Mon, 30 Nov 2026 14:00:00 GMT",
     "/api/predict/echo?a=1", TOKEN, BODY_0A, "EAS knV5PqpJ0zdLySM2g8XmogKcDVo="),
]  # fmt: skip


@pytest.mark.parametrize(("md5", "ctype", "date", "resource", "token", "body", "auth"), VECTORS)
def test_vectors_from_the_protocol(
    md5: str, ctype: str, date: str, resource: str, token: str, body: bytes, auth: str
) -> None:
    made = expected_authorization(
        token, method="POST", content_md5=md5, content_type=ctype, date=date, resource=resource
    )
    assert made == auth
    assert signature_valid(
        token,
        auth,
        method="POST",
        content_md5=md5,
        content_type=ctype,
        date=date,
        bodies=[body],
        resources=[resource],
    )


def test_a_signature_is_over_the_md5_as_sent() -> None:
    # the full MD5 in the header, the signature made over the short form: no match, and
    # the other way round (a server that normalised the header would accept both)
    for sent, signed in ((MD5_00, JAVA_MD5_00), (JAVA_MD5_00, MD5_00)):
        auth = expected_authorization(
            TOKEN,
            method="POST",
            content_md5=signed,
            content_type=OCTETS,
            date=EPOCH,
            resource="/api/predict/echo",
        )
        assert not signature_valid(
            TOKEN,
            auth,
            method="POST",
            content_md5=sent,
            content_type=OCTETS,
            date=EPOCH,
            bodies=[BODY_00],
            resources=["/api/predict/echo"],
        )


@pytest.mark.parametrize(
    ("header", "body", "ok"),
    [
        (MD5_00, BODY_00, True),
        (MD5_00.upper(), BODY_00, True),
        (JAVA_MD5_00, BODY_00, True),  # two leading zeros dropped
        ("0" + JAVA_MD5_00, BODY_00, True),  # one of them
        (JAVA_MD5_0A, BODY_0A, True),
        (JAVA_MD5_0A, BODY_00, False),  # another body's
        ("0x" + JAVA_MD5_00, BODY_00, False),  # int(..., 16) would take these: not hex
        ("+" + JAVA_MD5_00, BODY_00, False),
        (" " + JAVA_MD5_00, BODY_00, False),
        (JAVA_MD5_00[:4] + "_" + JAVA_MD5_00[4:], BODY_00, False),
        ("0" + MD5_00, BODY_00, False),  # 33 digits
        ("", b"", False),
        ("d41d8cd98f00b204e9800998ecf8427e", b"", True),
    ],
)
def test_the_md5_is_compared_as_a_number(header: str, body: bytes, ok: bool) -> None:
    assert md5_matches(header, body) is ok


# -- over the wire, byte for byte -------------------------------------------------------


@pytest_asyncio.fixture
async def locked() -> AsyncIterator[Emulator]:
    async with Emulator(token=TOKEN) as emulator:
        yield emulator


async def raw_post(emu: Emulator, path: str, headers: list[tuple[str, str]], body: bytes) -> int:
    """POST ``body`` with exactly these header lines; the answer's status."""
    where = urlsplit(emu.url)
    assert where.hostname is not None
    assert where.port is not None
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    lines = [f"POST {path} HTTP/1.1", f"Host: {where.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    writer.write("\r\n".join(lines).encode("latin-1") + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


def java_headers(md5: str, auth: str) -> list[tuple[str, str]]:
    return [
        ("Content-MD5", md5),
        ("Date", EPOCH),
        ("Content-Type", OCTETS),
        ("Authorization", auth),
    ]


async def test_a_java_request_with_a_short_md5_passes(locked: Emulator) -> None:
    java = java_headers(JAVA_MD5_00, "EAS C5sb77gJpEhqhlxb1tLNKIgVB4Y=")
    assert await raw_post(locked, "/api/predict/echo", java, BODY_00) == 200
    full = java_headers(MD5_00, "EAS PzWbRdPRT12PtbimJW7Q6Hqwcs4=")
    assert await raw_post(locked, "/api/predict/echo", full, BODY_00) == 200
    assert locked.service("echo").requests == 2


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        # the short MD5 sent, the signature over the full one
        (java_headers(JAVA_MD5_00, "EAS PzWbRdPRT12PtbimJW7Q6Hqwcs4="), BODY_00),
        # a signature of another body
        (java_headers(JAVA_MD5_00, "EAS C5sb77gJpEhqhlxb1tLNKIgVB4Y="), BODY_0A),
        # no Date
        ([("Content-MD5", JAVA_MD5_00), ("Content-Type", OCTETS),
          ("Authorization", "EAS C5sb77gJpEhqhlxb1tLNKIgVB4Y=")], BODY_00),
        # the token as the key is not the token as the credential
        (java_headers(JAVA_MD5_00, "EAS " + TOKEN), BODY_00),
    ],
    ids=["signed-over-another-md5", "another-body", "no-date", "token-as-signature"],
)  # fmt: skip
async def test_a_wrong_raw_request_is_401(
    locked: Emulator, headers: list[tuple[str, str]], body: bytes
) -> None:
    assert await raw_post(locked, "/api/predict/echo", headers, body) == 401
