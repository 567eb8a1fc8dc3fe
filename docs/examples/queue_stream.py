"""Queue service for data streaming: a producer and a watcher in one asyncio program.

The aioeas twin of the official manual's queue example (``eas_prediction``): the queue is
the sink of the queue service ``test_group.qservice``; the program clears it, then a
producer task puts 100 records while a watcher task takes them as they come, the service
pushing at most 5 at a time and committing each as it pushes it (``auto_commit``). Tasks
instead of threads, one client shared by both. Set EAS_ENDPOINT and EAS_TOKEN, or run an
emulator that serves the queue service and leave them unset::

    from aioeas.emulator import Emulator
    async with Emulator(port=8080) as emu:
        emu.add_queue_service("test_group.qservice")
        ...
"""

import asyncio
import os

from aioeas import QueueClient

ENDPOINT = os.environ.get("EAS_ENDPOINT", "http://127.0.0.1:8080")
TOKEN = os.environ.get("EAS_TOKEN")
QUEUE = "test_group.qservice/sink"
COUNT = 100


async def produce(queue: QueueClient) -> None:
    for i in range(COUNT):
        index, request_id = await queue.put("[{}]")
        print("send: ", i, index, request_id)


async def consume(queue: QueueClient) -> None:
    # window=5: the service pushes at most 5 records this watcher has not committed
    async with queue.watch(0, window=5, auto_commit=True) as watcher:
        received = 0
        async for record in watcher:
            print("recv: ", received, record.index, record.request_id)
            received += 1
            if received == COUNT:
                break


async def main() -> None:
    async with QueueClient(ENDPOINT, QUEUE, token=TOKEN, timeout=30.0) as queue:
        # Clear the queue before starting: drop every record up to the last one
        attributes = await queue.attributes()
        if "stream.lastEntry" in attributes:
            await queue.truncate(int(attributes["stream.lastEntry"]) + 1)
        await asyncio.gather(consume(queue), produce(queue))


if __name__ == "__main__":
    asyncio.run(main())
