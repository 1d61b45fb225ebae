"""The public event contract's base model and the EventBridge publisher every domain uses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from functions.shared.clock import now


class DomainEvent(BaseModel):
    """One event type = one subclass; ``SOURCE`` and ``DETAIL_TYPE`` name it on the bus."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    SOURCE: ClassVar[str]
    DETAIL_TYPE: ClassVar[str]

    schema_version: str = "1"
    org_id: str = Field(min_length=1)
    occurred_at: datetime = Field(default_factory=now)


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
