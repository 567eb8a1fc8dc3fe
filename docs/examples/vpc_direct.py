"""VPC direct connection: the TensorFlow example, straight to the service's instances.

The aioeas twin of the manual's VPC direct example. EAS_ENDPOINT is the regional VPC
endpoint (``http://pai-eas-vpc.cn-hangzhou.aliyuncs.com``), which answers service
discovery; the client refreshes the list of instances in the background and spreads the
requests over them by weight. The aioeas emulator answers discovery too, so EAS_ENDPOINT
can be its URL.
"""

import asyncio
import os

import numpy as np

from aioeas import ENDPOINT_TYPE_DIRECT, PredictClient, TFRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main() -> None:
    request = TFRequest("predict_images")
    request.add_feed("images", np.ones((1, 784), dtype=np.float32))
    async with PredictClient(
        ENDPOINT, "mnist_saved_model_example", token=TOKEN, endpoint_type=ENDPOINT_TYPE_DIRECT
    ) as client:
        for _ in range(LOOPS):
            resp = await client.predict(request)
            print(resp)


if __name__ == "__main__":
    asyncio.run(main())
