"""GET /audit/verify on a long chain: a page per call, never the whole chain; one walk of the pages
checks all of it and names the first entry at fault where the single call used to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.shared.logic.audit_chain import chain
from functions.shared.models.audit import AuditDraft
from functions.shared.models.principal import Principal, Role
from functions.tenancy.exceptions import InvalidRequest
from functions.tenancy.logic.audit_log import AuditDeps, verify_chain
from functions.tenancy.models.api import AuditVerification
from tests.fakes.accounts import FakeClock
from tests.fakes.tenancy import InMemoryAuditLog

ORG = "org_long"
OWNER = Principal(org_id=ORG, role=Role.OWNER, user_id="olga")
ENTRIES = 3000


@pytest.fixture(scope="module")
def long_chain() -> InMemoryAuditLog:
    log = InMemoryAuditLog()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries = log.chains.setdefault(ORG, [])
    for n in range(ENTRIES):
        draft = AuditDraft(
            org_id=ORG,
            actor=f"user:u{n % 7}",
            actor_type="user",
            action="member.add",
            target=f"member:m{n}",
            result="succeeded",
            source="test",
            time=start + timedelta(seconds=n),
        )
        entries.append(chain(draft, entries[-1] if entries else None))
    return log


def _walk(log: InMemoryAuditLog, limit: int) -> list[AuditVerification]:
    deps = AuditDeps(log=log, clock=FakeClock())
    pages = [verify_chain(deps, OWNER, 0, limit)]
    while pages[-1].next_after is not None:
        pages.append(verify_chain(deps, OWNER, pages[-1].next_after, limit))
    return pages


def test_an_intact_chain_of_thousands_is_checked_a_page_per_call(long_chain: InMemoryAuditLog) -> None:
    long_chain.entries_read.clear()
    # WHEN the owner walks the pages of 1000
    pages = _walk(long_chain, 1000)
    # THEN three calls check every entry once, each reading at most its page and its anchor
    assert [(p.from_seq, p.to_seq, p.checked, p.ok) for p in pages] == [
        (0, 1000, 1000, True),
        (1000, 2000, 1000, True),
        (2000, 3000, 1000, True),
    ]
    assert max(long_chain.entries_read) <= 1001
    assert (
        pages[0].message
        == "entries 1..1000 intact; the chain goes on to entry 3000: continue with ?after=1000"
    )
    assert pages[-1].next_after is None and pages[-1].head_seq == ENTRIES


def test_a_tampered_entry_deep_in_the_chain_is_named_at_its_place(long_chain: InMemoryAuditLog) -> None:
    # GIVEN entry 2500 altered in the table
    entries = long_chain.chains[ORG]
    original = entries[2499]
    entries[2499] = original.model_copy(update={"result": "denied"})
    try:
        # WHEN the pages are walked
        pages = _walk(long_chain, 1000)
    finally:
        entries[2499] = original
    # THEN the first two pages are intact, and the third names the entry, counted from the genesis
    assert [p.ok for p in pages] == [True, True, False]
    bad = pages[-1].first_bad
    assert bad is not None and bad.problem == "altered" and bad.seq == 2500 and bad.position == 2499
    assert pages[-1].next_after is None


def test_a_page_whose_anchor_was_deleted_says_so(long_chain: InMemoryAuditLog) -> None:
    entries = long_chain.chains[ORG]
    removed = entries.pop(999)  # entry 1000
    try:
        result = verify_chain(AuditDeps(log=long_chain, clock=FakeClock()), OWNER, 1000, 1000)
    finally:
        entries.insert(999, removed)
    assert not result.ok
    assert result.first_bad is not None and result.first_bad.problem == "removed"
    assert "entry 1000, where this page starts, is missing" in result.first_bad.detail


def test_a_truncated_tail_is_caught_on_the_last_page(long_chain: InMemoryAuditLog) -> None:
    # GIVEN the last entry deleted, while the head (as recorded) still names it
    entries = long_chain.chains[ORG]
    last = entries[-1]

    class Truncated(InMemoryAuditLog):
        def last(self, org_id: str):  # type: ignore[no-untyped-def]
            return last

    truncated = Truncated(chains={ORG: entries[:-1]})
    pages = _walk(truncated, 1000)
    assert not pages[-1].ok and pages[-1].first_bad is not None
    assert pages[-1].first_bad.problem == "removed"


def test_after_beyond_the_head_is_a_422_naming_the_field(long_chain: InMemoryAuditLog) -> None:
    with pytest.raises(InvalidRequest) as refused:
        verify_chain(AuditDeps(log=long_chain, clock=FakeClock()), OWNER, ENTRIES + 1, 1000)
    assert refused.value.field == "after"


def test_an_empty_chain_verifies(long_chain: InMemoryAuditLog) -> None:
    result = verify_chain(AuditDeps(log=InMemoryAuditLog(), clock=FakeClock()), OWNER)
    assert result.ok and result.checked == 0 and result.head_seq == 0 and result.next_after is None
