"""DynamoDB serves one call at a time.

moto's DynamoDB backend is not thread-safe: TransactWriteItems deep-copies whole tables as its
rollback copy while another function's thread writes them ("dictionary changed size during
iteration"). The local cloud runs functions concurrently, so every DynamoDB call holds one lock.
"""

from __future__ import annotations

import threading
from typing import Any

from infra.local.patches._machinery import _call_original, _replace

_DYNAMODB_LOCK = threading.RLock()


def _dynamodb_call_action(self: Any, *args: Any, **kwargs: Any) -> Any:
    from moto.dynamodb.responses import DynamoHandler

    # moto's DynamoDB backend is not thread-safe (TransactWriteItems deep-copies whole tables as its
    # rollback copy while another function's thread writes them: "dictionary changed size during
    # iteration"). The local cloud runs functions concurrently, so DynamoDB serves one call at a time.
    with _DYNAMODB_LOCK:
        return _call_original(DynamoHandler, "call_action", self, *args, **kwargs)


def patch() -> None:
    from moto.dynamodb.responses import DynamoHandler

    _replace(DynamoHandler, "call_action", _dynamodb_call_action, "dynamodb one call at a time")
