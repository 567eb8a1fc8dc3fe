"""``aioeas codecs`` prints answers computed from its requests, not canned ones."""

from __future__ import annotations

import json

import pytest

from aioeas.cli import codecs
from aioeas.emulator import models


def test_the_string_answer_is_the_scorecard_models(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[bytes] = []
    model = models.scorecard

    def scorecard(body: bytes) -> bytes:
        asked.append(body)
        return model(body)

    monkeypatch.setattr(codecs.models, "scorecard", scorecard)
    assert codecs.show_codecs() == 0
    out = capsys.readouterr().out
    assert asked == [b'[{"fea1": 1, "fea2": 2}]']
    score = json.loads(model(asked[0]))[0]["score"]
    assert f"answer [{{'score': {score}}}]" in out
