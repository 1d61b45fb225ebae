"""What shared logic needs from the outside world (adapters in ``dal``/``integrations``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from functions.shared.models.audit import AuditDraft, AuditEntry
from functions.shared.models.events import DomainEvent


class AuditLog(Protocol):
    def record(self, draft: AuditDraft) -> AuditEntry:
        """Append ``draft`` to its org's chain and return the stored entry."""
        ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[DomainEvent]) -> None: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
