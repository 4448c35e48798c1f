"""Reads the tier thresholds in force, written by `agentfleet calibrate`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import ValidationError
from temporalio import activity
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities._beat import short_beating
from agentfleet.contracts.activities import SEARCH_ATTRIBUTES_ACTIVITY, THRESHOLDS_ACTIVITY
from agentfleet.delegation.calibration import read_history
from agentfleet.delegation.complexity import DEFAULT_THRESHOLDS, Thresholds
from agentfleet.delegation.forecast import CalibratedThresholds, tier_costs


def thresholds_file(home: Path) -> Path:
    """Where `agentfleet calibrate` writes the tier thresholds in force."""
    return home / "thresholds.json"


class PolicyActivities:
    """What the master reads from outside at its start: thresholds and the cluster's attributes."""

    def __init__(self, home: Path) -> None:
        self._file = thresholds_file(home)

    @activity.defn(name=THRESHOLDS_ACTIVITY)
    async def thresholds(self) -> CalibratedThresholds:
        """The calibrated tier thresholds (the defaults before any calibration)."""
        # Under a 2 s heartbeat timeout (workflows/_calls.py): a slow read beats.
        return await short_beating(self._read())

    async def _read(self) -> CalibratedThresholds:
        # The calibration record's cost per tier rides along, so the master can
        # forecast a plan's cost with no activity of its own (agentfleet/delegation/forecast.py).
        history = await asyncio.to_thread(read_history, self._file.parent)
        costs = tier_costs(history)
        if not self._file.exists():
            return CalibratedThresholds(**DEFAULT_THRESHOLDS.model_dump(), tier_costs=costs)
        text = await asyncio.to_thread(self._file.read_text, encoding="utf-8")
        try:
            base = Thresholds.model_validate_json(text)
            return CalibratedThresholds(**base.model_dump(), tier_costs=costs)
        except ValidationError as err:
            raise ApplicationError(
                f"{self._file}: invalid thresholds: {err}",
                type="InvalidThresholds",
                non_retryable=True,
            ) from None

    @activity.defn(name=SEARCH_ATTRIBUTES_ACTIVITY)
    async def search_attributes(self, names: list[str]) -> bool:
        """Whether the namespace has all of `names` registered.

        Upserting an unregistered attribute fails the workflow task forever, so
        a cluster that never registered them (or a test server) gets no tags,
        and the worker says so in its log instead.
        """
        info = activity.info()
        try:
            resp = await short_beating(
                activity.client().operator_service.list_search_attributes(
                    ListSearchAttributesRequest(namespace=info.namespace)
                )
            )
        except RPCError as err:
            activity.logger.warning("cannot list search attributes: %s", err.message)
            return False
        missing = sorted(set(names) - set(resp.custom_attributes))
        if missing:
            activity.logger.warning(
                "search attributes not registered: %s; agents will not be tagged "
                "(see README: Custom search attributes)",
                ", ".join(missing),
            )
        return not missing
