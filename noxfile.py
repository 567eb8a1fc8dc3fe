"""Every check CI runs, as nox sessions a person can run too: ``nox -s tests``.

``tests`` runs on every Python the package claims (``requires-python >= 3.10``), one session
each: ``nox -s tests-3.10``, ... ``tests-3.13``. CI (.ci/run) runs the whole suite once on
the README's Python and, without the long suites, on the oldest and the newest here
(tests/test_readme.py checks that). The other sessions need one Python only.
"""

from __future__ import annotations

import pathlib
import shutil
import tempfile

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

ROOT = pathlib.Path(__file__).parent
#: Every Python the package claims, oldest first: a tests session each.
PYTHON = ["3.10", "3.11", "3.12", "3.13"]
#: For lint, typecheck, docs and the rest: one is enough.
ONE_PYTHON = "3.11"
#: The generator the checked-in aioeas/_proto was made with (tests/unit checks for drift).
GRPCIO_TOOLS = "grpcio-tools==1.85.1"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite: unit, property, interop (official SDK in its own venv), integration."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=ONE_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and import-linter's layer contracts."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", "aioeas", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "aioeas", "tests", "benchmarks", "noxfile.py")
    session.run("lint-imports")


@nox.session(python=ONE_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy strict on the package."""
    session.install("-e", ".[lint]")
    session.run("mypy")


@nox.session(python=ONE_PYTHON)
def proto(session: nox.Session) -> None:
    """Regenerate aioeas/_proto (modules and .pyi stubs) from proto/*.proto."""
    session.install(GRPCIO_TOOLS)
    out = ROOT / "aioeas" / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        protos = sorted(
            str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").glob("*.proto")
        )
        session.run(
            "python",
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            *protos,
        )
        for f in pathlib.Path(tmp).iterdir():
            shutil.copy(f, out / f.name)


@nox.session(python=ONE_PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmarks, aioeas against eas-prediction and numpy, printed as ratios."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/bench_codecs.py", *session.posargs)


@nox.session(python=ONE_PYTHON)
def mutants(session: nox.Session) -> None:
    """Mutation testing (mutmut; not in CI, slow): do the tests fail when a property breaks?

    Modules and tests are set in pyproject.toml's [tool.mutmut]; results go to ./mutants.
    ``nox -s mutants -- "aioeas.client.*"`` runs one group; figures and the equivalent
    survivors are listed in docs/mutation.md. Two workers: the suite runs in each.
    """
    session.install("-e", ".[test]", "mutmut==3.8.1")
    _drop_stale_copies()
    _restore_results()
    names = session.posargs
    try:
        session.run("mutmut", "run", "--max-children", "2", *names)
    finally:
        _save_results()
    session.run("mutmut", "results")


#: mutmut's verdicts, kept in git: a full run takes longer than one sitting, so each run
#: carries on from the last one's. mutmut keys them by a hash of each function's source and
#: forgets the verdicts of a function that changed, so restored ones never outlive the code
#: they were reached on (a new or changed *test* does not reset them: name the mutants to
#: run them again).
RESULTS = ROOT / "tests" / "mutation_results"


def _restore_results() -> None:
    """Put the kept verdicts where mutmut looks, for the files it has none of yet."""
    for kept in RESULTS.rglob("*.py.meta"):
        target = ROOT / "mutants" / kept.relative_to(RESULTS)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kept, target)


def _save_results() -> None:
    """Keep mutmut's verdicts (even of a run stopped half way) for the next run."""
    for meta in (ROOT / "mutants" / "aioeas").rglob("*.py.meta"):
        target = RESULTS / meta.relative_to(ROOT / "mutants")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(meta, target)


def _drop_stale_copies() -> None:
    """mutmut copies the package into ./mutants once and never refreshes the files it does
    not mutate: after a change to one of them the mutants would run against the old copy.
    Removing them makes mutmut copy them afresh (its results live in the .meta files)."""
    import fnmatch

    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]["only_mutate"]
    copies = ROOT / "mutants"
    for path in (copies / "aioeas").rglob("*.py"):
        if not any(fnmatch.fnmatch(str(path.relative_to(copies)), p) for p in patterns):
            path.unlink()


@nox.session(python=ONE_PYTHON)
def docs(session: nox.Session) -> None:
    """Build the docs site in strict mode (broken links and references fail)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")
