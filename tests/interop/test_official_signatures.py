"""The emulator's signature check accepts what the official SDK signs, and only that.

The official ``PredictClient.generate_singaure`` (sic) makes the headers of a few bodies
(two of them with an MD5 that starts with 0); the emulator's own verifier
(``aioeas.emulator.auth``, which shares no code with aioeas's client) must accept each,
and refuse it for another body, token or resource.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from aioeas.emulator.auth import signature_valid
from tests.support.official import official_python

pytestmark = pytest.mark.interop

TOKEN = "b2ZmaWNpYWwtdG9rZW4="
SERVICE = "echo"
#: b"order-4" and b"order-25" have MD5s starting 00 and 0a.
BODIES = [b"", b"order-4", b"order-25", b'[{"fea1": 1, "fea2": 2}]', bytes(range(256))]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from eas_prediction import PredictClient
    token, service, bodies = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = PredictClient("http://127.0.0.1:1", service)
    client.set_token(token)
    for content_type in ("", "application/json"):
        if content_type:
            client.set_content_type(content_type)
        for body in bodies:
            print(json.dumps(client.generate_singaure(bytes.fromhex(body))))
    """
)


@pytest.fixture(scope="module")
def official_headers() -> list[dict[str, str]]:
    """The official SDK's headers for every body, with its default content type, then
    with ``application/json``."""
    done = subprocess.run(
        [
            str(official_python()),
            "-W",
            "ignore",
            "-c",
            SCRIPT,
            TOKEN,
            SERVICE,
            json.dumps([b.hex() for b in BODIES]),
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def _valid(headers: dict[str, str], *, body: bytes, token: str, resource: str) -> bool:
    return signature_valid(
        token,
        headers["Authorization"],
        method="POST",
        content_md5=headers["Content-MD5"],
        content_type=headers["Content-Type"],
        date=headers["Date"],
        bodies=[body],
        resources=[resource],
    )


def test_the_official_signatures_pass(official_headers: list[dict[str, str]]) -> None:
    assert len(official_headers) == 2 * len(BODIES)
    resource = f"/api/predict/{SERVICE}"
    types = {h["Content-Type"] for h in official_headers}
    assert types == {"application/octet-stream", "application/json"}
    for headers, body in zip(official_headers, BODIES * 2, strict=True):
        assert _valid(headers, body=body, token=TOKEN, resource=resource), headers
        assert not _valid(headers, body=body + b"!", token=TOKEN, resource=resource)
        assert not _valid(headers, body=body, token=TOKEN + "x", resource=resource)
        assert not _valid(headers, body=body, token=TOKEN, resource=resource + "/x")
