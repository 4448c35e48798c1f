"""A workflow runner that wraps another one, and the instances it wraps.

Several plugins change one thing about how a workflow instance answers the worker (the
durable span flush, the context-free payload answers) and leave the rest to the runner
they wrap. These bases hold that "the rest": every call not overridden goes to the
wrapped runner or instance unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowRunner


class WrappingInstance(WorkflowInstance):
    """An instance that hands every question to the instance it wraps unless told otherwise."""

    def __init__(self, inner: WorkflowInstance) -> None:
        self._inner = inner

    def activate(self, act: Any) -> Any:
        """Delegated: the wrapped instance runs the activation."""
        return self._inner.activate(act)

    def get_serialization_context(self, command_info: Any) -> Any:
        """Delegated: the wrapped instance knows its serialization context."""
        return self._inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        """Delegated: the wrapped instance knows its external-store context."""
        return self._inner.get_external_store_context(command_info)

    def get_info(self) -> Any:
        """Delegated: the wrapped instance's workflow info."""
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        """Delegated: the thread the wrapped instance runs on (for deadlock reports)."""
        return self._inner.get_thread_id()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class WrappingRunner(WorkflowRunner):
    """A runner whose instances are the wrapped runner's, each passed through `wrap`."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self._inner = inner

    @property
    def inner(self) -> WorkflowRunner:
        """The runner this one wraps."""
        return self._inner

    def around(self, inner: WorkflowRunner) -> WrappingRunner:
        """This wrapping, around another runner (a copy: this one is left as it is)."""
        clone = copy.copy(self)
        clone._inner = inner
        return clone

    def wrap(self, instance: WorkflowInstance) -> WorkflowInstance:
        """The instance handed to the worker in place of the wrapped runner's own."""
        raise NotImplementedError

    def prepare_workflow(self, defn: Any) -> None:
        """Delegated: preparing a workflow is the inner runner's business."""
        self._inner.prepare_workflow(defn)

    def create_instance(self, det: Any) -> WorkflowInstance:
        """The inner runner's instance, passed through `wrap`."""
        return self.wrap(self._inner.create_instance(det))

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        """Delegated, so failure types configured on the worker still reach the workflows."""
        self._inner.set_worker_level_failure_exception_types(types)


Activate = Callable[[Any], Any]
# Runs one activation: given the wrapped instance's `activate` and the activation, it
# calls the one with the other, doing its own work around the call, and returns the
# completion.
Hook = Callable[[Activate, Any], Any]


class _HookedInstance(WrappingInstance):
    def __init__(self, inner: WorkflowInstance, hook: Hook) -> None:
        super().__init__(inner)
        self._hook = hook

    def activate(self, act: Any) -> Any:
        return self._hook(self._inner.activate, act)


class ActivationHook(WrappingRunner):
    """A runner whose instances run every activation through `hook`."""

    def __init__(self, inner: WorkflowRunner, hook: Hook) -> None:
        super().__init__(inner)
        self.hook = hook

    def wrap(self, instance: WorkflowInstance) -> WorkflowInstance:
        """The instance, each activation run through the hook."""
        return _HookedInstance(instance, self.hook)
