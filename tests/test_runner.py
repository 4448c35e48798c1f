"""The context-free runner only short-cuts converters that ignore contexts; cut receipts."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from temporalio.converter import (
    DataConverter,
    ExternalStorage,
    SerializationContext,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
    WithSerializationContext,
)

from agentfleet.contracts.models import LlmResponse, Usage
from agentfleet.delegation.pricing import receipts_for
from agentfleet.payloads.blobstore import external_storage
from agentfleet.payloads.codec import EncryptionCodec
from agentfleet.payloads.converter import data_converter_for
from agentfleet.payloads.runner import context_free


def test_agentfleet_converters_ignore_contexts(tmp_path: Path) -> None:
    codec = EncryptionCodec(keys={"k1": os.urandom(32)}, active="k1")
    assert context_free(data_converter_for(None, external_storage(tmp_path)))
    assert context_free(data_converter_for(codec, external_storage(tmp_path)))
    assert context_free(data_converter_for(None))


class _ContextCodec(EncryptionCodec, WithSerializationContext):
    """A codec that would encrypt per workflow: contexts matter to it."""

    def with_context(self, context: SerializationContext) -> Any:
        return _copy(self)


def _copy(codec: _ContextCodec) -> _ContextCodec:
    new = object.__new__(_ContextCodec)
    new.__dict__.update(codec.__dict__)
    return new


class _OtherDriver(StorageDriver):
    def name(self) -> str:
        return "other"

    async def store(
        self, context: StorageDriverStoreContext, payloads: Any
    ) -> list[StorageDriverClaim]:
        return []

    async def retrieve(self, context: StorageDriverRetrieveContext, claims: Any) -> list[Any]:
        return []


def test_a_context_aware_converter_keeps_the_sandbox_answers(tmp_path: Path) -> None:
    codec = _ContextCodec(keys={"k1": os.urandom(32)}, active="k1")
    assert not context_free(data_converter_for(codec, external_storage(tmp_path)))
    # A storage driver that is not ours may name blobs by workflow: contexts matter.
    other = dataclasses.replace(
        DataConverter.default, external_storage=ExternalStorage(drivers=[_OtherDriver()])
    )
    assert not context_free(other)


def test_a_cut_attempt_is_marked_on_its_receipt() -> None:
    resp = LlmResponse(
        id="msg_1",
        model="claude-sonnet-5",
        content=[],
        usage=Usage(input_tokens=10, output_tokens=5, cost_usd=0.001, llm_calls=1),
        attempt=3,
        cut_attempts=[2],
    )
    receipts = receipts_for(resp, agent_id="agent", purpose="turn 1")
    assert [(r.attempt, r.ok, r.cut) for r in receipts] == [
        (1, False, False),
        (2, False, True),
        (3, True, False),
    ]
    assert sum(r.cost_usd for r in receipts) == 0.001
