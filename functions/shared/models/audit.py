"""The audit log's records: what happened (``AuditDraft``), its place in the org's hash chain
(``AuditEntry``), and what a verification or an export says. The chain's rules are in
``functions.shared.logic.audit_chain``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

GENESIS_HASH = "0" * 64

Problem = Literal["altered", "removed", "reordered", "inserted", "other_org"]


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware_utc)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class AuditDraft(BaseModel):
    """What happened, before it takes its place in the org's chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    org_id: str
    actor: str
    actor_type: Literal["user", "api_key", "service"]
    action: str
    target: str
    result: Literal["succeeded", "denied", "failed"]
    reason: str | None = None
    request_id: str | None = None
    source: str
    time: UtcDatetime


class AuditEntry(AuditDraft):
    seq: int = Field(ge=1)
    prev_hash: Sha256Hex
    hash: Sha256Hex


class Anchor(BaseModel):
    """A point in a chain: the entry with this ``seq`` has this ``hash`` (seq 0 is the genesis)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=0)
    hash: Sha256Hex


GENESIS = Anchor(seq=0, hash=GENESIS_HASH)


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    position: int
    seq: int | None
    expected_seq: int
    problem: Problem
    detail: str


class Verification(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    checked: int
    first_bad: Finding | None = None

    @property
    def message(self) -> str:
        if self.first_bad is None:
            return f"audit chain intact: {self.checked} entries verified"
        return f"audit chain broken at position {self.first_bad.position}: {self.first_bad.detail}"


class AuditExport(BaseModel):
    """The body of ``GET /audit/export``: a slice of one org's chain plus what a verifier needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    org_id: str
    exported_at: UtcDatetime
    period_from: UtcDatetime | None = None
    period_to: UtcDatetime | None = None
    anchor: Anchor
    head: Anchor
    entries: list[AuditEntry]
