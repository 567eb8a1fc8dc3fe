"""What each request's headers are made of: client headers, per-call headers, signing."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from aioeas import PredictClient, StringRequest
from aioeas.client.config import Timeout
from aioeas.client.transport import HTTPResponse


class Recorder:
    """A transport that answers 200 at once and keeps the headers of every request."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        self.sent.append(dict(headers))
        return HTTPResponse(200, body or b"", {})

    async def close(self) -> None:
        return None


def _named(headers: dict[str, str], name: str) -> list[str]:
    return [v for k, v in headers.items() if k.lower() == name]


@pytest.mark.parametrize("token", [None, "secret"])
async def test_a_call_can_replace_accept_encoding_and_content_type(token: str | None) -> None:
    rec = Recorder()
    async with PredictClient(
        "http://127.0.0.1:1", "svc", token=token, transport=rec, headers={"X-Team": "a"}
    ) as client:
        await client.predict(StringRequest(b"x"))
        await client.predict(
            StringRequest(b"x"),
            headers={"accept-encoding": "identity", "content-type": "application/json"},
        )
        client.add_extra_headers({"X-Team": "b"})
        await client.predict(StringRequest(b"x"))
    first, second, third = rec.sent
    assert _named(first, "accept-encoding")
    assert "gzip" in _named(first, "accept-encoding")[0]
    assert _named(second, "accept-encoding") == ["identity"]
    assert _named(second, "content-type") == ["application/json"]
    assert _named(first, "x-team") == ["a"]
    assert _named(third, "x-team") == ["b"]  # a later add_extra_headers is seen
    assert first is not second  # a new dict each time
    if token:
        assert all(_named(h, "authorization")[0].startswith("EAS ") for h in rec.sent)
