"""The tamper-evident audit log: each org's entries form a sha256 hash chain.

Entry ``seq`` n stores ``prev_hash`` = the hash of entry n-1 (``GENESIS_HASH`` for seq 1) and ``hash`` =
``entry_hash(draft, n, prev_hash)``. Editing, deleting, reordering or inserting an entry breaks the chain,
and ``verify`` names the first entry at fault. This module is pure: storage lives behind ``AuditLog``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from functions.shared.models.audit import (
    GENESIS,
    GENESIS_HASH,
    Anchor,
    AuditDraft,
    AuditEntry,
    AuditExport,
    Finding,
    Problem,
    Verification,
)


def _canonical_time(value: datetime) -> str:
    # isoformat pads the year to 4 digits and, with timespec, always prints 6 fractional digits.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def entry_hash(entry: AuditDraft, seq: int, prev_hash: str) -> str:
    """The sha256 hex digest that seals one entry, recomputable by an external auditor in any language.

    Canonical form: one JSON object holding every ``AuditDraft`` field (action, actor, actor_type,
    org_id, reason, request_id, result, source, target, time) plus ``seq`` (a JSON integer) and
    ``prev_hash`` (64 lowercase hex). Keys sorted by code point, separators ``,`` and ``:`` with no
    whitespace, non-ASCII characters written as themselves (no ``\\u`` escapes), ``None`` as ``null``,
    ``time`` as ISO-8601 UTC with exactly six fractional digits and a ``Z`` (``2024-05-01T12:00:00.000000Z``).
    The digest is sha256 over the UTF-8 bytes of that text, written as 64 lowercase hex characters.
    Only draft fields count: passing an ``AuditEntry`` ignores its own seq, prev_hash and hash.
    """
    payload: dict[str, object] = {}
    for name in AuditDraft.model_fields:
        value = getattr(entry, name)
        payload[name] = _canonical_time(value) if isinstance(value, datetime) else value
    payload["seq"] = seq
    payload["prev_hash"] = prev_hash
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain(draft: AuditDraft, previous: AuditEntry | None) -> AuditEntry:
    """The entry that follows ``previous`` in its org's chain (the genesis entry when ``None``)."""
    if previous is not None and previous.org_id != draft.org_id:
        raise ValueError(f"cannot chain an entry of org {draft.org_id!r} after one of {previous.org_id!r}")
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS_HASH if previous is None else previous.hash
    fields = {name: getattr(draft, name) for name in AuditDraft.model_fields}
    return AuditEntry(**fields, seq=seq, prev_hash=prev_hash, hash=entry_hash(draft, seq, prev_hash))


def verify(
    entries: Sequence[AuditEntry],
    anchor: Anchor | None = None,
    expected_head: Anchor | None = None,
    *,
    org_id: str | None = None,
) -> Verification:
    """Check a contiguous run of one org's chain and name the first entry at fault.

    ``anchor`` is the entry just before ``entries[0]`` (``None``: the run starts at the genesis).
    Each entry must claim the next seq, link to its predecessor's hash and match its own hash.
    ``org_id`` defaults to the org most entries belong to; any other org's entry is ``other_org``.

    The list alone cannot show a deleted or re-sealed *last* entry, nor entries appended with a valid
    link: pass ``expected_head`` (the org's last entry, as recorded elsewhere) to catch those. A missing
    tail is reported as ``removed`` at ``position == len(entries)``, with ``seq`` None.

    How a fault is told apart (one tamper assumed; the first fault in list order wins):
    - ``altered``: an entry whose content no longer matches its hash; or one re-sealed by the attacker
      (self-consistent, but its successor, or the head, still commits to the original hash);
    - ``removed``: a link to a hash that is not in the list, with seq jumping ahead;
    - ``reordered``: an entry claiming expected+1 whose successor claims expected and is its predecessor;
    - ``inserted``: two entries that claim the same predecessor (the first of them is the forgery),
      a self-consistent entry with a wrong seq that nothing links to, or an entry beyond the head.
    """
    start = anchor or GENESIS
    org = org_id if org_id is not None else _dominant_org(entries)
    for position in range(len(entries)):
        spot = _Spot(entries, position, start, expected_head, org)
        finding = spot.inspect()
        if finding is not None:
            return Verification(ok=False, checked=position + 1, first_bad=finding)
    finding = _check_head(entries, start, expected_head)
    return Verification(ok=finding is None, checked=len(entries), first_bad=finding)


def verify_export(export: AuditExport) -> Verification:
    """Verify an export on its own: every entry belongs to ``export.org_id`` and chains from its anchor.

    ``head`` is used only when the period reaches the head (``period_to`` is None): a bounded period
    legitimately stops before the head, so a truncated tail can be seen only in an open-ended export.
    """
    head = export.head if export.period_to is None else None
    return verify(export.entries, export.anchor, head, org_id=export.org_id)


def _dominant_org(entries: Sequence[AuditEntry]) -> str:
    counts = Counter(entry.org_id for entry in entries)
    return counts.most_common(1)[0][0] if counts else ""


@dataclass(frozen=True)
class _Spot:
    """One position of the list under inspection, with what it is expected to be."""

    entries: Sequence[AuditEntry]
    position: int
    anchor: Anchor
    head: Anchor | None
    org: str

    @property
    def entry(self) -> AuditEntry:
        return self.entries[self.position]

    @property
    def before(self) -> AuditEntry | None:
        return self.entries[self.position - 1] if self.position > 0 else None

    @property
    def after(self) -> AuditEntry | None:
        following = self.position + 1
        return self.entries[following] if following < len(self.entries) else None

    @property
    def expected_seq(self) -> int:
        return self.anchor.seq + 1 + self.position

    @property
    def expected_prev_hash(self) -> str:
        return self.before.hash if self.before is not None else self.anchor.hash

    def inspect(self) -> Finding | None:
        entry = self.entry
        if entry.org_id != self.org:
            return self.found(
                "other_org", f"entry {entry.seq} belongs to org {entry.org_id!r}, not {self.org!r}"
            )
        sealed = entry_hash(entry, entry.seq, entry.prev_hash) == entry.hash
        linked = entry.prev_hash == self.expected_prev_hash
        if sealed and linked and entry.seq == self.expected_seq:
            return None
        return self._insertion_or_swap(linked) or (self._linked(sealed) if linked else self._unlinked(sealed))

    def found(self, problem: Problem, detail: str, back: int = 0) -> Finding:
        position = self.position - back
        return Finding(
            position=position,
            seq=self.entries[position].seq,
            expected_seq=self.expected_seq - back,
            problem=problem,
            detail=detail,
        )

    def _insertion_or_swap(self, linked: bool) -> Finding | None:
        entry, before, after = self.entry, self.before, self.after
        if before is not None and entry.hash == before.hash:
            return self.found("inserted", f"entry {entry.seq} at position {self.position} is a replayed copy")
        if before is not None and not linked and entry.prev_hash == before.prev_hash:
            # Two entries claim the same predecessor: the first one was squeezed in before the genuine one.
            return self.found(
                "inserted",
                f"a forged entry claiming seq {before.seq} was inserted at position {self.position - 1}: "
                f"entry {entry.seq} after it still links to the entry before it",
                back=1,
            )
        expected = self.expected_seq
        if (
            after is not None
            and entry.seq == expected + 1
            and after.seq == expected
            and after.hash == entry.prev_hash
        ):
            return self.found("reordered", f"entries {expected} and {entry.seq} were swapped")
        return None

    def _linked(self, sealed: bool) -> Finding:
        entry, after = self.entry, self.after
        if not sealed:
            return self.found(
                "altered", f"entry {entry.seq} was altered: its content no longer matches its hash"
            )
        # Sealed and linked, but claiming the wrong seq: a forgery, unless something still links to it.
        forged = (after is not None and after.prev_hash == entry.prev_hash) or (
            after is None and (self.head is None or self.head.hash == entry.prev_hash)
        )
        if forged:
            return self.found(
                "inserted",
                f"a forged entry claiming seq {entry.seq} was inserted at position {self.position} "
                f"(seq {self.expected_seq} was expected)",
            )
        return self.found(
            "altered",
            f"entry {self.expected_seq} was altered: it now claims seq {entry.seq} and was re-sealed",
        )

    def _unlinked(self, sealed: bool) -> Finding:
        entry, expected = self.entry, self.expected_seq
        renumbered = not sealed and entry_hash(entry, entry.seq + 1, entry.prev_hash) == entry.hash
        if renumbered:
            return self.found("removed", f"entry {expected} was removed and the entries after it renumbered")
        if entry.seq > expected:
            missing = (
                f"entry {expected} was"
                if entry.seq == expected + 1
                else f"entries {expected}..{entry.seq - 1} were"
            )
            return self.found(
                "removed", f"{missing} removed: entry {entry.seq} links to a hash not in the list"
            )
        if entry.seq < expected:
            return self.found(
                "reordered", f"entry {entry.seq} is out of order: seq {expected} was expected here"
            )
        if not sealed:
            return self.found(
                "altered", f"entry {entry.seq} was altered: its content no longer matches its hash"
            )
        before = self.before
        if self._resealed():
            return self.found(
                "altered", f"entry {entry.seq} was altered: its prev_hash was rewritten, then re-sealed"
            )
        if before is None:
            return self.found(
                "altered",
                f"entry {entry.seq} does not follow the anchor (seq {self.anchor.seq}): its prev_hash is not "
                "the anchor's hash, so the anchor is wrong or the entry before it was altered",
            )
        return self.found(
            "altered",
            f"entry {before.seq} was altered and re-sealed: entry {entry.seq} links to its original hash",
            back=1,
        )

    def _resealed(self) -> bool:
        """Whether this entry's hash differs from the one its successor (or the head) committed to."""
        entry, after, head = self.entry, self.after, self.head
        if after is not None:
            return after.prev_hash != entry.hash
        return head is not None and head.seq == entry.seq and head.hash != entry.hash


def _check_head(entries: Sequence[AuditEntry], anchor: Anchor, head: Anchor | None) -> Finding | None:
    """After an intact walk: does the list end where the head says the chain ends?"""
    if head is None:
        return None
    last_seq, last_hash = (entries[-1].seq, entries[-1].hash) if entries else (anchor.seq, anchor.hash)
    end = len(entries)
    if head.seq > last_seq:
        missing = (
            f"entry {head.seq} is" if head.seq == last_seq + 1 else f"entries {last_seq + 1}..{head.seq} are"
        )
        detail = f"{missing} missing from the end: the log was truncated after entry {last_seq}"
        return Finding(position=end, seq=None, expected_seq=last_seq + 1, problem="removed", detail=detail)
    if head.seq == last_seq and head.hash == last_hash:
        return None
    at_head = head.seq - anchor.seq - 1  # position of the entry the head names
    if head.seq == last_seq or (at_head >= 0 and entries[at_head].hash != head.hash):
        position = max(at_head, 0)
        claimed = entries[position].seq if entries else None
        detail = f"entry {head.seq} was altered and re-sealed: its hash no longer matches the head"
        return Finding(
            position=position, seq=claimed, expected_seq=head.seq, problem="altered", detail=detail
        )
    position = max(at_head + 1, 0)
    detail = f"entry {entries[position].seq} was inserted after the head (seq {head.seq})"
    return Finding(
        position=position,
        seq=entries[position].seq,
        expected_seq=entries[position].seq,
        problem="inserted",
        detail=detail,
    )
