"""The pydantic bases every payload and decision model is built on, one per purpose.

Inputs reject what they do not know and results tolerate it: a typo in an input
(`gaol`) fails loudly at the boundary, while a result written by a newer worker
during a rolling deploy still reads. The frozen variants are for values that
decisions are made from and of (a budget, a policy, a score): a decision that
cannot be changed after it is taken replays the same, and can be kept as it was
for history and logs.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict


class Contract(BaseModel):
    """An input: unknown fields are an error, so a misspelt option is never dropped."""

    model_config = ConfigDict(extra="forbid")


class Record(BaseModel):
    """A result: fields added by a newer worker are ignored, so old readers keep reading."""

    model_config = ConfigDict(extra="ignore")


class FrozenContract(Contract):
    """An input a decision is made from, immutable so every step keeps the value it saw."""

    model_config = ConfigDict(frozen=True)


class FrozenRecord(Record):
    """A decision's result, immutable so what was decided is what is recorded."""

    model_config = ConfigDict(frozen=True)


# AwareDatetime rejects naive input with an error located at the field name; the
# after-validator then pins every value to UTC, so equal instants compare and
# serialise identically whatever offset they arrived with.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(lambda v: v.astimezone(UTC))]

__all__ = ["Contract", "FrozenContract", "FrozenRecord", "Record", "UtcDatetime"]
