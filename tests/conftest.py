"""Root conftest: aioeas's own pytest fixtures (``eas_emulator``, ``eas_emulator_factory``)."""

pytest_plugins = ["aioeas.testing"]
