"""Every code example in the docs runs, and the site builds in strict mode.

The convention for ```` ```python ```` blocks in ``docs/**/*.md`` (say it in the page's
source only, as an HTML comment on the line before the block; readers never see it):

- no marker: the block is a complete program. It runs as a script in a process of its own
  against a fresh emulator made from the command line the quickstart prints
  (``tests/support/quickstart.py``: the same options, on a free port) whose URL is in
  ``EAS_ENDPOINT`` and token in ``EAS_TOKEN``. It must exit 0, warnings as errors.
- ``<!-- docs-test: pytest -->``: the block is a pytest module; it runs with pytest in an
  empty directory whose ``conftest.py`` enables ``aioeas.testing`` (as the testing guide
  tells users to) and must pass.
- ``<!-- docs-test: skip REASON -->``: not run; the reason is required, and there are at
  most ``MAX_SKIPPED`` of them in the whole site.

```` ```sh ```` blocks marked ``<!-- docs-test: shell -->`` run with ``bash -e`` in an empty
directory, against the same emulator, with this Python's scripts (``aioeas``) first on the
``PATH``. Other shell blocks (installing, starting a long-running emulator) are not run.
- a block that only includes a file with pymdownx.snippets (``--8<-- "path"``) runs that
  file, unless another test runs it already: ``docs/examples/**`` (the aioeas twins of the
  manual's examples, ``tests/test_docs_examples.py``) and ``tests/interop/manual_examples``
  (the manual's own code, with the official client, ``tests/interop/test_manual_examples.py``);
  for those this test only checks that the covering test names the file.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.quickstart import (
    quickstart_argv,
    quickstart_emulator,
    quickstart_token,
    with_free_port,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TOKEN = quickstart_token()
MAX_SKIPPED = 5
TIMEOUT = 90

MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>\S+)\s*(?P<reason>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)(?P<attrs>[^`]*)$")
SNIPPET = re.compile(r'^\s*--8<--\s+"(?P<path>[^"]+)"\s*$')

#: Files run by another test, and the test that runs them.
COVERED = {
    "docs/examples/": ROOT / "tests" / "test_docs_examples.py",
    "tests/interop/manual_examples/": ROOT / "tests" / "interop" / "test_manual_examples.py",
}


@dataclass(frozen=True)
class Block:
    page: str  # relative to docs/
    line: int  # 1-based line of the opening fence
    mode: str  # "run", "pytest", "skip"
    reason: str
    code: str
    included: tuple[str, ...]  # snippet paths, when the block is only includes

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _blocks(page: Path) -> Iterator[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    rel = page.relative_to(DOCS).as_posix()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        indent, lang = fence["indent"], fence["lang"]
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        previous = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        marker = MARKER.match(previous)
        if lang in ("sh", "bash", "console"):
            if marker is not None:
                assert marker["what"] == "shell", f"{rel}:{start + 1}: unknown shell marker"
                yield Block(rel, start + 1, "shell", "", "\n".join(body) + "\n", ())
            continue
        if lang not in ("python", "py"):
            continue
        mode, reason = "run", ""
        if marker is not None:
            mode, reason = marker["what"], marker["reason"]
            assert mode in ("pytest", "skip"), f"{rel}:{start + 1}: unknown marker {mode!r}"
        code = "\n".join(body) + "\n"
        snippets = [SNIPPET.match(ln) for ln in body if ln.strip()]
        included: tuple[str, ...] = ()
        if snippets and all(snippets):
            included = tuple(m["path"] for m in snippets if m is not None)
            code = "".join((ROOT / p).read_text(encoding="utf-8") for p in included)
        yield Block(rel, start + 1, mode, reason, code, included)


def _all_blocks() -> list[Block]:
    return [b for page in sorted(DOCS.rglob("*.md")) for b in _blocks(page)]


BLOCKS = _all_blocks()


def _covering_test(path: str) -> Path | None:
    for prefix, test in COVERED.items():
        if path.startswith(prefix):
            return test
    return None


def _runnable(block: Block) -> bool:
    if block.mode == "skip":
        return False
    return not (block.included and all(_covering_test(p) for p in block.included))


# -- the emulator each block runs against ------------------------------------------------


class _Loop:
    """An event loop on a thread of its own, where the emulators live while scripts run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass(frozen=True)
class Result:
    returncode: int
    output: str


def _run(block: Block, loop: _Loop, tmp: Path) -> Result:
    work = tmp / re.sub(r"\W", "_", block.id)
    work.mkdir()
    emu = loop.run(quickstart_emulator())
    env = {k: v for k, v in os.environ.items() if k not in ("NAMESPACE", "POD_NAME")}
    env.update(EAS_ENDPOINT=emu.url, EAS_TOKEN=TOKEN, PYTHONPATH=str(ROOT))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if block.mode == "shell":
        (work / "example.sh").write_text(block.code)
        args = ["bash", "-e", "-o", "pipefail", str(work / "example.sh")]
    elif block.mode == "pytest":
        (work / "conftest.py").write_text('pytest_plugins = ["aioeas.testing"]\n')
        (work / "test_example.py").write_text(block.code)
        args = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "--rootdir",
            str(work),
            str(work),
        ]
    else:
        (work / "example.py").write_text(block.code)
        args = [sys.executable, "-W", "error", str(work / "example.py")]
    # A session of its own: on timeout the whole group goes (a shell block's ``aioeas``
    # would otherwise hold the pipes open and the wait would never end).
    proc = subprocess.Popen(
        args,
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
        result = Result(proc.returncode, out)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        result = Result(-1, f"timed out after {TIMEOUT} s\n{out}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        loop.run(emu.stop())
    return result


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every runnable block, run once, a few at a time."""
    tmp = tmp_path_factory.mktemp("docs")
    loop = _Loop()
    try:
        runnable = [b for b in BLOCKS if _runnable(b)]
        with ThreadPoolExecutor(max(2, os.cpu_count() or 1)) as pool:
            done = pool.map(lambda b: _run(b, loop, tmp), runnable)
            return dict(zip([b.id for b in runnable], done, strict=True))
    finally:
        loop.close()


# -- the tests -------------------------------------------------------------------------


@pytest.mark.parametrize("block", [b for b in BLOCKS if _runnable(b)], ids=lambda b: b.id)
def test_example_runs(block: Block, results: dict[str, Result]) -> None:
    result = results[block.id]
    assert result.returncode == 0, (
        f"{block.id} ({block.mode}) failed with {result.returncode}:\n{result.output}"
    )


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.included and not _runnable(b)], ids=lambda b: b.id
)
def test_included_file_is_run_elsewhere(block: Block) -> None:
    for path in block.included:
        test = _covering_test(path)
        assert test is not None, path
        assert test.exists(), path
        source = test.read_text(encoding="utf-8")
        stem = Path(path).stem
        assert f'"{stem}"' in source, f"{test.name} does not run {path} ({block.id})"


def test_the_convention_holds() -> None:
    assert len(BLOCKS) >= 20, "the docs have fewer examples than expected: is the parser broken?"
    skipped = [b for b in BLOCKS if b.mode == "skip"]
    assert all(b.reason for b in skipped), [b.id for b in skipped if not b.reason]
    assert len(skipped) <= MAX_SKIPPED, [b.id for b in skipped]


def test_site_builds_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "migration" / "index.html").exists()


def test_the_quickstart_command_runs_as_printed() -> None:
    """The command itself (not only ``build``): it starts, and serves what the examples use."""
    argv = [sys.executable, "-m", "aioeas.emulator", *with_free_port(quickstart_argv())]
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        while "scorecard_async (queue)" not in lines[-1] and lines[-1]:
            lines.append(proc.stdout.readline())
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert lines[0].startswith("aioeas emulator listening on http://127.0.0.1:"), err
    assert any("test_group.qservice (queue)" in line for line in lines), lines
    assert any("scorecard_async (queue)" in line for line in lines), lines
    (mnist,) = [line for line in lines if line.startswith("  mnist_saved_model_example ")]
    assert "(weight 3)" in mnist


def test_the_quickstart_shows_the_score_the_scorecard_gives() -> None:
    """The sample answer in the quickstart's first request is the emulator's answer."""
    from aioeas.emulator import models

    page = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    (shown,) = re.findall(r"print\(resp\.text\)\s+# (.*)", page)
    assert shown == models.scorecard(b'[{"fea1": 1, "fea2": 2}]').decode()


def test_the_cli_guide_starts_the_quickstarts_emulator() -> None:
    """The command-line guide's examples run against the quickstart's emulator, so the
    `aioeas emulator` command it shows is that one, option for option."""
    import shlex

    text = (DOCS / "guides" / "cli.md").read_text(encoding="utf-8").replace("\\\n", " ")
    shown = [shlex.split(line) for line in text.splitlines() if line.startswith("aioeas emulator")]
    assert shown == [["aioeas", "emulator", *quickstart_argv()]]
