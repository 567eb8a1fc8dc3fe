"""Memory: a 100 MB tensor answer raises the client's peak RSS by at most 2.5x the payload,
and sending a 100 MB tensor by at most 2x.

The emulator runs in a subprocess of its own (its memory is not the client's), and so does
the client: a fresh interpreter whose peak RSS (``VmHWM``, reset through
``/proc/self/clear_refs`` where the kernel allows, else ``ru_maxrss``) is read before and
after, with nothing else in it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ELEMENTS = 25_000_000  # float32: 100 MB
PAYLOAD = ELEMENTS * 4
ROOT = Path(__file__).resolve().parents[2]

SERVER = textwrap.dedent(
    f"""
    import asyncio, sys
    import numpy as np
    from aioeas.emulator import Emulator
    from aioeas.requests.served import encode_tf_response

    BIG = encode_tf_response({{"y": np.ones({ELEMENTS}, np.float32)}})
    SMALL = encode_tf_response({{"n": np.zeros(1, np.int64)}})

    async def big(body: bytes) -> bytes:
        return BIG

    async def small(body: bytes) -> bytes:
        return SMALL

    async def main() -> None:
        async with Emulator(builtins=False) as emu:
            emu.add_handler("big", big, kind="tf")
            emu.add_handler("small", small, kind="tf")
            print(emu.url, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())
    """
)

CLIENT = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    import numpy as np
    from aioeas import PredictClient, TFRequest

    def peak() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def rss() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def reset_peak() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    async def main(url: str, mode: str, elements: int) -> dict:
        async with PredictClient(url, "small" if mode == "send" else "big", timeout=60) as c:
            warm = TFRequest().add_feed("x", np.zeros(4, np.float32))
            await c.predict(warm, path=None)  # pools, imports, caches
            if mode == "send":
                arr = np.ones(elements, np.float32)
                req = TFRequest().add_feed("x", arr)
            else:
                req = TFRequest().add_feed("x", np.zeros(1, np.float32))
            resettable = reset_peak()
            before_peak, before = peak(), rss()
            resp = await c.predict(req)
            if mode == "receive":
                y = resp["y"]
                assert y.shape == (elements,) and float(y[-1]) == 1.0
            after = peak()
            return {"before": before, "before_peak": before_peak, "after": after,
                    "resettable": resettable}

    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))))
    """
)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # the server prints its URL once it serves
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server's signal to stop
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def _measure(url: str, mode: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", CLIENT, url, mode, str(ELEMENTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def _raised(figures: dict[str, int]) -> int:
    """How much the predict raised the peak: from the resident size before it (the peak
    was reset there) or, where the peak cannot be reset, from the old peak."""
    base = figures["before"] if figures["resettable"] else figures["before_peak"]
    return figures["after"] - base


@pytest.mark.long
def test_a_100mb_answer_raises_peak_rss_by_at_most_2_5x(server_url: str) -> None:
    figures = _measure(server_url, "receive")
    raised = _raised(figures)
    print(f"\nmemory: 100 MB answer raised peak RSS by {raised / 1e6:.1f} MB "
          f"({raised / PAYLOAD:.2f}x the payload)")  # fmt: skip
    assert raised <= 2.5 * PAYLOAD


@pytest.mark.long
def test_sending_a_100mb_tensor_raises_peak_rss_by_at_most_2x(server_url: str) -> None:
    figures = _measure(server_url, "send")
    raised = _raised(figures)
    print(f"\nmemory: 100 MB request raised peak RSS by {raised / 1e6:.1f} MB "
          f"({raised / PAYLOAD:.2f}x the payload) beyond the array itself")  # fmt: skip
    assert raised <= 2.0 * PAYLOAD
