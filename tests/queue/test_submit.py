"""Submit and await through the emulator's asynchronous-inference worker."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import aiohttp
import pytest

import aioeas.queue.submit as submit_module
from aioeas.emulator import Emulator
from aioeas.errors import QueueError, RequestTimeoutError, UsageError
from aioeas.queue import (
    AsyncInference,
    PutUncertainError,
    QueueClient,
    QueueRecord,
    ReconnectPolicy,
    ResultTimeoutError,
    WatchLostError,
)
from tests.queue.conftest import FAST_RETRY, TOKEN


def _inference(emu: Emulator, service: str, **kwargs: object) -> AsyncInference:
    # A put's answer may wait behind hundreds of others on a slow, busy machine (the
    # emulator shares the test's loop): a generous try timeout, so that no put is lost to
    # the clock (a put that times out is not retried: it may have been stored).
    kwargs.setdefault("http_timeout", 120.0)
    return AsyncInference(emu.url, service, token=TOKEN, retry=FAST_RETRY, **kwargs)  # type: ignore[arg-type]


async def _eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds, checking at every loop turn (client state: no
    event to wait on). The bound is a safety net so that a broken property fails the test
    instead of hanging it, far beyond what the loop turns it takes ever need."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0)

    await asyncio.wait_for(poll(), 60)


async def test_five_hundred_in_flight_each_gets_its_own_result(emu: Emulator) -> None:
    emu.add_queue_service("upper", processor=lambda body: body.upper(), concurrency=8)
    async with _inference(emu, "upper", window=64) as inference:
        inputs = [f"request-{i}".encode() for i in range(500)]
        results = await asyncio.gather(*(inference.submit(x, timeout=60) for x in inputs))
        assert [r.data for r in results] == [x.upper() for x in inputs]
        assert len({r.request_id for r in results}) == 500
        assert inference.in_flight == 0
        assert inference.unclaimed == 0
    assert len(emu.queue("upper")) == 0


async def test_a_result_that_comes_before_the_submit_registers_is_kept(emu: Emulator) -> None:
    service = emu.add_queue_service("echo", processor=lambda body: body)
    service.sink.put(b"another producer's")  # sink index 1: ours will be 2, its put the 1st
    inference = _inference(emu, "echo")
    await inference.start()
    assert await service.sink.wait_until(lambda: len(service.sink) == 0, timeout=30)
    real_put = inference.inputs.put

    async def put_then_wait_for_the_result(*args: object, **kwargs: object) -> object:
        answer = await real_put(*args, **kwargs)  # type: ignore[arg-type]
        await _eventually(lambda: inference.unclaimed > 0)  # the result is in first
        return answer

    inference.inputs.put = put_then_wait_for_the_result  # type: ignore[method-assign]
    result = await inference.submit(b"fast", timeout=10)
    assert result.data == b"fast"
    assert inference.unclaimed == 0
    assert inference._watcher is not None
    await inference._watcher.flush()
    assert len(service.sink) == 0  # that very record was committed
    await inference.close()


async def test_each_submission_has_its_own_timeout(emu: Emulator) -> None:
    gate = asyncio.Event()

    async def slow_unless_quick(body: bytes) -> bytes:
        if body != b"quick":
            await gate.wait()
        return body

    emu.add_queue_service("slow", processor=slow_unless_quick, concurrency=4)
    async with _inference(emu, "slow") as inference:
        slow = asyncio.ensure_future(inference.submit(b"slow", timeout=0.2))
        quick = await inference.submit(b"quick", timeout=30)
        assert quick.data == b"quick"
        with pytest.raises(ResultTimeoutError) as info:
            await slow
        assert info.value.request_id
        assert isinstance(info.value, TimeoutError)
        gate.set()
        late = await inference.sink.get(request_id=info.value.request_id, timeout=10)
        assert [r.data for r in late] == [b"slow"]


async def test_put_failures_reach_the_caller(emu: Emulator) -> None:
    from aioeas.emulator.faults import Fault

    emu.add_queue_service("flaky", processor=lambda body: body)
    async with _inference(emu, "flaky") as inference:
        emu.queue("flaky").faults.add(Fault.error(502), times=1)
        with pytest.raises(PutUncertainError):
            await inference.submit(b"x", timeout=5)
        assert (await inference.submit(b"y", timeout=5)).data == b"y"
        with pytest.raises(UsageError):
            await inference.submit(b"z", {"_reserved": "no"})
        with pytest.raises(UsageError):
            await inference.submit(b"z", timeout=0)


async def test_closed_inference_refuses_work(emu: Emulator) -> None:
    emu.add_queue_service("done", processor=lambda body: body)
    inference = _inference(emu, "done")
    await inference.close()
    with pytest.raises(UsageError):
        await inference.submit(b"x")


# -- late results: never lost, committed only when claimed ------------------------------


class _Held:
    """A processor that holds chosen requests until the test releases them, so that their
    submit's timeout is hit for certain (not by luck): the worker answers them only after
    the test has seen their ``ResultTimeoutError``."""

    def __init__(self) -> None:
        self.gates: dict[bytes, asyncio.Event] = {}

    def hold(self, body: bytes) -> None:
        self.gates[body] = asyncio.Event()

    def release(self, body: bytes) -> None:
        self.gates[body].set()

    async def __call__(self, body: bytes) -> bytes:
        gate = self.gates.get(body)
        if gate is not None:
            await gate.wait()
        return b"done:" + body


async def _late(inference: AsyncInference, held: _Held, body: bytes) -> ResultTimeoutError:
    """Submit a held request: its timeout is certain to pass (the worker holds it)."""
    held.hold(body)
    with pytest.raises(ResultTimeoutError) as info:
        await inference.submit(body, timeout=0.001)
    return info.value


async def _until_held(inference: AsyncInference, count: int) -> None:
    await _eventually(lambda: inference.unclaimed >= count)


async def test_four_producers_every_result_reaches_its_caller_and_the_sink_ends_empty(
    emu: Emulator,
) -> None:
    """4 producers x 200 submits on default sink groups, a tenth answered after their
    submit's timeout and claimed late: all 800 results reach their callers, none another's,
    and the sink ends empty."""
    held = _Held()
    service = emu.add_queue_service("late", processor=held, concurrency=16, grace=0.0)
    producers = [_inference(emu, "late", window=32) for _ in range(4)]
    for inference in producers:
        await inference.start()
    assert len({p.sink_gid for p in producers}) == 4

    async def one(inference: AsyncInference, body: bytes, late: bool) -> QueueRecord:
        if not late:
            return await inference.submit(body, timeout=120)  # far beyond any run
        error = await _late(inference, held, body)
        held.release(body)
        return await error.result(timeout=120)

    async def producer(n: int, inference: AsyncInference) -> list[tuple[bytes, QueueRecord]]:
        bodies = [f"p{n}-{i}".encode() for i in range(200)]
        records = await asyncio.gather(
            *(one(inference, b, i % 10 == 0) for i, b in enumerate(bodies))
        )
        return list(zip(bodies, records, strict=True))

    runs = await asyncio.gather(*(producer(n, p) for n, p in enumerate(producers)))
    pairs = [pair for run in runs for pair in run]
    assert len(pairs) == 800
    assert all(record.data == b"done:" + body for body, record in pairs)
    assert len({record.request_id for _, record in pairs}) == 800
    for inference in producers:
        assert (inference.in_flight, inference.unclaimed, inference.released) == (0, 0, 0)
    # every group commits its copy (its own when claimed, the others' at once): the sink
    # empties while all four still watch
    assert await service.sink.wait_until(lambda: len(service.sink) == 0, timeout=120)
    for inference in producers:
        await inference.close()
    assert len(service.sink) == 0
    assert len(service.input) == 0


async def test_a_late_result_is_committed_only_when_claimed(emu: Emulator) -> None:
    held = _Held()
    service = emu.add_queue_service("claim", processor=held, grace=0.0)
    async with _inference(emu, "claim") as inference:
        error = await _late(inference, held, b"slow")
        held.release(b"slow")
        await _until_held(inference, 1)
        assert inference._watcher is not None
        await inference._watcher.flush()
        assert len(service.sink) == 1
        assert service.sink.commits == 0  # held, not committed
        record = await error.result(timeout=30)
        assert record.data == b"done:slow"
        assert record.request_id == error.request_id
        assert inference.unclaimed == 0
        await inference._watcher.flush()
        assert len(service.sink) == 0
        with pytest.raises(ResultTimeoutError):  # claimed: nothing more comes for it
            await inference.result(error.request_id, timeout=0.001)


async def test_a_late_claim_that_times_out_can_be_tried_again(emu: Emulator) -> None:
    held = _Held()
    emu.add_queue_service("again", processor=held, grace=0.0)
    async with _inference(emu, "again") as inference:
        error = await _late(inference, held, b"later")
        with pytest.raises(ResultTimeoutError) as again:
            await error.result(timeout=0.001)  # still held by the worker
        assert (again.value.index, again.value.request_id) == (error.index, error.request_id)
        held.release(b"later")
        assert (await again.value.result(timeout=30)).data == b"done:later"


async def test_a_late_result_not_yet_come_is_awaited_by_result(emu: Emulator) -> None:
    held = _Held()
    emu.add_queue_service("await", processor=held, grace=0.0)
    async with _inference(emu, "await") as inference:
        error = await _late(inference, held, b"slower")
        claim = asyncio.ensure_future(inference.result(error.request_id, timeout=30))
        await _eventually(lambda: inference.in_flight > 0)  # the claim is registered
        held.release(b"slower")
        assert (await claim).data == b"done:slower"


async def test_unclaimed_results_stay_in_the_sink_at_close(emu: Emulator) -> None:
    held = _Held()
    service = emu.add_queue_service("leave", processor=held, grace=0.0)
    inference = _inference(emu, "leave")
    error = await _late(inference, held, b"left")
    held.release(b"left")
    await _until_held(inference, 1)
    await inference.close()
    assert len(service.sink) == 1
    with pytest.raises(UsageError):
        await error.result()
    async with QueueClient(emu.url, "leave/sink", token=TOKEN, retry=FAST_RETRY) as sink:
        found = await sink.get(request_id=error.request_id, timeout=0, auto_delete=False)
        assert [r.data for r in found] == [b"done:left"]
    # a new producer on the same sink is pushed it too, takes it for another's and lets
    # its own copy go: the copy the departed group was given stays
    async with _inference(emu, "leave") as later:
        assert (await later.submit(b"new", timeout=30)).data == b"done:new"
        assert await service.sink.wait_until(lambda: service.sink.commits >= 2, timeout=30)
    assert [r.data for r in service.sink.records] == [b"done:left"]


async def test_late_results_past_max_unclaimed_are_released_but_still_claimable(
    emu: Emulator,
) -> None:
    held = _Held()
    service = emu.add_queue_service("many", processor=held, concurrency=2, grace=0.0)
    async with _inference(emu, "many", window=4, max_unclaimed=1) as inference:
        first = await _late(inference, held, b"first")
        second = await _late(inference, held, b"second")
        held.release(b"first")
        await _until_held(inference, 1)
        held.release(b"second")
        await _eventually(lambda: inference.released > 0)
        assert inference.unclaimed == 1  # the second; the first was released
        assert inference._watcher is not None
        await inference._watcher.flush()
        assert len(service.sink) == 2  # released is not committed
        assert (await second.result(timeout=30)).data == b"done:second"
        assert (await first.result(timeout=30)).data == b"done:first"  # through get
        await inference._watcher.flush()
        assert len(service.sink) == 0


async def test_a_timeout_error_not_raised_by_an_inference_has_nothing_to_claim() -> None:
    error = ResultTimeoutError(3, "rid", 1.0)
    with pytest.raises(UsageError):
        await error.result()


async def test_bad_settings_are_refused_before_any_io(emu: Emulator) -> None:
    for bad in ({"window": 1}, {"window": 8, "max_unclaimed": 8}, {"max_unclaimed": -1}):
        with pytest.raises(UsageError):
            _inference(emu, "svc", **bad)
    inference = _inference(emu, "svc")
    with pytest.raises(UsageError):
        await inference.result("")
    await inference.close()


async def test_the_oldest_unclaimed_result_is_released_first_and_each_is_counted(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Over ``max_unclaimed``, results leave memory oldest first (the newest is the likeliest
    to be claimed soon), each counted in ``released`` and named in a warning."""
    held = _Held()
    emu.add_queue_service("order", processor=held, concurrency=3, grace=0.0)
    async with _inference(emu, "order", window=4, max_unclaimed=1) as inference:
        late = [await _late(inference, held, body) for body in (b"a", b"b", b"c")]
        with caplog.at_level(logging.WARNING, logger="aioeas.queue.submit"):
            for n, body in enumerate((b"a", b"b", b"c")):
                held.release(body)
                await _eventually(lambda n=n: inference.released == n)  # type: ignore[misc]
                await _until_held(inference, 1)
            await _eventually(lambda: inference.released == 2)
        assert inference.unclaimed == 1
        warned = [r.getMessage() for r in caplog.records if "not claimed" in r.getMessage()]
        assert [m.split(" (sink index")[0] for m in warned] == [
            f"late result of request {late[0].request_id!r}",
            f"late result of request {late[1].request_id!r}",
        ]
        assert warned[0].endswith(
            "not claimed and over max_unclaimed=1: released from memory, not committed; "
            "it stays in the sink for result() or get(request_id=...)"
        )
        assert (await late[2].result(timeout=30)).data == b"done:c"  # held: no get needed


async def test_result_refuses_bad_arguments_and_a_closed_inference_with_advice(
    emu: Emulator,
) -> None:
    inference = _inference(emu, "svc")
    with pytest.raises(UsageError, match=r"^request_id must be a non-empty str, got ''$"):
        await inference.result("")
    with pytest.raises(UsageError, match=r"^timeout must be a positive number"):
        await inference.result("rid", timeout=-1)
    await inference.close()
    with pytest.raises(UsageError) as caught:
        await inference.result("rid")
    assert str(caught.value) == (
        "this AsyncInference is closed; fetch the result with "
        "QueueClient.get(request_id='rid') on the sink"
    )


async def test_the_ids_of_timed_out_requests_are_bounded_oldest_forgotten_first(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Memory stays bounded however many submits time out: past ``MAX_LATE_IDS`` the
    oldest id is forgotten (its result can still be fetched with ``get``), with a warning.
    The bound is lowered to 2 so that three ids show it; no I/O is done."""
    monkeypatch.setattr(submit_module, "MAX_LATE_IDS", 2)
    inference = _inference(emu, "svc")
    with caplog.at_level(logging.WARNING, logger="aioeas.queue.submit"):
        for index, request_id in enumerate(("a", "b", "c"), start=1):
            inference._expect_late(request_id, index)
    assert list(inference._late.items()) == [("b", 2), ("c", 3)]
    assert [r.getMessage() for r in caplog.records] == [
        "over 2 timed-out requests wait for a result; forgot 'a'"
    ]
    await inference.close()


async def test_a_claim_that_times_out_says_which_request_and_how_long_and_can_retry(
    emu: Emulator,
) -> None:
    """No result ever comes for this id: the claim times out (certainly, whatever the
    machine), naming the request, index 0 (unknown here) and the wait it was given, and
    the id is remembered so that a result coming later is held for it."""
    emu.add_queue_service("none", processor=_Held(), concurrency=1, grace=0.0)
    async with _inference(emu, "none") as inference:
        with pytest.raises(ResultTimeoutError) as caught:
            await inference.result("nobody", timeout=0.01)
        error = caught.value
        assert (error.index, error.request_id, error.timeout) == (0, "nobody", 0.01)
        assert inference._late == {"nobody": 0}


async def test_a_released_result_is_probed_in_the_sink_by_its_id_without_deleting_it(
    emu: Emulator,
) -> None:
    """A late result released from memory is fetched by its own id, not by position: with
    ``a`` still first in the sink, claiming ``b`` must give ``b``. The probe reads without
    deleting (``auto_delete=False``: the claim commits it through the watcher, so a lost
    answer loses nothing) and does not wait (``timeout=0``: the claimer is registered, a
    result pushed meanwhile comes to it)."""
    held = _Held()
    service = emu.add_queue_service("probe", processor=held, concurrency=3, grace=0.0)
    async with _inference(emu, "probe", window=4, max_unclaimed=1) as inference:
        late = [await _late(inference, held, body) for body in (b"a", b"b", b"c")]
        for n, body in enumerate((b"a", b"b", b"c")):
            held.release(body)
            await _eventually(lambda n=n: inference.released == n)  # type: ignore[misc]
            await _until_held(inference, 1)
        await _eventually(lambda: inference.released == 2)  # a and b left memory
        probes: list[dict[str, object]] = []
        real_get = inference.sink.get

        async def spy(*args: object, **kwargs: object) -> object:
            assert args == ()
            probes.append(kwargs)
            return await real_get(**kwargs)  # type: ignore[arg-type]

        inference.sink.get = spy  # type: ignore[method-assign]
        assert (await late[1].result(timeout=30)).data == b"done:b"
        assert probes == [{"request_id": late[1].request_id, "timeout": 0, "auto_delete": False}]
        assert [r.data for r in service.sink.records] == [b"done:a", b"done:b", b"done:c"]
        assert inference._watcher is not None
        await inference._watcher.flush()  # the claim's commit, not the probe, removes it
        assert [r.data for r in service.sink.records] == [b"done:a", b"done:c"]
        assert inference._late == {}


async def test_claimed_results_leave_no_request_id_behind(emu: Emulator) -> None:
    """Only a claim that ended without its result remembers the id (to hold the result
    when it comes); a submit answered in time, or a late claim answered, leaves nothing,
    so that memory does not grow with the requests made."""
    held = _Held()
    emu.add_queue_service("forget", processor=held, grace=0.0)
    async with _inference(emu, "forget") as inference:
        assert (await inference.submit(b"quick", timeout=30)).data == b"done:quick"
        assert inference._late == {}
        error = await _late(inference, held, b"slow")
        assert inference._late == {error.request_id: error.index}
        claim = asyncio.ensure_future(inference.result(error.request_id, timeout=30))
        await _eventually(lambda: inference.in_flight > 0)  # the claim is registered
        assert inference._late == {}  # the claimer takes the id over
        with pytest.raises(UsageError) as twice:
            await inference.result(error.request_id, timeout=30)
        assert str(twice.value) == (
            f"the result of request {error.request_id!r} is being awaited already"
        )
        held.release(b"slow")
        assert (await claim).data == b"done:slow"
        assert inference._late == {}
        assert (inference.in_flight, inference.unclaimed) == (0, 0)


async def test_a_result_that_came_before_its_put_answered_can_be_claimed_by_result(
    emu: Emulator,
) -> None:
    """A result whose put has not answered yet is held (it may be that put's); claiming it
    by id through ``result()`` hands it over from there, commits it, and holds it no more.
    (Its submit then finds nothing left to claim and times out.)"""
    service = emu.add_queue_service("early", processor=lambda body: body)
    inference = _inference(emu, "early")
    await inference.start()
    real_put = inference.inputs.put
    claimed: list[QueueRecord] = []

    async def put_then_claim(*args: object, **kwargs: object) -> tuple[int, str]:
        index, request_id = await real_put(*args, **kwargs)  # type: ignore[arg-type]
        await _eventually(lambda: inference.unclaimed > 0)  # the result is in first
        claimed.append(await inference.result(request_id, timeout=30))
        assert (inference.unclaimed, inference.in_flight) == (0, 0)
        return index, request_id

    inference.inputs.put = put_then_claim  # type: ignore[method-assign]
    with pytest.raises(ResultTimeoutError):
        await inference.submit(b"early", timeout=0.001)
    assert [r.data for r in claimed] == [b"early"]
    assert inference._watcher is not None
    await inference._watcher.flush()
    assert len(service.sink) == 0  # committed by the claim
    await inference.close()


class _RecordingWatcher:
    """Stands in for the sink watcher: records what is committed (no I/O)."""

    closed = False

    def __init__(self) -> None:
        self.committed: list[QueueRecord] = []

    def commit(self, record: QueueRecord) -> None:
        self.committed.append(record)


async def test_a_sink_record_without_a_request_id_is_committed_with_a_warning(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """No claimer can ever match it: it is committed (not left to fill the window) and
    named in a warning."""
    inference = _inference(emu, "svc")
    watcher = _RecordingWatcher()
    inference._watcher = watcher  # type: ignore[assignment]
    stray = QueueRecord(7, {"other": "tag"}, b"?")
    with caplog.at_level(logging.WARNING, logger="aioeas.queue.submit"):
        inference._route(stray)
    assert [r.getMessage() for r in caplog.records] == [
        "sink record 7 has no requestId tag; committed"
    ]
    assert watcher.committed == [stray]
    assert inference.unclaimed == 0
    inference._watcher = None
    await inference.close()


async def test_an_early_result_is_held_while_an_earlier_put_has_not_answered(
    emu: Emulator,
) -> None:
    """A's result comes while A's put has not answered (its id unknown yet). B's put
    answering must not let it go: A's put, still out, may have made it. Once A's put
    answers, A claims it."""
    emu.add_queue_service("order", processor=lambda body: body)
    inference = _inference(emu, "order")
    await inference.start()
    real_put = inference.inputs.put
    gate = asyncio.Event()

    async def put(data: bytes, tags: object = None, **kwargs: object) -> tuple[int, str]:
        answer = await real_put(data, tags, **kwargs)  # type: ignore[arg-type]
        if data == b"A":
            await _eventually(lambda: inference.unclaimed > 0)  # its result came first
            await gate.wait()
        return answer

    inference.inputs.put = put  # type: ignore[method-assign]
    first = asyncio.ensure_future(inference.submit(b"A", timeout=30))
    await _eventually(lambda: inference.unclaimed > 0)
    assert (await inference.submit(b"B", timeout=30)).data == b"B"
    assert inference.unclaimed == 1  # A's, still held
    gate.set()
    assert (await first).data == b"A"
    assert inference.unclaimed == 0
    await inference.close()


async def test_nothing_is_committed_through_a_closed_sink_watcher(emu: Emulator) -> None:
    inference = _inference(emu, "svc")
    watcher = _RecordingWatcher()
    watcher.closed = True
    inference._watcher = watcher  # type: ignore[assignment]
    inference._route(QueueRecord(3, {}, b"?"))
    assert watcher.committed == []
    inference._watcher = None
    await inference.close()


async def test_a_sink_watcher_lost_for_good_fails_every_claim_now_and_later(
    emu: Emulator,
) -> None:
    """The sink watcher may not reconnect (``max_attempts=0``) and its connection is cut:
    the submit waiting for its result fails with the loss at once (the result could never
    reach it), and so does every later claim."""
    held = _Held()
    service = emu.add_queue_service("lost", processor=held, grace=0.0)
    inference = _inference(emu, "lost", reconnect=ReconnectPolicy(max_attempts=0))
    held.hold(b"never")
    waiting = asyncio.ensure_future(inference.submit(b"never", timeout=60))  # a hang guard
    await _eventually(lambda: inference.in_flight == 1)
    assert service.sink.cut_watchers(f"{inference.sink_gid}.{inference.sink.uid}") == 1
    with pytest.raises(WatchLostError):
        await waiting
    with pytest.raises(WatchLostError):
        await inference.result("another", timeout=0.001)  # not a timeout: the loss
    assert inference.in_flight == 0
    held.release(b"never")
    await inference.close()


async def test_submit_without_a_timeout_uses_the_instances(emu: Emulator) -> None:
    """``submit(data)`` (no ``timeout=``) waits the instance's ``timeout``: answered when
    the result comes; past it, ``ResultTimeoutError`` (not a usage error about ``...``)."""
    held = _Held()
    emu.add_queue_service("default-wait", processor=held)
    async with _inference(emu, "default-wait", timeout=0.001) as inference:
        held.hold(b"slow")
        with pytest.raises(ResultTimeoutError):
            await inference.submit(b"slow")
        held.release(b"slow")
    async with _inference(emu, "default-wait", timeout=60) as inference:
        assert (await inference.submit(b"quick")).data == b"done:quick"


async def test_a_stray_result_is_let_go_once_no_put_out_when_it_came_is_left(
    emu: Emulator,
) -> None:
    """A sink record nobody here can claim (another producer's) comes while A's put is
    out: it is held, since A's put may have made it. B's put, started after it came,
    answers: still held (A is out). A's put answers: no put that was out when it came is
    left, so it is let go (committed) although nothing claims it; A and B get their own."""
    service = emu.add_queue_service("stray", processor=lambda body: body)
    inference = _inference(emu, "stray")
    await inference.start()
    real_put = inference.inputs.put
    gate = asyncio.Event()

    async def put(data: bytes, tags: object = None, **kwargs: object) -> tuple[int, str]:
        if data == b"A":
            await gate.wait()
        return await real_put(data, tags, **kwargs)  # type: ignore[arg-type]

    inference.inputs.put = put  # type: ignore[method-assign]
    first = asyncio.ensure_future(inference.submit(b"A", timeout=30))
    await _eventually(lambda: len(inference._puts) == 1)  # A's put is out
    service.sink.put(b"another producer's", {"requestId": "not-ours"})
    await _eventually(lambda: inference.unclaimed == 1)  # held: A's put may have made it
    assert (await inference.submit(b"B", timeout=30)).data == b"B"
    assert inference.unclaimed == 1  # A's put is still out
    gate.set()
    assert (await first).data == b"A"
    assert inference.unclaimed == 0  # let go: no put that was out when it came is left
    assert inference._watcher is not None
    await inference._watcher.flush()
    assert await service.sink.wait_until(lambda: len(service.sink) == 0, timeout=30)
    await inference.close()


async def test_a_stray_result_is_let_go_when_the_put_out_when_it_came_fails(
    emu: Emulator,
) -> None:
    """As above, but A's put fails instead of answering: the submit fails with it, nothing
    waits for a result of A's any more, so the stray record is let go (committed) then,
    not held for ever."""
    service = emu.add_queue_service("stray-fail", processor=lambda body: body)
    inference = _inference(emu, "stray-fail")
    await inference.start()
    gate = asyncio.Event()

    async def put(data: bytes, tags: object = None, **kwargs: object) -> tuple[int, str]:
        await gate.wait()
        raise QueueError("the put was refused (a test's)")

    inference.inputs.put = put  # type: ignore[method-assign]
    first = asyncio.ensure_future(inference.submit(b"A", timeout=30))
    await _eventually(lambda: len(inference._puts) == 1)  # A's put is out
    service.sink.put(b"another producer's", {"requestId": "not-ours"})
    await _eventually(lambda: inference.unclaimed == 1)  # held: A's put may have made it
    gate.set()
    with pytest.raises(QueueError, match="refused"):
        await first
    assert inference.unclaimed == 0  # let go: the only put out when it came failed
    assert inference._watcher is not None
    await inference._watcher.flush()
    assert await service.sink.wait_until(lambda: len(service.sink) == 0, timeout=30)
    await inference.close()


async def test_a_put_answered_without_a_request_id_fails_that_submit_saying_why(
    emu: Emulator,
) -> None:
    """A queue that answers a put with no request id (not EAS's behaviour, a proxy's or a
    broken gateway's) leaves nothing to match the result by: that submit fails at once,
    naming the index, instead of waiting out its timeout."""
    emu.add_queue_service("no-id", processor=lambda body: body)
    async with _inference(emu, "no-id") as inference:
        real_put = inference.inputs.put

        async def put(data: bytes, tags: object = None, **kwargs: object) -> tuple[int, str]:
            index, _ = await real_put(data, tags, **kwargs)  # type: ignore[arg-type]
            return index, ""

        inference.inputs.put = put  # type: ignore[method-assign]
        with pytest.raises(QueueError) as info:
            await inference.submit(b"x", timeout=60)
        assert str(info.value) == (
            "the queue answered put (index 1) without a request id: its result cannot be matched"
        )
        assert inference.in_flight == 0


async def test_a_sink_lookup_that_times_out_is_not_reported_as_the_results_wait(
    emu: Emulator,
) -> None:
    """``result(request_id)`` for an id not held here first looks in the sink; that GET
    timing out is a ``RequestTimeoutError`` (the sink did not answer), not a
    ``ResultTimeoutError`` of a wait that never started (it said "within 0.0 s")."""
    emu.add_queue_service("probe", processor=lambda body: body)
    async with _inference(emu, "probe") as inference:

        async def slow_get(**kwargs: object) -> list[QueueRecord]:
            raise RequestTimeoutError("no answer within 5 s")

        inference.sink.get = slow_get  # type: ignore[method-assign]
        with pytest.raises(RequestTimeoutError) as info:
            await inference.result("unknown-id", timeout=None)
        assert not isinstance(info.value, ResultTimeoutError)
        assert inference.in_flight == 0


async def test_the_sink_watcher_holds_the_window_asked_for(emu: Emulator) -> None:
    """``window`` bounds the sink watcher (held late results count in it): the watcher is
    opened with it, not with the queue client's default of 100."""
    emu.add_queue_service("win", processor=lambda body: body)
    async with _inference(emu, "win", window=6) as inference:
        await inference.start()
        assert inference._watcher is not None
        assert inference._watcher.window == 6
        assert (await inference.submit(b"x", timeout=60)).data == b"x"


async def test_a_closed_inference_cannot_start_again(emu: Emulator) -> None:
    emu.add_queue_service("closed", processor=lambda body: body)
    inference = _inference(emu, "closed")
    await inference.close()
    with pytest.raises(UsageError) as info:
        await inference.start()
    assert str(info.value) == "this AsyncInference is closed; make a new one"
    with pytest.raises(UsageError) as info:
        await inference.submit(b"x", timeout=1)
    assert str(info.value) == "this AsyncInference is closed; make a new one"


async def test_close_fails_a_waiting_submit_naming_its_request_and_where_the_result_goes(
    emu: Emulator,
) -> None:
    """A submit still waiting when its ``AsyncInference`` closes fails at once with a
    ``QueueError`` that names the request and says where its result will be."""
    held = _Held()
    emu.add_queue_service("closing", processor=held)
    inference = _inference(emu, "closing")
    held.hold(b"slow")
    waiting = asyncio.ensure_future(inference.submit(b"slow", timeout=60))  # a hang guard
    await _eventually(lambda: inference.in_flight == 1)
    await inference.close()
    with pytest.raises(QueueError) as info:
        await waiting
    message = str(info.value)
    match = re.fullmatch(
        r"the AsyncInference was closed before the result of request '([^']+)' came; "
        r"it stays in the sink: get\(request_id='([^']+)'\)",
        message,
    )
    assert match is not None, message
    assert match[1] == match[2]
    held.release(b"slow")


# -- close with sink records buffered and not yet routed --------------------------------


def _close_once_buffered(
    inference: AsyncInference, *, then_fail: bool = False
) -> list[asyncio.Future[None]]:
    """Start ``close()`` the moment the sink watcher buffers its next record, before the
    sink task can take it: the close task is scheduled before the buffer wakes the sink
    task, so the record is still buffered when ``close()`` stops that task (asyncio runs
    ready tasks in order: no luck involved). ``then_fail``: the watcher's reader then
    breaks, so the watcher has an ``error`` with that record still buffered. Returns a list
    that gets the close task."""
    watcher = inference._watcher
    assert watcher is not None
    buffer = watcher._buffer
    real_put = buffer.put
    closing: list[asyncio.Future[None]] = []

    async def put(record: QueueRecord) -> None:
        if closing:
            await real_put(record)
            return
        closing.append(asyncio.ensure_future(inference.close()))
        await real_put(record)
        if then_fail:
            raise QueueError("the reader broke")

    buffer.put = put  # type: ignore[method-assign]
    return closing


async def test_a_result_buffered_when_close_comes_still_reaches_its_submit(
    emu: Emulator,
) -> None:
    """``close()`` routes what the sink watcher buffered before it stops: a submit whose
    result is there gets it (and it is committed) instead of failing for the close."""
    held = _Held()
    service = emu.add_queue_service("buffered", processor=held, grace=0.0)
    inference = _inference(emu, "buffered")
    await inference.start()
    closing = _close_once_buffered(inference)
    held.hold(b"x")
    waiting = asyncio.ensure_future(inference.submit(b"x", timeout=60))  # a hang guard
    await _eventually(lambda: inference.in_flight == 1)
    held.release(b"x")
    await _eventually(lambda: bool(closing))
    await closing[0]
    assert (await waiting).data == b"done:x"
    assert service.sink.commits == 1
    assert len(service.sink) == 0


async def test_another_producers_result_buffered_when_close_comes_is_committed(
    emu: Emulator,
) -> None:
    """A result that is not this producer's, buffered when ``close()`` comes, is routed
    like any other and let go: committed, it does not stay in the sink for this group."""
    service = emu.add_queue_service("others", processor=lambda body: body, grace=0.0)
    inference = _inference(emu, "others")
    await inference.start()
    closing = _close_once_buffered(inference)
    service.sink.put(b"another producer's", {"requestId": "not-ours"})
    await _eventually(lambda: bool(closing))
    await closing[0]
    assert inference.sink.closed
    assert service.sink.commits == 1
    assert len(service.sink) == 0


async def test_a_broken_sink_watcher_at_close_hands_out_nothing_and_still_closes_all(
    emu: Emulator,
) -> None:
    """The sink watcher broke with a result still buffered: its commit could not be sent,
    so ``close()`` does not hand it out; the submit fails as for any close (its result
    stays in the sink) and both clients are closed all the same."""
    held = _Held()
    service = emu.add_queue_service("broken", processor=held, grace=0.0)
    inference = _inference(emu, "broken")
    await inference.start()
    closing = _close_once_buffered(inference, then_fail=True)
    held.hold(b"x")
    waiting = asyncio.ensure_future(inference.submit(b"x", timeout=60))  # a hang guard
    await _eventually(lambda: inference.in_flight == 1)
    held.release(b"x")
    await _eventually(lambda: bool(closing))
    await closing[0]
    assert inference._watcher is not None
    assert isinstance(inference._watcher.error, QueueError)
    assert inference.in_flight == 0
    assert inference.inputs.closed
    assert inference.sink.closed
    with pytest.raises(QueueError, match="closed before the result of request"):
        await waiting
    assert service.sink.commits == 0
    assert len(service.sink) == 1


async def test_close_leaves_no_sink_task_behind_even_after_the_sink_client_closed_first(
    emu: Emulator,
) -> None:
    """``close()`` waits for the sink task it stops. The sink client closed first (on a
    lent session, so that closing it awaits nothing more) leaves nothing else in
    ``close()`` to wait on: the task must still be gone when ``close()`` returns."""
    emu.add_queue_service("lent", processor=lambda body: body)
    async with aiohttp.ClientSession() as session:
        inference = _inference(emu, "lent", session=session)
        await inference.start()
        await inference.sink.close()
        await inference.close()
        assert [t for t in asyncio.all_tasks() if t.get_name() == "aioeas-sink"] == []
