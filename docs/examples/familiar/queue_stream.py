#!/usr/bin/env python
"""The manual's "Queue service for data streaming" example with aioeas, familiar style.

`eas_prediction` -> `aioeas`, `await` before the calls, asyncio tasks instead of threads,
`async for` over `watcher.run()`, and a close() at the end. The manual joins only its
watcher thread (Python still waits for the sender thread before exiting); asyncio.run would
cancel an unfinished task instead, so both tasks are awaited here.
"""

import asyncio
import os

from aioeas import QueueClient

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN", "")


async def main():
    endpoint = ENDPOINT
    queue_name = "test_group.qservice/sink"
    token = TOKEN
    queue = QueueClient(endpoint, queue_name)
    queue.set_token(token)
    await queue.init()
    queue.set_timeout(30000)
    # Clear the queue before starting
    attributes = await queue.attributes()
    if "stream.lastEntry" in attributes:
        await queue.truncate(int(attributes["stream.lastEntry"]) + 1)
    count = 100

    async def send_task():
        for i in range(count):
            index, request_id = await queue.put("[{}]")
            print("send: ", i, index, request_id)

    async def watch_task():
        # window=5 limits the server to pushing at most 5 unacknowledged records at a time
        watcher = queue.watch(0, 5, auto_commit=True)
        i = 0
        async for x in watcher.run():
            print("recv: ", i, x.index, x.tags["requestId"])
            i += 1
            if i == count:
                break
        await watcher.close()

    task1 = asyncio.create_task(watch_task())
    task2 = asyncio.create_task(send_task())
    await task1
    await task2
    await queue.close()


if __name__ == "__main__":
    asyncio.run(main())
