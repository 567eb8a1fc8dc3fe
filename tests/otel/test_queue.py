"""Queue traces and metrics against the emulator: producer spans and the trace context in
the record's tags, consumer spans linked to them, asynchronous inference as one trace
from the caller's put through the worker to the result, and the watcher's metrics."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from aioeas import AsyncInference, QueueClient, ResultTimeoutError, RetryPolicy
from aioeas.emulator import Emulator, current_call
from aioeas.emulator.faults import Fault
from aioeas.otel import TRACE_TAGS, extract_context
from aioeas.otel import names as n
from aioeas.queue import ReconnectPolicy
from tests.otel.conftest import Otel, points

TOKEN = "qu3ue-T0KEN-never-shown=="
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_base=0.0, jitter=0.0)


def _ids(value: str) -> tuple[int, int]:
    _version, trace_id, span_id, _flags = value.split("-")
    return int(trace_id, 16), int(span_id, 16)


async def test_async_inference_is_one_trace_from_put_through_worker_to_result(
    otel: Otel,
) -> None:
    """submit -> put (PRODUCER) -> the worker (a span its processor makes from the input's
    tags) -> the result in the sink (its tags carry the context on) -> received (CONSUMER)
    -> handed to the submit, which ends."""
    worker_tracer = otel.tracer_provider.get_tracer("the-model")
    input_tags: list[dict[str, str]] = []

    def model(body: bytes) -> bytes:
        tags = dict(current_call().query)  # the input record's tags
        input_tags.append(tags)
        with worker_tracer.start_as_current_span("model", context=extract_context(tags)):
            return body.upper()

    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_queue_service("svc", processor=model, grace=0.0)
        # not `async with`: the first submit starts it (and its sink dispatcher), in its span
        inference = AsyncInference(emu.url, "svc", token=TOKEN, retry=FAST_RETRY)
        try:
            result = await inference.submit(b"ping", {"user": "u1"}, timeout=30)
            # another producer's result, with no trace context: received in no one's trace
            foreign = emu.queue("svc/sink").put(b"not ours", {"requestId": "someone-else"})
            second = await inference.submit(b"pong", timeout=30)
        finally:
            await inference.close()
    assert result.data == b"PING"
    assert second.data == b"PONG"

    submits = otel.spans("EAS submit svc")
    [put1, put2] = otel.spans("send svc")
    models = otel.spans("model")
    receives = otel.spans("receive svc/sink")
    assert len(submits) == 2
    assert len(models) == 2
    assert len(receives) == 3
    [other] = [r for r in receives if r.attributes[n.MESSAGING_MESSAGE_ID] == str(foreign.index)]
    assert other.parent is None  # not in the first submit's trace, where the dispatcher began
    assert other.links == ()
    receives.remove(other)
    submit1 = next(s for s in submits if s.attributes[n.REQUEST_ID] == result.request_id)
    # two submits, two traces: the sink's dispatcher serves both and belongs to neither
    assert len({s.context.trace_id for s in submits}) == 2

    trace_id = submit1.context.trace_id
    assert submit1.parent is None
    assert submit1.kind is SpanKind.CLIENT
    assert submit1.attributes[n.RESULT_INDEX] == result.index
    assert submit1.attributes[n.MESSAGING_DESTINATION_NAME] == "svc"
    assert put1.kind is SpanKind.PRODUCER
    assert put1.parent is not None
    assert put1.parent.span_id == submit1.context.span_id
    assert put1.context.trace_id == trace_id
    assert put1.attributes[n.MESSAGING_OPERATION_TYPE] == "send"
    assert put1.attributes[n.MESSAGING_SYSTEM] == "pai_eas_queue"
    assert put1.attributes[n.REQUEST_ID] == result.request_id

    # the put carried its own context in the record's tags, next to the caller's
    assert input_tags[0]["user"] == "u1"
    assert _ids(input_tags[0]["traceparent"]) == (trace_id, put1.context.span_id)
    model1 = models[0]
    assert model1.context.trace_id == trace_id
    assert model1.parent is not None
    assert model1.parent.span_id == put1.context.span_id
    # the worker copied it to the result
    assert result.tags["traceparent"] == input_tags[0]["traceparent"]
    assert set(TRACE_TAGS) >= {k for k in result.tags if k.startswith("trace")}

    receive1 = next(
        r for r in receives if r.attributes[n.MESSAGING_MESSAGE_ID] == str(result.index)
    )
    assert receive1.kind is SpanKind.CONSUMER
    assert receive1.context.trace_id == trace_id
    assert receive1.parent is not None
    assert receive1.parent.span_id == put1.context.span_id
    assert [link.context.span_id for link in receive1.links] == [put1.context.span_id]
    assert receive1.attributes[n.MESSAGING_OPERATION_TYPE] == "receive"
    assert receive1.attributes[n.MESSAGING_CONSUMER_GROUP_NAME] == inference.sink_gid
    # the submit spans them all (the result may come before the put's answer does)
    assert submit1.start_time <= put1.start_time
    assert receive1.end_time <= submit1.end_time
    assert put2.context.trace_id != trace_id

    metrics = otel.metrics()
    assert sum(p.value for p in metrics[n.MESSAGING_CLIENT_SENT_MESSAGES]) == 2
    assert sum(p.value for p in metrics[n.MESSAGING_CLIENT_CONSUMED_MESSAGES]) == 3
    blob = json.dumps([dict(s.attributes or {}) for s in otel.spans()])
    assert TOKEN not in blob


async def test_an_instrumented_submit_waits_as_long_as_its_own_timeout_says(otel: Otel) -> None:
    """The traced path hands the submit's own ``timeout=`` on (not the instance's default,
    nor none): the result is held back, so the submit ends by its 0.2 s timeout, in its
    span, as an error; the late result is still claimable."""
    gate = asyncio.Event()

    async def held(body: bytes) -> bytes:
        await gate.wait()
        return body

    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_queue_service("svc", processor=held, grace=0.0)
        async with AsyncInference(
            emu.url, "svc", token=TOKEN, retry=FAST_RETRY, timeout=3600
        ) as inference:
            with pytest.raises(ResultTimeoutError) as info:
                # a hang guard only: with the timeout lost the submit would wait an hour
                await asyncio.wait_for(inference.submit(b"late", timeout=0.2), 60)
            assert info.value.timeout == 0.2
            gate.set()
            assert (await info.value.result(timeout=30)).data == b"late"
    [submit] = otel.spans("EAS submit svc")
    assert submit.status.status_code is StatusCode.ERROR
    assert submit.attributes[n.ERROR_TYPE] == "ResultTimeoutError"


async def test_a_failed_commit_is_timed_with_its_error_then_the_retry_without(
    otel: Otel,
) -> None:
    """The commit request is refused (503 on each of its tries), then sent again and
    acknowledged: two commit durations, the first with the error's type; each no longer
    than the time that passed around the commits."""
    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_queue_service("svc", grace=0.0)
        queue = emu.queue("svc")
        queue.put(b"r")
        async with (
            QueueClient(
                emu.url,
                "svc",
                token=TOKEN,
                uid="u",
                gid="g",
                retry=FAST_RETRY,
                reconnect=ReconnectPolicy(backoff_base=0.0),
            ) as consumer,
            consumer.watch(window=1) as watcher,
        ):
            record = await watcher.next(timeout=30)  # a hang guard
            loop = asyncio.get_running_loop()
            queue.faults.add(Fault.error(503, "down"), times=FAST_RETRY.max_attempts)
            before = loop.time()
            watcher.commit(record)
            await watcher.flush()
            elapsed = loop.time() - before
    commits = points(
        otel.metrics(), n.MESSAGING_CLIENT_OPERATION_DURATION, messaging__operation__name="commit"
    )
    failed = [p for p in commits if n.ERROR_TYPE in p.attributes]
    ok = [p for p in commits if n.ERROR_TYPE not in p.attributes]
    assert [p.count for p in failed] == [1]
    assert failed[0].attributes[n.ERROR_TYPE] == "RetryableServiceError"
    assert failed[0].attributes[n.MESSAGING_DESTINATION_NAME] == "svc"
    assert [p.count for p in ok] == [1]
    assert 0 <= failed[0].sum <= elapsed
    assert 0 <= ok[0].sum <= elapsed
    assert len(queue) == 0


async def test_watcher_records_are_linked_to_their_producers(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_queue_service("svc", grace=0.0)
        queue = emu.queue("svc")
        untraced = queue.put(b"from elsewhere", {"k": "v"})  # no trace context in its tags
        async with (
            QueueClient(emu.url, "svc", token=TOKEN, retry=FAST_RETRY) as producer,
            QueueClient(
                emu.url,
                "svc",
                token=TOKEN,
                uid="u",
                gid="g",
                reconnect=ReconnectPolicy(backoff_base=0.0),
            ) as consumer,
        ):
            puts = [await producer.put(f"r{i}".encode()) for i in range(3)]
            queue.watch_faults.cut_after(4, times=1)
            with tracer.start_as_current_span("consumer loop") as loop_span:
                async with consumer.watch(window=8) as watcher:
                    got = [await watcher.next(timeout=5) for _ in range(4)]
                    in_hand = otel.metrics()[n.WATCHER_IN_HAND]
                    watcher.commit(got[:2])
                    # the connection is cut after 4 pushes: records 3 and 4 come again
                    again = [await watcher.next(timeout=5) for _ in range(2)]
                    watcher.commit(again)
                    await watcher.flush()
                    after = otel.metrics()
    assert [r.index for r in got] == [untraced.index] + [p.index for p in puts]
    assert sorted(r.index for r in again) == [got[2].index, got[3].index]

    sends = {s.attributes[n.MESSAGING_MESSAGE_ID]: s for s in otel.spans("send svc")}
    receives = otel.spans("receive svc")
    assert len(receives) == 6
    for record, span in zip(got + again, receives, strict=True):
        assert span.attributes[n.MESSAGING_MESSAGE_ID] == str(record.index)
        assert span.attributes[n.MESSAGING_CONSUMER_GROUP_NAME] == "g"
        producer_span = sends.get(str(record.index))
        if producer_span is None:  # no context in its tags: the consumer's own
            assert span.links == ()
            assert span.parent is not None
            assert span.parent.span_id == loop_span.get_span_context().span_id
            continue
        assert _ids(record.tags["traceparent"]) == (
            producer_span.context.trace_id,
            producer_span.context.span_id,
        )
        assert [link.context.span_id for link in span.links] == [producer_span.context.span_id]
        assert span.parent is not None
        assert span.parent.span_id == producer_span.context.span_id
        assert span.context.trace_id == producer_span.context.trace_id
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached

    # records in hand, read when metrics are collected: 4 received, none committed yet
    assert [p.value for p in in_hand] == [4]
    assert dict(in_hand[0].attributes) == {
        n.MESSAGING_SYSTEM: "pai_eas_queue",
        n.MESSAGING_DESTINATION_NAME: "svc",
    }
    assert [p.value for p in after[n.WATCHER_IN_HAND]] == [0]
    [reconnects] = after[n.WATCHER_RECONNECTS]
    assert reconnects.value == 1
    commits = points(
        after, n.MESSAGING_CLIENT_OPERATION_DURATION, messaging__operation__name="commit"
    )
    assert sum(p.count for p in commits) >= 1
    assert all(n.ERROR_TYPE not in p.attributes for p in commits)
    assert all(p.attributes[n.MESSAGING_OPERATION_TYPE] == "settle" for p in commits)
    puts_timed = points(
        after, n.MESSAGING_CLIENT_OPERATION_DURATION, messaging__operation__name="put"
    )
    assert sum(p.count for p in puts_timed) == 3
    assert sum(p.value for p in after[n.MESSAGING_CLIENT_CONSUMED_MESSAGES]) == 6
