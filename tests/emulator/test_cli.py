"""``python -m aioeas.emulator`` starts, prints its URL, serves, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]


async def test_the_module_serves_and_prints_its_url(http: aiohttp.ClientSession) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioeas.emulator",
        "--port",
        "0",
        "--token",
        "t0ken",
        "--backends",
        "2",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.fullmatch(r"aioeas emulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        assert int(match[2]) > 0
        url = match[1]
        async with http.post(f"{url}/api/predict/echo", data=b"x") as resp:
            assert resp.status == 401
        async with http.post(
            f"{url}/api/predict/echo", data=b"x", headers={"Authorization": "t0ken"}
        ) as resp:
            assert (resp.status, await resp.read()) == (200, b"x")
        async with http.get(f"{url}/api/v1/servicediscovery/upstreams/echo") as resp:
            assert len((await resp.json())["endpoints"]["items"]) == 2
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


async def test_queue_services_from_the_command_line(http: aiohttp.ClientSession) -> None:
    """``--queue NAME`` adds a plain queue service; ``--queue NAME=SERVICE:N`` one whose
    worker answers through a predict service of the emulator (here the built-in echo)."""
    from aioeas.queue import AsyncInference, QueueClient

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioeas.emulator",
        "--port",
        "0",
        "--queue",
        "plain",
        "--queue",
        "async_echo=echo:4",
        "--queue",
        "default_workers=echo",
        "--workers",
        "3",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.fullmatch(r"aioeas emulator listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        url = match[1]
        async with QueueClient(url, "plain") as queue:
            index, request_id = await queue.put(b"record")
            [record] = await queue.get(index=index, length=1, timeout=0, auto_delete=False)
            assert (record.index, record.data, record.tags["requestId"]) == (
                index,
                b"record",
                request_id,
            )
            assert (await queue.attributes())["stream.length"] == "1"
        async with QueueClient(url, "plain/sink") as sink:
            assert (await sink.attributes())["stream.length"] == "0"
        async with AsyncInference(url, "async_echo") as inference:
            results = await asyncio.gather(
                *(inference.submit(f"x{i}".encode(), timeout=30) for i in range(20))
            )
        assert [r.data for r in results] == [f"x{i}".encode() for i in range(20)]
        async with QueueClient(url, "async_echo") as inputs:
            assert (await inputs.attributes())["stream.length"] == "0"
    finally:
        proc.terminate()
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "  plain (queue): /api/predict/plain[/sink]\n" in out.decode()
    assert (
        "  async_echo (queue): /api/predict/async_echo[/sink], worker runs echo x4\n"
        in out.decode()
    )
    assert (
        "  default_workers (queue): /api/predict/default_workers[/sink], worker runs echo x3\n"
        in (out.decode())
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--queue", "q=no_such_service"], "no service 'no_such_service'"),
        (["--queue", "echo"], "exists already"),
        (["--queue", "q", "--queue", "q"], "given once"),
        (["--queue", "q=echo:0"], "CONCURRENCY is 1 or more"),
        (["--queue", "a/b"], "has no '/'"),
        (["--workers", "0"], "--workers is 1 or more"),
    ],
)
async def test_bad_queue_options_are_refused(args: list[str], message: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioeas.emulator",
        "--port",
        "0",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2, (out + err).decode()
    assert message in err.decode()
    assert b"listening" not in out
