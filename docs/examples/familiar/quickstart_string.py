"""The manual's quick start with aioeas, familiar style: `eas_prediction` -> `aioeas`,
`await` before init() and predict(), and a close() at the end."""

import asyncio
import os

from aioeas import PredictClient, StringRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN", "")


async def main():
    client = PredictClient(ENDPOINT, "scorecard_pmml_example")
    client.set_token(TOKEN)
    await client.init()
    request = StringRequest('[{"fea1": 1, "fea2": 2}]')
    resp = await client.predict(request)
    print(resp)
    await client.close()


asyncio.run(main())
