"""A workflow runner that skips serialization contexts nobody reads.

With a payload codec or external storage configured (agentfleet always offloads large
payloads, agentfleet/payloads/blobstore.py), the SDK visits every payload of every activation and
completion, and for each one asks the workflow instance for its serialization context and
its external-store context. Under the sandbox each question is an `exec` of a code string
inside the sandbox (compiled afresh every time): the largest single cost a one-turn
sub-agent adds over bare Temporal (bench/overhead.py profile, about 15% of the worker's
CPU).

The answers only matter to a converter, codec or storage driver that reads them. Ours do
not: the pydantic converter, the encryption codec and the blob driver (content-addressed,
so it stores the same bytes for any target) behave the same under any context. So when
`context_free(converter)` holds, this runner answers without entering the sandbox: no
serialization context (the SDK then uses the worker's converter as is) and an empty store
context. Any other converter gets the sandbox's answers, unchanged.
"""

from __future__ import annotations

from typing import Any

from temporalio.converter import (
    DataConverter,
    StorageDriverStoreContext,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance

from agentfleet.payloads.blobstore import BlobStorageDriver
from agentfleet.runner_wrap import WrappingInstance, WrappingRunner

_NO_STORE_TARGET = StorageDriverStoreContext(target=None)
_PROBE = WorkflowSerializationContext(namespace="probe", workflow_id="probe")


def context_free(converter: DataConverter) -> bool:
    """Whether `converter` behaves the same under every serialization and store context.

    `with_context` returns the converter itself when no part of it takes a context; the
    storage drivers must be ours (blob references depend only on the bytes).
    """
    if converter.with_context(_PROBE) is not converter:
        return False
    storage = converter.external_storage
    if storage is None:
        return True
    if storage.driver_selector is not None:
        return False
    return all(isinstance(d, BlobStorageDriver) for d in storage.drivers)


class ContextFreeRunner(WrappingRunner):
    """Wraps a runner; its instances answer context questions outside the sandbox."""

    def wrap(self, instance: WorkflowInstance) -> WorkflowInstance:
        """The inner runner's instance, wrapped to answer context questions itself."""
        return _ContextFreeInstance(instance)


class _ContextFreeInstance(WrappingInstance):
    def get_serialization_context(self, command_info: Any) -> Any:
        return None

    def get_external_store_context(self, command_info: Any) -> StorageDriverStoreContext:
        return _NO_STORE_TARGET
