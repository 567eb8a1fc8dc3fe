"""``python -m aioeas.emulator`` starts, prints its URL, serves, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import aiohttp

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
