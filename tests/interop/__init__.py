"""Interop tests: aioeas against the official eas-prediction SDK, every wire format both ways."""
