"""Connecting to Temporal the same way from the CLI, the worker and the tests.

Temporal's envconfig profiles are honoured (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_API_KEY, TLS settings, config files), so Temporal Cloud or a
self-hosted cluster needs no code change.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.client import Client, Plugin
from temporalio.envconfig import ClientConfigProfile

from agentfleet.config import Settings
from agentfleet.payloads.blobstore import external_storage
from agentfleet.payloads.codec import codec_from_env
from agentfleet.payloads.converter import data_converter_for

if TYPE_CHECKING:
    from agentfleet.telemetry import Telemetry


async def connect(
    address: str | None = None,
    namespace: str | None = None,
    plugins: Sequence[Plugin] = (),
    blob_root: Path | None = None,
    **kwargs: Any,
) -> Client:
    """A client with agentfleet's data converter: pydantic payloads, optional encryption, blobs.

    `blob_root` holds payloads too large for history (default
    `$AGENTFLEET_HOME/blobs`); every process of a deployment must share it.
    """
    config = ClientConfigProfile.load().to_client_connect_config()
    if address:
        config["target_host"] = address
    if namespace:
        config["namespace"] = namespace
    config.setdefault("target_host", "localhost:7233")
    # AGENTFLEET_ENCRYPTION_KEY(_FILE) turns on payload encryption (agentfleet/payloads/codec.py).
    if blob_root is None:
        blob_root = Settings.from_env().blobs
    converter = data_converter_for(codec_from_env(os.environ), external_storage(blob_root))
    return await Client.connect(**config, data_converter=converter, plugins=list(plugins), **kwargs)


async def connect_traced(
    settings: Settings, telemetry: Telemetry, more: Sequence[Plugin] = ()
) -> Client:
    """The client a worker runs on, traced and metered.

    `telemetry`'s plugins trace it, its runtime carries the SDK and fleet
    metrics, and it offloads to the settings' blob store; `more` plugins follow.
    """
    return await connect(
        settings.temporal_address,
        settings.temporal_namespace,
        blob_root=settings.blobs,
        plugins=[*telemetry.plugins, *more],
        runtime=telemetry.runtime,
    )
