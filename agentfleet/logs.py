"""Logging in UTC, with secrets redacted from every record.

Log times are UTC ISO-8601 (`...Z`): a log line read next to a trace or a
ledger row must mean the same instant. Any environment value whose name ends in
_KEY, _TOKEN or _SECRET is replaced before a record is written.
"""

from __future__ import annotations

import logging
import os
import time

SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET")


def secret_values(env: dict[str, str] | None = None) -> list[str]:
    """The values of secret-looking variables, longest first, so no secret is half-redacted."""
    e = os.environ if env is None else env
    # Short values would redact ordinary words; real secrets are long.
    return sorted(
        {v for k, v in e.items() if k.upper().endswith(SECRET_SUFFIXES) and len(v) >= 8},
        key=len,
        reverse=True,
    )


def redact(text: str, secrets: list[str] | None = None) -> str:
    """`text` with every secret value replaced, for anything that may be written out."""
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, "[REDACTED]")
    return text


class RedactingFilter(logging.Filter):
    """Redact secrets from each record, its arguments and its traceback, before any handler."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets = secret_values()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; it is always kept."""
        if self._secrets:
            record.msg = redact(record.getMessage(), self._secrets)
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class UtcFormatter(logging.Formatter):
    """Log times in UTC ISO-8601 (`...Z`), to line up with traces and the ledger."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time as `YYYY-MM-DDTHH:MM:SS.mmmZ`, whatever `datefmt` says."""
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{t}.{int(record.msecs):03d}Z"


def setup_logging(level: int = logging.INFO) -> None:
    """One stderr handler on the root logger, UTC and redacting, at `level`."""
    handler = logging.StreamHandler()
    handler.setFormatter(UtcFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
