#!/usr/bin/env python
"""The manual's "PyTorch tensor input and output" example with aioeas, familiar style."""

import asyncio
import os

from aioeas import PredictClient, TorchRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN", "")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main():
    client = PredictClient(ENDPOINT, "pytorch_gpu_wl")
    client.set_token(TOKEN)  # the manual's example has no token; "" sends none
    await client.init()
    req = TorchRequest()
    # add_feed takes a flat 1D array; shape [1, 3, 224, 224] describes a single 224x224 RGB image
    req.add_feed(0, [1, 3, 224, 224], TorchRequest.DT_FLOAT, [1] * 150528)
    # req.add_fetch(0) # Uncomment to return only tensor at index 0
    import time

    st = time.time()
    timer = 0
    for _ in range(0, LOOPS):
        resp = await client.predict(req)
        timer += time.time() - st
        st = time.time()
        print(resp.get_tensor_shape(0))
    print(f"average response time: {timer / LOOPS} s")
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
