"""``aioeas predict --ray [ADDRESS]``: the same prediction, run by Ray Data on a cluster.

Loaded only with ``--ray`` (it brings ray). The driver lists the input files (a file, a
directory or a glob of Parquet, CSV or JSON lines); Ray Data reads them with aioeas's own
reader (``aioeas.cli.rayread``: one task per file, streamed, rows typed and numbered as the
single-process command does), an actor pool of ``--actors`` runs ``aioeas.ray.Predictor``
on the rows (``--concurrency`` requests in flight per actor, ``--batch-size`` rows per
request), and Ray writes a directory of Parquet files: ``file`` and ``row`` (where each row
came from, to join the results back), the input's columns (or, with ``--id``, only that
one), ``result`` (each row's answer as JSON text) and ``error``.

With no ADDRESS a local cluster is started for the run and stopped after it; with one
(``127.0.0.1:6379``, ``ray://...``) the run joins that cluster, whose workers must reach the
input, the output directory and the service.
"""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import ray.data  # here: a missing ray is one line from the command (MissingExtraError)

from aioeas.cli.formats import ROW_FORMATS, detect_format
from aioeas.cli.inputs import RowSource
from aioeas.cli.options import CLIError, count
from aioeas.cli.rayread import RECORD, UNREAD, check_columns, read_files
from aioeas.errors import EASError

__all__ = ["RayJob", "RaySummary", "input_files", "run_on_ray"]

#: Ray Data's batches hold at least this many requests' rows (so that a batch fills an
#: actor's slots) and at least ``MIN_BATCH_ROWS`` rows: each block costs Ray a task on an
#: actor and a trip through the object store, milliseconds that a tiny block pays per row.
REQUESTS_PER_BATCH = 16
MIN_BATCH_ROWS = 1024


@dataclass(frozen=True)
class RayJob:
    """What ``--ray`` needs, checked by the command."""

    address: str | None  # None: a local cluster for this run
    files: tuple[str, ...]
    input_format: str
    output_dir: str
    id_column: str | None
    actors: int
    concurrency: int
    cpus_per_actor: float
    batch_size: int
    endpoint: str
    service: str
    token: str
    endpoint_type: str
    timeout: float
    retries: int
    quiet: bool


@dataclass
class RaySummary:
    rows: int
    failed: int
    first_failure: str | None


def input_files(path: str, given: str | None) -> tuple[tuple[str, ...], str]:
    """INPUT as files and their format: a file, a directory (its files of a row format,
    recursively) or a glob; a URL (``s3://...``) is left to Ray to list."""
    if "://" in path:
        raise click.BadParameter(
            f"{path!r}: --ray reads files by their path (aioeas's own reader, on every "
            "worker): mount the storage, or copy the files to a shared directory",
            param_hint="INPUT",
        )
    if os.path.isdir(path):
        files = sorted(
            str(p)
            for p in Path(path).rglob("*")
            if p.is_file() and not p.name.startswith((".", "_")) and _row_suffix(p.name)
        )
    elif glob.has_magic(path):
        files = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
    elif os.path.isfile(path):
        files = [path]
    else:
        raise click.BadParameter(f"{path!r}: no such file or directory", param_hint="INPUT")
    if not files:
        raise click.BadParameter(
            f"{path!r}: no Parquet, CSV or JSON lines file", param_hint="INPUT"
        )
    formats = {given} if given else {detect_format(f, "INPUT") for f in files}
    if len(formats) > 1:
        raise click.BadParameter(
            f"{path!r} mixes formats ({', '.join(sorted(formats))}): one run reads one",
            param_hint="INPUT",
        )
    fmt = formats.pop()
    if fmt not in ROW_FORMATS or fmt == "json":
        raise click.UsageError(
            f"--ray reads Parquet, CSV or JSON lines (one JSON value a line), not {fmt}"
        )
    return tuple(files), fmt


def _row_suffix(name: str) -> bool:
    try:
        return detect_format(name, "INPUT") in ROW_FORMATS
    except click.BadParameter:
        return False


def check_output_dir(path: str) -> None:
    """The output directory: new, or empty (old files would mix with the new in a join)."""
    if os.path.isdir(path):
        if any(Path(path).iterdir()):
            raise click.BadParameter(
                f"{path!r} is not empty: give a new or empty directory", param_hint="--out"
            )
    elif os.path.exists(path):
        raise click.BadParameter(
            f"{path!r} is a file: --ray writes a directory", param_hint="--out"
        )
    elif not Path(path).absolute().parent.is_dir():
        raise click.BadParameter(
            f"{path!r}: its parent directory does not exist", param_hint="--out"
        )


def run_on_ray(job: RayJob) -> RaySummary:
    """Run ``job`` on Ray; what came out, counted from the files written."""
    from aioeas.client import ENDPOINT_TYPE_DEFAULT, ENDPOINT_TYPE_DIRECT, RetryPolicy
    from aioeas.ray import predict

    predictor_options: dict[str, Any] = {
        "token": job.token,
        "endpoint_type": ENDPOINT_TYPE_DIRECT
        if job.endpoint_type == "direct"
        else ENDPOINT_TYPE_DEFAULT,
        "timeout": job.timeout,
        "retry": RetryPolicy(max_attempts=job.retries + 1),
        "rows_per_request": job.batch_size,
        "concurrency": job.concurrency,
    }
    problem = _first_problem(job)  # before Ray starts
    if problem is not None:
        raise click.UsageError(problem)
    started = False
    if not ray.is_initialized():
        if job.address is None:
            needed = math.ceil(job.actors * job.cpus_per_actor) + 1  # + the readers
            # on loopback: a cluster of this machine needs no other address
            ray.init(
                num_cpus=max(os.cpu_count() or 1, needed),
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
            )
        else:
            ray.init(address=job.address)
        started = True
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = not job.quiet
        rows_per_batch = max(
            job.batch_size * max(job.concurrency, REQUESTS_PER_BATCH), MIN_BATCH_ROWS
        )
        ds = _read(ray.data, job, rows_per_batch)
        # Blocks of one batch each, streamed: Ray gathers what a read task yields into
        # large blocks, and a block goes to one actor (the others would wait).
        ds = ds.repartition(target_num_rows_per_block=rows_per_batch)
        scored = predict(
            ds,
            job.endpoint,
            job.service,
            actors=job.actors,
            num_cpus=job.cpus_per_actor,
            batch_size=rows_per_batch,
            json_column=RECORD,
            unread_column=UNREAD,
            **predictor_options,
        )
        try:
            scored.write_parquet(job.output_dir)
        except Exception as exc:
            cause = _eas_cause(exc)
            if cause is None:
                raise
            raise CLIError(f"stopped: {cause}") from None
    finally:
        if started:
            ray.shutdown()
    return _summarize(job)


def _read(data: Any, job: RayJob, rows: int) -> Any:
    """The rows of ``job.files``: one item per file, read by a task each (streamed, ``rows``
    at a time) with the single-process command's reader."""
    files = data.from_items(
        [{"file": path} for path in job.files], override_num_blocks=len(job.files)
    )
    return files.map_batches(
        read_files,
        batch_size=1,
        batch_format="pyarrow",
        zero_copy_batch=True,
        fn_kwargs={"fmt": job.input_format, "rows": rows, "id_column": job.id_column},
    )


def _first_problem(job: RayJob) -> str | None:
    """What is wrong with the first file's columns, found in the driver before Ray starts
    work (its header, or first row; the read tasks check every file as they read it)."""
    path = job.files[0]
    source = RowSource(path, job.input_format)
    try:
        if source.arrow_schema is None:
            first = source.batches(1)
            next(first, None)
            first.close()
        if not source.columns:
            return None
        return check_columns(path, source.columns, job.id_column)
    finally:
        source.close()


def _eas_cause(exc: BaseException) -> EASError | None:
    """The aioeas error behind what Ray raised (a task error wrapping the UDF's), if any."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, EASError):
            return error
        todo += [error.__cause__, error.__context__, getattr(error, "cause", None)]
    return None


def _summarize(job: RayJob) -> RaySummary:
    """Rows and failures, from the files written (their ``error`` column only)."""
    import pyarrow.dataset as pds

    if not any(Path(job.output_dir).glob("*.parquet")):  # an empty input writes nothing
        return RaySummary(rows=0, failed=0, first_failure=None)
    written = pds.dataset(job.output_dir, format="parquet")
    errors = written.to_table(columns=["error"]).column("error")
    failed = len(errors) - errors.null_count
    first = None
    if failed:
        row = written.head(
            1, columns=["file", "row", "error"], filter=pds.field("error").is_valid()
        ).to_pylist()[0]
        first = f"{row['file']} row {row['row']}: {row['error']}"
    return RaySummary(rows=len(errors), failed=failed, first_failure=first)


def describe(summary: RaySummary, job: RayJob) -> str:
    return (
        f"predict: {count(summary.rows, 'row')} on Ray ({count(job.actors, 'actor')}), "
        f"{summary.rows - summary.failed:,} ok, {summary.failed:,} failed -> {job.output_dir}"
    )
