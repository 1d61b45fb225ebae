"""The EventBridge publisher every domain uses (the events are ``DomainEvent`` models)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from functions.shared.models.events import DomainEvent


class EventPublishError(Exception):
    """EventBridge refused one or more entries."""


class EventBridgePublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        entries = [
            {
                "EventBusName": self._bus,
                "Source": e.SOURCE,
                "DetailType": e.DETAIL_TYPE,
                "Detail": e.model_dump_json(),
            }
            for e in events
        ]
        result = self._client.put_events(Entries=entries)
        if result.get("FailedEntryCount"):
            codes = sorted({e.get("ErrorCode", "?") for e in result["Entries"] if "ErrorCode" in e})
            raise EventPublishError(f"EventBridge refused {result['FailedEntryCount']} entries: {codes}")
