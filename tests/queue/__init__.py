"""Tests of the queue client: sans-IO units (frames, protocol, accounting) and integration
tests against the emulator's queue service (``aioeas.emulator``)."""
