"""String input and output: JSON records to a PMML scorecard, many times over.

The aioeas twin of the manual's "String input and output" example. The manual sends one
request a million times in a row; here ``predict_many`` keeps up to 16 in flight and yields
the answers in order. EAS_EXAMPLE_LOOPS says how many (default 3).
"""

import asyncio
import os

from aioeas import PredictClient, StringRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN")
LOOPS = int(os.environ.get("EAS_EXAMPLE_LOOPS", "3"))


async def main() -> None:
    request = StringRequest.from_records([{"fea1": 1, "fea2": 2}])  # '[{"fea1": 1, "fea2": 2}]'
    async with PredictClient(ENDPOINT, "scorecard_pmml_example", token=TOKEN) as client:
        async for resp in client.predict_many([request] * LOOPS, concurrency=16):
            print(resp)  # the JSON text: [{"score": ...}]


if __name__ == "__main__":
    asyncio.run(main())
