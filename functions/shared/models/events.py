"""The public event contract's base model: one subclass per event type (its JSON Schema is published)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

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
