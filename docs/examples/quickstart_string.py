"""Quick start: one string request to a PMML scorecard service.

The aioeas twin of the official manual's quick start (``eas_prediction``). Set EAS_ENDPOINT
and EAS_TOKEN, or run ``python -m aioeas.emulator --port 8080`` and leave them unset.
"""

import asyncio
import os

from aioeas import PredictClient, StringRequest

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN")


async def main() -> None:
    async with PredictClient(ENDPOINT, "scorecard_pmml_example", token=TOKEN) as client:
        resp = await client.predict(StringRequest('[{"fea1": 1, "fea2": 2}]'))
        print(resp)


if __name__ == "__main__":
    asyncio.run(main())
