"""The audit log's hash chain: every single tamper is named at the right entry, and the hash cannot drift."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from functions.shared.logic import audit_chain
from functions.shared.logic.audit_chain import chain, entry_hash, verify, verify_export
from functions.shared.models.audit import (
    GENESIS_HASH,
    Anchor,
    AuditDraft,
    AuditEntry,
    AuditExport,
    Verification,
)

ORG = "org_acme"
OTHER_ORG = "org_globex"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FOREIGN_HASH = hashlib.sha256(b"not in this chain").hexdigest()
Later = Literal["alone", "renumbered", "resealed"]


def draft(i: int, org: str = ORG, **overrides: Any) -> AuditDraft:
    fields: dict[str, Any] = {
        "org_id": org,
        "actor": "user:alice" if i % 3 else "key:ab12cd34ef56",
        "actor_type": "user" if i % 3 else "api_key",
        "action": ("member.add", "account.connect", "stack.deploy")[i % 3],
        "target": f"member:user{i}" if i % 4 else "",
        "result": ("succeeded", "denied", "failed")[i % 3],
        "reason": None if i % 2 else f"reason {i}",
        "request_id": f"req-{i}" if i % 5 else None,
        "source": "api" if i % 2 else "workflow:connect-account",
        "time": T0 + timedelta(seconds=i, microseconds=i),
    }
    return AuditDraft(**(fields | overrides))


def build_chain(length: int, org: str = ORG) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(length):
        entries.append(chain(draft(i, org), entries[-1] if entries else None))
    return entries


def head_of(entries: list[AuditEntry]) -> Anchor:
    return Anchor(seq=entries[-1].seq, hash=entries[-1].hash)


def reseal(entry: AuditEntry) -> AuditEntry:
    return entry.model_copy(update={"hash": entry_hash(entry, entry.seq, entry.prev_hash)})


# --- the four tampers; each returns the tampered copy and never touches the original -------------------

ALTERABLE = ("actor", "actor_type", "action", "target", "result", "reason", "request_id", "source", "time")


def edited_value(entry: AuditEntry, field: str) -> Any:
    value = getattr(entry, field)
    if field == "time":
        return value + timedelta(microseconds=1)
    if field == "actor_type":
        return "service" if value != "service" else "user"
    if field == "result":
        return "succeeded" if value != "succeeded" else "denied"
    if field == "seq":
        return value + 7
    if field in ("prev_hash", "hash"):
        return FOREIGN_HASH
    return (value or "") + " (edited)"


def alter(
    entries: list[AuditEntry], p: int, field: str = "action", resealed: bool = False
) -> list[AuditEntry]:
    edited = entries[p].model_copy(update={field: edited_value(entries[p], field)})
    return [*entries[:p], reseal(edited) if resealed else edited, *entries[p + 1 :]]


def remove(entries: list[AuditEntry], p: int) -> list[AuditEntry]:
    return [*entries[:p], *entries[p + 1 :]]


def swap(entries: list[AuditEntry], p: int) -> list[AuditEntry]:
    return [*entries[:p], entries[p + 1], entries[p], *entries[p + 2 :]]


def insert(
    entries: list[AuditEntry], p: int, seq: int | None = None, later: Later = "alone"
) -> list[AuditEntry]:
    """A forgery at position ``p``, self-consistent and linked to the entry before it."""
    before = entries[p - 1] if p else None
    forged = chain(draft(p, action="member.remove", target="member:mallory", reason="forged"), before)
    if seq is not None:
        forged = reseal(forged.model_copy(update={"seq": seq}))
    rest = entries[p:]
    if later != "alone":
        rest = [e.model_copy(update={"seq": e.seq + 1}) for e in rest]
    if later == "resealed":
        rest = [reseal(e) for e in rest]
    return [*entries[:p], forged, *rest]


def assert_bad(result: Verification, problem: str, position: int) -> None:
    assert not result.ok, "the tamper went unnoticed"
    assert result.first_bad is not None
    assert (result.first_bad.problem, result.first_bad.position) == (problem, position), result.message


CHAIN = build_chain(12)
HEAD = head_of(CHAIN)
POSITIONS = {"first": 0, "middle": 5, "last": 11}


# --- a valid chain ----------------------------------------------------------------------------------------


def test_a_valid_chain_of_fifty_entries_verifies() -> None:
    # GIVEN 50 entries appended one after the other
    entries = build_chain(50)
    # WHEN the chain is verified, with and without the head
    result = verify(entries)
    # THEN every entry is checked and nothing is at fault
    assert result == Verification(ok=True, checked=50, first_bad=None)
    assert verify(entries, expected_head=head_of(entries)).ok
    assert result.message == "audit chain intact: 50 entries verified"
    assert entries[0].seq == 1 and entries[0].prev_hash == GENESIS_HASH
    assert [e.seq for e in entries] == list(range(1, 51))


def test_chain_refuses_a_draft_of_another_org() -> None:
    with pytest.raises(ValueError, match="org_globex"):
        chain(draft(1, OTHER_ORG), CHAIN[-1])


# --- the tamper drill: edit, delete, swap, insert — 4 of 4 detected at the right place ------------------


@pytest.mark.parametrize("where", POSITIONS)
def test_tamper_drill_catches_four_of_four(where: str) -> None:
    # GIVEN four copies of one chain, each with one tamper at the same place
    p = POSITIONS[where]
    swap_at = min(p, len(CHAIN) - 2)
    drills = {
        "altered": (alter(CHAIN, p), p, p + 1),
        "removed": (remove(CHAIN, p), p, p + 2 if p < len(CHAIN) - 1 else None),
        "reordered": (swap(CHAIN, swap_at), swap_at, swap_at + 2),
        "inserted": (insert(CHAIN, p), p, p + 1),
    }
    # WHEN each copy is verified against the head recorded at export
    caught = 0
    for problem, (tampered, position, claimed_seq) in drills.items():
        result = verify(tampered, expected_head=HEAD)
        # THEN the first entry at fault is named with the right word and place
        assert_bad(result, problem, position)
        assert result.first_bad is not None and result.first_bad.seq == claimed_seq
        caught += 1
    assert caught == 4


@pytest.mark.parametrize("where", POSITIONS)
@pytest.mark.parametrize("field", [*ALTERABLE, "org_id", "seq", "prev_hash", "hash"])
def test_an_edited_entry_is_named_even_when_the_list_is_otherwise_intact(where: str, field: str) -> None:
    # GIVEN one field of one entry edited, its hash left as it was
    p = POSITIONS[where]
    # WHEN verified
    result = verify(alter(CHAIN, p, field), org_id=ORG)
    # THEN that entry is named (an org change is the more specific other_org)
    assert_bad(result, "other_org" if field == "org_id" else "altered", p)
    assert result.first_bad is not None and result.first_bad.expected_seq == p + 1


@pytest.mark.parametrize("where", POSITIONS)
@pytest.mark.parametrize("field", [*ALTERABLE, "seq", "prev_hash"])
def test_a_resealed_edit_blames_the_edited_entry_not_its_successor(where: str, field: str) -> None:
    # GIVEN an attacker who edits an entry and recomputes its hash so it is consistent on its own
    p = POSITIONS[where]
    tampered = alter(CHAIN, p, field, resealed=True)
    # WHEN verified with the head
    result = verify(tampered, expected_head=HEAD)
    # THEN the edited entry is named, although the first broken link is in the next one
    assert_bad(result, "altered", p)


@pytest.mark.parametrize("where", ["first", "middle"])
def test_a_removed_entry_is_named_where_its_seq_is_missing(where: str) -> None:
    p = POSITIONS[where]
    result = verify(remove(CHAIN, p))
    assert_bad(result, "removed", p)
    assert result.first_bad is not None and result.first_bad.expected_seq == p + 1


def test_a_removed_last_entry_needs_the_head_to_be_seen() -> None:
    # GIVEN the last entry deleted
    tampered = remove(CHAIN, len(CHAIN) - 1)
    # WHEN verified from the list alone, THEN nothing can tell (why exports carry the head)
    assert verify(tampered).ok
    # WHEN verified against the head, THEN the missing seq is named just past the end of the list
    result = verify(tampered, expected_head=HEAD)
    assert_bad(result, "removed", len(tampered))
    assert result.first_bad is not None
    assert (result.first_bad.seq, result.first_bad.expected_seq) == (None, len(CHAIN))


@pytest.mark.parametrize("p", [0, 5, 10])
def test_a_swap_of_adjacent_entries_is_named_at_the_earlier_one(p: int) -> None:
    assert_bad(verify(swap(CHAIN, p)), "reordered", p)


@pytest.mark.parametrize("p", [0, 5, 11, 12])
@pytest.mark.parametrize("later", ["alone", "renumbered", "resealed"])
@pytest.mark.parametrize("seq_choice", ["expected", "duplicate", "far_ahead", "behind"])
def test_a_forged_entry_is_named_whatever_seq_it_claims(p: int, later: Later, seq_choice: str) -> None:
    # GIVEN a forgery at position p (12 = appended), linked to the entry before it
    seq = {"expected": p + 1, "duplicate": max(p, 1), "far_ahead": p + 40, "behind": 1}[seq_choice]
    tampered = insert(CHAIN, p, seq, later)
    # WHEN verified with the head
    result = verify(tampered, expected_head=HEAD)
    # THEN the forgery is named, not the genuine entry after it
    assert_bad(result, "inserted", p)
    assert result.first_bad is not None and result.first_bad.seq == seq


def test_an_entry_of_another_org_is_named() -> None:
    # GIVEN another org's entry slipped into the middle of the list
    tampered = [*CHAIN[:4], build_chain(5, OTHER_ORG)[4], *CHAIN[4:]]
    # WHEN verified
    result = verify(tampered)
    # THEN it is named as another org's, at its place
    assert_bad(result, "other_org", 4)
    assert "org_globex" in result.message


# --- properties ------------------------------------------------------------------------------------------


@st.composite
def tampered_chains(draw: st.DrawFn) -> tuple[list[AuditEntry], list[AuditEntry], str, int]:
    length = draw(st.integers(min_value=3, max_value=40))
    entries = build_chain(length)
    kind = draw(st.sampled_from(["altered", "resealed", "removed", "reordered", "inserted"]))
    if kind == "altered":
        p = draw(st.integers(0, length - 1))
        field = draw(st.sampled_from([*ALTERABLE, "seq", "prev_hash", "hash"]))
        return entries, alter(entries, p, field), "altered", p
    if kind == "resealed":
        p = draw(st.integers(0, length - 1))
        field = draw(st.sampled_from([*ALTERABLE, "seq", "prev_hash"]))
        return entries, alter(entries, p, field, resealed=True), "altered", p
    if kind == "removed":
        p = draw(st.integers(0, length - 1))
        return entries, remove(entries, p), "removed", p
    if kind == "reordered":
        p = draw(st.integers(0, length - 2))
        return entries, swap(entries, p), "reordered", p
    p = draw(st.integers(0, length))
    seq = draw(st.integers(1, length + 50))
    later: Later = draw(st.sampled_from(["alone", "renumbered", "resealed"]))
    return entries, insert(entries, p, seq, later), "inserted", p


@settings(max_examples=200, deadline=None)
@given(case=tampered_chains())
def test_any_single_tamper_is_named_at_its_position(
    case: tuple[list[AuditEntry], list[AuditEntry], str, int],
) -> None:
    original, tampered, problem, position = case
    assert_bad(verify(tampered, expected_head=head_of(original)), problem, position)


@settings(max_examples=50, deadline=None)
@given(length=st.integers(1, 30), start=st.integers(0, 29))
def test_any_contiguous_slice_verifies_from_its_anchor(length: int, start: int) -> None:
    entries = build_chain(length)
    start = min(start, length - 1)
    anchor = Anchor(seq=entries[start - 1].seq, hash=entries[start - 1].hash) if start else None
    assert verify(entries[start:], anchor, head_of(entries)).ok


def test_ten_thousand_entries_verify_in_one_hash_each(monkeypatch: pytest.MonkeyPatch) -> None:
    # A count, not a time (the machine's speed is not the code's): verifying is linear, one sha256
    # per intact entry, so a long chain verifies in a single pass.
    entries = build_chain(10_000)
    hashed = []
    counting = audit_chain.entry_hash
    monkeypatch.setattr(audit_chain, "entry_hash", lambda *a: hashed.append(1) or counting(*a))
    result = verify(entries, expected_head=head_of(entries))
    assert result.ok and result.checked == 10_000
    assert len(hashed) == 10_000


# --- export ---------------------------------------------------------------------------------------------

LONG = build_chain(30)


def export(
    entries: list[AuditEntry], anchor: Anchor, period_to: datetime | None = None, org: str = ORG
) -> AuditExport:
    return AuditExport(
        org_id=org,
        exported_at=T0 + timedelta(days=1),
        period_from=entries[0].time if entries else None,
        period_to=period_to,
        anchor=anchor,
        head=head_of(LONG),
        entries=entries,
    )


def anchor_at(position: int) -> Anchor:
    return Anchor(seq=LONG[position].seq, hash=LONG[position].hash)


def test_an_export_that_starts_mid_chain_verifies_from_its_anchor() -> None:
    # GIVEN exports of entries 11..20 (bounded) and 11..30 (open-ended)
    bounded = export(LONG[10:20], anchor_at(9), period_to=LONG[19].time)
    open_ended = export(LONG[10:], anchor_at(9))
    # WHEN verified, THEN both hold
    assert verify_export(bounded) == Verification(ok=True, checked=10)
    assert verify_export(open_ended).ok
    # AND an export from the beginning anchors on the genesis
    assert verify_export(export(LONG, Anchor(seq=0, hash=GENESIS_HASH))).ok


def test_an_export_with_a_wrong_anchor_is_caught_at_position_zero() -> None:
    wrong = export(LONG[10:], Anchor(seq=10, hash=LONG[8].hash))
    result = verify_export(wrong)
    assert_bad(result, "altered", 0)
    assert "anchor" in result.message


def test_an_open_ended_export_with_a_truncated_tail_is_caught_via_its_head() -> None:
    # GIVEN an export that claims to reach the head but lacks the last three entries
    truncated = export(LONG[10:27], anchor_at(9))
    # WHEN verified
    result = verify_export(truncated)
    # THEN the first missing seq is named just past the end
    assert_bad(result, "removed", 17)
    assert result.first_bad is not None and result.first_bad.expected_seq == 28
    # AND a bounded period that stops early is not a truncation
    assert verify_export(export(LONG[10:27], anchor_at(9), period_to=LONG[26].time)).ok


def test_an_export_with_an_entry_of_another_org_is_caught() -> None:
    # GIVEN an export whose entries all belong to another org
    foreign = export(build_chain(4, OTHER_ORG), Anchor(seq=0, hash=GENESIS_HASH))
    # WHEN verified, THEN the first one is named: the export's own org is the one that counts
    assert_bad(verify_export(foreign), "other_org", 0)


# --- the canonical form cannot drift ---------------------------------------------------------------------

KNOWN_HASH = "deeccd496781fdd452895769ecfa21f51f1205ddc1fb25e470d3be7634e916fb"


def test_the_hash_of_a_known_entry_is_stable_and_recomputable_without_our_code() -> None:
    # GIVEN a known entry, its time given in +02:00 with no microseconds and its target in non-ASCII
    known = AuditDraft(
        org_id=ORG,
        actor="user:alice",
        actor_type="user",
        action="member.add",
        target="member:bjørn",
        result="succeeded",
        reason=None,
        request_id="req-42",
        source="203.0.113.7",
        time=datetime(2024, 5, 1, 12, 34, 56, tzinfo=timezone(timedelta(hours=2))),
    )
    prev_hash = "ab" * 32
    # WHEN an auditor recomputes it with nothing but json and hashlib
    canonical = json.dumps(
        {
            "action": "member.add",
            "actor": "user:alice",
            "actor_type": "user",
            "org_id": ORG,
            "prev_hash": prev_hash,
            "reason": None,
            "request_id": "req-42",
            "result": "succeeded",
            "seq": 7,
            "source": "203.0.113.7",
            "target": "member:bjørn",
            "time": "2024-05-01T10:34:56.000000Z",
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    recomputed = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    # THEN ours, theirs and the recorded value agree
    assert entry_hash(known, 7, prev_hash) == recomputed == KNOWN_HASH


# --- time ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("naive", [datetime(2024, 5, 1, 12, 0), "2024-05-01T12:00:00"])  # noqa: DTZ001
def test_naive_datetimes_are_refused(naive: datetime | str) -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        draft(1, time=naive)
    with pytest.raises(ValidationError, match="timezone-aware"):
        AuditExport(
            org_id=ORG, exported_at=naive, anchor=Anchor(seq=0, hash=GENESIS_HASH), head=HEAD, entries=[]
        )


def test_aware_datetimes_are_kept_in_utc() -> None:
    local = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert draft(1, time=local).time == T0 and draft(1, time=local).time.tzinfo is UTC
