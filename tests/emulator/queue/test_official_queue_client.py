"""The official ``eas-prediction`` QueueClient, in its own environment, against the emulator:
the manual's asynchronous-inference example, then the SDK's own queue test file
(``eas_prediction/test_queue_client.py``) pointed at the emulator."""

from __future__ import annotations

import asyncio
import json
import textwrap

import pytest

from aioeas.emulator import Emulator
from tests.support.official import official_python

pytestmark = pytest.mark.interop

SCRIPT = textwrap.dedent(
    """
    import sys, threading, unittest
    from eas_prediction import QueueClient
    url, token = sys.argv[1], sys.argv[2]

    # The manual's example: put into the input queue, watch the sink, window 5, auto commit.
    input_queue = QueueClient(url, 'test_group.qservice')
    input_queue.set_token(token)
    input_queue.init()
    sink_queue = QueueClient(url, 'test_group.qservice/sink')
    sink_queue.set_token(token)
    sink_queue.init()
    input_queue.truncate(int(input_queue.attributes()['stream.lastEntry']) + 1)
    sent, got = set(), set()

    def send_thread():
        for i in range(100):
            index, request_id = input_queue.put('[{}]')
            sent.add(request_id)

    def watch_thread():
        watcher = sink_queue.watch(0, 5, auto_commit=True)
        i = 0
        for x in watcher.run():
            got.add(x.tags['requestId'])
            i += 1
            if i == 100:
                break
        watcher.close()

    threads = [threading.Thread(target=watch_thread), threading.Thread(target=send_thread)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sent == got, (len(sent), len(got))
    print("manual example: ok")

    # The SDK's own test file, against the emulator.
    from eas_prediction import test_queue_client as t
    t.QueueEndpoint = url
    t.QueueToken = token
    suite = unittest.defaultTestLoader.loadTestsFromModule(t)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    print("official tests:", result.testsRun, "run,", len(result.failures), "failures,",
          len(result.errors), "errors")
    sys.exit(0 if result.wasSuccessful() else 1)
    """
)


def model(body: bytes) -> str:
    """What the SDK's tests expect from the service: a JSON list of two-key objects."""
    return json.dumps([{"input": body.decode(), "score": 0.5}])


async def test_the_official_queue_client_against_the_emulator() -> None:
    python = await asyncio.to_thread(official_python)
    async with Emulator(token="queue-token", builtins=False) as emu:
        emu.add_queue_service("test_group.qservice", processor=model, concurrency=5)
        proc = await asyncio.create_subprocess_exec(
            str(python),
            "-W",
            "ignore",
            "-c",
            SCRIPT,
            emu.url,
            "queue-token",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode() + err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == "manual example: ok"
    assert lines[-1] == "official tests: 9 run, 0 failures, 0 errors"
