"""Chaos, queue: producers, a worker and consumers through WebSocket cuts and HTTP faults.

The soak (``test_soak_every_record_processed_committed_once_none_skipped``), against one
emulator on loopback:

- four producers put ``RECORDS`` records concurrently (``QueueClient.put``), payloads from
  0 bytes to exactly the queue's ``max_payload_bytes`` (log-uniform sizes, the two ends
  forced every 40 records), each tagged with its item number; a put that fails uncertainly
  (``PutUncertainError``: the emulator's faults strike before the queue stores anything)
  is put again, and the emulator's last index proves none was stored twice;
- a worker (an aioeas watcher on the input queue, window ``WORKER_WINDOW``) hashes each
  input and puts the result in the sink tagged with the input's ``requestId``, then
  commits the input. A record that comes again after a cut (handed over, not yet
  committed: the protocol is at-least-once) is committed without a second result;
- three consumers (watchers of one group on the sink, window ``READER_WINDOW``, manual
  commit right after reading) collect the results.

The input queue has no grace period (a cut watcher's records go back to the group at
once, and the worker's resumption must find them); the sink keeps a cut consumer's records
for it (``SINK_GRACE``), so every result reaches exactly one consumer.

Chaos, all seeded (the emulator's seed; rules are drawn in the order calls arrive, so
which call is hit may vary between runs, never what is checked): every watch connection
may be cut after any push (``cut_rate``) and the first ones after a few pushes
(``cut_after``); 3% of HTTP calls to either queue answer 503 and 1% are reset (puts,
commits, watch handshakes alike). Faults start once every client is open.

Checked: every record processed (every input index 1..N seen by the worker, every
request id answered), each result delivered to one consumer exactly once and matched to
its input by ``requestId`` (the hash of that input's payload), committed exactly once
(the emulator counts N commits on each queue, the watchers sent N each) and both queues
empty; each consumer's window held on the emulator's side (``max_outstanding``) and on the
client's (``max_in_hand``); one byte over the limit is refused with 413.

``test_submit_and_await_through_cuts``: ``AsyncInference`` against the emulator's own
worker, with the sink watcher cut and puts failing: every submit gets its own result.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from aioeas.client.retry import RetryPolicy
from aioeas.emulator import Emulator
from aioeas.emulator.faults import Fault, FaultRule
from aioeas.emulator.queue import Queue
from aioeas.errors import ServiceError
from aioeas.queue import (
    AsyncInference,
    PutUncertainError,
    QueueClient,
    QueueRecord,
    ReconnectPolicy,
    Watcher,
)

pytestmark = pytest.mark.long

TOKEN = "chaos-t0ken"
SEED = 6_2024
RECORDS = 2000
PRODUCERS = 4
READERS = 3
LIMIT = 64 * 1024
WORKER_WINDOW = 16
READER_WINDOW = 8
SINK_GRACE = 60.0
CUT_RATE = 0.02
HTTP_503_RATE = 0.03
HTTP_RESET_RATE = 0.01
#: Every wait of the test is bounded by this (seconds); the soak takes a few.
LIMIT_SECONDS = 60.0

RETRY = RetryPolicy(max_attempts=6, backoff_base=0.0, jitter=0.0)
RECONNECT = ReconnectPolicy(max_attempts=None, deadline=LIMIT_SECONDS, backoff_base=0.0)


def payload_size(k: int, rng: random.Random) -> int:
    if k % 40 == 0:
        return LIMIT
    if k % 40 == 1:
        return 0
    return min(LIMIT, int(2 ** (rng.random() * 16)) - 1)


def payload(k: int, size: int) -> bytes:
    return random.Random(k).randbytes(size)


def result_of(data: bytes) -> bytes:
    return b"sha256:" + hashlib.sha256(data).digest()


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(token=TOKEN, builtins=False, seed=SEED) as emulator:
        yield emulator


def client(emu: Emulator, queue: str, uid: str, gid: str = "eas") -> QueueClient:
    return QueueClient(
        emu.url, queue, token=TOKEN, uid=uid, gid=gid, retry=RETRY, reconnect=RECONNECT
    )


def add_faults(queue: Queue) -> list[FaultRule]:
    queue.watch_faults.cut_after(3, times=5)
    queue.watch_faults.cut_rate(CUT_RATE)
    return [
        queue.faults.add(Fault.error(503, "chaos"), rate=HTTP_503_RATE),
        queue.faults.add(Fault.reset(), rate=HTTP_RESET_RATE),
    ]


async def test_soak_every_record_processed_committed_once_none_skipped(emu: Emulator) -> None:
    emu.add_queue_service("soak", max_payload_bytes=LIMIT, grace=0.0)
    inq, sink = emu.queue("soak"), emu.queue("soak/sink")
    sink.grace = SINK_GRACE
    rng = random.Random(SEED)
    sizes = [payload_size(k, rng) for k in range(RECORDS)]
    assert {0, LIMIT} <= set(sizes)

    producers = [client(emu, "soak", f"producer-{p}") for p in range(PRODUCERS)]
    worker_in = client(emu, "soak", "worker", gid="workers")
    worker_out = client(emu, "soak/sink", "worker-out")
    readers = [client(emu, "soak/sink", f"reader-{i}", gid="readers") for i in range(READERS)]
    everyone = [*producers, worker_in, worker_out, *readers]
    for c in everyone:
        await c.init()

    # one byte over the limit: the documented 413, not retried, nothing stored
    with pytest.raises(ServiceError) as refused:
        await producers[0].put(bytes(LIMIT + 1))
    assert refused.value.status == 413
    assert not isinstance(refused.value, PutUncertainError)
    assert inq.stream.last_index == 0

    worker_watch = await worker_in.watch(window=WORKER_WINDOW)
    reader_watches = [await r.watch(window=READER_WINDOW) for r in readers]
    rules = add_faults(inq) + add_faults(sink)

    expected: dict[str, int] = {}  # request id -> item
    uncertain = Counter[int]()
    worker_seen = Counter[int]()
    worker_done: set[int] = set()
    worker_put_retries = 0
    results: dict[str, list[tuple[int, QueueRecord]]] = defaultdict(list)
    all_results = asyncio.Event()

    async def produce(p: int) -> None:
        for k in range(p, RECORDS, PRODUCERS):
            while True:
                try:
                    _, request_id = await producers[p].put(payload(k, sizes[k]), {"item": str(k)})
                    break
                except PutUncertainError:
                    uncertain[k] += 1  # the emulator's faults strike before it stores
            expected[request_id] = k

    async def work(watcher: Watcher) -> None:
        nonlocal worker_put_retries
        async for record in watcher:
            worker_seen[record.index] += 1
            if record.index not in worker_done:  # a second delivery gets no second result
                tags = {"requestId": record.tags["requestId"], "item": record.tags["item"]}
                while True:
                    try:
                        await worker_out.put(result_of(record.data), tags)
                        break
                    except PutUncertainError:
                        worker_put_retries += 1
                worker_done.add(record.index)
            watcher.commit(record)

    async def read(i: int, watcher: Watcher) -> None:
        async for record in watcher:
            results[record.tags["requestId"]].append((i, record))
            watcher.commit(record)
            if sum(map(len, results.values())) >= RECORDS:
                all_results.set()

    async def run() -> None:
        await asyncio.gather(*(produce(p) for p in range(PRODUCERS)))
        await all_results.wait()
        # every commit arrived: the queues are empty
        assert await inq.wait_until(lambda: len(inq) == 0, timeout=LIMIT_SECONDS)
        assert await sink.wait_until(lambda: len(sink) == 0, timeout=LIMIT_SECONDS)
        for rule in rules:
            rule.cancel()
        for w in [worker_watch, *reader_watches]:
            assert w.error is None, w.error
            await w.close()
        await asyncio.gather(*tasks)

    tasks = [asyncio.create_task(work(worker_watch))]
    tasks += [asyncio.create_task(read(i, w)) for i, w in enumerate(reader_watches)]
    try:
        await asyncio.wait_for(run(), LIMIT_SECONDS)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in everyone:
            await c.close()

    figures = {
        "records": RECORDS,
        "bytes": sum(sizes),
        "puts refused uncertainly and put again": sum(uncertain.values()),
        "worker puts put again": worker_put_retries,
        "input cuts": inq.watch_faults.cuts,
        "sink cuts": sink.watch_faults.cuts,
        "worker reconnects": worker_watch.stats.reconnects,
        "reader reconnects": sum(w.stats.reconnects for w in reader_watches),
        "HTTP 503": rules[0].hits + rules[2].hits,
        "HTTP resets": rules[1].hits + rules[3].hits,
        "input redeliveries": inq.redeliveries,
        "sink redeliveries": sink.redeliveries,
        "worker second deliveries": sum(n - 1 for n in worker_seen.values()),
        "duplicates dropped by watchers": sum(
            w.stats.duplicates for w in [worker_watch, *reader_watches]
        ),
    }
    print("chaos queue figures:", figures)

    # the chaos happened
    assert inq.watch_faults.cuts >= 5
    assert sink.watch_faults.cuts >= 5
    assert all(rule.hits > 0 for rule in rules)
    # every record put once (an uncertain put was not stored), processed, none skipped
    assert len(expected) == RECORDS
    assert sorted(expected.values()) == list(range(RECORDS))
    assert inq.stream.last_index == RECORDS
    assert set(worker_seen) == set(range(1, RECORDS + 1))
    assert sink.stream.last_index == RECORDS  # one result per input
    # every result delivered once, to one consumer, matched to its input by requestId
    assert set(results) == set(expected)
    for request_id, got in results.items():
        assert len(got) == 1, f"result {request_id} delivered {len(got)} times"
        k = expected[request_id]
        record = got[0][1]
        assert record.tags["item"] == str(k)
        assert record.data == result_of(payload(k, sizes[k]))
    # the results were spread over every consumer
    assert {i for got in results.values() for i, _ in got} == set(range(READERS))
    # committed exactly once: the emulator counted N on each queue, the watchers sent N
    assert inq.commits == RECORDS
    assert sink.commits == RECORDS
    assert len(inq) == 0
    assert len(sink) == 0
    assert worker_watch.stats.commits_sent == RECORDS
    assert sum(w.stats.commits_sent for w in reader_watches) == RECORDS
    # the window held, on the emulator's side and on the client's
    assert inq.consumer_stats("workers.worker").max_outstanding <= WORKER_WINDOW
    assert worker_watch.stats.max_in_hand <= WORKER_WINDOW
    for i, w in enumerate(reader_watches):
        assert sink.consumer_stats(f"readers.reader-{i}").max_outstanding <= READER_WINDOW
        assert w.stats.max_in_hand <= READER_WINDOW


async def test_submit_and_await_through_cuts(emu: Emulator) -> None:
    total = 300
    emu.add_queue_service(
        "infer", max_payload_bytes=LIMIT, processor=result_of, concurrency=8, grace=SINK_GRACE
    )
    inq, sink = emu.queue("infer"), emu.queue("infer/sink")
    rng = random.Random(SEED + 1)
    sizes = [payload_size(k, rng) for k in range(total)]
    uncertain = 0
    async with AsyncInference(
        emu.url,
        "infer",
        token=TOKEN,
        window=READER_WINDOW,
        timeout=LIMIT_SECONDS,
        retry=RETRY,
        reconnect=RECONNECT,
    ) as inference:
        sink.watch_faults.cut_after(3, times=5)
        sink.watch_faults.cut_rate(CUT_RATE)
        put_faults = inq.faults.add(Fault.error(503, "chaos"), rate=HTTP_503_RATE)
        commit_faults = sink.faults.add(Fault.error(503, "chaos"), rate=HTTP_503_RATE)

        async def submit(k: int) -> QueueRecord:
            nonlocal uncertain
            while True:
                try:
                    return await inference.submit(payload(k, sizes[k]), {"item": str(k)})
                except PutUncertainError:
                    uncertain += 1

        got = await asyncio.wait_for(
            asyncio.gather(*(submit(k) for k in range(total))), LIMIT_SECONDS
        )
        assert await sink.wait_until(lambda: len(sink) == 0, timeout=LIMIT_SECONDS)
    print(
        "async inference figures:",
        {
            "submits": total,
            "uncertain puts": uncertain,
            "sink cuts": sink.watch_faults.cuts,
            "503 on puts": put_faults.hits,
            "503 on commits": commit_faults.hits,
        },
    )
    assert sink.watch_faults.cuts >= 5
    assert put_faults.hits > 0
    for k, record in enumerate(got):
        assert record.data == result_of(payload(k, sizes[k]))  # its own result
    assert inq.stream.last_index == total
    assert sink.stream.last_index == total
    assert inq.commits == total
    assert sink.commits == total
    assert len(inq) == 0
    assert len(sink) == 0


async def test_a_record_committed_is_not_handed_out_again_from_the_buffer(emu: Emulator) -> None:
    """What the soak found: a record handed over, pushed again after a cut (so a copy waits
    in the buffer) and then committed was handed out a second time, and committed again."""
    emu.add_queue_service("again", grace=0.0)
    queue = emu.queue("again")
    async with client(emu, "again", "producer") as producer:
        for data in (b"one", b"two"):
            await producer.put(data)
    queue.watch_faults.cut_after(2, times=1)
    async with client(emu, "again", "u") as consumer, consumer.watch(window=2) as watcher:
        first = await watcher.next(timeout=LIMIT_SECONDS)  # held, not committed
        # the cut after the second push; the reconnection pushes both again
        assert await queue.wait_until(lambda: queue.consumer_stats("eas.u").connections == 2)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LIMIT_SECONDS
        while watcher.stats.received < 4:
            if loop.time() > deadline:
                break
            await asyncio.sleep(0)  # a turn of the loop, no timed sleep
        assert watcher.stats.received == 4
        assert watcher.pending == 2
        watcher.commit(first)
        assert watcher.pending == 1
        second = await watcher.next(timeout=LIMIT_SECONDS)
        assert second.data == b"two"
        watcher.commit(second)
        await watcher.flush()
        assert watcher.stats.commits_sent == 2
    assert await queue.wait_until(lambda: len(queue) == 0)
    assert queue.commits == 2
