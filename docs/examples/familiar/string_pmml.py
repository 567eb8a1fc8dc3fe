#!/usr/bin/env python
"""The manual's "String input and output" example with aioeas, familiar style."""

import asyncio
import os

from aioeas import PredictClient, StringRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN", "")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main():
    client = PredictClient(ENDPOINT, "scorecard_pmml_example")
    client.set_token(TOKEN)
    await client.init()
    request = StringRequest('[{"fea1": 1, "fea2": 2}]')
    for _ in range(0, LOOPS):
        resp = await client.predict(request)
        print(resp)
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
