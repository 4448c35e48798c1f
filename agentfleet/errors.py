"""Errors meant for people: printed as one line, never as a traceback."""

from __future__ import annotations


class CliError(Exception):
    """A user-facing error: printed on stderr without a traceback."""
