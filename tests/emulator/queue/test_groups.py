"""Groups that come and go (sans-IO): a departed group stops holding records back, except
the ones it was given and did not commit, which stay for it and for ``get``."""

from __future__ import annotations

from aioeas.emulator.queue.consumers import Consumer, Consumers
from aioeas.emulator.queue.store import Stream


def _put(stream: Stream, consumers: Consumers, n: int) -> list[int]:
    indexes = []
    for i in range(n):
        record = stream.put(f"r{i}".encode())
        consumers.added(record)
        indexes.append(record.index)
    return indexes


def _join(consumers: Consumers, gid: str, uid: str, window: int) -> Consumer:
    consumer = consumers.join(gid, uid, window=window)
    consumers.pump()  # as the service does after a join
    return consumer


def _leave(consumers: Consumers, gid: str, uid: str) -> None:
    consumer = consumers.find(gid, uid)
    assert consumer is not None
    consumers.leave(consumer, hold=False)


def test_a_departed_group_no_longer_holds_later_records() -> None:
    stream = Stream("sink")
    consumers = Consumers(stream)
    _join(consumers, "a", "ua", 10)
    b = _join(consumers, "b", "ub", 10)
    _leave(consumers, "a", "ua")  # a leaves having been given nothing
    assert "a" not in consumers.groups
    later = _put(stream, consumers, 3)
    assert sorted(b.pending) == later
    consumers.commit("b", later, "ub")
    assert len(stream) == 0  # b's commits are enough: a is forgotten


def test_records_that_waited_only_for_the_departed_group_are_deleted() -> None:
    stream = Stream("sink")
    consumers = Consumers(stream)
    _join(consumers, "a", "ua", 1)
    b = _join(consumers, "b", "ub", 10)
    first, second, third = _put(stream, consumers, 3)  # a is given one at a time
    consumers.commit("a", [first], "ua")  # a is given `second`, never `third`
    consumers.commit("b", [first, second, third], "ub")
    assert [r.index for r in stream] == [second, third]  # waiting for a
    assert not b.pending
    _leave(consumers, "a", "ua")
    assert [r.index for r in stream] == [second]  # held: a was given it


def test_what_a_departed_group_was_given_and_did_not_commit_stays() -> None:
    stream = Stream("sink")
    consumers = Consumers(stream)
    _join(consumers, "a", "ua", 10)
    _join(consumers, "b", "ub", 10)
    kept, done = _put(stream, consumers, 2)
    consumers.commit("a", [done], "ua")
    _leave(consumers, "a", "ua")  # a was given `kept` and leaves it uncommitted
    consumers.commit("b", [kept, done], "ub")
    assert [r.index for r in stream] == [kept]  # b's commit does not delete it
    # the same group watching again is given it once more; its commit deletes it
    again = _join(consumers, "a", "ua2", 10)
    assert list(again.pending) == [kept]
    consumers.commit("a", [kept], "ua2")
    assert len(stream) == 0


def test_one_group_leaving_and_coming_back_loses_nothing() -> None:
    stream = Stream("q")
    consumers = Consumers(stream)
    _join(consumers, "eas", "u1", 2)
    indexes = _put(stream, consumers, 5)
    _leave(consumers, "eas", "u1")  # two given, none committed, three never given
    assert len(stream) == 5
    back = _join(consumers, "eas", "u2", 10)
    assert sorted(back.pending) == indexes


def test_a_commit_that_comes_after_its_group_left_counts_for_that_group() -> None:
    stream = Stream("q")
    consumers = Consumers(stream)
    _join(consumers, "a", "ua", 10)
    _join(consumers, "b", "ub", 10)
    (index,) = _put(stream, consumers, 1)
    _leave(consumers, "a", "ua")  # the connection dropped before its commit went out
    consumers.commit("a", [index], "ua")
    assert consumers.commits == 1
    assert len(stream) == 1  # b has not committed it yet
    consumers.commit("b", [index], "ub")
    assert len(stream) == 0
