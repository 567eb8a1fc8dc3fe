"""aioeas on a real Ray cluster of this machine, against the emulator (issue 11's Verify).

One cluster for the module (``ray_cluster``); each test gets a fresh emulator on a thread of
the driver, which the cluster's actors reach over loopback. Waits are on counts and events,
never on the clock.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest
import ray

import aioeas.ray
from aioeas import RetryPolicy
from aioeas.emulator import Emulator, Fault, Reject
from tests.cli.support import EmulatorThread, invoke
from tests.ray.support import RAY_WARNINGS, Coordinator, ReportingPredictor

# long: a Ray cluster per module (seconds to start) and 20,000 rows; the README's command
# (the whole suite, CI's first step) runs it, the per-Python nox runs leave it out
pytestmark = [pytest.mark.usefixtures("ray_cluster"), pytest.mark.long, *RAY_WARNINGS]

FAST_RETRY = RetryPolicy(max_attempts=6, backoff_base=0.005, backoff_max=0.05)


def _doubling(body: bytes) -> str:
    """A string service: ``{"x": n}`` -> ``{"y": 2n}``, one record or a list of them;
    x = 13 is refused with a message (a bad row)."""
    value = json.loads(body)
    records = value if isinstance(value, list) else [value]
    answers = []
    for record in records:
        if record.get("x") == 13:
            raise Reject(f"x=13 is not allowed (row with k={record.get('k')})", status=400)
        answers.append({"y": record["x"] * 2})
    return json.dumps(answers if isinstance(value, list) else answers[0])


def _echo_rows(body: bytes) -> bytes:
    """Each record as it arrived, with a score: what both paths sent is compared too."""
    return json.dumps(
        [{"score": r["fea1"] * 10 + r["fea2"], "seen": r} for r in json.loads(body)]
    ).encode()


def _ids_once(table: pa.Table, column: str, n: int) -> list[Any]:
    ids = table.column(column).to_pylist()
    assert sorted(ids) == list(range(n)), "a row is missing or came out twice"
    return ids


def test_20000_rows_on_two_actors_equal_the_single_process_command(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    n = 20_000
    rng = np.random.default_rng(5)
    ids = rng.permutation(n)  # the row id is a column, not the position
    extra = rng.random(n)
    extra[::97] = np.nan  # sent as null, by both
    table = pa.table(
        {
            "id": ids,
            "fea1": rng.integers(0, 100, n).astype(float),
            "extra": extra,  # NaN sent as null
            "fea2": rng.integers(0, 10, n),
            "day": pa.array(np.datetime64("2024-01-01") + rng.integers(0, 300, n), pa.date32()),
        }
    )
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=4096)
    emulator.call(lambda emu: emu.add_service("echo_rows", _echo_rows))
    common = ["-e", emulator.url, "--service", "echo_rows", "-q"]
    single = invoke(
        "predict", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "one.jsonl"), *common
    )
    assert single.code == 0, single.err
    sent_alone = emulator.call(lambda emu: emu.service("echo_rows").requests)
    on_ray = invoke(
        "predict", str(tmp_path / "in.parquet"), "--ray", "--actors", "2", "--id", "id",
        "-o", str(tmp_path / "out"), *common,
    )  # fmt: skip
    assert on_ray.code == 0, on_ray.err

    lines = [json.loads(line) for line in (tmp_path / "one.jsonl").read_text().splitlines()]
    expected = {line["row"]: line["result"] for line in lines}  # joined by the row number
    assert len(expected) == n
    written = pds.dataset(tmp_path / "out", format="parquet").to_table()
    assert written.column_names == ["file", "row", "id", "result", "error"]
    rows = _ids_once(written, "row", n)
    assert set(written.column("file").to_pylist()) == {str(tmp_path / "in.parquet")}
    assert written.column("id").to_pylist() == [int(ids[r]) for r in rows]  # the input's row
    assert written.column("error").null_count == n
    results = [json.loads(r) for r in written.column("result").to_pylist()]
    assert dict(zip(rows, results, strict=True)) == expected
    assert results[0]["seen"]["day"].startswith("2024-")  # dates as ISO text
    # the same requests (32 rows each), no more: nothing was sent twice
    total = emulator.call(lambda emu: emu.service("echo_rows").requests)
    assert total - sent_alone == sent_alone


def test_injected_503s_are_retried_and_every_row_answered(emulator: EmulatorThread) -> None:
    n = 2_000
    service = emulator.call(lambda emu: emu.add_service("double", _doubling))
    rule = emulator.call(lambda emu: service.faults.add(Fault.error(503, b"busy"), rate=0.05))
    ds = ray.data.from_items([{"k": i, "x": i % 13 + 14} for i in range(n)], override_num_blocks=8)
    scored = aioeas.ray.predict(
        ds, emulator.url, "double", actors=2, num_cpus=0.5, batch_size=100,
        concurrency=8, retry=FAST_RETRY,
    )  # fmt: skip
    out = scored.to_arrow_refs()
    table = pa.concat_tables(ray.get(out))
    assert table.column("error").null_count == n
    keys = _ids_once(table, "k", n)
    xs = table.column("x").to_pylist()
    assert [json.loads(r) for r in table.column("result").to_pylist()] == [{"y": 2 * x} for x in xs]
    assert sorted(keys) == list(range(n))
    hits = emulator.call(lambda emu: rule.hits)
    assert hits > 0
    assert emulator.call(lambda emu: service.requests) == n + hits  # each retry once


def test_bad_rows_get_the_services_message_and_the_rest_are_answered(
    emulator: EmulatorThread,
) -> None:
    emulator.call(lambda emu: emu.add_service("double", _doubling))
    rows = [{"k": i, "x": float(i % 20)} for i in range(200)]
    rows[7]["x"] = float("inf")  # cannot be JSON: fails alone, never sent
    ds = ray.data.from_items(rows, override_num_blocks=2)
    scored = aioeas.ray.predict(
        ds, emulator.url, "double", actors=1, num_cpus=0.5, batch_size=50,
        rows_per_request=8, batch_format="pandas",
    )  # fmt: skip
    frame = scored.to_pandas().sort_values("k")
    errors = dict(zip(frame["k"], frame["error"], strict=True))
    bad = {k for k, e in errors.items() if isinstance(e, str)}
    assert bad == {7} | {i for i in range(200) if i % 20 == 13}
    assert "cannot be sent as JSON" in errors[7]
    assert "x=13 is not allowed (row with k=13)" in errors[13]
    assert "HTTP 400" in errors[13]
    answered = frame[~frame["k"].isin(bad)]
    assert [json.loads(r)["y"] for r in answered["result"]] == list(answered["x"] * 2)


def test_an_actor_killed_mid_run_loses_no_row_and_repeats_none(
    emulator: EmulatorThread,
) -> None:
    """Requests are held at the service once some have passed, so both actors are surely
    mid-batch; one is killed (restarts allowed), then the service lets everything through."""
    n, concurrency = 3_000, 4
    coordinator = Coordinator.options(name="kill-test").remote()  # type: ignore[attr-defined]
    gate: dict[str, Any] = {}

    async def setup(emu: Emulator) -> None:
        gate["open"] = asyncio.Event()
        gate["held"] = 0
        gate["changed"] = asyncio.Condition()

        async def held(body: bytes) -> bytes:
            if not gate["open"].is_set() and service.requests > 40:
                async with gate["changed"]:
                    gate["held"] += 1
                    gate["changed"].notify_all()
                await gate["open"].wait()
            return _doubling(body).encode()

        service = emu.add_service("double", held)

    emulator._run(setup(emulator.emu))
    ds = ray.data.from_items([{"k": i, "x": i % 11} for i in range(n)], override_num_blocks=12)
    scored = ds.map_batches(
        ReportingPredictor,
        fn_constructor_kwargs={
            "endpoint": emulator.url, "service_name": "double", "coordinator": "kill-test",
            "concurrency": concurrency, "retry": FAST_RETRY,
        },
        compute=ray.data.ActorPoolStrategy(size=2), batch_size=50, num_cpus=0.5,
    )  # fmt: skip
    out: dict[str, Any] = {}

    def consume() -> None:
        try:
            out["table"] = pa.concat_tables(ray.get(scored.to_arrow_refs()))
        except BaseException as exc:  # reported by the test below
            out["error"] = exc

    runner = threading.Thread(target=consume)
    runner.start()

    async def both_actors_held() -> None:
        async with gate["changed"]:  # each actor holds at most `concurrency`
            await asyncio.wait_for(
                gate["changed"].wait_for(lambda: gate["held"] > concurrency), 900
            )

    try:
        # Ray starts two actor processes first: minutes on one busy CPU
        emulator._run(both_actors_held(), guard=960)
        handles = ray.get(coordinator.handles.remote())
        assert len(handles) == 2
        ray.kill(handles[0], no_restart=False)
    finally:
        emulator.call(lambda emu: gate["open"].set())
        runner.join()
    assert "error" not in out, out.get("error")
    table = out["table"]
    _ids_once(table, "k", n)
    assert table.column("error").null_count == n
    assert [json.loads(r)["y"] for r in table.column("result").to_pylist()] == [
        2 * x for x in table.column("x").to_pylist()
    ]
    # The pool is let go when the run ends: the survivor and the restarted actor close
    # their clients (the killed one could not).
    registered = ray.get(coordinator.closed.remote(2), timeout=900)
    assert registered == 3  # the killed actor came back once
    ray.kill(coordinator)


def test_the_guides_python_example_runs_as_printed(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/guides/ray.md's Python block (marked skip for tests/test_docs.py, which has no
    Ray cluster), run here as printed, on this module's cluster."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "guides" / "ray.md").read_text()
    blocks = re.findall(r"docs-test: skip needs a Ray cluster.*?\n```python\n(.*?)```", page, re.S)
    assert len(blocks) == 1
    monkeypatch.setenv("EAS_ENDPOINT", emulator.url)
    monkeypatch.setenv("EAS_TOKEN", "")
    exec(compile(blocks[0], "docs/guides/ray.md", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out == "2000 rows scored\n"


def _alone(emulator: EmulatorThread, path: Path, service: str) -> dict[int, dict[str, Any]]:
    """The single-process command's output lines for ``path``, by row number."""
    out = path.with_name(path.name + ".alone.jsonl")
    done = invoke(
        "predict", str(path), "-o", str(out), "-e", emulator.url, "--service", service, "-q"
    )
    assert done.code in (0, 1), done.err
    return {line["row"]: line for line in map(json.loads, out.read_text().splitlines())}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_directory_of_csv_or_json_lines_files_on_ray(
    emulator: EmulatorThread, tmp_path: Path, fmt: str
) -> None:
    """Every file read by aioeas's own reader: each file's rows are (file, row) pairs 0..n-1,
    and each row's answer is the single-process command's for that file and row."""
    data = tmp_path / "data"
    (data / "more").mkdir(parents=True)
    # part-0 is read in two pieces (1,024 rows at a time): its rows are numbered on
    sizes = {data / f"part-0.{fmt}": 1_100, data / "more" / f"part-1.{fmt}": 170}
    for part, (path, size) in enumerate(sizes.items()):
        rows = [{"k": i, "fea1": (i * 3 + part) % 7, "fea2": 0.5 * part} for i in range(size)]
        if fmt == "csv":
            text = "k,fea1,fea2\n" + "".join(f"{r['k']},{r['fea1']},{r['fea2']}\n" for r in rows)
        else:
            text = "".join(json.dumps(r) + "\n" for r in rows)
        path.write_text(text)
    service = "scorecard_pmml_example"
    common = ["-e", emulator.url, "--service", service, "-q"]
    done = invoke("predict", str(data), "--ray", "-o", str(tmp_path / "out"), *common)
    assert done.code == 0, done.err
    written = pds.dataset(tmp_path / "out", format="parquet").to_table()
    assert written.column_names == ["file", "row", "k", "fea1", "fea2", "result", "error"]
    pairs = list(
        zip(written.column("file").to_pylist(), written.column("row").to_pylist(), strict=True)
    )
    assert sorted(pairs) == sorted((str(p), r) for p, size in sizes.items() for r in range(size))
    results = [json.loads(r) for r in written.column("result").to_pylist()]
    by_pair = dict(zip(pairs, results, strict=True))
    for path in sizes:
        alone = _alone(emulator, path, service)
        assert {r: by_pair[str(path), r] for r in alone} == {
            r: a["result"] for r, a in alone.items()
        }


def _echo(body: bytes) -> bytes:
    """A string service that answers each record with the record as it arrived."""
    return body


def test_a_csv_column_mixing_numbers_and_text_is_typed_cell_by_cell(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    """As the single-process command sends it: each cell typed alone (Ray's CSV reader
    would make the whole column text)."""
    path = tmp_path / "mixed.csv"
    path.write_text("k,v\n0,1\n1,abc\n2,2.5\n3,\n4,TRUE\n5,-7\n")
    emulator.call(lambda emu: emu.add_service("echo_cells", _echo))
    done = invoke(
        "predict", str(path), "--ray", "-o", str(tmp_path / "out"), "-e", emulator.url,
        "--service", "echo_cells", "-q",
    )  # fmt: skip
    assert done.code == 0, done.err
    written = pds.dataset(tmp_path / "out", format="parquet").to_table().sort_by("row")
    sent = [json.loads(r) for r in written.column("result").to_pylist()]
    assert [r["v"] for r in sent] == [1, "abc", 2.5, None, True, -7]
    assert written.column("v").to_pylist() == ["1", "abc", "2.5", "", "TRUE", "-7"]  # as read
    alone = _alone(emulator, path, "echo_cells")
    assert sent == [alone[r]["result"] for r in range(6)]


def test_a_json_lines_line_that_is_not_json_fails_at_its_row(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"x": 1}\n\n{"x": 2\n{"x": 3}\n')  # a blank line, then a broken one
    emulator.call(lambda emu: emu.add_service("double", _doubling))
    done = invoke(
        "predict", str(path), "--ray", "-o", str(tmp_path / "out"), "-e", emulator.url,
        "--service", "double", "-q",
    )  # fmt: skip
    assert done.code == 1, done.err
    assert f"the first, {path} row 1: line 3 is not JSON" in done.err
    written = pds.dataset(tmp_path / "out", format="parquet").to_table().sort_by("row")
    assert written.column("row").to_pylist() == [0, 1, 2]
    alone = _alone(emulator, path, "double")
    assert written.column("error").to_pylist() == [None, alone[1]["error"], None]
    assert alone[1]["error"].startswith("line 3 is not JSON")
    results = written.column("result").to_pylist()
    assert [json.loads(results[0]), results[1], json.loads(results[2])] == [
        alone[0]["result"], None, alone[2]["result"],
    ]  # fmt: skip
