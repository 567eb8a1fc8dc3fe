"""Every endpoint kind against the emulator: gateway (with and without a scheme), custom
URL with the raw token, in-cluster from ``NAMESPACE``, and VPC direct over three backends."""

from __future__ import annotations

import collections
import socket
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from aioeas import ConnectError, PredictClient, StringRequest, TFRequest
from aioeas.emulator import Emulator, current_call
from tests.integration.conftest import TOKEN, Attempts, direct_client


def _who(body: bytes) -> bytes:
    """A processor that tells which backend answered and what it was sent."""
    call = current_call()
    return f"{call.backend}|{call.path}|{call.headers.get('Authorization', '')}|".encode() + body


@pytest.mark.parametrize("scheme", ["http://", ""], ids=["with-scheme", "no-scheme"])
@pytest.mark.parametrize("slash", ["", "/"], ids=["", "trailing-slash"])
async def test_gateway_with_and_without_a_scheme(
    emu_token: Emulator, scheme: str, slash: str
) -> None:
    endpoint = scheme + emu_token.url.removeprefix("http://") + slash
    seen = Attempts()
    async with PredictClient(endpoint, "echo", token=TOKEN, hooks=seen.hooks) as client:
        resp = await client.predict(StringRequest("hello"))
    assert resp.to_bytes() == b"hello"
    assert seen.starts[0].url == f"{emu_token.url}/api/predict/echo"
    assert seen.starts[0].backend is None


async def test_custom_url_sends_the_raw_token(emu_token: Emulator) -> None:
    emu_token.add_service("who", _who)
    url = f"{emu_token.url}/api/predict/who/custom/part"
    async with PredictClient(custom_url=url, token=TOKEN) as client:
        resp = await client.predict(StringRequest("x"))
    backend, path, auth, body = resp.to_bytes().split(b"|")
    assert (backend, path, auth, body) == (b"who-0", b"/custom/part", TOKEN.encode(), b"x")


class _InCluster(AbstractResolver):
    """Resolves the in-cluster service host to the emulator (no DNS in tests)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port, self.asked = host, port, []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append((host, port))
        if host != self.host:
            raise OSError(f"unknown host {host}")
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=self.port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        pass


async def test_in_cluster_from_namespace(emu_token: Emulator) -> None:
    resolver = _InCluster("mnist-saved-model-example.team-a", emu_token.port)
    seen = Attempts()
    connector = aiohttp.TCPConnector(resolver=resolver)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = PredictClient(
            "",
            "mnist_saved_model_example",
            token=TOKEN,
            env={"NAMESPACE": "team-a"},
            session=session,
            hooks=seen.hooks,
        )
        req = TFRequest("predict_images").add_feed("images", np.zeros((2, 784), np.float32))
        async with client:
            resp = await client.predict(req)
        assert not session.closed  # borrowed, not closed by the client
    assert resp.get_tensor_shape("scores") == [2, 10]
    assert seen.starts[0].url == (
        "http://mnist-saved-model-example.team-a:8080/api/predict/mnist_saved_model_example"
    )
    assert resolver.asked == [("mnist-saved-model-example.team-a", 8080)]


async def test_in_cluster_host_that_does_not_resolve_is_a_connect_error() -> None:
    class Nowhere(_InCluster):
        async def resolve(self, host: str, port: int = 0, family: Any = 0) -> Any:
            raise OSError("Name or service not known")

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=Nowhere("", 0))
    ) as session:
        client = PredictClient(
            "", "echo", env={"NAMESPACE": "ns"}, session=session, retry=None, timeout=5.0
        )
        async with client:
            client.set_retry_count(2)
            with pytest.raises(ConnectError, match=r"echo\.ns:8080"):
                await client.predict(StringRequest("x"))


async def test_direct_over_three_backends(emu_token: Emulator) -> None:
    svc = emu_token.add_service("who", _who, backends=3)
    seen = Attempts()
    async with direct_client(emu_token, "who", token=TOKEN, hooks=seen.hooks) as client:
        outs = [(await client.predict(StringRequest(str(i)))).to_bytes() for i in range(30)]
        listed = {(b.host, b.port) for b in client.backends}
    assert listed == {(b.host, b.port) for b in svc.backends}
    parts = [o.split(b"|") for o in outs]
    assert [p[3] for p in parts] == [str(i).encode() for i in range(30)]
    assert all(p[2].startswith(b"EAS ") for p in parts)  # signed, not the raw token
    assert collections.Counter(p[0] for p in parts) == {b"who-0": 10, b"who-1": 10, b"who-2": 10}
    assert [b.requests for b in svc.backends] == [10, 10, 10]
    ports = {b.port for b in svc.backends}
    for start in seen.starts:
        assert start.backend is not None
        assert int(start.backend.rsplit(":", 1)[1]) in ports
        assert start.url.endswith("/api/predict/who")
