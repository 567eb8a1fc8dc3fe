"""Both emulator command lines: a queue at the root path, backends' ports and weights, a
port in use, and plain-text help.

``build`` (shared by ``python -m aioeas.emulator`` and ``aioeas emulator``) is run in
process; each command line is also started for real once.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from aioeas.emulator.__main__ import _parser, build, describe

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "python -m aioeas.emulator": [sys.executable, "-m", "aioeas.emulator"],
    "aioeas emulator": [sys.executable, "-m", "aioeas", "emulator"],
}


@pytest.fixture
def reserved_port() -> Iterator[int]:
    """A port nobody else is given while the test runs: bound (not listening) with
    SO_REUSEADDR, which lets the emulator's own SO_REUSEADDR socket bind and listen on it
    (Linux)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port someone else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


async def test_root_queue_weights_and_ports(
    http: aiohttp.ClientSession, reserved_port: int
) -> None:
    args = _parser().parse_args(
        [
            "--port", "0",
            "--queue", "jobs=echo:2",
            "--root-queue", "jobs",
            "--weights", "mnist_saved_model_example=1,2,3",
            "--ports", f"echo={reserved_port}",
            "--backends", "2",
        ]
    )  # fmt: skip
    emu, queues = build(args)
    async with emu:
        # The queue at / and /sink is the queue service "jobs" (with its worker).
        async with http.post(f"{emu.url}/", data=b"hello") as resp:
            assert resp.status == 200, await resp.text()
            index = int(await resp.text())
        sink = emu.queue("jobs/sink")
        assert await sink.wait_until(lambda: len(sink.records) == 1, timeout=None)
        async with http.get(f"{emu.url}/sink", params={"_index_": str(index)}) as resp:
            assert resp.status == 200
        assert [r.data for r in emu.queue("jobs/sink").records] == [b"hello"]

        mnist = emu.service("mnist_saved_model_example")
        assert [b.weight for b in mnist.backends] == [1, 2, 3]
        assert [b.port for b in emu.service("echo").backends] == [reserved_port]
        assert len(emu.service("echo_tf").backends) == 2  # --backends for the rest
        url = f"{emu.url}/api/v1/servicediscovery/upstreams/mnist_saved_model_example"
        async with http.get(url) as resp:
            items = (await resp.json())["endpoints"]["items"]
        assert [i["weight"] for i in items] == [1, 2, 3]
        async with http.post(f"http://127.0.0.1:{reserved_port}/api/predict/echo", data=b"e") as r:
            assert (r.status, await r.read()) == (200, b"e")

        lines = describe(emu, queues, args.workers, args.root_queue)
    assert "  jobs (queue): /api/predict/jobs[/sink], also at / and /sink, worker runs echo x2" in (
        lines
    )
    (mnist_line,) = [line for line in lines if "mnist_saved_model_example" in line]
    assert "(weight 2)" in mnist_line
    assert "(weight 3)" in mnist_line


async def test_root_queue_alone_adds_a_plain_queue(http: aiohttp.ClientSession) -> None:
    emu, queues = build(_parser().parse_args(["--port", "0", "--root-queue", "q"]))
    assert [q.name for q in queues] == ["q"]
    async with emu:
        async with http.post(f"{emu.url}/", data=b"x") as resp:
            assert resp.status == 200
        async with http.post(f"{emu.url}/api/predict/q", data=b"y") as resp:
            assert resp.status == 200
        assert [r.data for r in emu.queue("q").records] == [b"x", b"y"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weights", "nope=1"], "no built-in service 'nope'"),
        (["--weights", "echo=1,2", "--ports", "echo=5"], "2 weights but 1 ports"),
        (["--ports", "echo=70000"], "a port is 0 (a free one) to 65535"),
        (["--ports", "echo=5000,5000"], "each backend has a port of its own"),
        (["--weights", "echo=-1"], "weights >= 0"),
        (["--weights", "echo="], "expected SERVICE=WEIGHT,WEIGHT,..."),
        (["--ports", "echo=a"], "expected SERVICE=PORT,PORT,..."),
    ],
)
@pytest.mark.parametrize("command", COMMANDS)
def test_bad_layouts_are_one_line_usage_errors(command: str, args: list[str], message: str) -> None:
    result = subprocess.run(
        [*COMMANDS[command], "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert "listening" not in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("where", ["gateway", "backend"])
def test_a_port_in_use_is_one_line_and_exit_1(command: str, where: str, busy_port: int) -> None:
    args = ["--port", str(busy_port)] if where == "gateway" else ["--port", "0"]
    if where == "backend":
        args += ["--ports", f"echo={busy_port}"]
    result = subprocess.run([*COMMANDS[command], *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"{'aioeas' if command == 'aioeas emulator' else command}: error: "
        f"cannot listen on 127.0.0.1:{busy_port}: Address already in use\n"
    )
    assert "listening on" not in result.stdout


def test_module_help_is_plain_text() -> None:
    result = subprocess.run(
        [*COMMANDS["python -m aioeas.emulator"], "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "``" not in result.stdout
    assert "--root-queue NAME" in result.stdout
    assert "--weights SERVICE=W,W,..." in result.stdout


async def test_aioeas_emulator_serves_a_root_queue_and_weights(
    http: aiohttp.ClientSession,
) -> None:
    proc = await asyncio.create_subprocess_exec(
        *COMMANDS["aioeas emulator"],
        "--port", "0", "--root-queue", "jobs", "--weights", "echo=1,2",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await proc.stdout.readline()).decode().split()[-1]
        lines = []
        while "jobs (queue)" not in (line := (await proc.stdout.readline()).decode()):
            lines.append(line)
        assert "also at / and /sink" in line
        assert any(x.startswith("  echo (string):") and "(weight 2)" in x for x in lines)
        async with http.post(f"{url}/", data=b"x") as resp:
            assert (resp.status, await resp.text()) == (200, "1")
        async with http.get(f"{url}/api/predict/jobs", params={"_index_": "1"}) as resp:
            assert resp.status == 200
    finally:
        proc.terminate()
        _, err = await proc.communicate()
    assert proc.returncode in (0, -15), err.decode()
