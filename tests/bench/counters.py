"""Counting, not timing: AWS calls made by our functions and state transitions of a workflow."""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

from infra.definitions import FUNCTIONS

_local = threading.local()


class AwsCallCounter:
    """Counts every botocore call made while one of our Lambda handlers runs (pynamodb included)."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (function, service, operation)
        self.invocations: Counter[str] = Counter()
        self._lock = threading.Lock()

    def by_function(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (function, _, _), n in self.calls.items():
            out[function] += n
        return out

    def by_operation(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (_, service, operation), n in self.calls.items():
            out[f"{service}:{operation}"] += n
        return out

    @contextmanager
    def installed(self) -> Iterator[AwsCallCounter]:
        original_call = BaseClient._make_api_call
        counter = self

        def counting_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            function = getattr(_local, "function", None)
            if function is not None:
                with counter._lock:
                    counter.calls[(function, client.meta.service_model.service_name, operation)] += 1
            return original_call(client, operation, params)

        restores: list[Callable[[], None]] = []
        for fn in FUNCTIONS:
            module_name, _, attribute = fn.handler.rpartition(".")
            module = importlib.import_module(module_name)
            handler = getattr(module, attribute)
            setattr(module, attribute, self._tagging(fn.key, handler))
            restores.append(lambda m=module, a=attribute, h=handler: setattr(m, a, h))
        BaseClient._make_api_call = counting_call  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call = original_call  # type: ignore[method-assign]
            for restore in restores:
                restore()

    def _tagging(self, key: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def tagged(event: Any, context: Any) -> Any:
            previous = getattr(_local, "function", None)
            _local.function = key
            with self._lock:
                self.invocations[key] += 1
            try:
                return handler(event, context)
            finally:
                _local.function = previous

        return tagged


def state_transitions(history: list[dict[str, Any]]) -> int:
    """What Step Functions Standard bills: one transition per state entered."""
    return sum(1 for event in history if event["type"].endswith("StateEntered"))
