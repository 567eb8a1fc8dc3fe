"""Every message that tells a user to install an extra says it as ``install_hint`` does:
``pip install -e '/checkout[EXTRA]'`` when aioeas runs from a source checkout (as here),
``pip install 'aioeas[EXTRA]'`` otherwise. The command line's hints did since issue 10;
``to_dataframe``, ``TorchRequest(flag=True)`` and the emulator's cramjam line still said
``pip install 'aioeas[...]'`` (in a checkout, that fetches aioeas from the index over the
checkout being worked on)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from aioeas import TorchRequest, UsageError
from aioeas._install import install_hint

PACKAGE = Path(__file__).resolve().parents[2] / "aioeas"


def test_to_dataframe_without_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    from aioeas.queue.records import to_dataframe

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(UsageError) as caught:
        to_dataframe([])
    assert str(caught.value) == f"to_dataframe needs pandas: {install_hint('pandas')}"


def test_torch_flag_without_cramjam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cramjam", None)
    request = TorchRequest(flag=True).add_feed(0, np.zeros(4, np.float32))
    with pytest.raises(UsageError) as caught:
        request.to_bytes()
    assert str(caught.value).endswith(f"compresses with snappy: {install_hint('snappy')}")


def test_the_emulators_cramjam_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from aioeas.emulator import codings

    monkeypatch.setitem(sys.modules, "cramjam", None)
    monkeypatch.setattr(codings, "_DECODERS", codings._decoders())
    message = codings.missing("zstd")
    assert message is not None
    assert message.endswith(f"pip install cramjam (or the extra: {install_hint('snappy')})")


def test_no_hint_is_written_out_by_hand() -> None:
    by_hand = re.compile(r"pip install '?aioeas\[")
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "_install.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if by_hand.search(line)
    ]
    assert found == []
