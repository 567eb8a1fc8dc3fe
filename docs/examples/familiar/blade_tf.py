#!/usr/bin/env python
"""The manual's "Blade with TensorFlow compatibility" example with aioeas, familiar style.

Corrected as the Blade example: 46080 values fill [1, 360, 128], not the manual's 85680.
"""

import asyncio
import os

from aioeas import PredictClient
from aioeas.blade_tf_request import TFRequest  # Blade-compatible TFRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN", "")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main():
    client = PredictClient(ENDPOINT, "nlp_model_example")
    client.set_token(TOKEN)  # the manual's example has no token; "" sends none
    await client.init()
    req = TFRequest(signature_name="predict_words")
    # 46080 = 1 * 360 * 128 values (the manual's 85680 does not fit the shape)
    req.add_feed("input_data", [1, 360, 128], TFRequest.DT_FLOAT, [0.8] * 46080)
    req.add_feed("input_length", [1], TFRequest.DT_INT32, [187])
    req.add_feed("start_token", [1], TFRequest.DT_INT32, [104])
    req.add_fetch("output")
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
