"""``aioeas predict``: batch predictions from a file, against any EAS endpoint.

Rows (JSON lines, CSV, Parquet) go to string services as JSON records, ``--batch-size`` per
request; arrays (.npy, .npz) go to TensorFlow or PyTorch services, split along the first
axis. At most ``--concurrency`` requests are in flight (``PredictClient.predict_many``);
results are written in input order as they come (see ``aioeas.cli.outputs`` for the
formats), so the head of the file is on disk while the tail is still being predicted.

A failed batch does not stop the run: its rows carry the error and the exit status is 1.
Two failures do stop it, because every later batch would fail the same way: a rejected
token (401/403) and an unknown service (404). Ctrl-C stops cleanly: what finished, in
order, is written, and the count of rows not done is printed (exit status 130).

This module checks the flags; the run itself is ``aioeas.cli.batch``, imported only when a
prediction runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from aioeas.cli.formats import ARRAY_FORMATS, INPUT_FORMATS, detect_format
from aioeas.cli.formats import input_format as input_format_of
from aioeas.cli.options import CLIError, connection_options, count, retry_options, run

__all__ = ["predict"]

#: ``--ray`` given without an address: a local cluster for the run.
LOCAL = "local"


@dataclass(frozen=True)
class Job:
    """Everything one run needs, checked: made by the command from its flags."""

    endpoint: str
    service: str
    token: str
    endpoint_type: str  # gateway | direct
    timeout: float
    retries: int
    input_path: str
    input_format: str
    output_path: str
    output_format: str
    kind: str  # string | tf | torch
    batch_size: int
    concurrency: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    signature: str | None
    quiet: bool


@dataclass
class Summary:
    total: int | None
    rows: int = 0
    batches: int = 0
    split: int = 0  # requests sent again, halves of refused batches (the bisection)
    failed: int = 0
    interrupted: bool = False
    first_failure: str | None = None  # "row 7: HTTP 503 ..."


def _check(job: Job) -> None:
    arrays = job.input_format in ARRAY_FORMATS
    if arrays and job.kind == "string":
        raise click.UsageError("array inputs (.npy, .npz) are for --type tf or --type torch")
    if not arrays and job.kind != "string":
        raise click.UsageError(
            f"rows ({job.input_format}) are sent to string services; "
            "TF and PyTorch services take .npy or .npz"
        )
    if job.output_path != "-":
        parent = Path(job.output_path).parent
        if not parent.is_dir():
            raise click.BadParameter(
                f"{job.output_path!r}: the directory {str(parent)!r} does not exist",
                param_hint="--out",
            )
    allowed = ("jsonl", "npz") if arrays else ("jsonl", "csv", "parquet")
    if job.output_format not in allowed:
        raise click.UsageError(
            f"{job.input_format} input can be written as {' or '.join(allowed)}, "
            f"not {job.output_format}"
        )
    if job.kind == "torch" and not all(o.isdigit() for o in job.outputs):
        raise click.BadParameter("PyTorch outputs are indexes (0, 1, ...)", param_hint="--output")
    if not arrays and (job.inputs or job.outputs or job.signature):
        raise click.UsageError("--input, --output and --signature are for array inputs")


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(allow_dash=True))
@click.option(
    "--format",
    "input_fmt",
    type=click.Choice(list(INPUT_FORMATS)),
    default=None,
    help="INPUT's format, for stdin or a file of another suffix [default: from the suffix; "
    "stdin: jsonl; a .json file holding an array: json].",
)
@click.option(
    "--out",
    "-o",
    "output_path",
    default="-",
    show_default=True,
    type=click.Path(writable=True, allow_dash=True),
    help="Where the results go: .jsonl, .csv, .parquet, .npz, or - (JSON lines on stdout); "
    "with --ray, a new or empty directory for Parquet files.",
)
@connection_options("--service", "EAS_SERVICE_NAME", "The service to call.")
@click.option(
    "--endpoint-type",
    type=click.Choice(["direct", "gateway"]),
    default="gateway",
    show_default=True,
    help="Through the gateway, or VPC direct to the service's instances.",
)
@retry_options
@click.option(
    "--type",
    "kind",
    type=click.Choice(["string", "tf", "torch"]),
    default=None,
    help="The service's kind [default: string for rows, tf for arrays].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Rows per request.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME[=KEY]",
    help="Array inputs: a .npy's input name (TF) or index (PyTorch, default 0); for a .npz, "
    "the arrays to send (default: all, each under its key). Repeatable.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="NAME",
    help="Outputs to ask for (TF names, PyTorch indexes; default: all). Repeatable.",
)
@click.option("--signature", default=None, help="The TF signature name (e.g. predict_images).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value=LOCAL,
    default=None,
    metavar="[ADDRESS]",
    help="Run on a Ray cluster (the ray extra): at ADDRESS (127.0.0.1:6379, ray://...), or "
    "a local one for this run. INPUT may then be a directory or a glob (paths every worker "
    "can open), read as without --ray; --out is a directory of Parquet files with file and "
    "row (each row's file and number in it) to join results back. Put --ray after INPUT, "
    "or write --ray=ADDRESS.",
)
@click.option(
    "--actors",
    type=click.IntRange(min=1),
    default=None,
    help="With --ray: actors predicting, each with its own client [default: 1].",
)
@click.option(
    "--id",
    "id_column",
    default=None,
    metavar="COLUMN",
    help="With --ray: the one input column to keep in the output, with file, row, result "
    "and error (default: every input column).",
)
@click.option(
    "--cpus-per-actor",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="With --ray: CPUs each actor reserves [default: 1].",
)
def predict(
    input_path: str,
    input_fmt: str | None,
    output_path: str,
    endpoint: str,
    name: str,
    token: str,
    endpoint_type: str,
    timeout: float,
    retries: int,
    kind: str | None,
    batch_size: int,
    concurrency: int,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    signature: str | None,
    quiet: bool,
    ray_address: str | None,
    actors: int | None,
    id_column: str | None,
    cpus_per_actor: float | None,
) -> None:
    """Predict every row of INPUT (a file, or - for stdin), in order.

    \b
    Rows: .jsonl (one JSON value a line), .json (a JSON array of rows; JSON lines when
    the file does not start with [), .csv (cells typed as JSON lines would carry them:
    numbers, true/false, empty as null), .parquet; sent to string services as a JSON list
    of records, --batch-size rows a request. Arrays: .npy/.npz, split along the first
    axis, for --type tf or torch. --format names INPUT's format (stdin: JSON lines).

    \b
    Results, in input order: JSON lines have one line per row: {"row": i, "result": ...}
    from a string service, {"row": i, "outputs": {NAME: ...}} from a TF or PyTorch one,
    {"row": i, "error": ...} for a row that failed ({"rows": [...], ...} when an answer
    does not split into one per row); CSV/Parquet add the result's columns and an error
    column to the input's; .npz holds each output concatenated along axis 0, with _row,
    _failed_rows and _errors.

    \b
    A batch refused with a 4xx is split until only the rows at fault fail. The run stops
    on a rejected token, an unknown service, or 2 x --concurrency requests in a row that
    could not connect (what finished is kept).

    \b
    --ray [ADDRESS]: the same rows on a Ray cluster (a local one for the run when no
    ADDRESS), --actors N actors with --concurrency requests in flight each; INPUT may be
    a directory or a glob; --out is a directory of Parquet files with file and row (the
    row's file and its number there, as without --ray), the input's columns (or only --id
    COLUMN), result (JSON text) and error. See docs/guides/ray.md.

    Exit status: 0 when every row succeeded, 1 when any failed (they are in the output;
    the last line gives the first one's reason), 130 when interrupted (what finished is
    written), 2 for a usage error.
    """
    ray_only = {"--actors": actors, "--id": id_column, "--cpus-per-actor": cpus_per_actor}
    if ray_address is not None:
        _predict_on_ray(
            ray_address,
            input_path,
            input_fmt,
            output_path,
            dict(
                id_column=id_column,
                actors=actors or 1,
                concurrency=concurrency,
                cpus_per_actor=cpus_per_actor or 1.0,
                batch_size=batch_size,
                endpoint=endpoint,
                service=name,
                token=token,
                endpoint_type=endpoint_type,
                timeout=timeout,
                retries=retries,
                quiet=quiet,
            ),
            kind,
            bool(inputs or outputs or signature),
        )
        return
    given = [flag for flag, value in ray_only.items() if value is not None]
    if given:
        raise click.UsageError(f"{given[0]} is for --ray")
    ctx = click.get_current_context()
    # The checks INPUT and --out had before --ray let them name directories and globs.
    for param in ctx.command.params:
        if param.name == "input_path":
            click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True).convert(
                input_path, param, ctx
            )
        if param.name == "output_path":
            click.Path(dir_okay=False, writable=True, allow_dash=True).convert(
                output_path, param, ctx
            )
    input_format = input_format_of(input_path, input_fmt)
    job = Job(
        endpoint=endpoint,
        service=name,
        token=token,
        endpoint_type=endpoint_type,
        timeout=timeout,
        retries=retries,
        input_path=input_path,
        input_format=input_format,
        output_path=output_path,
        output_format=detect_format(output_path, "--out"),
        kind=kind or ("tf" if input_format in ARRAY_FORMATS else "string"),
        batch_size=batch_size,
        concurrency=concurrency,
        inputs=inputs,
        outputs=outputs,
        signature=signature,
        quiet=quiet,
    )
    _check(job)
    from aioeas.cli.batch import predict_job  # numpy, the client, rich: only to run

    summary = run(lambda stop: predict_job(job, stop))
    where = "stdout" if output_path == "-" else output_path
    if summary.interrupted:
        left = (
            count(summary.total - summary.rows, "row")
            if summary.total is not None
            else "the rest of the input"
        )
        click.echo(
            f"interrupted: wrote {count(summary.rows, 'row')} in order to {where}; {left} not done",
            err=True,
        )
        raise click.exceptions.Exit(130)
    if not quiet:
        click.echo(
            f"predict: {count(summary.rows, 'row')} in {count(summary.batches, 'request')}"
            f"{_split(summary)}, "
            f"{summary.rows - summary.failed:,} ok, {summary.failed:,} failed -> {where}",
            err=True,
        )
    if summary.failed:
        raise CLIError(
            f"{summary.failed:,} of {count(summary.rows, 'row')} failed (see {where}); "
            f"the first, {summary.first_failure}"
        )


def _split(summary: Summary) -> str:
    """The requests sent on top of one per batch, to find the rows a service refused (the
    halves of refused batches): "12 rows in 1 request" read wrong when nine went out."""
    if not summary.split:
        return ""
    return f" (+{summary.split:,} to find the refused rows)"


def _predict_on_ray(
    address: str,
    input_path: str,
    input_fmt: str | None,
    output_path: str,
    settings: dict[str, Any],
    kind: str | None,
    arrays: bool,
) -> None:
    """``--ray``: rows to a string service, run by Ray Data (``aioeas.cli.onray``)."""
    try:
        from aioeas.cli import onray
    except ImportError as exc:
        from aioeas._install import install_hint
        from aioeas.cli.inputs import MissingExtraError

        raise MissingExtraError(f"--ray needs Ray ({exc}): {install_hint('ray')}") from None

    if kind not in (None, "string") or arrays:
        raise click.UsageError("--ray sends rows to string services (--type string)")
    if output_path == "-":
        raise click.UsageError("--ray writes a directory of Parquet files: give --out DIR")
    files, fmt = onray.input_files(input_path, input_fmt)
    onray.check_output_dir(output_path)
    job = onray.RayJob(
        address=None if address == LOCAL else address,
        files=files,
        input_format=fmt,
        output_dir=output_path,
        **settings,
    )
    summary = onray.run_on_ray(job)
    if not job.quiet:
        click.echo(onray.describe(summary, job), err=True)
    if summary.failed:
        raise CLIError(
            f"{summary.failed:,} of {count(summary.rows, 'row')} failed (see {output_path}); "
            f"the first, {summary.first_failure}"
        )
