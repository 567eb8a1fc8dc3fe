"""TensorFlow tensor input and output: an MNIST SavedModel, signature ``predict_images``.

The aioeas twin of the manual's TensorFlow example: the input is a numpy array whose shape
is the tensor's shape (no flat list plus a separate shape), and each output comes back as an
ndarray. EAS_EXAMPLE_LOOPS says how many requests (default 3; the manual's 1,000,000).
"""

import asyncio
import os

import numpy as np

from aioeas import PredictClient, TFRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main() -> None:
    req = TFRequest("predict_images")
    req.add_feed("images", np.ones((1, 784), dtype=np.float32))  # float32 goes as DT_FLOAT
    async with PredictClient(ENDPOINT, "mnist_saved_model_example", token=TOKEN) as client:
        for _ in range(LOOPS):
            resp = await client.predict(req)
            print(resp)  # TFResponse({'scores': float32[1, 10], 'classes': int64[1]})
            print(resp["scores"].shape, resp["classes"])


if __name__ == "__main__":
    asyncio.run(main())
