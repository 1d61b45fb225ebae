"""Reading the org's audit log: filtered pages, a verifiable export, and a check of the live chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from functions.shared.logic.audit_chain import verify
from functions.shared.models.audit import GENESIS_HASH, Anchor, AuditEntry, AuditExport
from functions.shared.models.principal import Principal
from functions.tenancy.exceptions import InvalidRequest
from functions.tenancy.logic.ports import AuditReader, Clock
from functions.tenancy.models.api import AuditPage, AuditVerification

GENESIS = Anchor(seq=0, hash=GENESIS_HASH)


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, entry: AuditEntry) -> bool:
        return (
            (self.action is None or entry.action == self.action)
            and (self.actor is None or entry.actor == self.actor)
            and (self.result is None or entry.result == self.result)
            and (self.since is None or entry.time >= self.since)
            and (self.until is None or entry.time < self.until)
        )


@dataclass(frozen=True)
class AuditDeps:
    log: AuditReader
    clock: Clock


def page(
    deps: AuditDeps, principal: Principal, flt: AuditFilter, limit: int, cursor: int | None
) -> AuditPage:
    _check_period(flt.since, flt.until)
    items: list[AuditEntry] = []
    for entry in deps.log.newest_first(principal.org_id, before_seq=cursor):
        if flt.since is not None and entry.time < flt.since:
            break  # seq order is time order: nothing older can match
        if flt.matches(entry):
            items.append(entry)
            if len(items) == limit:
                break
    more = len(items) == limit and items[-1].seq > 1
    return AuditPage(items=items, next_cursor=items[-1].seq if more else None)


def export(
    deps: AuditDeps, principal: Principal, since: datetime | None, until: datetime | None
) -> AuditExport:
    """The whole chain for a period, anchored to the entry before it, with the head at export time."""
    _check_period(since, until)
    head = deps.log.last(principal.org_id)
    anchor = GENESIS
    entries: list[AuditEntry] = []
    for entry in deps.log.entries(principal.org_id):
        if head is not None and entry.seq > head.seq:
            break  # appended while we read: the export ends at the head it names
        if since is not None and entry.time < since:
            anchor = Anchor(seq=entry.seq, hash=entry.hash)
            continue
        if until is not None and entry.time >= until:
            break
        entries.append(entry)
    return AuditExport(
        org_id=principal.org_id,
        exported_at=deps.clock(),
        period_from=since,
        period_to=until,
        anchor=anchor,
        head=Anchor(seq=head.seq, hash=head.hash) if head else GENESIS,
        entries=entries,
    )


def verify_chain(deps: AuditDeps, principal: Principal) -> AuditVerification:
    head = deps.log.last(principal.org_id)
    entries = [e for e in deps.log.entries(principal.org_id) if head is None or e.seq <= head.seq]
    expected = Anchor(seq=head.seq, hash=head.hash) if head else GENESIS
    result = verify(entries, None, expected_head=expected)
    return AuditVerification(
        ok=result.ok,
        checked=result.checked,
        head_seq=expected.seq,
        first_bad=result.first_bad,
        message=result.message,
    )


def _check_period(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise InvalidRequest("until", "must be after since")
