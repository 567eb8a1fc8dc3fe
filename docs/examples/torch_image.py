"""PyTorch tensor input and output: one 224x224 RGB image, inputs and outputs by index.

The aioeas twin of the manual's PyTorch example, timing each request as the manual does.
EAS_EXAMPLE_LOOPS says how many requests (default 3; the manual sends 10).
"""

import asyncio
import os
import time

import numpy as np

from aioeas import PredictClient, TorchRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main() -> None:
    req = TorchRequest()
    req.add_feed(0, np.ones((1, 3, 224, 224), dtype=np.float32))  # one image, NCHW
    # req.add_fetch(0)  # uncomment to return only the tensor at index 0
    async with PredictClient(ENDPOINT, "pytorch_gpu_wl", token=TOKEN) as client:
        total = 0.0
        for _ in range(LOOPS):
            start = time.perf_counter()
            resp = await client.predict(req)
            total += time.perf_counter() - start
            print(resp.get_tensor_shape(0))  # [1, 1000]; resp[0] is the ndarray itself
        print(f"average response time: {total / LOOPS} s")


if __name__ == "__main__":
    asyncio.run(main())
