"""The command line as a whole: help everywhere, one-line errors, the missing extra,
``aioeas emulator``, and the console script and ``python -m aioeas`` being the same."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.cli.support import ROOT, invoke, spawn

COMMANDS = [
    [],
    ["demo"],
    ["codecs"],
    ["predict"],
    ["emulator"],
    ["queue"],
    *[["queue", c] for c in ("put", "get", "watch", "attributes", "truncate", "search", "commit")],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "aioeas")
def test_help_everywhere(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.code == 0, result.err
    assert result.out.startswith(f"Usage: aioeas {' '.join(command)}".rstrip() + " ")
    assert result.err == ""


def test_usage_error_is_one_line_without_traceback() -> None:
    result = invoke("queue", "truncate", "-e", "http://127.0.0.1:9", "--queue", "q", "zero")
    assert result.code == 2
    assert result.err == (
        "aioeas: error: Invalid value for 'INDEX': 'zero' is not a valid integer range. "
        "(see 'aioeas queue truncate --help')\n"
    )
    unknown = invoke("frobnicate")
    assert unknown.code == 2
    assert len(unknown.err.splitlines()) == 1
    assert "No such command 'frobnicate'" in unknown.err


def test_failures_are_one_line_unless_debug() -> None:
    args = ["queue", "attributes", "-e", "http://127.0.0.1:9", "--queue", "q", "--timeout", "1"]
    plain = invoke(*args)
    assert plain.code == 1
    assert len(plain.err.splitlines()) == 1
    assert plain.err.startswith("aioeas: error: ")
    debug = subprocess.run(
        [sys.executable, "-m", "aioeas", "--debug", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr


def test_without_the_cli_extra_one_line_and_status_2() -> None:
    code = (
        "import sys; sys.modules['click'] = None\n"
        "from aioeas.__main__ import main\n"
        "sys.exit(main(['demo']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 2
    # run from this checkout: the hint installs the checkout, not aioeas from the index
    assert done.stderr == f"aioeas: the command line needs click: pip install -e '{ROOT}[cli]'\n"
    assert done.stdout == ""
    library = subprocess.run(
        [sys.executable, "-c", code.replace("from aioeas.__main__ import main", "import aioeas")
         .replace("sys.exit(main(['demo']))", "print(aioeas.TFRequest, aioeas.PredictClient)")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert library.returncode == 0, library.stderr


def test_console_script_entry_point_is_the_cli() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "aioeas"]
    assert script.value == "aioeas.__main__:main"


def test_codecs_still_runs() -> None:
    result = invoke("codecs")
    assert result.code == 0
    assert "round trip exact: True" in result.out


def test_emulator_command_serves_queues_until_ctrl_c() -> None:
    proc = spawn(
        "emulator", "--port", "0", "--token", "t", "--backends", "2",
        "--queue", "mq=scorecard_pmml_example:2", "--fault", "echo=503@1",
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("aioeas emulator listening on http://127.0.0.1:")
        url = first.split()[-1]
        line = proc.stdout.readline()
        while "mq (queue)" not in line:
            line = proc.stdout.readline()
        assert line.rstrip().endswith("worker runs scorecard_pmml_example x2")
        env = {"EAS_ENDPOINT": url, "EAS_TOKEN": "t", "EAS_QUEUE_NAME": "mq"}
        put = invoke("queue", "put", '[{"fea1": 1, "fea2": 2}]', env=env)
        assert put.code == 0, put.err
        env["EAS_QUEUE_NAME"] = "mq/sink"
        (result,) = [json.loads(x) for x in invoke("queue", "watch", "--count", "1", env=env)
                     .out.splitlines()]  # fmt: skip
        assert json.loads(result["data"])[0]["score"] > 0
        assert result["tags"]["requestId"] == json.loads(put.out)["request_id"]
        failed = invoke(
            "predict", "-", "--service", "echo", "--retries", "0", input='{"a": 1}\n', env=env
        )
        assert failed.code == 1
        assert "injected fault" in failed.out
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--queue", "q=nope"], "no service 'nope'"),
        (["--queue", "q=echo:0"], "CONCURRENCY is 1 or more"),
        (["--queue", "a/b"], "a queue name is non-empty and has no '/'"),
        (["--fault", "echo=503"], "a fault is SERVICE=STATUS@RATE"),
    ],
)
def test_emulator_usage_errors(args: list[str], message: str) -> None:
    result = invoke("emulator", "--port", "0", *args)
    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert message in result.err


_HEAVY = ("numpy", "aiohttp", "pandas", "pyarrow", "rich.progress", "aioeas.emulator")


@pytest.mark.parametrize(
    "args",
    [["--version"], ["--help"], ["predict", "--help"], ["queue", "put", "--help"],
     ["emulator", "--help"]],
    ids=" ".join,
)  # fmt: skip
def test_version_and_help_import_no_heavy_module(args: list[str]) -> None:
    """``aioeas --version`` took 1.7 s importing numpy, aiohttp and rich for nothing: the
    commands load when they run. Counted by the modules imported, not by a clock."""
    code = (
        "import sys\nfrom aioeas.__main__ import main\n"
        f"code = main({args!r})\n"
        f"heavy = [m for m in {_HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy, code, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.stderr.strip().splitlines()[-1] == "HEAVY [] 0", done.stderr
    assert done.stdout.strip()


def test_lazy_commands_summaries_are_their_docstrings() -> None:
    import inspect

    import click

    from aioeas.cli.main import LAZY_COMMANDS, cli

    for name, (_, summary) in LAZY_COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        assert command.help is not None
        assert inspect.cleandoc(command.help).split("\n\n")[0].replace("\n", " ") == summary


def test_running_commands_in_process_leaves_the_library_logger_as_it_was() -> None:
    import logging

    before = list(logging.getLogger("aioeas").handlers)
    for _ in range(3):
        invoke("codecs")
    assert logging.getLogger("aioeas").handlers == before
