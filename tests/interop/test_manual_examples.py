"""The official manual's examples, run by the official client and by aioeas, answer alike.

One emulator with a token and one without (``python -m aioeas.emulator``, two backends per
service so that VPC direct mode has a choice) serve every run. Against each:

- the official ``eas-prediction==0.36`` client, in its own environment, runs the manual's
  examples from ``manual_examples/`` (verbatim but for endpoint, token and loop count);
- aioeas runs their twins in ``docs/examples/``, both the idiomatic ones and the familiar
  ones (``docs/examples/familiar/``: the manual's code with ``await``).

``manual_examples/capture.py`` runs each script and records every answer it got as JSON, so
the official client's protobuf answers and aioeas's ndarray answers compare directly.

The manual's Blade examples feed shape [1, 360, 128] with 85680 values (46080 fit). As
written, they fail in both clients before anything is sent; corrected to 46080 values
they succeed in both with the same answer. The official ``BladeRequest()`` fails even
earlier (its None signature name is refused by protobuf), so the official Blade example
is also run with ``BladeRequest(signature_name='')`` to reach the size check.

The manual's queue example (``queue_stream``: a sender thread puts 100 records in
``test_group.qservice/sink`` while a watcher thread takes them with ``auto_commit``) runs
the same way, each run against an emulator of its own (in this process) that serves the
queue service ``test_group.qservice``, so that every run sees the same indexes;
``manual_examples/capture_queue.py`` records what was put and what the watcher got.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aioeas.emulator import Emulator
from tests.support.official import official_python

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
MANUAL = Path(__file__).resolve().parent / "manual_examples"
CAPTURE = MANUAL / "capture.py"
DOCS = ROOT / "docs" / "examples"
MARK = "EXAMPLE-RESULT "

EXAMPLES = (
    "quickstart_string",
    "string_pmml",
    "tf_mnist",
    "vpc_direct",
    "torch_image",
    "blade",
    "blade_tf",
)
BLADE = ("blade", "blade_tf")
#: What each example's service answers.
KIND = {
    "quickstart_string": "string",
    "string_pmml": "string",
    "tf_mnist": "tf",
    "vpc_direct": "tf",
    "torch_image": "torch",
    "blade": "blade",
    "blade_tf": "blade_tf",
}
#: The token of the emulator that wants one; ``open`` runs send none to one that wants none.
TOKEN = "manual-example-token"
MODES = ("signed", "open")
STYLES = ("idiomatic", "familiar")
LOOPS = 2
SHAPE_LINE = re.compile(r"^\[\d+(, \d+)*\]$")
#: The manual's Blade content size, and the size its shape [1, 360, 128] holds.
MANUAL_SIZE, RIGHT_SIZE = "85680", "46080"


@dataclass(frozen=True)
class Run:
    """One script run through capture.py: its exit status, output and recorded answers."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        last = self.stdout.rstrip("\n").rsplit("\n", 1)[-1]
        assert last.startswith(MARK), f"no result line:\n{self.stdout}\n{self.stderr}"
        result: dict[str, Any] = json.loads(last[len(MARK) :])
        return result

    @property
    def answers(self) -> list[dict[str, Any]]:
        return list(self.result["answers"])

    @property
    def requests(self) -> list[dict[str, Any]]:
        return list(self.result["requests"])

    @property
    def error(self) -> dict[str, str] | None:
        error: dict[str, str] | None = self.result["error"]
        return error

    @property
    def printed(self) -> list[str]:
        """What the script itself printed (the result line left out)."""
        return [ln for ln in self.stdout.splitlines() if not ln.startswith(MARK)]

    def ok(self) -> list[dict[str, Any]]:
        """The answers of a run that must have succeeded."""
        assert self.returncode == 0, f"{self.stdout}\n{self.stderr}"
        assert self.error is None, f"{self.stdout}\n{self.stderr}"
        return self.answers

    def failed(self) -> dict[str, str]:
        """The error of a run that must have failed before any answer."""
        assert self.returncode == 1, f"{self.stdout}\n{self.stderr}"
        assert self.answers == []
        assert self.error is not None
        return self.error


@contextmanager
def emulator(token: str | None, log: Path) -> Iterator[str]:
    """``python -m aioeas.emulator`` on a free port; yields its URL once it says it listens.

    Its stderr goes to ``log`` (a pipe nobody reads could fill up and stall it)."""
    args = [sys.executable, "-m", "aioeas.emulator", "--port", "0", "--backends", "2"]
    if token is not None:
        args += ["--token", token]
    with open(log, "w") as errors:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # blocks until the emulator has bound its ports
            if not first.startswith("aioeas emulator listening on "):
                proc.kill()
                proc.wait(10)
                raise RuntimeError(f"the emulator did not start: {first!r}\n{log.read_text()}")
            yield first.split()[-1]
        finally:
            proc.terminate()  # SIGTERM: the emulator stops its servers and exits
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _variant(source: Path, target: Path, *edits: tuple[str, str]) -> Path:
    """``source`` with each ``old`` replaced by ``new`` (each found exactly once)."""
    text = source.read_text()
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} is not in {source} exactly once"
        text = text.replace(old, new)
    target.write_text(text)
    return target


def _run(
    python: Path, client: str, script: Path, env: dict[str, str], capture: Path = CAPTURE
) -> Run:
    done = subprocess.run(
        [str(python), "-W", "ignore", str(capture), client, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Run(done.returncode, done.stdout, done.stderr)


Key = tuple[str, str, str]  # (who, script label, mode)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[Key, Run]:
    """Every run of this module, made once, in parallel, against the two emulators."""
    official = official_python()
    tmp = tmp_path_factory.mktemp("manual_examples")
    scripts: dict[tuple[str, str], tuple[Path, str]] = {}
    for name in EXAMPLES:
        scripts["official", name] = (MANUAL / f"{name}.py", "official")
        scripts["idiomatic", name] = (DOCS / f"{name}.py", "aioeas")
        scripts["familiar", name] = (DOCS / "familiar" / f"{name}.py", "aioeas")
    size = (f"[0.8] * {MANUAL_SIZE}", f"[0.8] * {RIGHT_SIZE}")
    ctor = ("req = BladeRequest()", "req = BladeRequest(signature_name='')")
    scripts["official", "blade/ctor"] = (
        _variant(MANUAL / "blade.py", tmp / "official_blade_ctor.py", ctor),
        "official",
    )
    scripts["official", "blade/corrected"] = (
        _variant(MANUAL / "blade.py", tmp / "official_blade_corrected.py", ctor, size),
        "official",
    )
    scripts["official", "blade_tf/corrected"] = (
        _variant(MANUAL / "blade_tf.py", tmp / "official_blade_tf_corrected.py", size),
        "official",
    )
    for name in BLADE:
        scripts["familiar", f"{name}/as-written"] = (
            _variant(DOCS / "familiar" / f"{name}.py", tmp / f"familiar_{name}.py", size[::-1]),
            "aioeas",
        )

    base = {k: v for k, v in os.environ.items() if k not in ("NAMESPACE", "POD_NAME")}
    base["EAS_EXAMPLE_LOOPS"] = str(LOOPS)
    pythons = {"official": official, "aioeas": Path(sys.executable)}
    with (
        emulator(TOKEN, tmp / "emulator-signed.log") as signed_url,
        emulator(None, tmp / "emulator-open.log") as open_url,
    ):
        envs = {
            "signed": {**base, "EAS_ENDPOINT": signed_url, "EAS_TOKEN": TOKEN},
            "open": {**base, "EAS_ENDPOINT": open_url, "EAS_TOKEN": ""},
            "wrong": {**base, "EAS_ENDPOINT": signed_url, "EAS_TOKEN": "not-" + TOKEN},
        }
        jobs: dict[Key, tuple[Path, str, Path, dict[str, str]]] = {}
        for (who, label), (script, client) in scripts.items():
            for mode in MODES:
                jobs[who, label, mode] = (pythons[client], client, script, envs[mode])
        for who in ("official", *STYLES):
            script, client = scripts[who, "quickstart_string"]
            jobs[who, "quickstart_string", "wrong"] = (
                pythons[client],
                client,
                script,
                envs["wrong"],
            )
        with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1))) as pool:
            futures = {key: pool.submit(_run, *job) for key, job in jobs.items()}
            return {key: future.result() for key, future in futures.items()}


def _calls(name: str) -> int:
    return 1 if name == "quickstart_string" else LOOPS


def _official(runs: dict[Key, Run], name: str, mode: str) -> list[dict[str, Any]]:
    """The official client's answers to the example (the corrected one for Blade)."""
    label = f"{name}/corrected" if name in BLADE else name
    return runs["official", label, mode].ok()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", EXAMPLES)
def test_the_official_client_runs_the_manual_example(
    runs: dict[Key, Run], name: str, mode: str
) -> None:
    answers = _official(runs, name, mode)
    assert len(answers) == _calls(name)
    assert all(a == answers[0] for a in answers)  # the emulator's models are deterministic
    assert answers[0]["kind"] == KIND[name]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", EXAMPLES)
def test_the_aioeas_twin_gets_the_official_answers(
    runs: dict[Key, Run], name: str, mode: str, style: str
) -> None:
    official = _official(runs, name, mode)
    ours = runs[style, name, mode].ok()
    assert len(ours) == _calls(name)
    for answer in ours:
        assert answer == official[0]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", EXAMPLES)
def test_the_aioeas_twin_sends_the_official_bytes(
    runs: dict[Key, Run], name: str, style: str
) -> None:
    """Byte for byte the same bodies, numpy arrays or flat lists alike; the one exception is
    the official Blade request, which has to be made with ``signature_name=''`` (see above)
    and so carries an empty field 1 (2 bytes) that aioeas's ``BladeRequest()`` leaves out."""
    label = f"{name}/corrected" if name in BLADE else name
    official = runs["official", label, "signed"]
    ours = runs[style, name, "signed"]
    assert len(official.requests) == len(ours.requests) == _calls(name)
    if name == "blade":
        for theirs, mine in zip(official.requests, ours.requests, strict=True):
            assert theirs["size"] == mine["size"] + 2
    else:
        assert ours.requests == official.requests


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_answers_do_not_depend_on_the_token(runs: dict[Key, Run], name: str) -> None:
    assert _official(runs, name, "signed") == _official(runs, name, "open")


def test_direct_mode_answers_as_the_gateway(runs: dict[Key, Run]) -> None:
    for mode in MODES:
        assert _official(runs, "vpc_direct", mode) == _official(runs, "tf_mnist", mode)
        assert runs["familiar", "vpc_direct", mode].ok() == runs["familiar", "tf_mnist", mode].ok()


@pytest.mark.parametrize("name", ["torch_image", *BLADE])
def test_the_printed_shapes_are_the_same(runs: dict[Key, Run], name: str) -> None:
    """The manual prints ``resp.get_tensor_shape(...)``: the same lines in every client."""
    label = f"{name}/corrected" if name in BLADE else name
    want = [ln for ln in runs["official", label, "signed"].printed if SHAPE_LINE.match(ln)]
    assert len(want) == LOOPS
    for style in STYLES:
        got = [ln for ln in runs[style, name, "signed"].printed if SHAPE_LINE.match(ln)]
        assert got == want


@pytest.mark.parametrize("mode", MODES)
def test_the_manual_blade_examples_as_written_fail_in_both_clients(
    runs: dict[Key, Run], mode: str
) -> None:
    mismatch = f"Shape volume {RIGHT_SIZE} mis-match content size {MANUAL_SIZE}"
    # The official BladeRequest() sets the signature name to None, which protobuf refuses:
    # the manual's Blade example stops there, before its size error. protobuf 3.20.3 words
    # it two ways: its C++ extension (the cp310 wheel, so on Python 3.10) says "None has
    # type NoneType, but expected one of: bytes, unicode"; the pure-Python implementation
    # (no wheel for 3.11+) "Cannot set blade.Request.tf_signature_name to None: None has
    # type <class 'NoneType'>, but expected one of: (<class 'bytes'>, <class 'str'>)".
    error = runs["official", "blade", mode].failed()
    assert error["type"] == "TypeError"
    assert re.search(
        r"None has type \W*(class )?\W*NoneType\W*, but expected one of", error["message"]
    )
    for label in ("blade/ctor", "blade_tf"):
        assert runs["official", label, mode].failed() == {
            "type": "AssertionError",
            "message": mismatch,
        }
    for name in BLADE:
        error = runs["familiar", f"{name}/as-written", mode].failed()
        assert error == {
            "type": "InvalidTensorError",
            "message": f"shape [1, 360, 128] needs {RIGHT_SIZE} values, "
            f"but the content holds {MANUAL_SIZE}",
        }


@pytest.mark.parametrize("name", BLADE)
def test_the_corrected_blade_examples_succeed_alike(runs: dict[Key, Run], name: str) -> None:
    official = _official(runs, name, "signed")
    assert official[0]["outputs"]["output"]["shape"] == [1, 360]
    for style in STYLES:
        assert runs[style, name, "signed"].ok() == official


def test_a_wrong_token_is_refused_in_both_clients(runs: dict[Key, Run]) -> None:
    official = runs["official", "quickstart_string", "wrong"].failed()
    assert official["type"] == "PredictException"
    assert official["message"].startswith("Code: 401")
    for style in STYLES:
        ours = runs[style, "quickstart_string", "wrong"].failed()
        assert ours["type"] == "AuthError"
        assert ours["message"].startswith("HTTP 401 ")


# -- the queue example ------------------------------------------------------------------

QUEUE_CAPTURE = MANUAL / "capture_queue.py"
QUEUE_EXAMPLE = "queue_stream"
#: The manual's queue is ``test_group.qservice/sink``: the sink of this queue service.
QUEUE_SERVICE = "test_group.qservice"
QUEUE_COUNT = 100
#: Records already in the sink when a run starts: the example must clear them first (its
#: watcher starts at index 0 and stops after 100 records, so one left would be one too many).
STALE = {"signed": 3, "open": 0, "wrong": 3}
QUEUE_MODES = (*MODES, "wrong")
RECV_LINE = re.compile(r"^recv:  (\d+) (\d+) (\S+)$")
SEND_LINE = re.compile(r"^send:  (\d+) (\d+) (\S+)$")


@dataclass(frozen=True)
class QueueRun:
    """One run of the queue example, and its sink's attributes once the run was over."""

    run: Run
    sink: dict[str, str]

    @property
    def queue(self) -> dict[str, Any]:
        """What ``capture_queue.py`` recorded: counts, indexes, request-id checks."""
        return dict(self.run.result["queue"])


@contextmanager
def _event_loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running on a thread of its own, for the in-process queue emulators."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="queue-emulators", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _queue_run(
    loop: asyncio.AbstractEventLoop,
    python: Path,
    client: str,
    script: Path,
    env: dict[str, str],
    mode: str,
) -> QueueRun:
    """``script`` against an emulator of its own that serves ``QUEUE_SERVICE`` (with the
    token unless ``mode`` is ``open``) and holds ``STALE[mode]`` records in its sink."""

    async def start() -> Emulator:
        emu = Emulator(token=None if mode == "open" else TOKEN, builtins=False)
        emu.add_queue_service(QUEUE_SERVICE)
        for i in range(STALE[mode]):
            emu.queue(f"{QUEUE_SERVICE}/sink").put(f"stale {i}")
        return await emu.start()

    async def finish(emu: Emulator) -> dict[str, str]:
        try:
            return emu.queue(f"{QUEUE_SERVICE}/sink").attributes()
        finally:
            await emu.stop()

    emu = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        run = _run(python, client, script, {**env, "EAS_ENDPOINT": emu.url}, QUEUE_CAPTURE)
    finally:
        sink = asyncio.run_coroutine_threadsafe(finish(emu), loop).result(30)
    return QueueRun(run, sink)


@pytest.fixture(scope="module")
def queue_runs() -> dict[Key, QueueRun]:
    """The queue example run by the official client and by both twins, in parallel, each
    against an emulator of its own: with the token, without one, and with a wrong one."""
    scripts = {
        "official": (official_python(), "official", MANUAL / f"{QUEUE_EXAMPLE}.py"),
        "idiomatic": (Path(sys.executable), "aioeas", DOCS / f"{QUEUE_EXAMPLE}.py"),
        "familiar": (Path(sys.executable), "aioeas", DOCS / "familiar" / f"{QUEUE_EXAMPLE}.py"),
    }
    tokens = {"signed": TOKEN, "open": "", "wrong": "not-" + TOKEN}
    base = {k: v for k, v in os.environ.items() if k not in ("NAMESPACE", "POD_NAME")}
    with (
        _event_loop_thread() as loop,
        ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1))) as pool,
    ):
        futures = {
            (who, QUEUE_EXAMPLE, mode): pool.submit(
                _queue_run,
                loop,
                python,
                client,
                script,
                {**base, "EAS_TOKEN": tokens[mode]},
                mode,
            )
            for who, (python, client, script) in scripts.items()
            for mode in QUEUE_MODES
        }
        return {key: future.result() for key, future in futures.items()}


def _all_once_in_order(done: QueueRun, mode: str) -> dict[str, Any]:
    """The checks every successful run passes; returns what it recorded."""
    done.run.ok()
    first = STALE[mode] + 1
    want = list(range(first, first + QUEUE_COUNT))
    queue = done.queue
    assert queue["sent"] == queue["received"] == QUEUE_COUNT
    assert queue["sent_indexes"] == want
    assert queue["indexes"] == want  # the stale records were cleared; each once, in order
    assert queue["all_request_ids_received"] is True
    assert queue["request_ids_match"] is True  # each record carries the id its put got
    # Printed by two threads in the official example, whose lines may run into each other.
    out = done.run.stdout
    assert out.count("send: ") == out.count("recv: ") == QUEUE_COUNT
    # auto_commit: every record pushed is committed, so the sink is empty afterwards
    assert done.sink["stream.length"] == "0"
    assert done.sink["stream.lastEntry"] == str(want[-1])
    return queue


@pytest.mark.parametrize("mode", MODES)
def test_the_official_client_runs_the_manual_queue_example(
    queue_runs: dict[Key, QueueRun], mode: str
) -> None:
    _all_once_in_order(queue_runs["official", QUEUE_EXAMPLE, mode], mode)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_the_aioeas_queue_twin_gets_what_the_official_client_gets(
    queue_runs: dict[Key, QueueRun], mode: str, style: str
) -> None:
    official = _all_once_in_order(queue_runs["official", QUEUE_EXAMPLE, mode], mode)
    ours = queue_runs[style, QUEUE_EXAMPLE, mode]
    assert _all_once_in_order(ours, mode) == official
    # One thread, whole lines: what it printed says the same as what was recorded.
    printed = ours.run.printed
    sends = [m.groups() for ln in printed if (m := SEND_LINE.match(ln))]
    recvs = [m.groups() for ln in printed if (m := RECV_LINE.match(ln))]
    assert len(sends) == len(recvs) == QUEUE_COUNT
    assert [int(i) for i, _, _ in recvs] == list(range(QUEUE_COUNT))
    assert [int(index) for _, index, _ in recvs] == official["indexes"]
    assert sorted((int(x), r) for _, x, r in sends) == [(int(x), r) for _, x, r in recvs]


def test_a_wrong_token_is_refused_by_the_queue_example_in_both_clients(
    queue_runs: dict[Key, QueueRun],
) -> None:
    official = queue_runs["official", QUEUE_EXAMPLE, "wrong"]
    error = official.run.failed()
    assert error["type"] == "PredictException"
    assert error["message"].startswith("Code: 401")
    for style in STYLES:
        ours = queue_runs[style, QUEUE_EXAMPLE, "wrong"]
        error = ours.run.failed()
        assert error["type"] == "AuthError"
        assert error["message"].startswith("HTTP 401 ")
    for done in (official, *(queue_runs[s, QUEUE_EXAMPLE, "wrong"] for s in STYLES)):
        assert done.queue["sent"] == done.queue["received"] == 0
        assert done.sink["stream.length"] == str(STALE["wrong"])  # nothing truncated
