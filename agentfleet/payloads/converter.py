"""The data converter shared by every client and worker.

It is Temporal's pydantic converter with one change: a payload that fails
validation raises a non-retryable `ApplicationError` naming the bad fields.
Without it, a typo such as `{"gaol": 1}` typed into the Temporal UI would fail
the first workflow task forever, leaving the workflow Running instead of Failed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pydantic
import temporalio.api.common.v1
from temporalio.contrib.pydantic import (
    PydanticJSONPlainPayloadConverter,
    PydanticPayloadConverter,
)
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    ExternalStorage,
    PayloadCodec,
)
from temporalio.exceptions import ApplicationError

INVALID_PAYLOAD = "InvalidPayload"


def describe_invalid_payload(err: pydantic.ValidationError) -> str:
    """One line naming every bad field, for a person who typed the payload by hand."""
    parts = []
    for e in err.errors(include_url=False):
        field = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"field '{field}': {e['msg']}")
    return f"invalid {err.title}: " + "; ".join(parts)


class _ValidatingJSONConverter(PydanticJSONPlainPayloadConverter):
    def from_payload(
        self, payload: temporalio.api.common.v1.Payload, type_hint: type | None = None
    ) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except pydantic.ValidationError as err:
            raise ApplicationError(
                describe_invalid_payload(err), type=INVALID_PAYLOAD, non_retryable=True
            ) from None


def _build_converters() -> tuple[Any, ...]:
    json_converter = _ValidatingJSONConverter()
    return tuple(
        json_converter if isinstance(c, PydanticJSONPlainPayloadConverter) else c
        for c in PydanticPayloadConverter().converters.values()
    )


class AgentfleetPayloadConverter(CompositePayloadConverter):
    """Temporal's pydantic converter whose JSON converter fails bad input non-retryably."""

    # Built once: the SDK makes a new payload converter for every workflow activation
    # and every activity (each context it binds copies the DataConverter), and building
    # the pydantic converters each time was ~3% of a sub-agent's worker CPU
    # (bench/overhead.py). The encoding converters hold no state.
    _shared: tuple[Any, ...] | None = None

    def __init__(self) -> None:
        cls = type(self)
        if cls._shared is None:
            cls._shared = _build_converters()
        super().__init__(*cls._shared)


data_converter = DataConverter(payload_converter_class=AgentfleetPayloadConverter)


def data_converter_for(
    codec: PayloadCodec | None, storage: ExternalStorage | None = None
) -> DataConverter:
    """`data_converter`, with the codec and the external storage a deployment configures.

    Payloads run through `codec` (encryption) when one is given, and payloads over the
    storage threshold are offloaded to `storage`.
    """
    converter = data_converter
    if codec is not None:
        converter = dataclasses.replace(converter, payload_codec=codec)
    if storage is not None:
        converter = dataclasses.replace(converter, external_storage=storage)
    return converter
