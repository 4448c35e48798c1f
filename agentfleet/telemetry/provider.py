"""The process-wide, replay-safe tracer provider that routes to the newest live `Telemetry`."""

from __future__ import annotations

import threading
from contextlib import suppress
from typing import Any

from opentelemetry import trace
from temporalio.contrib.opentelemetry import ReplaySafeTracerProvider

# --------------------------------------------------------------------------- tracer provider


class _ProcessTracerProvider(ReplaySafeTracerProvider):
    """The process's one global tracer provider.

    OTel lets the global provider be set once, and Temporal's plugin requires it to be a
    `ReplaySafeTracerProvider`. This one delegates to the provider of the newest live
    `Telemetry` (each made by `create_tracer_provider()` with its own resource and exporter),
    and is a no-op when there is none.
    """

    def __init__(self) -> None:
        # Deliberately not calling super().__init__: there is no single wrapped provider.
        self._live: list[ReplaySafeTracerProvider] = []
        self._lock = threading.Lock()
        # Tracers of the current provider by (name, version, schema): Temporal's tracing
        # interceptor asks for one on every span it starts (each child start, each
        # activity), and the SDK builds a new Tracer each time (3% of the worker's CPU
        # in bench/overhead.py). A tracer holds no state of its own, so one serves all.
        self._tracers: dict[tuple[int, str, str | None, str | None], trace.Tracer] = {}

    def attach(self, provider: ReplaySafeTracerProvider) -> None:
        with self._lock:
            self._live.append(provider)
            self._tracers = {}

    def detach(self, provider: ReplaySafeTracerProvider) -> None:
        with self._lock, suppress(ValueError):
            self._tracers = {}
            self._live.remove(provider)

    @property
    def current(self) -> ReplaySafeTracerProvider | None:
        live = self._live
        return live[-1] if live else None

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> trace.Tracer:
        cur = self.current
        if cur is None:
            return trace.NoOpTracer()
        if attributes is not None:
            return cur.get_tracer(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            )
        key = (id(cur), instrumenting_module_name, instrumenting_library_version, schema_url)
        tracers = self._tracers
        tracer = tracers.get(key)
        if tracer is None:
            tracer = cur.get_tracer(
                instrumenting_module_name, instrumenting_library_version, schema_url
            )
            tracers[key] = tracer
        return tracer

    def add_span_processor(self, span_processor: Any) -> None:
        cur = self.current
        if cur is None:
            raise RuntimeError("no live Telemetry: call setup_telemetry() first")
        cur.add_span_processor(span_processor)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(p.force_flush(timeout_millis) for p in list(self._live))

    def shutdown(self) -> None:
        for p in list(self._live):
            p.shutdown()

    def id_generator(self) -> Any:
        cur = self.current
        if cur is None:
            raise RuntimeError("no live Telemetry: call setup_telemetry() first")
        return cur.id_generator()


_install_lock = threading.Lock()


def _process_provider() -> _ProcessTracerProvider:
    with _install_lock:
        current = trace.get_tracer_provider()
        if isinstance(current, _ProcessTracerProvider):
            return current
        if not isinstance(current, trace.ProxyTracerProvider):
            raise RuntimeError(
                f"a global tracer provider ({type(current).__name__}) is already set; "
                "agentfleet.telemetry must install its own (replay-safe) one"
            )
        provider = _ProcessTracerProvider()
        trace.set_tracer_provider(provider)
        return provider
