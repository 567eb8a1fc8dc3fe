"""One round of the queue benchmark with the official SDK. Runs in the official venv.

``bench_queue.py`` spawns this script with the eas-prediction venv's Python
(``tests.support.official.official_python()``), writes a JSON spec to its stdin and reads
one JSON answer from its stdout; progress and errors go to stderr. Standard library and
``eas_prediction`` only.

Spec::

    {"url": "http://127.0.0.1:PORT", "queue": "q_official", "records": 10000,
     "size": 100, "window": 64, "token": "", "server_pid": 1234,
     "commit": "each" | "list", "batch": 32}

What it does, as the SDK's documentation writes it:

* put phase: ``index, request_id = queue.put(payload(i))`` for i in 0..records-1, one
  after the other (the client is synchronous: one request at a time per thread);
* watch phase: ``watcher = queue.watch(0, window, auto_commit=False)``, then
  ``for df in watcher.run(): ...`` until ``records`` records came, then
  ``watcher.close()``. Each record is committed either by itself,
  ``queue.commit(df.index)`` (``"each"``: one HTTP PUT per record), or with the others
  in a list, ``queue.commit([i, j, ...])`` (``"list"``: the manual's ``commit(index)``
  takes a list; one PUT per ``batch`` records and one for the last ones). ``batch`` stays
  below the window: the service stops pushing at ``window`` uncommitted records, and a
  synchronous loop waiting for more before it commits would wait for ever.

The phases are timed with ``time.perf_counter`` (put: first put to last answer; watch:
from ``watch()`` to the last commit's answer; ``close()`` is not timed) and the process's
CPU time (``time.process_time``, all threads), and the emulator's CPU time over each phase
from ``/proc/{server_pid}/stat`` when given. The answer also says what was received, so
the parent can check that every record came exactly once and was committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import time
from importlib import metadata
from typing import Any

from eas_prediction import QueueClient


def payload(i: int, size: int) -> bytes:
    """Record ``i``'s body: its number in 8 digits, padded to ``size`` bytes (the same
    function as ``bench_queue.payload``)."""
    head = b"%08d" % i
    return head + b"x" * max(0, size - len(head))


def digest(indexes: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(indexes))).encode()).hexdigest()


def server_cpu(pid: int | None) -> float:
    """utime + stime of process ``pid`` in seconds (0 without a pid or /proc)."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def facts() -> dict[str, Any]:
    from google.protobuf import __version__ as pb_version
    from google.protobuf.internal import api_implementation

    return {
        "python": platform.python_version(),
        "eas_prediction": metadata.version("eas-prediction"),
        "websocket_client": metadata.version("websocket-client"),
        "urllib3": metadata.version("urllib3"),
        "protobuf": f"{pb_version} ({api_implementation.Type()})",
    }


def run(spec: dict[str, Any]) -> dict[str, Any]:
    n, size, window = spec["records"], spec["size"], spec["window"]
    pid = spec.get("server_pid")
    queue = QueueClient(spec["url"], spec["queue"])
    if spec.get("token"):
        queue.set_token(spec["token"])
    queue.init()
    queue.set_logger(logging.getLogger("quiet"))  # reconnect warnings would go to stderr
    bodies = [payload(i, size) for i in range(n)]

    # ---- put
    put_indexes: list[int] = []
    c0, s0, t0 = time.process_time(), server_cpu(pid), time.perf_counter()
    for body in bodies:
        index, _request_id = queue.put(body)
        put_indexes.append(int(index))
    put_s = time.perf_counter() - t0
    put_cpu, put_server = time.process_time() - c0, server_cpu(pid) - s0

    # ---- watch + commit each record
    received: list[int] = []
    seqs: list[int] = []
    commits = 0
    commit_requests = 0
    bad_data = 0
    in_list = spec.get("commit", "each") == "list"
    batch = int(spec.get("batch", 1))
    if in_list and not 0 < batch < window:
        raise SystemExit(f"batch {batch} must be in 1..{window - 1} (the window)")
    pending: list[int] = []
    c0, s0, t0 = time.process_time(), server_cpu(pid), time.perf_counter()
    watcher = queue.watch(0, window, auto_commit=False)
    for df in watcher.run():
        received.append(df.index)
        data = bytes(df.data)
        seq = int(data[:8])
        seqs.append(seq)
        if data != bodies[seq]:
            bad_data += 1
        if in_list:
            pending.append(df.index)
            if len(pending) >= batch or len(received) == n:
                queue.commit(pending)
                commits += len(pending)
                commit_requests += 1
                pending = []
        else:
            queue.commit(df.index)
            commits += 1
            commit_requests += 1
        if len(received) == n:
            break
    watch_s = time.perf_counter() - t0
    watch_cpu, watch_server = time.process_time() - c0, server_cpu(pid) - s0
    watcher.close()
    return {
        "put_s": put_s,
        "put_cpu_s": put_cpu,
        "put_server_cpu_s": put_server,
        "watch_s": watch_s,
        "watch_cpu_s": watch_cpu,
        "watch_server_cpu_s": watch_server,
        "put_count": len(put_indexes),
        "put_digest": digest(put_indexes),
        "received": len(received),
        "distinct": len(set(received)),
        "received_digest": digest(received),
        "seqs_ok": sorted(seqs) == list(range(n)),
        "bad_data": bad_data,
        "commits": commits,
        "commit_requests": commit_requests,
        "first_index": min(put_indexes) if put_indexes else None,
        "last_index": max(put_indexes) if put_indexes else None,
    }


def main() -> None:
    spec = json.load(sys.stdin)
    answer = {"facts": facts(), "result": run(spec)}
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
