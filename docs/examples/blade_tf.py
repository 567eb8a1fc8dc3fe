"""Blade with TensorFlow compatibility: ``BladeTFRequest``, a TFRequest-like Blade request.

The aioeas twin of the manual's Blade-TF example (``eas_prediction.blade_tf_request.
TFRequest``; ``aioeas.blade_tf_request.TFRequest`` is the same class as
``aioeas.BladeTFRequest``). The batch size is the first dimension of each input. As in the
Blade example, the manual's 85680 values do not fit [1, 360, 128]: this sends 46080.
"""

import asyncio
import os
import time

import numpy as np

from aioeas import BladeTFRequest, PredictClient

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main() -> None:
    req = BladeTFRequest(signature_name="predict_words")
    req.add_feed("input_data", np.full((1, 360, 128), 0.8, dtype=np.float32))  # 46080 values
    req.add_feed("input_length", np.array([187], dtype=np.int32))
    req.add_feed("start_token", np.array([104], dtype=np.int32))
    req.add_fetch("output")
    async with PredictClient(ENDPOINT, "nlp_model_example", token=TOKEN) as client:
        total = 0.0
        for _ in range(LOOPS):
            start = time.perf_counter()
            resp = await client.predict(req)
            total += time.perf_counter() - start
            print(resp.get_tensor_shape("output"))  # [1, 360]
        print(f"average response time: {total / LOOPS} s")


if __name__ == "__main__":
    asyncio.run(main())
