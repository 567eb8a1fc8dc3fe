"""``aioeas queue ...`` end to end against the emulator's queue service."""

from __future__ import annotations

import json
import signal
from typing import Any

from tests.cli.support import EmulatorThread, Result, invoke, spawn


def _queue(emulator: EmulatorThread, *args: str, queue: str = "jobs") -> Result:
    env = {"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token", "EAS_QUEUE_NAME": queue}
    return invoke("queue", *args, env=env)


def _json_lines(result: Result) -> list[dict[str, Any]]:
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines()]


def test_put_get_search_commit_truncate_attributes(emulator: EmulatorThread) -> None:
    emulator.call(lambda emu: emu.add_queue_service("jobs"))
    put = _json_lines(_queue(emulator, "put", "a", "b", "c", "d", "--tag", "batch=7"))
    assert [p["index"] for p in put] == [1, 2, 3, 4]
    assert all(p["request_id"] for p in put)

    attrs = json.loads(_queue(emulator, "attributes").out)
    assert attrs["stream.length"] == "4"

    found = _json_lines(_queue(emulator, "search", "2"))
    assert found == [{"index": 2, "consumer_id": "", "is_pending": False, "wait_count": 1}]

    kept = _json_lines(_queue(emulator, "get", "--length", "2", "--keep"))
    assert [(r["index"], r["data"], r["tags"]["batch"]) for r in kept] == [
        (1, "a", "7"),
        (2, "b", "7"),
    ]
    assert kept[0]["tags"]["requestId"] == put[0]["request_id"]

    by_id = _json_lines(_queue(emulator, "get", "--request-id", put[2]["request_id"]))
    assert [r["data"] for r in by_id] == ["c"]  # and deleted

    assert _queue(emulator, "commit", "1").code == 0
    assert _queue(emulator, "truncate", "2").code == 0
    rest = _json_lines(_queue(emulator, "get", "--length", "10"))
    assert [r["data"] for r in rest] == ["b", "d"]

    missing = _queue(emulator, "search", "1")
    assert (missing.code, missing.err) == (1, "aioeas: error: record 1 is not in queue jobs\n")


def test_put_from_a_file_and_binary_data(emulator: EmulatorThread) -> None:
    emulator.call(lambda emu: emu.add_queue_service("jobs"))
    env = {"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "cli-token", "EAS_QUEUE_NAME": "jobs"}
    put = invoke("queue", "put", "--file", "-", input="one\n\ntwo\n", env=env)
    assert [json.loads(x)["index"] for x in put.out.splitlines()] == [1, 2]
    emulator.call(lambda emu: emu.queue("jobs").put(b"\xff\x00"))
    got = _json_lines(_queue(emulator, "get", "--length", "3"))
    assert [r.get("data") for r in got] == ["one", "two", None]
    assert got[2]["data_base64"] == "/wA="


def test_watch_prints_and_commits_count_records(emulator: EmulatorThread) -> None:
    emulator.call(lambda emu: emu.add_queue_service("jobs"))
    _queue(emulator, "put", *[f"r{i}" for i in range(5)])
    first = _json_lines(_queue(emulator, "watch", "--count", "3", "--window", "2"))
    assert [r["data"] for r in first] == ["r0", "r1", "r2"]
    # committed: a new watcher (another uid) starts after them
    second = _json_lines(_queue(emulator, "watch", "--count", "2"))
    assert [r["data"] for r in second] == ["r3", "r4"]


def test_watch_without_commit_leaves_records_and_auto_commit_takes_them(
    emulator: EmulatorThread,
) -> None:
    emulator.call(lambda emu: emu.add_queue_service("jobs"))
    _queue(emulator, "put", "x", "y")
    peek = _json_lines(_queue(emulator, "watch", "--count", "2", "--no-commit", "--uid", "u1"))
    assert [r["data"] for r in peek] == ["x", "y"]
    auto = _json_lines(_queue(emulator, "watch", "--count", "2", "--auto-commit", "--uid", "u1"))
    assert [r["data"] for r in auto] == ["x", "y"]
    _queue(emulator, "put", "z")
    after = _json_lines(_queue(emulator, "watch", "--count", "1", "--uid", "u2"))
    assert [r["data"] for r in after] == ["z"]


def test_watch_follows_new_records_and_stops_on_ctrl_c(emulator: EmulatorThread) -> None:
    emulator.call(lambda emu: emu.add_queue_service("jobs"))
    proc = spawn("queue", "watch", "-e", emulator.url, "--queue", "jobs", "--token", "cli-token")
    assert proc.stdout is not None
    for i in range(3):
        _queue(emulator, "put", f"live{i}")
        assert json.loads(proc.stdout.readline())["data"] == f"live{i}"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err == ""


def test_a_wrong_token_is_one_line_and_status_1(emulator: EmulatorThread) -> None:
    emulator.call(lambda emu: emu.add_queue_service("jobs"))
    env = {"EAS_ENDPOINT": emulator.url, "EAS_TOKEN": "nope", "EAS_QUEUE_NAME": "jobs"}
    result = invoke("queue", "put", "x", env=env)
    assert result.code == 1
    assert len(result.err.splitlines()) == 1
    assert "HTTP 401" in result.err


def test_commit_of_an_index_the_queue_never_held_says_so(emulator: EmulatorThread) -> None:
    """The service answers OK to any index: printing that OK read as if record 99999 had
    been there and was now done."""
    emulator.call(lambda emu: emu.add_queue_service("jobs"))
    assert _queue(emulator, "put", "a", "b").code == 0
    missing = _queue(emulator, "commit", "2", "99999")
    assert missing.code == 1
    assert missing.out == ""
    assert missing.err == (
        "aioeas: error: queue jobs holds no record 99999 (its last index is 2); nothing committed\n"
    )
    # nothing was committed: record 2 is still delivered
    assert [r["index"] for r in _json_lines(_queue(emulator, "get", "--length", "5"))] == [1, 2]
    ok = _queue(emulator, "commit", "1")
    assert (ok.code, ok.out) == (0, "OK\n")
