"""DynamoDB adapters for the accounts ports. pynamodb stays in this package."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from functions.accounts.dal.models import AccountClaimModel, CallbackRequestModel, ConnectionModel
from functions.accounts.exceptions import AccountClaimed
from functions.accounts.models.connection import (
    LIVE_STATUSES,
    CallbackRequest,
    CallbackStatus,
    Connection,
    ConnectionChanges,
    ConnectionKey,
    ConnectionStatus,
)
from functions.accounts.settings import AccountsSettings
from functions.shared.dal import audit_store
from functions.shared.dal.audit_store import DynamoAuditLog, MutationConflict, Writes, apply_writes
from functions.shared.dal.dynamo import bind
from functions.shared.models.audit import AuditDraft

CALLBACK_RETENTION = timedelta(days=7)
NO_CHANGES = ConnectionChanges()


def configure(*, accounts_table: str, callbacks_table: str, region: str) -> None:
    """Binds the models to the deployed tables (called once by each handler's composition root)."""
    bind(
        region,
        {
            ConnectionModel: accounts_table,
            AccountClaimModel: accounts_table,
            CallbackRequestModel: callbacks_table,
        },
    )


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


#: Where a connection id sorts among its org's items (claims sort as ``claim#...``).
CONNECTION_IDS = "conn_"


def claim_key(aws_account_id: str, region: str) -> str:
    return f"claim#{aws_account_id}#{region}"


def _claim(key: ConnectionKey) -> AccountClaimModel:
    return AccountClaimModel(
        org_id=key.org_id, claim=claim_key(key.aws_account_id, key.region), holder_id=key.connection_id
    )


def _free_or_mine(key: ConnectionKey) -> Any:
    return AccountClaimModel.holder_id.does_not_exist() | (AccountClaimModel.holder_id == key.connection_id)


def _actions(to: ConnectionStatus, changes: ConnectionChanges, if_absent: ConnectionChanges) -> list[Any]:
    actions: list[Any] = [ConnectionModel.status.set(to.value), ConnectionModel.version.add(1)]
    for name, value in changes.given().items():
        attribute = getattr(ConnectionModel, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    for name, value in if_absent.given().items():
        attribute = getattr(ConnectionModel, name)
        actions.append(attribute.set(attribute | value))  # if_not_exists(attribute, value)
    return actions


class DynamoConnectionRepository:
    """Connections, and the claim each live one holds on its org's account and region: taken by a
    conditional put in the same write as the connection (a race has one winner), released in the
    same write as every transition out of the live statuses."""

    def __init__(self, audit: DynamoAuditLog | None = None) -> None:
        self._audit = audit or DynamoAuditLog()

    def create(self, connection: Connection, audit: AuditDraft | None = None) -> None:
        item = ConnectionModel(**connection.model_dump(mode="python"))
        new = ConnectionModel.connection_id.does_not_exist()
        live = connection.status in LIVE_STATUSES

        def writes(tx: Writes) -> None:
            if live:  # first: without an audit entry the writes are made one by one, in order
                tx.save(_claim(connection), condition=AccountClaimModel.holder_id.does_not_exist())
            tx.save(item, condition=new)

        try:
            self._audit.change(audit, writes)
        except MutationConflict as conflict:
            if live and 0 in conflict.failed:
                raise AccountClaimed(self.claim_holder(connection)) from None
            raise

    def claim_holder(self, key: ConnectionKey) -> str | None:
        """The id of the connection that holds ``key``'s account and region (None: free)."""
        try:
            claim = AccountClaimModel.get(
                key.org_id, claim_key(key.aws_account_id, key.region), consistent_read=True
            )
        except DoesNotExist:
            return None
        return str(claim.holder_id)

    def get(self, org_id: str, connection_id: str) -> Connection | None:
        if not connection_id.startswith(CONNECTION_IDS):
            return None
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
        ids = ConnectionModel.connection_id.startswith(CONNECTION_IDS)
        return [_to_connection(item) for item in ConnectionModel.query(org_id, ids, consistent_read=True)]

    def list_connected(self) -> Iterator[Connection]:
        """Every CONNECTED connection of every org (the scheduled re-check; paginated scan)."""
        for item in ConnectionModel.scan(ConnectionModel.status == ConnectionStatus.CONNECTED.value):
            yield _to_connection(item)

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
        connection: ConnectionKey,
        to: ConnectionStatus,
        *,
        allowed_from: Sequence[ConnectionStatus],
        changes: ConnectionChanges = NO_CHANGES,
        if_absent: ConnectionChanges = NO_CHANGES,
        audit: AuditDraft | None = None,
    ) -> bool:
        """One conditional write: the connection's change, and its claim taken (into a live status)
        or released (out of one). Only the key is needed: nothing is read first."""
        item = ConnectionModel(org_id=connection.org_id, connection_id=connection.connection_id)
        actions = _actions(to, changes, if_absent)
        condition = ConnectionModel.connection_id.exists() & ConnectionModel.status.is_in(
            *(s.value for s in allowed_from)
        )
        claim, mine = _claim(connection), _free_or_mine(connection)
        live_before = {status in LIVE_STATUSES for status in allowed_from}
        take = to in LIVE_STATUSES and False in live_before  # live -> live already holds it
        release = to not in LIVE_STATUSES and True in live_before
        if (take or release) and audit is None:
            # Two items change together only in a transaction, and one goes with an audit entry.
            raise TypeError("a transition that takes or releases a claim is audited")

        def writes(tx: Writes, release: bool = release) -> None:
            tx.update(item, actions=actions, condition=condition)
            if take:
                tx.save(claim, condition=mine)
            elif release:
                tx.delete(claim, condition=mine)

        try:
            self._audit.change(audit, writes)
        except MutationConflict as conflict:
            if 0 in conflict.failed:
                return False  # not in allowed_from (any more)
            if take:
                raise AccountClaimed(self.claim_holder(connection)) from None
            # It left a status that was not live (FAILED -> DISCONNECTED) while another connection
            # holds the account and region: that claim is not this connection's to release.
            try:
                self._audit.change(audit, lambda tx: writes(tx, release=False))
            except MutationConflict:
                return False
        return True


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
