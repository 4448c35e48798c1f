"""Reads the tier thresholds in force, written by `agentfleet calibrate`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from agentfleet.complexity import DEFAULT_THRESHOLDS, Thresholds

THRESHOLDS_ACTIVITY = "agentfleet.policy.thresholds"


def thresholds_file(home: Path) -> Path:
    return home / "thresholds.json"


class PolicyActivities:
    def __init__(self, home: Path) -> None:
        self._file = thresholds_file(home)

    @activity.defn(name=THRESHOLDS_ACTIVITY)
    async def thresholds(self) -> Thresholds:
        if not self._file.exists():
            return DEFAULT_THRESHOLDS
        text = await asyncio.to_thread(self._file.read_text, encoding="utf-8")
        try:
            return Thresholds.model_validate_json(text)
        except ValidationError as err:
            raise ApplicationError(
                f"{self._file}: invalid thresholds: {err}",
                type="InvalidThresholds",
                non_retryable=True,
            ) from None
