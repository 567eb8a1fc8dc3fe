"""Root conftest: aioeas's own pytest fixtures (``eas_emulator``, ``eas_emulator_factory``),
the hypothesis profile every property and stateful test starts from, and a self-signed
certificate for the HTTPS tests.

No deadline: how long an example takes depends on the machine and on what else runs on it,
so a deadline fails a correct test on a slow or busy CPU; work is bounded by counts instead
(``max_examples``, ``stateful_step_count``, and in the fuzz suites the varints a decoder
reads and the calls it makes). Derandomized and without a database: the same examples on
every run and every machine. A ``settings(...)`` made in a test module starts from this
profile; ``tests/test_no_timing.py`` checks that none sets a deadline again.

Under mutmut (``nox -s mutants``, which sets ``MUTANT_UNDER_TEST``) the ``long`` tests are
skipped: the one among the mutated modules' tests, the 400-example queue model, is the same
machine as its 100-example CI run and alone took three quarters of each queue mutant's time.
"""

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["aioeas.testing"]

settings.register_profile("aioeas", deadline=None, derandomize=True, database=None)
settings.load_profile("aioeas")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``long`` tests in mutmut's runs (see the module's docstring)."""
    if not os.environ.get("MUTANT_UNDER_TEST"):
        return
    skip = pytest.mark.skip(reason="long test: not run for each mutant (docs/mutation.md)")
    for item in items:
        if item.get_closest_marker("long"):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA) and its key."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key
