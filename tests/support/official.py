"""The official ``eas-prediction==0.36`` SDK, installed in a virtual environment of its own.

It pins ``protobuf<=3.20.3``, which cannot live beside aioeas's protobuf 7, so it never goes
into the main environment: tests and benchmarks run it as a separate Python process. The
environment is made once per machine (about 20 s) and reused while its requirements stay
the same; ``AIOEAS_OFFICIAL_VENV`` puts it somewhere else.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: What the official package imports at module level (snappy included), with the protobuf
#: line it was written for.
REQUIREMENTS = (
    "eas-prediction==0.36",
    "protobuf==3.20.3",
    "python-snappy==0.7.3",
    "urllib3>=1.26",
    "websocket-client>=1.0",
    "numpy>=1.24",
)


def _venv_dir() -> Path:
    custom = os.environ.get("AIOEAS_OFFICIAL_VENV")
    if custom:
        return Path(custom)
    digest = hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()[:12]
    return ROOT / ".cache" / f"official-venv-{digest}"


def official_python() -> Path:
    """The Python of the official SDK's environment, made on first use (safe across processes)."""
    where = _venv_dir()
    python = where / "bin" / "python"
    done = where / ".complete"
    if done.exists():
        return python
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(str(where) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return python
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *REQUIREMENTS,
            ],
            check=True,
            stdout=sys.stderr,
        )
        subprocess.run(
            [
                str(python),
                "-c",
                "import eas_prediction, google.protobuf as p; "
                "assert p.__version__ == '3.20.3', p.__version__",
            ],
            check=True,
        )
        done.write_text("\n".join(REQUIREMENTS))
    return python


if __name__ == "__main__":  # python -m tests.support.official: make it and say where
    print(official_python())
