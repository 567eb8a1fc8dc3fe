#!/usr/bin/env python
"""The manual's "VPC direct connection" example with aioeas, familiar style.

EAS_ENDPOINT is the regional VPC endpoint, which answers service discovery (the aioeas
emulator's URL does too).
"""

import asyncio
import os

from aioeas import ENDPOINT_TYPE_DIRECT, PredictClient, TFRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN", "")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main():
    # Use the regional VPC endpoint instead of the service-specific endpoint
    client = PredictClient(ENDPOINT, "mnist_saved_model_example")
    client.set_token(TOKEN)
    client.set_endpoint_type(ENDPOINT_TYPE_DIRECT)
    await client.init()
    request = TFRequest("predict_images")
    request.add_feed("images", [1, 784], TFRequest.DT_FLOAT, [1] * 784)
    for _ in range(0, LOOPS):
        resp = await client.predict(request)
        print(resp)
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
