"""Fixtures of the suppression tests: the delivery engine's real SMTP server with its fast settings."""

from mailings.tests.conftest import server

__all__ = ["server"]
