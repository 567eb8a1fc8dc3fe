"""The public import: ``aioeas.__all__`` is exactly what ``aioeas/__init__.py`` defines.

In the style of httpx's tests/test_exported_members.py, plus a check that the sans-IO core
imports without the network stack.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import pytest

import aioeas
import aioeas.codecs
import aioeas.errors
import aioeas.requests

INIT = Path(aioeas.__file__)
INCLUDED_PRIVATE_MEMBERS = {"__version__"}


def _names_bound_in_init() -> set[str]:
    """Names that aioeas/__init__.py itself imports or assigns at module level."""
    names: set[str] = set()
    body = list(ast.parse(INIT.read_text()).body)
    for node in list(body):  # the lazily loaded client names are imported for type checkers
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            body.extend(node.body)
    for node in body:
        if isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return {n for n in names if not n.startswith("_") or n in INCLUDED_PRIVATE_MEMBERS}


def isort_style(names: list[str]) -> list[str]:
    """The order ruff's RUF022 keeps ``__all__`` in: SCREAMING_CASE, CamelCase, the rest."""

    def key(name: str) -> tuple[int, str]:
        if len(name) > 1 and name.isupper():
            return 0, name
        return (1 if name[:1].isupper() else 2), name

    return sorted(names, key=key)


def test_all_is_sorted_and_unique() -> None:
    assert aioeas.__all__ == isort_style(aioeas.__all__)
    assert len(set(aioeas.__all__)) == len(aioeas.__all__)


def test_every_exported_name_exists() -> None:
    for name in aioeas.__all__:
        assert hasattr(aioeas, name), name


def test_all_equals_the_public_names_of_init() -> None:
    assert set(aioeas.__all__) == _names_bound_in_init()


def test_all_imports_are_exported() -> None:
    # httpx's check, with submodules (public here: aioeas.codecs, aioeas.errors, ...) left out
    public = isort_style(
        [
            name
            for name in dir(aioeas)  # dir() lists the lazily loaded client names too
            if (not name.startswith("_") or name in INCLUDED_PRIVATE_MEMBERS)
            and not isinstance(getattr(aioeas, name), types.ModuleType)
        ]
    )
    assert aioeas.__all__ == public


@pytest.mark.parametrize("module", [aioeas.codecs, aioeas.requests, aioeas.errors])
def test_subpackage_all(module: types.ModuleType) -> None:
    assert module.__all__ == isort_style(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{module.__name__}.{name}"


def test_errors_all_lists_every_exception_class() -> None:
    classes = sorted(
        name
        for name, value in vars(aioeas.errors).items()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == "aioeas.errors"
    )
    assert aioeas.errors.__all__ == classes


def test_version() -> None:
    assert isinstance(aioeas.__version__, str)
    assert aioeas.__version__.count(".") >= 2


def _imported_network_modules(code: str, *, core: bool = True) -> list[str]:
    """Run ``code`` in a fresh interpreter; the aiohttp and asyncio modules it loaded
    (``core``: check that it imported aioeas.codecs)."""
    probe = (
        f"{code}\n"
        "import sys\n"
        f"assert {not core} or 'aioeas.codecs' in sys.modules, 'the core was not imported'\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'asyncio'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=INIT.parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [m for m in result.stdout.strip().split(",") if m]


#: Stand-ins for the packages above the sans-IO modules, so that only the modules' own
#: imports run: whatever ``aioeas/__init__.py`` and ``aioeas/client/__init__.py`` import
#: for the public API is left out.
_BARE_PACKAGES = """
import importlib.util, pathlib, sys, types
root = pathlib.Path(importlib.util.find_spec("aioeas").origin).parent  # runs no aioeas code
for name, path in (("aioeas", root), ("aioeas.client", root / "client")):
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(path)]
    sys.modules[name] = pkg
"""


def test_the_sans_io_modules_do_not_import_the_network_stack() -> None:
    code = _BARE_PACKAGES + (
        "import aioeas.errors, aioeas.codecs, aioeas.requests, aioeas.requests.served\n"
        "import aioeas.blade_tf_request, aioeas.client.auth\n"
    )
    # On 3.10 only, aioeas.errors takes asyncio.exceptions.TimeoutError as a base class (the
    # one exception import-linter allows), and importing it loads the asyncio package: there
    # nothing beyond what that import loads may come in.
    allowed = []
    if sys.version_info < (3, 11):
        allowed = _imported_network_modules("import asyncio.exceptions", core=False)
    assert [m for m in _imported_network_modules(code) if m not in allowed] == []


@pytest.mark.parametrize("statement", ["import aioeas.codecs", "import aioeas.requests"])
def test_importing_the_core_does_not_import_aiohttp(statement: str) -> None:
    assert [m for m in _imported_network_modules(statement) if m.startswith("aiohttp")] == []


def test_client_names_load_on_first_use() -> None:
    code = "import aioeas\nimport sys\nassert 'aiohttp' not in sys.modules\n"
    code += "aioeas.PredictClient\nassert 'aiohttp' in sys.modules\nimport aioeas.codecs\n"
    assert "aiohttp" in _imported_network_modules(code)
