"""The audit log in DynamoDB: one hash chain per org, append-only.

Entries are keyed (org_id, seq). Appending reads the org's last entry, chains the new one to it and
puts it on condition that its seq is still free; two writers racing for a seq cannot both win, and
the loser re-reads and chains again after a jittered, growing pause (AWS's "full jitter"), until
its time budget is spent. The chain stays synchronous: an answer always means the change and its
entry are both written, or neither. ``make bench`` measures how many appends per second one org
holds this way. The functions' IAM allows PutItem and reads on this table, never UpdateItem or
DeleteItem.

A mutation and its entry commit in one DynamoDB transaction (``transact``): if the entry cannot be
written, the mutation does not happen.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from functions.shared.dal.dynamo import bind, conditional_check_failed, connection
from functions.shared.errors import DependencyDown
from functions.shared.logic.audit_chain import chain
from functions.shared.models.audit import AuditDraft, AuditEntry
from functions.shared.settings import ServiceSettings


@dataclass(frozen=True)
class AppendPolicy:
    """How long an append keeps trying when other writers of the same org win the seq it chained.

    The budget is a time, not a count of attempts: 50 writers racing for one org's chain take ~50
    rounds between them, and the last one must still get in. 8 s sits under every API function's
    timeout (10 s; the authorizer records its denials within 5 s, and gives up gracefully: a
    refusal's answer never depends on its entry) and well under API Gateway's 29 s.
    """

    budget_seconds: float = 8.0
    first_pause_seconds: float = 0.004
    max_pause_seconds: float = 0.25

    def pause(self, attempt: int, draw: Callable[[float, float], float] = random.uniform) -> float:
        """Full jitter: anywhere between 0 and an exponentially growing cap."""
        return draw(0.0, min(self.max_pause_seconds, self.first_pause_seconds * 2**attempt))


class AuditEntryModel(Model):
    class Meta:
        table_name = "audit"  # bound to the real name by configure()
        billing_mode = "PAY_PER_REQUEST"

    org_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    time = UTCDateTimeAttribute()
    actor = UnicodeAttribute()
    actor_type = UnicodeAttribute()
    action = UnicodeAttribute()
    target = UnicodeAttribute()
    result = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute(null=True)
    source = UnicodeAttribute()
    prev_hash = UnicodeAttribute()
    hash = UnicodeAttribute()


class AuditUnavailable(DependencyDown):
    """The entry could not be written, so nothing was changed (a 503)."""


class MutationConflict(Exception):
    """A write that shared the transaction with the entry failed its own condition.

    ``failed`` lists the positions (in the order ``writes`` added them) whose condition failed.
    """

    def __init__(self, failed: list[int]) -> None:
        super().__init__(f"conditions failed at {failed}")
        self.failed = failed


def configure(table: str, region: str) -> None:
    bind(region, {AuditEntryModel: table})


def configure_from(settings: ServiceSettings) -> None:
    configure(settings.audit_table, settings.aws_region)


def _to_entry(item: AuditEntryModel) -> AuditEntry:
    return AuditEntry.model_validate({name: getattr(item, name) for name in AuditEntry.model_fields})


def _to_item(entry: AuditEntry) -> AuditEntryModel:
    return AuditEntryModel(**entry.model_dump(mode="python"))


class DynamoAuditLog:
    """``AuditLog`` on the audit table, plus the transactional append the repositories use."""

    def __init__(
        self,
        policy: AppendPolicy | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or AppendPolicy()
        self._monotonic = monotonic
        self._sleep = sleep

    def record(self, draft: AuditDraft) -> AuditEntry:
        return self.transact(draft, None)

    def change(self, audit: AuditDraft | None, writes: Callable[[Writes], None]) -> None:
        """The one way a repository changes items: with ``audit``, the writes and the audit entry in
        one transaction (all or nothing); without, the writes one by one, in order. Either way a
        write whose own condition fails raises ``MutationConflict`` (naming its position) and the
        writes after it are not made."""
        if audit is None:
            apply_writes(writes)
        else:
            self.transact(audit, writes)  # type: ignore[arg-type]

    def transact(self, draft: AuditDraft, writes: Callable[[TransactWrite], None] | None) -> AuditEntry:
        """Appends ``draft`` to its org's chain; with ``writes``, in one transaction with them."""
        deadline = self._monotonic() + self.policy.budget_seconds
        attempt = 0
        while True:
            entry = chain(draft, self.last(draft.org_id))
            if self._append(entry, writes):
                return entry
            # Another writer took this seq: pause, then chain onto the new last entry and try again.
            pause = self.policy.pause(attempt)
            attempt += 1
            if self._monotonic() + pause > deadline:
                raise AuditUnavailable(
                    f"the audit log stayed busy for this org for {self.policy.budget_seconds:g} s "
                    f"({attempt} attempts); nothing was changed"
                )
            self._sleep(pause)

    def _append(self, entry: AuditEntry, writes: Callable[[TransactWrite], None] | None) -> bool:
        """Writes ``entry`` (with ``writes``, in one transaction); False if its seq was taken."""
        recorder: _Recorder | None = None
        item = _to_item(entry)
        free = AuditEntryModel.seq.does_not_exist()
        try:
            if writes is None:
                item.save(condition=free)
            else:
                meta: Any = AuditEntryModel.Meta
                with TransactWrite(connection=connection(meta.region)) as tx:
                    recorder = _Recorder(tx)
                    writes(recorder)  # type: ignore[arg-type]
                    recorder.save(item, condition=free)
            return True
        except PutError as exc:
            if not conditional_check_failed(exc):
                raise AuditUnavailable("the audit entry could not be written") from exc
        except TransactWriteError as exc:
            failed = _failed_positions(exc, recorder.kinds if recorder else [])
            if failed is None and _conflicted(exc):
                return False  # another transaction held one of these items: a lost race, try again
            if failed is None:
                raise AuditUnavailable("the audit entry could not be written") from exc
            *mutations, audit_slot = failed
            if any(mutations):
                raise MutationConflict([i for i, bad in enumerate(mutations) if bad]) from None
            if not audit_slot:
                raise AuditUnavailable("the transaction was refused") from exc
        except PynamoDBException as exc:
            raise AuditUnavailable("the audit entry could not be written") from exc
        return False

    def last(self, org_id: str) -> AuditEntry | None:
        for item in AuditEntryModel.query(org_id, scan_index_forward=False, limit=1, consistent_read=True):
            return _to_entry(item)
        return None

    def entries(self, org_id: str, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
        """The org's chain in order, from ``after_seq + 1`` (paginated under the hood), at most
        ``limit`` entries."""
        condition = AuditEntryModel.seq > after_seq
        for item in AuditEntryModel.query(
            org_id, condition, consistent_read=True, limit=limit, page_size=min(limit or 1000, 1000)
        ):
            yield _to_entry(item)

    def newest_first(self, org_id: str, before_seq: int | None = None) -> Iterator[AuditEntry]:
        condition = AuditEntryModel.seq < before_seq if before_seq is not None else None
        for item in AuditEntryModel.query(org_id, condition, scan_index_forward=False, consistent_read=True):
            yield _to_entry(item)


class Writes(Protocol):
    """What ``DynamoAuditLog.change`` hands its ``writes`` (pynamodb's TransactWrite, or the same
    writes made directly)."""

    def save(self, model: Model, condition: Any = None) -> Any: ...
    def update(self, model: Model, actions: list[Any], condition: Any = None) -> Any: ...
    def delete(self, model: Model, condition: Any = None) -> Any: ...
    def condition_check(
        self, model_cls: type[Model], hash_key: Any, range_key: Any = None, condition: Any = None
    ) -> Any: ...


def apply_writes(writes: Callable[[Writes], None]) -> None:
    """Writes that no audit entry goes with (a workflow's bookkeeping), made one by one, in order; a
    write whose condition fails raises ``MutationConflict`` and the writes after it are not made."""
    writes(_Direct())


class _Direct:
    """The writes of a change that has no audit entry: made at once, in order."""

    def __init__(self) -> None:
        self._position = 0

    def _made(self, write: Callable[[], Any]) -> None:
        position, self._position = self._position, self._position + 1
        try:
            write()
        except (PutError, UpdateError, DeleteError) as exc:
            if conditional_check_failed(exc):
                raise MutationConflict([position]) from None
            raise

    def save(self, model: Model, condition: Any = None) -> None:
        self._made(lambda: model.save(condition=condition))

    def update(self, model: Model, actions: list[Any], condition: Any = None) -> None:
        self._made(lambda: model.update(actions=actions, condition=condition))

    def delete(self, model: Model, condition: Any = None) -> None:
        self._made(lambda: model.delete(condition=condition))

    def condition_check(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a condition check needs a transaction: pass an audit entry")


class _Recorder:
    """Forwards writes to a TransactWrite and remembers their kinds, in the order they were added:
    pynamodb sends condition checks, then deletes, puts and updates, whatever the order they were
    added in, and DynamoDB's cancellation reasons follow the order sent."""

    _SENT_ORDER = ("check", "delete", "put", "update")

    def __init__(self, tx: TransactWrite) -> None:
        self._tx = tx
        self.kinds: list[str] = []

    def condition_check(self, *args: Any, **kwargs: Any) -> None:
        self.kinds.append("check")
        self._tx.condition_check(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> None:
        self.kinds.append("delete")
        self._tx.delete(*args, **kwargs)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.kinds.append("put")
        self._tx.save(*args, **kwargs)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.kinds.append("update")
        self._tx.update(*args, **kwargs)


def _conflicted(exc: TransactWriteError) -> bool:
    """DynamoDB cancelled the transaction because another one was writing the same item (two
    appends racing for one seq can see this instead of a failed condition)."""
    reasons = exc.cancellation_reasons or []
    return exc.cause_response_code == "TransactionCanceledException" and any(
        reason is not None and reason.code == "TransactionConflict" for reason in reasons
    )


def _failed_positions(exc: TransactWriteError, kinds: list[str]) -> list[bool] | None:
    """Which items, in the order they were added, failed a condition (None if the transaction
    failed otherwise)."""
    if exc.cause_response_code != "TransactionCanceledException":
        return None
    reasons = exc.cancellation_reasons
    if not reasons or len(reasons) != len(kinds):
        return None
    sent = [i for kind in _Recorder._SENT_ORDER for i, k in enumerate(kinds) if k == kind]
    failed = [False] * len(kinds)
    for position, reason in zip(sent, reasons, strict=True):
        failed[position] = reason is not None and reason.code == "ConditionalCheckFailed"
    if not any(failed):
        return None
    return failed
