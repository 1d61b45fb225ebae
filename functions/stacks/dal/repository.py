"""DynamoDB adapters for the stacks ports. pynamodb stays in this package."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactGet, TransactWrite

from functions.shared.dal import audit_store
from functions.shared.dal.audit_store import DynamoAuditLog, MutationConflict, Writes
from functions.shared.dal.dynamo import bind, connection
from functions.shared.models.audit import AuditDraft
from functions.stacks.dal.models import ConnectionAccessModel, StackHistoryModel, StackModel
from functions.stacks.logic.ports import ConnectionAccess, StackGroup
from functions.stacks.models.stack import (
    ANY,
    BUSY,
    Precondition,
    Stack,
    StackChanges,
    StackEvent,
    StackStatus,
)
from functions.stacks.settings import StacksSettings

_counter = itertools.count()


def configure_from(settings: StacksSettings) -> None:
    bind(
        settings.aws_region,
        {
            StackModel: settings.stacks_table,
            StackHistoryModel: settings.stack_history_table,
            ConnectionAccessModel: settings.accounts_table,
        },
    )
    audit_store.configure_from(settings)


def _to_stack(item: StackModel) -> Stack:
    return Stack.model_validate(item.attribute_values)


def _to_item(stack: Stack) -> StackModel:
    values = stack.model_dump(mode="python")
    values["spec"] = stack.spec.model_dump(mode="json")  # masked secret values, as JSON
    return StackModel(**values)


def _history_item(org_id: str, stack_id: str, event: StackEvent) -> StackHistoryModel:
    return StackHistoryModel(
        stack_key=f"{org_id}#{stack_id}",
        at_key=f"{event.at.isoformat()}#{next(_counter):08d}",
        **event.model_dump(mode="python"),
    )


def _actions(changes: StackChanges) -> list[Any]:
    actions: list[Any] = []
    for name, value in changes.given().items():
        attribute = getattr(StackModel, name)
        if hasattr(value, "model_dump"):
            value = value.model_dump(mode="json")
        elif isinstance(value, StackStatus):
            value = value.value
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


def _condition(expect: Precondition) -> Any:
    condition: Any = StackModel.stack_id.exists()
    if expect.seq is not None:
        condition &= StackModel.operation_seq == expect.seq
    if expect.statuses is not None:
        condition &= StackModel.status.is_in(*(s.value for s in expect.statuses))
    if expect.wait_token is not None:
        condition &= StackModel.wait_token == expect.wait_token
    if expect.no_wait_token:
        condition &= StackModel.wait_token.does_not_exist()
    return condition


def _transact(writes: Callable[[Writes], None]) -> None:
    """A change and its history line with no audit entry, in one transaction: both or neither. Only
    the change is conditional, so a cancelled transaction with a failed condition is its conflict."""
    meta: Any = StackModel.Meta
    try:
        with TransactWrite(connection=connection(meta.region)) as tx:
            writes(tx)  # type: ignore[arg-type]
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        if exc.cause_response_code == "TransactionCanceledException" and any(
            r is not None and r.code == "ConditionalCheckFailed" for r in reasons
        ):
            raise MutationConflict([0]) from None
        raise


def _access(item: ConnectionAccessModel) -> ConnectionAccess:
    return ConnectionAccess(
        org_id=item.org_id,
        connection_id=item.connection_id,
        aws_account_id=item.aws_account_id,
        region=item.region,
        status=item.status,
        external_id=item.external_id,
        role_arn=item.role_arn,
    )


class DynamoStackRepository:
    def __init__(self, audit: DynamoAuditLog | None = None) -> None:
        self._audit = audit or DynamoAuditLog()

    def create(
        self, stack: Stack, event: StackEvent, audit: AuditDraft, replaces: Stack | None = None
    ) -> bool:
        """The stack, its first history line and the audit entry, all or nothing; False (nothing
        written) if the id is taken. A new stack takes a free id; ``replaces`` takes over the record
        as it was read, if it is still that one: deleted, or failed before anything was made in the
        account (requests.replaceable)."""
        item = _to_item(stack)
        condition: Any = StackModel.stack_id.does_not_exist()
        if replaces is not None:
            condition = (StackModel.operation_seq == replaces.operation_seq) & (
                (StackModel.status == StackStatus.DELETED.value)
                | ((StackModel.status == StackStatus.FAILED.value) & StackModel.cfn_stack_id.does_not_exist())
            )
        history = _history_item(stack.org_id, stack.stack_id, event)

        def writes(tx: Writes) -> None:
            tx.save(item, condition=condition)
            tx.save(history)

        try:
            self._audit.change(audit, writes)
        except MutationConflict:
            return False
        return True

    def get(self, org_id: str, stack_id: str) -> Stack | None:
        try:
            return _to_stack(StackModel.get(org_id, stack_id, consistent_read=True))
        except DoesNotExist:
            return None

    def list_for_org(self, org_id: str) -> list[Stack]:
        return [_to_stack(i) for i in StackModel.query(org_id)]

    def active_groups(self) -> list[StackGroup]:
        """The distinct (org, connection, region) of the stacks not DELETED: the reconcile sweep's plan.

        A paginated Scan that returns only those attributes. Fine at this scale (one Scan every ten
        minutes), but a Scan is billed for whole items, specs included, however little it returns:
        with tens of thousands of stacks, a sparse GSI keyed by group on live stacks would read less.
        """
        items = StackModel.scan(
            filter_condition=StackModel.status != StackStatus.DELETED.value,
            attributes_to_get=["org_id", "connection_id", "region"],
        )
        return sorted({StackGroup(i.org_id, i.connection_id, i.region) for i in items})

    def list_in_group(self, org_id: str, connection_id: str, region: str) -> list[Stack]:
        """The org's stacks not DELETED on one connection and region (one Query, consistent)."""
        items = StackModel.query(
            org_id,
            filter_condition=(StackModel.connection_id == connection_id)
            & (StackModel.region == region)
            & (StackModel.status != StackStatus.DELETED.value),
            consistent_read=True,
        )
        return [_to_stack(i) for i in items]

    def find_by_cfn_stack_id(self, cfn_stack_id: str) -> Stack | None:
        for key in StackModel.by_cfn_stack_id.query(cfn_stack_id):
            return self.get(key.org_id, key.stack_id)
        return None

    def update(
        self,
        stack: Stack,
        changes: StackChanges,
        *,
        expect: Precondition = ANY,
        event: StackEvent | None = None,
        audit: AuditDraft | None = None,
    ) -> Stack | None:
        """Writes ``changes`` if the stack still meets ``expect``, with its history line and audit
        entry (all or nothing); None if it did not. Alone, the change is one UpdateItem that answers
        the stored record (ALL_NEW); with a history line or an entry it is one transaction, which
        answers nothing: then the stack given, with the changes applied."""
        item = StackModel(org_id=stack.org_id, stack_id=stack.stack_id)
        actions = _actions(changes)
        condition = _condition(expect)
        history = _history_item(stack.org_id, stack.stack_id, event) if event else None

        def writes(tx: Writes) -> None:
            tx.update(item, actions=actions, condition=condition)
            if history:
                tx.save(history)

        try:
            if history is not None and audit is None:
                _transact(writes)
            else:
                self._audit.change(audit, writes)
        except MutationConflict:
            return None
        if history is None and audit is None:
            return _to_stack(item)  # pynamodb's update read the record back into the item (ALL_NEW)
        return stack.model_copy(update=changes.given())

    def wait_on(self, org_id: str, stack_id: str, seq: int, token: str) -> Stack | None:
        """Keeps ``token`` on a stack still busy with operation ``seq``: the stored record, or None."""
        item = StackModel(org_id=org_id, stack_id=stack_id)
        condition = _condition(Precondition(seq=seq, statuses=tuple(BUSY)))
        try:
            audit_store.apply_writes(
                lambda tx: tx.update(item, actions=[StackModel.wait_token.set(token)], condition=condition)
            )
        except MutationConflict:
            return None
        return _to_stack(item)

    def history(
        self, org_id: str, stack_id: str, limit: int = 100, before: str | None = None
    ) -> list[StackEvent]:
        items = StackHistoryModel.query(
            f"{org_id}#{stack_id}",
            StackHistoryModel.at_key < before if before else None,
            scan_index_forward=False,
            limit=limit,
        )
        return [
            StackEvent(
                at=i.at,
                kind=i.kind,
                status=StackStatus(i.status),
                cfn_status=i.cfn_status,
                message=i.message,
                actor=i.actor,
            )  # type: ignore[arg-type]
            for i in items
        ]


class DynamoConnectionAccess:
    def get(self, org_id: str, connection_id: str) -> ConnectionAccess | None:
        try:
            return _access(ConnectionAccessModel.get(org_id, connection_id, consistent_read=True))
        except DoesNotExist:
            return None


class DynamoStackWithAccess:
    """A workflow step's one read: its stack and the connection to its account together."""

    def read(
        self, org_id: str, stack_id: str, connection_id: str | None
    ) -> tuple[Stack | None, ConnectionAccess | None]:
        """One TransactGetItems (consistent, both tables); without ``connection_id`` (an execution
        started before its input carried it), the stack first, then its connection."""
        if connection_id is None:
            try:
                stack = _to_stack(StackModel.get(org_id, stack_id, consistent_read=True))
            except DoesNotExist:
                return None, None
            return stack, DynamoConnectionAccess().get(org_id, stack.connection_id)
        meta: Any = StackModel.Meta
        with TransactGet(connection=connection(meta.region)) as tx:
            stack_future = tx.get(StackModel, org_id, stack_id)
            access_future = tx.get(ConnectionAccessModel, org_id, connection_id)
        try:
            found = _to_stack(stack_future.get())
        except DoesNotExist:
            return None, None
        try:
            access = _access(access_future.get())
        except DoesNotExist:
            access = None
        return found, access
