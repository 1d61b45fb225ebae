"""DynamoDB adapters for the stacks ports. pynamodb stays in this package."""

from __future__ import annotations

import itertools
from typing import Any

from pynamodb.exceptions import DoesNotExist

from functions.shared.dal import audit_store
from functions.shared.dal.audit_store import DynamoAuditLog, MutationConflict, Writes
from functions.shared.dal.dynamo import bind
from functions.shared.models.audit import AuditDraft
from functions.stacks.dal.models import ConnectionAccessModel, StackHistoryModel, StackModel
from functions.stacks.exceptions import StackConflict
from functions.stacks.logic.ports import ConnectionAccess, StackGroup
from functions.stacks.models.stack import ANY, Precondition, Stack, StackChanges, StackEvent, StackStatus
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
    return condition


class DynamoStackRepository:
    def __init__(self, audit: DynamoAuditLog | None = None) -> None:
        self._audit = audit or DynamoAuditLog()

    def create(self, stack: Stack, event: StackEvent, audit: AuditDraft) -> None:
        """The stack, its first history line and the audit entry, all or nothing. A stack of the same
        id (same org, connection, region, name and stage) is a conflict unless it was deleted or failed
        before anything was made in the account."""
        item = _to_item(stack)
        # requests.replaceable(), as a condition: deleted, or failed before anything was made.
        condition = (
            StackModel.stack_id.does_not_exist()
            | (StackModel.status == StackStatus.DELETED.value)
            | ((StackModel.status == StackStatus.FAILED.value) & StackModel.cfn_stack_id.does_not_exist())
        )
        history = _history_item(stack.org_id, stack.stack_id, event)

        def writes(tx: Writes) -> None:
            tx.save(item, condition=condition)
            tx.save(history)

        try:
            self._audit.change(audit, writes)
        except MutationConflict as exc:
            raise StackConflict(
                f"a stack named {stack.name!r} at stage {stack.stage!r} already exists on this connection "
                f"as {stack.stack_id}"
            ) from exc

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
        entry (all or nothing when there is an entry); the stack as written, or None."""
        item = StackModel(org_id=stack.org_id, stack_id=stack.stack_id)
        actions = _actions(changes)
        condition = _condition(expect)
        history = _history_item(stack.org_id, stack.stack_id, event) if event else None

        def writes(tx: Writes) -> None:
            tx.update(item, actions=actions, condition=condition)
            if history:
                tx.save(history)

        try:
            self._audit.change(audit, writes)
        except MutationConflict:
            return None
        return self.get(stack.org_id, stack.stack_id)

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
            item = ConnectionAccessModel.get(org_id, connection_id, consistent_read=True)
        except DoesNotExist:
            return None
        return ConnectionAccess(
            org_id=item.org_id,
            connection_id=item.connection_id,
            aws_account_id=item.aws_account_id,
            region=item.region,
            status=item.status,
            external_id=item.external_id,
            role_arn=item.role_arn,
        )
