"""Blade processor-based model: ``BladeRequest``, inputs with an explicit batch size.

The aioeas twin of the manual's Blade example. The manual feeds ``input_data`` of shape
[1, 360, 128] with 85680 values; that shape holds 1 * 360 * 128 = 46080, and both the
official client (AssertionError) and aioeas (InvalidTensorError) refuse the mismatch. Here
the array's shape makes the count right by construction: 46080 values of 0.8.
"""

import asyncio
import os
import time

import numpy as np

from aioeas import BladeRequest, PredictClient

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main() -> None:
    req = BladeRequest()
    # The batch size defaults to the array's first dimension (1 here).
    req.add_feed("input_data", np.full((1, 360, 128), 0.8, dtype=np.float32))  # 46080 values
    req.add_feed("input_length", np.array([187], dtype=np.int32))
    req.add_feed("start_token", np.array([104], dtype=np.int32))
    req.add_fetch("output", BladeRequest.DT_FLOAT)
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
