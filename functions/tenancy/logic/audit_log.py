"""Reading the org's audit log: filtered pages, a verifiable export, and a check of the live chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from functions.shared.logic.audit_chain import verify
from functions.shared.models.audit import GENESIS_HASH, Anchor, AuditEntry, AuditExport, Finding, Verification
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


VERIFY_PAGE = 1000  # entries checked per call by default (about 400 KB read, one DynamoDB page)
VERIFY_PAGE_MAX = 5000


def verify_chain(
    deps: AuditDeps, principal: Principal, after: int = 0, limit: int = VERIFY_PAGE
) -> AuditVerification:
    """Checks at most ``limit`` entries of the org's chain, those after entry ``after`` (0: from the
    genesis), anchored on entry ``after`` as stored; ``next_after`` continues the walk. A call never
    reads the whole chain: one walk of the pages checks all of it, as one call used to."""
    org = principal.org_id
    head = deps.log.last(org)
    expected = Anchor(seq=head.seq, hash=head.hash) if head else GENESIS
    if after > expected.seq:
        raise InvalidRequest("after", f"is beyond the head of the chain (entry {expected.seq})")
    read = list(deps.log.entries(org, after_seq=max(after - 1, 0), limit=limit + (1 if after else 0)))
    anchor = GENESIS
    if after:
        first = read.pop(0) if read and read[0].seq == after else None
        if first is None:
            return _verified(_anchor_missing(after, read), after, expected)
        anchor = Anchor(seq=first.seq, hash=first.hash)
    entries = [e for e in read if e.seq <= expected.seq]  # appended while we read: stop at the head we named
    complete = len(read) < limit or (bool(entries) and entries[-1].seq >= expected.seq)
    result = verify(entries, anchor, expected_head=expected if complete else None, org_id=org)
    if result.first_bad is not None:  # positions count from the genesis, whichever page found them
        result = result.model_copy(
            update={
                "first_bad": result.first_bad.model_copy(
                    update={"position": result.first_bad.position + after}
                )
            }
        )
    to_seq = entries[-1].seq if entries else after
    return _verified(result, after, expected, to_seq=to_seq, more=not complete)


def _anchor_missing(after: int, read: list[AuditEntry]) -> Verification:
    found = read[0].seq if read else None
    detail = f"entry {after}, where this page starts, is missing: the chain was cut before it"
    finding = Finding(position=after - 1, seq=found, expected_seq=after, problem="removed", detail=detail)
    return Verification(ok=False, checked=0, first_bad=finding)


def _verified(
    result: Verification, after: int, head: Anchor, *, to_seq: int | None = None, more: bool = False
) -> AuditVerification:
    next_after = to_seq if result.ok and more else None
    message = result.message
    if result.ok and next_after is not None:
        message = (
            f"entries {after + 1}..{next_after} intact; the chain goes on to entry {head.seq}: "
            f"continue with ?after={next_after}"
        )
    return AuditVerification(
        ok=result.ok,
        checked=result.checked,
        head_seq=head.seq,
        from_seq=after,
        to_seq=to_seq if to_seq is not None else after,
        next_after=next_after,
        first_bad=result.first_bad,
        message=message,
    )


def _check_period(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise InvalidRequest("until", "must be after since")
