"""How to install an extra, said right for where aioeas runs from.

``pip install 'aioeas[cli]'`` is right for an installed package and wrong in a source
checkout (it would fetch aioeas from the index over the checkout being worked on): there
the hint is ``pip install -e '/path/to/checkout[cli]'``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["install_hint"]

_PACKAGE = Path(__file__).resolve().parent


def source_checkout(package: Path = _PACKAGE) -> Path | None:
    """The checkout ``package`` is imported from (its parent holds aioeas' pyproject.toml),
    or None for an installed copy."""
    pyproject = package.parent / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    return package.parent if 'name = "aioeas"' in text else None


def install_hint(extra: str, package: Path = _PACKAGE) -> str:
    """The command that installs ``extra``: ``pip install 'aioeas[EXTRA]'``, or from a
    source checkout ``pip install -e '/checkout[EXTRA]'``."""
    checkout = source_checkout(package)
    if checkout is None:
        return f"pip install 'aioeas[{extra}]'"
    return f"pip install -e '{checkout}[{extra}]'"
