"""Counting, not timing: AWS calls made by our functions and state transitions of a workflow."""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

from infra.definitions import FUNCTIONS

_local = threading.local()
_JWT = re.compile(r"eyJ[\w-]+\.(eyJ[\w-]+)\.[\w-]*")

Scope = Callable[[Any], bool]


def naming(*markers: str) -> Scope:
    """A scope: the invocations whose event names one of `markers` (an org id, a connection id, an
    account id...), in the event itself or in the claims of a bearer token it carries (the API's and
    the authorizer's events name the caller's org only there)."""

    def in_scope(event: Any) -> bool:
        text = json.dumps(event, default=str)
        texts = [text]
        for payload in _JWT.findall(text):
            try:
                texts.append(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode())
            except (binascii.Error, UnicodeDecodeError):
                continue
        return any(marker in t for marker in markers for t in texts)

    return in_scope


class AwsCallCounter:
    """Counts every botocore call made while one of our Lambda handlers runs (pynamodb included).

    With a `scope`, only the invocations whose event it accepts are counted (with their calls): the
    local cloud is shared, and other workflows' handlers (still running from earlier tests, or
    started by a schedule) run in the same process at the same time.
    """

    def __init__(self, scope: Scope | None = None) -> None:
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (function, service, operation)
        self.invocations: Counter[str] = Counter()
        self.scope = scope
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
            counted = self.scope is None or self.scope(event)
            _local.function = key if counted else None
            if counted:
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
