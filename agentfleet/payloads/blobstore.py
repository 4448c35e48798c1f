"""Content-addressed storage for what must not live in workflow history.

Conversations are passed by reference: history would otherwise grow with the
square of the number of turns (the whole transcript resent every turn), and a
public report hit Temporal's 50 MB limit after 53 calls. Any payload over
256 KiB is offloaded here too, through Temporal's `ExternalStorage` driver
interface. Everything goes through `BlobStore`, so an S3 or GCS store can
replace the local one without touching a workflow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ExternalStorage,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)

from agentfleet.atomic import atomic_write_bytes

PREFIX = "sha256:"


class BlobMissing(LookupError):
    """A reference that names no stored blob, or one whose bytes no longer match it."""


class BlobStore(Protocol):
    """Where references point: the one interface a remote store (S3, GCS) has to offer."""

    def put(self, data: bytes) -> str:
        """Store `data`; the returned reference is the same for the same bytes."""
        ...

    def get(self, ref: str) -> bytes:
        """The bytes `put` was given for `ref`; BlobMissing if there are none."""
        ...


class LocalBlobStore:
    """Files under `root`, named by their SHA-256.

    A retried write of the same bytes is a no-op, and a reference can never point at
    other bytes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, ref: str) -> Path:
        if not ref.startswith(PREFIX) or len(ref) != len(PREFIX) + 64:
            raise BlobMissing(f"not a blob reference: {ref[:80]!r}")
        digest = ref[len(PREFIX) :]
        if not all(c in "0123456789abcdef" for c in digest):
            raise BlobMissing(f"not a blob reference: {ref[:80]!r}")
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        """Write `data` atomically (fsync, then rename), once: a retry finds it there."""
        ref = PREFIX + hashlib.sha256(data).hexdigest()
        path = self._path(ref)
        if path.exists():
            return ref
        atomic_write_bytes(path, data, make_parent=True)
        return ref

    def get(self, ref: str) -> bytes:
        """Read a blob and check it against its digest, so corruption fails loudly."""
        path = self._path(ref)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"blob {ref} is not in {self.root}") from None
        if PREFIX + hashlib.sha256(data).hexdigest() != ref:
            raise BlobMissing(f"blob {ref} in {self.root} is corrupt")
        return data


class BlobStorageDriver(StorageDriver):
    """Temporal's external-storage driver over a `BlobStore`."""

    def __init__(self, store: BlobStore, name: str = "agentfleet-blobs") -> None:
        self._store = store
        self._name = name

    def name(self) -> str:
        """The driver's name, recorded in every claim so the SDK finds the driver again."""
        return self._name

    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[Payload]
    ) -> list[StorageDriverClaim]:
        """Offload each payload; its claim holds only the blob reference."""
        return [
            StorageDriverClaim(claim_data={"ref": self._store.put(p.SerializeToString())})
            for p in payloads
        ]

    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[Payload]:
        """Bring offloaded payloads back from their claims' references."""
        out = []
        for claim in claims:
            payload = Payload()
            payload.ParseFromString(self._store.get(claim.claim_data["ref"]))
            out.append(payload)
        return out


def external_storage(root: Path, threshold: int = 256 * 1024) -> ExternalStorage:
    """Temporal's external storage over blobs under `root`, for payloads over `threshold`."""
    return ExternalStorage(
        drivers=[BlobStorageDriver(LocalBlobStore(root))], payload_size_threshold=threshold
    )
