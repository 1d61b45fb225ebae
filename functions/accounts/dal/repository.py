"""DynamoDB adapters for the accounts ports. pynamodb stays in this package."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from functions.accounts.dal.models import CallbackRequestModel, ConnectionModel
from functions.accounts.models.connection import CallbackRequest, CallbackStatus, Connection, ConnectionStatus
from functions.accounts.settings import AccountsSettings
from functions.shared.dal import audit_store
from functions.shared.dal.audit_store import DynamoAuditLog, MutationConflict
from functions.shared.dal.dynamo import bind
from functions.shared.models.audit import AuditDraft

CALLBACK_RETENTION = timedelta(days=7)


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


def _conditional_failed(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


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
        if audit is None:
            item.save(condition=condition)
            return
        self._audit.transact(audit, lambda tx: tx.save(item, condition=condition))

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
        try:
            item.update(
                actions=[ConnectionModel.task_token.set(task_token)],
                condition=ConnectionModel.status == ConnectionStatus.PENDING.value,
            )
        except UpdateError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def transition(
        self,
        connection: Connection,
        to: ConnectionStatus,
        *,
        allowed_from: Sequence[ConnectionStatus],
        audit: AuditDraft | None = None,
        **changes: Any,
    ) -> Connection | None:
        item = ConnectionModel(org_id=connection.org_id, connection_id=connection.connection_id)
        actions: list[Any] = [ConnectionModel.status.set(to.value), ConnectionModel.version.add(1)]
        for name, value in changes.items():
            attribute = getattr(ConnectionModel, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        condition = ConnectionModel.connection_id.exists() & ConnectionModel.status.is_in(
            *(s.value for s in allowed_from)
        )
        if audit is not None:
            try:
                self._audit.transact(audit, lambda tx: tx.update(item, actions=actions, condition=condition))
            except MutationConflict:
                return None
            return self.get(connection.org_id, connection.connection_id)
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if _conditional_failed(exc):
                return None
            raise
        return _to_connection(item)


class DynamoCallbackRepository:
    def put_new(self, request: CallbackRequest) -> bool:
        item = CallbackRequestModel(
            **request.model_dump(mode="python"),
            expires_at=request.received_at + CALLBACK_RETENTION,
        )
        try:
            item.save(condition=CallbackRequestModel.request_key.does_not_exist())
        except PutError as exc:
            if _conditional_failed(exc):
                return False
            raise
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
