"""Drives the official eas-prediction PredictClient with threads, for ``bench_predict.py``.

Runs inside the official SDK's venv (eas-prediction 0.36, protobuf 3.20.3), never
aioeas's. JSON lines: the parent writes one command a line to stdin, this answers one
JSON line on stdout (progress and errors go to stderr). Commands::

    {"op": "facts"}
    {"op": "setup", "key": k, "url": u, "service": s, "kind": "string" | "tf",
     "bodies": [latin-1 str, ...]                 # kind string
     "arrays": [[784 floats], ...], "shape": [1, 784],
     "signature": "predict_images", "input": "images"}          # kind tf
    {"op": "check", "key": k}       # one predict per distinct request, answers returned
    {"op": "run", "key": k, "total": n, "concurrency": c}
    {"op": "quit"}

A run is what a user of the SDK writes to go concurrent: one ``PredictClient`` (its urllib3
pool holds up to 100 connections) shared by ``c`` threads, each calling
``client.predict(req)`` in a loop and taking the next request index from a shared counter
until ``n`` are done. The threads start together on a barrier; the wall time runs from
the barrier to the last join. ``predict`` serializes the request (``to_string``) and
parses the answer (``parse_response``) on every call, as it always does.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import sys
import threading
import time
from importlib import metadata
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _load import round_result
from eas_prediction import PredictClient, StringRequest, TFRequest


class Target:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.kind = spec["kind"]
        client = PredictClient(spec["url"], spec["service"])
        client.set_max_connection_count(100)
        client.set_retry_count(1)  # one try: a failure is reported, not hidden by retries
        client.set_timeout(10000)
        client.init()
        self.client = client
        self.output = spec.get("output")
        if self.kind == "string":
            self.requests = [StringRequest(b.encode("latin-1")) for b in spec["bodies"]]
        else:
            self.requests = []
            for values in spec["arrays"]:
                req = TFRequest(spec["signature"])
                req.add_feed(spec["input"], spec["shape"], TFRequest.DT_FLOAT, values)
                self.requests.append(req)

    def answer(self, resp: Any) -> Any:
        if self.kind == "string":
            data = resp.response_data
            return bytes(data).decode("latin-1")
        out = {}
        for name in self.output:
            out[name] = {
                "shape": list(resp.get_tensor_shape(name)),
                "values": list(resp.get_values(name)),
            }
        return out

    def check(self) -> list[Any]:
        return [self.answer(self.client.predict(req)) for req in self.requests]

    def run(self, total: int, concurrency: int) -> dict[str, Any]:
        reqs, k, predict = self.requests, len(self.requests), self.client.predict
        counter = itertools.count()  # next() on it is atomic under the GIL
        latencies = [0] * total
        errors: list[str] = []
        barrier = threading.Barrier(concurrency + 1)
        perf = time.perf_counter_ns

        def work() -> None:
            barrier.wait()
            while True:
                i = next(counter)
                if i >= total:
                    return
                t0 = perf()
                try:
                    predict(reqs[i % k])
                except Exception as exc:  # counted and reported, the run goes on
                    errors.append(f"{type(exc).__name__}: {exc}")
                latencies[i] = perf() - t0

        threads = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
        for t in threads:
            t.start()
        cpu0 = time.process_time()
        barrier.wait()
        t0 = perf()
        for t in threads:
            t.join()
        elapsed = perf() - t0
        cpu = time.process_time() - cpu0
        out = round_result(total, elapsed, latencies, cpu)
        out["errors"] = len(errors)
        if errors:
            out["first_error"] = errors[0]
        return out


def facts() -> dict[str, Any]:
    from google.protobuf import __version__ as pb_version
    from google.protobuf.internal import api_implementation

    return {
        "python": platform.python_version(),
        "protobuf": pb_version,
        "protobuf_impl": api_implementation.Type(),
        "urllib3": metadata.version("urllib3"),
        "eas_prediction": metadata.version("eas-prediction"),
    }


def main() -> None:
    # The SDK's loggers write to sys.stdout (a StreamHandler made per client): keep the
    # real stdout for the replies and send anything else to stderr.
    replies = sys.stdout
    sys.stdout = sys.stderr
    targets: dict[str, Target] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "quit":
                break
            if op == "facts":
                answer: Any = facts()
            elif op == "setup":
                targets[cmd["key"]] = Target(cmd)
                answer = "ok"
            elif op == "check":
                answer = targets[cmd["key"]].check()
            elif op == "run":
                answer = targets[cmd["key"]].run(cmd["total"], cmd["concurrency"])
            else:
                raise ValueError(f"unknown op {op!r}")
            reply = {"ok": True, "result": answer}
        except Exception as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    for t in targets.values():
        t.client.destroy()


if __name__ == "__main__":
    main()
