"""The examples in docs/examples run against the emulator, and both styles answer alike.

Each aioeas twin of the official manual's examples (``docs/examples/*.py``, idiomatic, and
``docs/examples/familiar/*.py``, the manual's code with ``await``) runs as its own process,
as a user would run it, through ``tests/interop/manual_examples/capture.py``, which records
the answers it got. The comparison with the official client is in
``tests/interop/test_manual_examples.py``.

The queue example's twins (``queue_stream``) run the same way through ``capture_queue.py``,
which records what was put and what the watcher got, each against an emulator of its own
whose sink of the manual's queue service already holds a few records.

Every emulator here is the one the quickstart tells users to start
(``tests/support/quickstart.py``), on a free port.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from tests.support.quickstart import quickstart_emulator, quickstart_token

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "examples"
CAPTURE = ROOT / "tests" / "interop" / "manual_examples" / "capture.py"
QUEUE_CAPTURE = ROOT / "tests" / "interop" / "manual_examples" / "capture_queue.py"
MARK = "EXAMPLE-RESULT "
TOKEN = quickstart_token()
LOOPS = 2

#: Each example, the kind of answer it gets, and what it prints for each answer.
EXAMPLES: dict[str, tuple[str, str]] = {
    "quickstart_string": ("string", r'\[\{"score": [0-9.e-]+\}\]'),
    "string_pmml": ("string", r'\[\{"score": [0-9.e-]+\}\]'),
    "tf_mnist": ("tf", r"TFResponse\(\{'scores': float32\[1, 10\], 'classes': int64\[1\]\}\)"),
    "vpc_direct": ("tf", r"TFResponse\(\{'scores': float32\[1, 10\], 'classes': int64\[1\]\}\)"),
    "torch_image": ("torch", r"\[1, 1000\]"),
    "blade": ("blade", r"\[1, 360\]"),
    "blade_tf": ("blade_tf", r"\[1, 360\]"),
}
#: The queue examples, and the queue service whose sink they use.
QUEUE_EXAMPLES = {"queue_stream": "test_group.qservice"}
QUEUE_COUNT = 100
STALE = 3


def test_every_example_has_both_styles() -> None:
    idiomatic = {p.stem for p in DOCS.glob("*.py")}
    familiar = {p.stem for p in (DOCS / "familiar").glob("*.py")}
    assert idiomatic == familiar == set(EXAMPLES) | set(QUEUE_EXAMPLES)


async def _run(
    script: Path, env: dict[str, str], gate: asyncio.Semaphore, capture: Path = CAPTURE
) -> tuple[str, str]:
    async with gate:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(capture),
            "aioeas",
            str(script),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"{script}:\n{out.decode()}\n{err.decode()}"
    return out.decode(), err.decode()


def _result(out: str) -> tuple[list[str], dict[str, Any]]:
    lines = out.splitlines()
    assert lines, out
    assert lines[-1].startswith(MARK), out
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    assert result["error"] is None, result
    return lines[:-1], result


async def test_the_examples_run_and_both_styles_get_the_same_answers() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NAMESPACE", "POD_NAME")}
    gate = asyncio.Semaphore(max(2, os.cpu_count() or 1))
    async with await quickstart_emulator() as emu:
        env.update(EAS_ENDPOINT=emu.url, EAS_TOKEN=TOKEN, EAS_EXAMPLE_LOOPS=str(LOOPS))
        scripts = {
            (style, name): DOCS / f"{name}.py"
            if style == "idiomatic"
            else DOCS / "familiar" / f"{name}.py"
            for name in EXAMPLES
            for style in ("idiomatic", "familiar")
        }
        outputs = await asyncio.gather(*(_run(path, env, gate) for path in scripts.values()))
    results = dict(zip(scripts, outputs, strict=True))
    for name, (kind, printed) in EXAMPLES.items():
        calls = 1 if name == "quickstart_string" else LOOPS
        answers = {}
        for style in ("idiomatic", "familiar"):
            lines, result = _result(results[style, name][0])
            assert len(result["answers"]) == calls, (style, name)
            assert all(a == result["answers"][0] for a in result["answers"]), (style, name)
            assert result["answers"][0]["kind"] == kind
            assert sum(bool(re.fullmatch(printed, ln)) for ln in lines) == calls, (
                style,
                name,
                lines,
            )
            if name in ("torch_image", "blade", "blade_tf"):
                assert lines[-1].startswith("average response time: ")
            answers[style] = result["answers"][0]
        assert answers["idiomatic"] == answers["familiar"], name


async def _queue_example(script: Path, service: str, gate: asyncio.Semaphore) -> dict[str, Any]:
    """``script`` against an emulator of its own holding ``STALE`` records in the sink of
    ``service``; what it printed and recorded, checked."""
    env = {k: v for k, v in os.environ.items() if k not in ("NAMESPACE", "POD_NAME")}
    async with await quickstart_emulator() as emu:
        sink = emu.queue(f"{service}/sink")
        for i in range(STALE):
            sink.put(f"stale {i}")
        env.update(EAS_ENDPOINT=emu.url, EAS_TOKEN=TOKEN)
        out, _ = await _run(script, env, gate, QUEUE_CAPTURE)
        after = sink.attributes()
    lines, result = _result(out)
    want = list(range(STALE + 1, STALE + 1 + QUEUE_COUNT))
    queue = result["queue"]
    assert queue["sent"] == queue["received"] == QUEUE_COUNT, script
    assert queue["sent_indexes"] == queue["indexes"] == want, script
    assert queue["all_request_ids_received"] is True
    assert queue["request_ids_match"] is True
    recvs = [ln.split() for ln in lines if ln.startswith("recv:  ")]
    assert [(int(i), int(index)) for _, i, index, _ in recvs] == list(enumerate(want)), script
    assert sum(ln.startswith("send:  ") for ln in lines) == QUEUE_COUNT, script
    assert after["stream.length"] == "0"  # auto_commit: every record pushed is gone
    return dict(queue)


async def test_the_queue_examples_get_every_record_once_in_order() -> None:
    gate = asyncio.Semaphore(max(2, os.cpu_count() or 1))
    for name, service in QUEUE_EXAMPLES.items():
        idiomatic, familiar = await asyncio.gather(
            _queue_example(DOCS / f"{name}.py", service, gate),
            _queue_example(DOCS / "familiar" / f"{name}.py", service, gate),
        )
        assert idiomatic == familiar, name
