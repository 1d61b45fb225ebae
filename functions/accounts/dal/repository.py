"""DynamoDB adapters for the accounts ports. pynamodb stays in this package."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from functions.accounts.dal.models import CallbackRequestModel, ConnectionModel
from functions.accounts.models.connection import (
    CallbackRequest,
    CallbackStatus,
    Connection,
    ConnectionChanges,
    ConnectionStatus,
)
from functions.accounts.settings import AccountsSettings
from functions.shared.dal import audit_store
from functions.shared.dal.audit_store import DynamoAuditLog, MutationConflict, apply_writes
from functions.shared.dal.dynamo import bind
from functions.shared.models.audit import AuditDraft

CALLBACK_RETENTION = timedelta(days=7)
NO_CHANGES = ConnectionChanges()


def configure(*, accounts_table: str, callbacks_table: str, region: str) -> None:
    """Binds the models to the deployed tables (called once by each handler's composition root)."""
    bind(region, {ConnectionModel: accounts_table, CallbackRequestModel: callbacks_table})


def configure_from(settings: AccountsSettings) -> None:
    configure(
        accounts_table=settings.accounts_table,
        callbacks_table=settings.account_callbacks_table,
        region=settings.aws_region,
    )
    audit_store.configure_from(settings)


def _to_connection(item: ConnectionModel) -> Connection:
    return Connection.model_validate(
        {name: getattr(item, name) for name in Connection.model_fields if hasattr(item, name)}
    )


class DynamoConnectionRepository:
    def __init__(self, audit: DynamoAuditLog | None = None) -> None:
        self._audit = audit or DynamoAuditLog()

    def create(self, connection: Connection, audit: AuditDraft | None = None) -> None:
        item = ConnectionModel(**connection.model_dump(mode="python"))
        condition = ConnectionModel.connection_id.does_not_exist()
        self._audit.change(audit, lambda tx: tx.save(item, condition=condition))

    def get(self, org_id: str, connection_id: str) -> Connection | None:
        try:
            return _to_connection(ConnectionModel.get(org_id, connection_id, consistent_read=True))
        except DoesNotExist:
            return None

    def find_by_id(self, connection_id: str) -> Connection | None:
        for hit in ConnectionModel.by_connection_id.query(connection_id, limit=1):
            # The index is eventually consistent: re-read the item itself.
            return self.get(hit.org_id, hit.connection_id)
        return None

    def list_for_org(self, org_id: str) -> list[Connection]:
        return [_to_connection(item) for item in ConnectionModel.query(org_id)]

    def list_connected(self) -> Iterator[Connection]:
        """Every CONNECTED connection of every org (the scheduled re-check; paginated scan)."""
        for item in ConnectionModel.scan(ConnectionModel.status == ConnectionStatus.CONNECTED.value):
            yield _to_connection(item)

    def delete(self, org_id: str, connection_id: str) -> None:
        ConnectionModel(org_id=org_id, connection_id=connection_id).delete()

    def set_task_token(self, org_id: str, connection_id: str, task_token: str) -> bool:
        item = ConnectionModel(org_id=org_id, connection_id=connection_id)
        actions = [ConnectionModel.task_token.set(task_token)]
        pending = ConnectionModel.status == ConnectionStatus.PENDING.value
        try:
            apply_writes(lambda tx: tx.update(item, actions=actions, condition=pending))
        except MutationConflict:
            return False
        return True

    def transition(
        self,
        connection: Connection,
        to: ConnectionStatus,
        *,
        allowed_from: Sequence[ConnectionStatus],
        changes: ConnectionChanges = NO_CHANGES,
        audit: AuditDraft | None = None,
    ) -> Connection | None:
        item = ConnectionModel(org_id=connection.org_id, connection_id=connection.connection_id)
        actions: list[Any] = [ConnectionModel.status.set(to.value), ConnectionModel.version.add(1)]
        for name, value in changes.given().items():
            attribute = getattr(ConnectionModel, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        condition = ConnectionModel.connection_id.exists() & ConnectionModel.status.is_in(
            *(s.value for s in allowed_from)
        )
        try:
            self._audit.change(audit, lambda tx: tx.update(item, actions=actions, condition=condition))
        except MutationConflict:
            return None
        # A direct update reads the item back (ALL_NEW); a transaction does not.
        return (
            _to_connection(item) if audit is None else self.get(connection.org_id, connection.connection_id)
        )


class DynamoCallbackRepository:
    def put_new(self, request: CallbackRequest) -> bool:
        item = CallbackRequestModel(
            **request.model_dump(mode="python"),
            expires_at=request.received_at + CALLBACK_RETENTION,
        )
        new = CallbackRequestModel.request_key.does_not_exist()
        try:
            apply_writes(lambda tx: tx.save(item, condition=new))
        except MutationConflict:
            return False
        return True

    def get(self, request_key: str) -> CallbackRequest | None:
        try:
            item = CallbackRequestModel.get(request_key, consistent_read=True)
        except DoesNotExist:
            return None
        return CallbackRequest.model_validate(
            {name: getattr(item, name) for name in CallbackRequest.model_fields}
        )

    def set_status(self, request_key: str, status: CallbackStatus) -> None:
        CallbackRequestModel(request_key=request_key).update(
            actions=[CallbackRequestModel.status.set(status.value)]
        )
