"""``aioeas demo``: the official manual's examples, through aioeas, against the embedded emulator.

It starts an emulator on a free local port (with a token, so every call is signed), runs
each example of the eas-prediction manual with aioeas, and prints each answer in short,
its latency, and the throughput of a fan-out. Then asynchronous inference: a queue
service whose worker runs the MNIST model, fed through ``AsyncInference`` (put the request,
await its result from the sink). Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import numpy as np

from aioeas import (
    ENDPOINT_TYPE_DIRECT,
    AsyncInference,
    AttemptEnd,
    BladeRequest,
    BladeTFRequest,
    EASError,
    Hooks,
    PredictClient,
    StringRequest,
    TFRequest,
    TorchRequest,
)

T = TypeVar("T")
TOKEN = "demo-token"


async def _timed(call: Callable[[], Awaitable[T]], times: int = 10) -> tuple[T, float]:
    """The last answer and the median latency in milliseconds over ``times`` calls."""
    latencies = []
    result: Any = None
    for _ in range(times):
        t0 = time.perf_counter()
        result = await call()
        latencies.append((time.perf_counter() - t0) * 1000)
    return result, statistics.median(latencies)


def _line(kind: str, text: str, ms: float | None = None) -> None:
    tail = f"  ({ms:.2f} ms median)" if ms is not None else ""
    print(f"{kind:<9}{text}{tail}")


async def run_demo(
    fanout: int = 2000, concurrency: int = 64, submissions: int = 500, async_concurrency: int = 32
) -> int:
    from aioeas.emulator import Emulator  # the demo, not the library, needs the emulator

    rng = np.random.default_rng(7)
    async with Emulator(token=TOKEN, backends=3) as emu:
        print(
            f"aioeas demo: the eas-prediction manual's examples against an emulator at {emu.url}\n"
        )

        # String input and output (PMML scorecard)
        async with PredictClient(emu.url, "scorecard_pmml_example", token=TOKEN) as client:
            request = StringRequest('[{"fea1": 1, "fea2": 2}]')
            resp, ms = await _timed(lambda: client.predict(request))
            _line("string", f"scorecard_pmml_example -> {resp.text}", ms)

        # TensorFlow tensor input and output
        async with PredictClient(emu.url, "mnist_saved_model_example", token=TOKEN) as client:
            req = TFRequest("predict_images")
            req.add_feed("images", [1, 784], TFRequest.DT_FLOAT, [1] * 784)
            tf_resp, ms = await _timed(lambda: client.predict(req))
            scores = tf_resp["scores"]
            _line(
                "tf",
                f"mnist_saved_model_example -> classes {tf_resp['classes'].tolist()}, "
                f"scores {tf_resp.get_tensor_shape('scores')} max {float(scores.max()):.3f}",
                ms,
            )

        # VPC direct connection: discovery, then weighted round robin over the backends
        seen: Counter[str] = Counter()
        hooks = Hooks(
            on_end=lambda e: seen.update([e.backend or "?"]) if isinstance(e, AttemptEnd) else None
        )
        direct = PredictClient(emu.url, "mnist_saved_model_example", token=TOKEN, hooks=hooks)
        direct.set_endpoint_type(ENDPOINT_TYPE_DIRECT)
        async with direct:
            _, ms = await _timed(lambda: direct.predict(req), times=30)
            spread = ", ".join(f"{b}: {n}" for b, n in sorted(seen.items()))
            _line("direct", f"30 predicts over {len(seen)} backends ({spread})", ms)

        # PyTorch tensor input and output
        async with PredictClient(emu.url, "pytorch_gpu_wl", token=TOKEN) as client:
            image = rng.random((1, 3, 224, 224), dtype=np.float32)
            torch_req = TorchRequest().add_feed(0, image)
            torch_resp, ms = await _timed(lambda: client.predict(torch_req))
            _line("torch", f"pytorch_gpu_wl -> output 0 shape {torch_resp.get_tensor_shape(0)}", ms)

        # Blade, and Blade's TF-compatible form
        async with PredictClient(emu.url, "nlp_model_example", token=TOKEN) as client:
            try:  # the manual's content has 85680 values for a [1, 360, 128] shape
                BladeRequest().add_feed(
                    "input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, [0.8] * 85680
                )
            except EASError as exc:
                _line("blade", f"the manual's example as written is refused before sending: {exc}")
            blade = BladeRequest()
            blade.add_feed("input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, [0.8] * 46080)
            blade.add_feed("input_length", 1, [1], BladeRequest.DT_INT32, [187])
            blade.add_feed("start_token", 1, [1], BladeRequest.DT_INT32, [104])
            blade.add_fetch("output", BladeRequest.DT_FLOAT)
            blade_resp, ms = await _timed(lambda: client.predict(blade))
            _line(
                "blade", f"nlp_model_example -> output {blade_resp.get_tensor_shape('output')}", ms
            )
            blade_tf = BladeTFRequest(signature_name="predict_words")
            blade_tf.add_feed("input_data", [1, 360, 128], BladeTFRequest.DT_FLOAT, [0.8] * 46080)
            blade_tf.add_feed("input_length", [1], BladeTFRequest.DT_INT32, [187])
            blade_tf.add_feed("start_token", [1], BladeTFRequest.DT_INT32, [104])
            blade_tf.add_fetch("output")
            btf_resp, ms = await _timed(lambda: client.predict(blade_tf))
            _line(
                "blade-tf", f"nlp_model_example -> output {btf_resp.get_tensor_shape('output')}", ms
            )

        # Fan-out: a batch job's worth of predictions, bounded concurrency
        async with PredictClient(emu.url, "mnist_saved_model_example", token=TOKEN) as client:
            batch = [
                TFRequest("predict_images").add_feed(
                    "images", rng.random((1, 784), dtype=np.float32)
                )
                for _ in range(fanout)
            ]
            t0 = time.perf_counter()
            results = await client.predict_many(batch, concurrency=concurrency)
            elapsed = time.perf_counter() - t0
            classes = Counter(int(r["classes"][0]) for r in results)
            _line(
                "fan-out",
                f"{len(results):,} predicts, {concurrency} in flight: {len(results) / elapsed:,.0f} "
                f"predicts/s; {len(classes)} distinct classes",
            )

        # Asynchronous inference: the queue service's worker runs the MNIST model on each
        # request; the client puts requests and awaits each result from the sink.
        emu.add_queue_service("mnist_async", processor="mnist_saved_model_example", concurrency=8)
        async with AsyncInference(emu.url, "mnist_async", token=TOKEN, timeout=60) as inference:
            req = TFRequest("predict_images")
            req.add_feed("images", rng.random((1, 784), dtype=np.float32))
            record, ms = await _timed(lambda: inference.submit(req.to_bytes()))
            answer = req.parse_response(record.data)
            _line(
                "async",
                f"mnist_async (queue service) -> record {record.index}, classes "
                f"{answer['classes'].tolist()}, scores {answer.get_tensor_shape('scores')}",
                ms,
            )
            bodies = [
                TFRequest("predict_images")
                .add_feed("images", rng.random((1, 784), dtype=np.float32))
                .to_bytes()
                for _ in range(submissions)
            ]
            slots = asyncio.Semaphore(async_concurrency)

            async def submit(body: bytes) -> bool:
                async with slots:
                    done = await inference.submit(body)
                return "lastCode" not in done.tags

            t0 = time.perf_counter()
            ok = await asyncio.gather(*(submit(body) for body in bodies))
            elapsed = time.perf_counter() - t0
            _line(
                "async",
                f"{len(ok):,} submissions, {async_concurrency} in flight: "
                f"{len(ok) / elapsed:,.0f} results/s through the queue; {sum(ok):,} answered",
            )
    return 0


def main() -> int:
    return asyncio.run(run_demo())
