"""``aioeas`` / ``python -m aioeas``: the command line (``aioeas.cli``).

The command line needs the ``cli`` extra (click, rich); the library does not. Without it,
this says in one line how to install it and exits with status 2, rather than a traceback
about a module the user never asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from aioeas._install import install_hint

_CLI_PACKAGES = frozenset({"click", "rich"})


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from aioeas.cli.main import main as cli_main
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in _CLI_PACKAGES:
            raise
        print(
            f"aioeas: the command line needs {exc.name}: {install_hint('cli')}",
            file=sys.stderr,
        )
        return 2
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
