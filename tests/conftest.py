"""Root conftest: aioeas's own pytest fixtures (``eas_emulator``, ``eas_emulator_factory``),
and the hypothesis profile every property and stateful test starts from.

No deadline: how long an example takes depends on the machine and on what else runs on it,
so a deadline fails a correct test on a slow or busy CPU; work is bounded by counts instead
(``max_examples``, ``stateful_step_count``, and in the fuzz suites the varints a decoder
reads and the calls it makes). Derandomized and without a database: the same examples on
every run and every machine. A ``settings(...)`` made in a test module starts from this
profile; ``tests/test_no_timing.py`` checks that none sets a deadline again.
"""

from hypothesis import settings

pytest_plugins = ["aioeas.testing"]

settings.register_profile("aioeas", deadline=None, derandomize=True, database=None)
settings.load_profile("aioeas")
