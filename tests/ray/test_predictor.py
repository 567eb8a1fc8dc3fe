"""``aioeas.ray.Predictor`` in process, without a cluster: what it does with one batch.

Ray Data calls ``predictor(batch)`` (an async generator) on an event loop of the actor's;
these tests call it the same way on the test's loop, against the emulator, so that each
property costs milliseconds: arguments checked before any I/O, the three batch formats,
row order, tensor services per row and stacked, the limit of requests in flight, errors,
and the client closed when the predictor goes. tests/ray/test_cluster.py runs it on Ray.
"""

from __future__ import annotations

import asyncio
import gc
import json
import ssl
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import aioeas.ray
from aioeas import AttemptEnd, AttemptStart, Hooks, ServiceError, UsageError
from aioeas.emulator import Emulator, Reject
from aioeas.ray import Predictor, RowError
from tests.ray.support import RAY_WARNINGS

pytestmark = RAY_WARNINGS
URL = "http://127.0.0.1:9"  # never reached: these fail before any I/O


async def run(predictor: Predictor, batch: Any) -> Any:
    outs = [out async for out in predictor(batch)]
    assert len(outs) == 1
    return outs[0]


def _double(body: bytes) -> str:
    value = json.loads(body)
    records = value if isinstance(value, list) else [value]
    for r in records:
        if r["x"] == 13:
            raise Reject("x=13 is refused", 400)
    answers = [{"y": r["x"] * 2} for r in records]
    return json.dumps(answers if isinstance(value, list) else answers[0])


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"kind": "onnx"}, "kind is one of"),
        ({"on_error": "ignore"}, "on_error is"),
        ({"concurrency": 0}, "concurrency must be an int >= 1"),
        ({"concurrency": True}, "concurrency must be an int >= 1"),
        ({"rows_per_request": 0}, "rows_per_request must be"),
        ({"inputs": {"x": "a"}}, "inputs, outputs and signature are for tensor services"),
        ({"kind": "tf"}, "needs inputs="),
        ({"kind": "tf", "inputs": {"x": "a"}, "columns": ["a"]}, "columns and record"),
        ({"record": 3}, "record is a function"),
        ({"json_column": "r", "columns": ["a"]}, "json_column holds the records"),
        ({"unread_column": "u"}, "unread_column goes with json_column"),
        ({"json_column": ""}, "json_column must be a non-empty str"),
        ({"kind": "tf", "inputs": {"x": "a"}, "json_column": "r"}, "are for string services"),
        ({"result_column": "e", "error_column": "e"}, "are both 'e'"),
        ({"error_column": ""}, "error_column must be a non-empty str"),
        ({"session": object()}, "session cannot be passed to a Ray actor"),
        ({"ssl": "ca.pem"}, "ssl is an ssl.SSLContext or a function"),
        ({"bogus": 1}, "not a PredictClient option"),
        ({"compression": "brotli"}, "unknown or unavailable compression"),
        ({"timeout": -1}, "Timeout.total must be a positive"),
    ],
)
def test_bad_arguments_are_usage_errors_before_any_io(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        Predictor(URL, "svc", **kwargs)


def test_predict_checks_in_the_driver_before_ray_runs_anything() -> None:
    class NotADataset:
        def map_batches(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("map_batches was called with bad arguments")

    for kwargs, says in [
        ({"actors": 0}, "actors must be an int >= 1"),
        ({"batch_format": "polars"}, "batch_format is"),
        ({"ssl": ssl.create_default_context()}, "pass a function that makes it"),
        ({"concurrency": -1}, "concurrency must be"),
    ]:
        with pytest.raises(UsageError, match=says):
            aioeas.ray.predict(NotADataset(), URL, "svc", **kwargs)


def test_importing_aioeas_or_aioeas_ray_imports_no_ray() -> None:
    code = (
        "import sys, aioeas, aioeas.ray; aioeas.PredictClient; aioeas.ray.Predictor; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("rows_per_request", [None, 1, 4])
async def test_every_format_comes_back_in_its_format_rows_in_order(
    eas_emulator: Emulator, rows_per_request: int | None
) -> None:
    """Row 0's request is held until all others arrived: answers come out of order, rows
    do not."""
    n = 12
    seen = 0
    everyone = asyncio.Event()

    async def held(body: bytes) -> str:
        nonlocal seen
        seen += len(json.loads(body)) if body.startswith(b"[") else 1
        if seen >= n:
            everyone.set()
        if b'"x": 0,' in body or b'"x": 0}' in body:
            await everyone.wait()
        return _double(body)

    eas_emulator.add_service("double", held)
    frame = pd.DataFrame(
        {"x": range(n), "when": pd.date_range("2024-01-01", periods=n), "k": range(100, 100 + n)}
    )
    batches = {
        "pandas": frame,
        "pyarrow": pa.Table.from_pandas(frame, preserve_index=False),
        "numpy": {c: frame[c].to_numpy() for c in frame.columns},
    }
    for kind, batch in batches.items():
        seen = 0
        everyone.clear()
        predictor = Predictor(
            eas_emulator.url, "double", rows_per_request=rows_per_request, concurrency=n
        )
        try:
            out = await run(predictor, batch)
        finally:
            await predictor.aclose()
        if kind == "pandas":
            assert isinstance(out, pd.DataFrame)
            results, errors, keys = list(out["result"]), list(out["error"]), list(out["k"])
        elif kind == "pyarrow":
            assert isinstance(out, pa.Table)
            assert out.schema.field("error").type == pa.string()
            results = out.column("result").to_pylist()
            errors = out.column("error").to_pylist()
            keys = out.column("k").to_pylist()
        else:
            assert isinstance(out, dict)
            results, errors, keys = list(out["result"]), list(out["error"]), list(out["k"])
        assert keys == list(range(100, 100 + n))
        assert [json.loads(r) for r in results] == [{"y": 2 * x} for x in range(n)]
        assert errors == [None] * n


async def test_rows_are_sent_as_json_records_with_the_one_conversion(
    eas_emulator: Emulator,
) -> None:
    bodies: list[bytes] = []

    def keep(body: bytes) -> str:
        bodies.append(body)
        return "[1, 2, 3]"

    eas_emulator.add_service("keep", keep)
    table = pa.table(
        {
            "a": [1.5, float("nan"), None],
            "t": pa.array([np.datetime64("2024-03-01T10:00:00")] * 3, pa.timestamp("s")),
            "s": ["x", None, "z"],
        }
    )
    predictor = Predictor(eas_emulator.url, "keep", rows_per_request=3, columns=["a", "t", "s"])
    try:
        out = await run(predictor, table)
    finally:
        await predictor.aclose()
    assert json.loads(bodies[0]) == [
        {"a": 1.5, "t": "2024-03-01T10:00:00", "s": "x"},
        {"a": None, "t": "2024-03-01T10:00:00", "s": None},
        {"a": None, "t": "2024-03-01T10:00:00", "s": "z"},
    ]
    assert out.column("result").to_pylist() == ["1", "2", "3"]


async def test_requests_in_flight_never_pass_concurrency_across_batches(
    eas_emulator: Emulator,
) -> None:
    """Ray runs several batches of an actor at once; the limit is the actor's. The service
    holds requests until three are in: the limit is reached, never passed (the client's
    attempts are counted as they start, before any I/O)."""
    limit = 3
    arrived = 0
    enough = asyncio.Event()

    async def hold(body: bytes) -> bytes:
        nonlocal arrived
        arrived += 1
        if arrived >= limit:
            enough.set()
        await enough.wait()
        return b"1"

    eas_emulator.add_service("hold", hold)
    running = peak = 0

    def start(_: AttemptStart) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)

    def end(_: AttemptEnd) -> None:
        nonlocal running
        running -= 1

    predictor = Predictor(
        eas_emulator.url, "hold", concurrency=limit, hooks=Hooks(on_start=start, on_end=end)
    )
    batches = [{"x": np.arange(10)} for _ in range(4)]
    try:
        outs = await asyncio.wait_for(
            asyncio.gather(*(run(predictor, b) for b in batches)), timeout=60
        )
    finally:
        await predictor.aclose()
    assert peak == limit
    assert all(list(o["result"]) == ["1"] * 10 for o in outs)


@pytest.mark.parametrize("rows_per_request", [None, 3])
@pytest.mark.parametrize("fmt", ["numpy", "pandas", "pyarrow"])
async def test_tensor_columns_go_to_tf_torch_and_blade_services(
    eas_emulator: Emulator, rows_per_request: int | None, fmt: str
) -> None:
    eas_emulator.add_tf_service("tf2", lambda i: {"y": i["x"] * 2, "n": i["x"].sum(axis=1)})
    eas_emulator.add_torch_service("pt2", lambda xs: [xs[0] * 2])
    eas_emulator.add_blade_service("bl2", lambda i: {"y": i["x"] * 2})
    images = np.arange(7 * 4, dtype=np.float32).reshape(7, 4)
    batch: Any = {"img": images, "k": np.arange(7)}
    if fmt == "pandas":
        batch = pd.DataFrame({"img": list(images), "k": np.arange(7)})
    elif fmt == "pyarrow":
        from ray.data.extensions import ArrowTensorArray

        batch = pa.table({"img": ArrowTensorArray.from_numpy(images), "k": np.arange(7)})
    cases = [
        ("tf", "tf2", {"x": "img"}, "out_y"),
        ("torch", "pt2", {0: "img"}, "out_0"),
        ("blade", "bl2", {"x": "img"}, "out_y"),
    ]
    for kind, service, inputs, column in cases:
        predictor = Predictor(
            eas_emulator.url, service, kind=kind, inputs=inputs,
            rows_per_request=rows_per_request, output_prefix="out_",
        )  # fmt: skip
        try:
            out = await run(predictor, batch)
        finally:
            await predictor.aclose()
        if fmt == "pyarrow":
            got = np.asarray(out.column(column).combine_chunks().to_numpy_ndarray())
            errors = out.column("error").to_pylist()
        else:
            got = np.stack(list(out[column]))
            errors = list(out["error"])
        np.testing.assert_array_equal(got, images * 2)
        assert errors == [None] * 7
        if kind == "tf":
            sums = out.column("out_n").to_pylist() if fmt == "pyarrow" else list(out["out_n"])
            assert sums == list(images.sum(axis=1))


async def test_ragged_rows_go_one_by_one_and_fail_only_when_stacked(
    eas_emulator: Emulator,
) -> None:
    eas_emulator.add_tf_service("tf2", lambda i: {"y": i["x"] * 2})
    ragged = np.empty(4, dtype=object)
    ragged[:] = [np.ones(2, np.float32), np.ones(3, np.float32), np.ones(3, np.float32), None]
    ragged[3] = np.ones(3, np.float32)
    for rows_per_request, failed in [(None, []), (2, [0, 1])]:
        predictor = Predictor(
            eas_emulator.url, "tf2", kind="tf", inputs={"x": "r"}, rows_per_request=rows_per_request
        )
        try:
            out = await run(predictor, {"r": ragged})
        finally:
            await predictor.aclose()
        assert [i for i, e in enumerate(out["error"]) if e is not None] == failed
        assert [len(y) for i, y in enumerate(out["y"]) if i not in failed] == [
            len(r) for i, r in enumerate(ragged) if i not in failed
        ]


async def test_a_refused_list_is_split_until_only_the_bad_row_fails(
    eas_emulator: Emulator,
) -> None:
    service = eas_emulator.add_service("double", _double)
    predictor = Predictor(eas_emulator.url, "double", rows_per_request=8)
    try:
        out = await run(predictor, {"x": np.arange(16)})
    finally:
        await predictor.aclose()
    errors = list(out["error"])
    assert [i for i, e in enumerate(errors) if e] == [13]
    assert "HTTP 400" in errors[13]
    assert "x=13 is refused" in errors[13]
    # 2 lists of 8; the second refused, then halves: 4 + 4, 2 + 2, 1 + 1
    assert service.requests == 2 + 2 + 2 + 2


@pytest.mark.parametrize("kind", ["pyarrow", "pandas", "numpy"])
async def test_records_made_by_a_reader_are_sent_as_they_are(
    eas_emulator: Emulator, kind: str
) -> None:
    """``json_column``: JSON texts sent untouched (a list of them joined, split in halves
    when refused); ``unread_column``: a row the reader could not read fails with its reason,
    unsent. Both columns are left out of the output."""
    bodies: list[bytes] = []

    def keep(body: bytes) -> str:
        bodies.append(body)
        return _double(body)

    eas_emulator.add_service("double", keep)
    texts = ['{"x": 1}', None, '{"x": 13}', '{"x": 3}', '{"x": 4}']
    unread = [None, "line 2 is not JSON", None, None, None]
    table = pa.table({"row": range(5), "rec": texts, "why": unread})
    batches = {
        "pyarrow": table,
        "pandas": table.to_pandas(),
        "numpy": {
            c: np.array(table.column(c).to_pylist(), dtype=object) for c in table.column_names
        },
    }
    predictor = Predictor(
        eas_emulator.url, "double", json_column="rec", unread_column="why", rows_per_request=4
    )
    try:
        out = await run(predictor, batches[kind])
    finally:
        await predictor.aclose()
    if kind == "pyarrow":
        columns, errors = out.column_names, out.column("error").to_pylist()
        results = out.column("result").to_pylist()
    else:
        columns = list(out.keys()) if kind == "numpy" else list(out.columns)
        errors, results = list(out["error"]), list(out["result"])
        errors = [e if isinstance(e, str) else None for e in errors]  # pandas: NaN
    assert columns == ["row", "result", "error"]
    assert bodies[0] == b'[{"x": 1}, {"x": 13}, {"x": 3}, {"x": 4}]'
    assert errors[1] == "line 2 is not JSON"
    assert "x=13 is refused" in errors[2]
    assert [errors[i] for i in (0, 3, 4)] == [None] * 3
    assert [json.loads(results[i]) for i in (0, 3, 4)] == [{"y": 2}, {"y": 6}, {"y": 8}]


async def test_on_error_raise_and_the_failures_that_always_raise(eas_emulator: Emulator) -> None:
    eas_emulator.add_service("double", _double)
    strict = Predictor(eas_emulator.url, "double", on_error="raise")
    unknown = Predictor(eas_emulator.url, "no_such_service")
    try:
        with pytest.raises(RowError, match="row 13 of the batch: HTTP 400"):
            await run(strict, {"x": np.arange(20)})
        with pytest.raises(ServiceError) as caught:  # every row would fail the same way
            await run(unknown, {"x": np.arange(3)})
        assert caught.value.status == 404
        with pytest.raises(UsageError, match="no column 'nope'"):
            await run(Predictor(eas_emulator.url, "double", columns=["nope"]), {"x": [1]})
        with pytest.raises(UsageError, match="has a column 'error' already"):
            await run(Predictor(eas_emulator.url, "double"), {"x": [1], "error": [""]})
    finally:
        await strict.aclose()
        await unknown.aclose()


def test_the_client_is_opened_on_the_actors_loop_and_closed_when_the_predictor_goes() -> None:
    """As on Ray: the instance is made on one thread, called on a loop running in another
    (Ray's), and dropped from the first when the actor ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:

        async def start() -> Emulator:
            return await Emulator(builtins=True).start()

        emu = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
        predictor = Predictor(emu.url, "echo")
        client = predictor._client
        out = asyncio.run_coroutine_threadsafe(run(predictor, {"x": np.arange(3)}), loop).result(30)
        assert list(out["result"]) == ['{"x":0}', '{"x":1}', '{"x":2}']
        assert not client.closed
        del predictor
        gc.collect()
        assert client.closed
        asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
