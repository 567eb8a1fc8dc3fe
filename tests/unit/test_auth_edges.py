"""Signing edges mutation testing showed unguarded (docs/mutation.md): the default method,
a request signed with no Content-Type, and a signer's repr hiding the token."""

from __future__ import annotations

import hashlib

from aioeas.client.auth import Signer, signature, verify

PARTS = {
    "content_md5": hashlib.md5(b"x").hexdigest(),
    "date": "Mon, 30 Nov 2026 12:00:00 GMT",
    "resource": "/api/predict/svc",
}


def test_the_default_method_is_post() -> None:
    assert signature("tok", content_type="", **PARTS) == signature(
        "tok", content_type="", method="POST", **PARTS
    )
    assert signature("tok", content_type="", **PARTS) != signature(
        "tok", content_type="", method="GET", **PARTS
    )


def test_a_request_without_content_type_verifies_against_an_empty_one() -> None:
    auth = signature("tok", content_type="", **PARTS)
    assert verify("tok", auth, body=b"x", method="POST", content_type=None, **PARTS)


def test_a_signer_never_shows_its_token() -> None:
    assert repr(Signer("s3cr3t")) == "<Signer token=***>"
