#!/usr/bin/env python
"""The manual's "Blade processor-based model" example with aioeas, familiar style.

Corrected: the manual feeds shape [1, 360, 128] with 85680 values, which both the official
client (AssertionError) and aioeas (InvalidTensorError) refuse; the shape holds
1 * 360 * 128 = 46080 values, and that is what this sends.
"""

import asyncio
import os

from aioeas import BladeRequest, PredictClient

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN", "")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main():
    client = PredictClient(ENDPOINT, "nlp_model_example")
    client.set_token(TOKEN)  # the manual's example has no token; "" sends none
    await client.init()
    req = BladeRequest()
    # 46080 = 1 * 360 * 128 values (the manual's 85680 does not fit the shape)
    req.add_feed("input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, [0.8] * 46080)
    req.add_feed("input_length", 1, [1], BladeRequest.DT_INT32, [187])
    req.add_feed("start_token", 1, [1], BladeRequest.DT_INT32, [104])
    req.add_fetch("output", BladeRequest.DT_FLOAT)
    import time

    st = time.time()
    timer = 0
    for _ in range(0, LOOPS):
        resp = await client.predict(req)
        timer += time.time() - st
        st = time.time()
        print(resp.get_tensor_shape("output"))
    print(f"average response time: {timer / LOOPS} s")
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
