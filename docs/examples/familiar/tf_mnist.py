#!/usr/bin/env python
"""The manual's "TensorFlow tensor input and output" example with aioeas, familiar style."""

import asyncio
import os

from aioeas import PredictClient, TFRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN", "")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main():
    client = PredictClient(ENDPOINT, "mnist_saved_model_example")
    client.set_token(TOKEN)
    await client.init()
    req = TFRequest("predict_images")
    # add_feed takes a flat 1D array; shape [1, 784] describes the tensor dimensions
    req.add_feed("images", [1, 784], TFRequest.DT_FLOAT, [1] * 784)
    for _ in range(0, LOOPS):
        resp = await client.predict(req)
        print(resp)
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
