"""A cold function's first requests on its tables build their DynamoDB clients on the process's one
botocore session: pynamodb alone makes a new session per table (re-reading botocore's data each
time, ~100 ms of a cold request per table)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from moto import mock_aws
from pynamodb.exceptions import DoesNotExist

from functions.accounts.dal import repository
from functions.accounts.dal.models import CallbackRequestModel, ConnectionModel
from functions.shared.dal import audit_store, dynamo
from functions.shared.integrations import aws
from functions.shared.models.audit import AuditDraft

REGION = "us-east-1"


@pytest.fixture
def cold_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """A fresh 'container' under moto: no session, no client yet. Yields the sessions it makes."""
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        repository.configure(accounts_table="t-accounts", callbacks_table="t-callbacks", region=REGION)
        audit_store.configure("t-audit", REGION)
        for model in (ConnectionModel, CallbackRequestModel, audit_store.AuditEntryModel):
            model.create_table(wait=True)
        # Now the cold start proper: what the tables' set-up built is forgotten.
        aws.session.cache_clear()
        aws.client.cache_clear()
        dynamo.connection.cache_clear()
        repository.configure(accounts_table="t-accounts", callbacks_table="t-callbacks", region=REGION)
        audit_store.configure("t-audit", REGION)
        sessions: list[Any] = []
        real_init = botocore.session.Session.__init__

        def counted(self: Any, *args: Any, **kwargs: Any) -> None:
            sessions.append(self)
            real_init(self, *args, **kwargs)

        monkeypatch.setattr(botocore.session.Session, "__init__", counted)
        yield sessions
    aws.session.cache_clear()
    aws.client.cache_clear()
    dynamo.connection.cache_clear()


def test_first_requests_on_three_tables_and_a_transaction_share_one_botocore_session(
    cold_process: list[Any],
) -> None:
    # GIVEN a cold process whose models are bound to three tables
    # WHEN its first request on each table runs, and an audited transaction
    with pytest.raises(DoesNotExist):
        ConnectionModel.get("org_x", "conn_x")
    with pytest.raises(DoesNotExist):
        CallbackRequestModel.get("key")
    draft = AuditDraft(
        org_id="org_x",
        actor="user_1",
        actor_type="user",
        action="connection.create",
        target="conn_x",
        result="succeeded",
        source="test",
        time=datetime.now(UTC),
    )
    audit_store.DynamoAuditLog().record(draft)
    audit_store.DynamoAuditLog().transact(draft, lambda tx: None)

    # THEN one botocore session served them all: the process's own
    assert len(cold_process) == 1
    assert cold_process[0] is aws.session()
    clients = {
        model._get_connection().connection.client  # type: ignore[attr-defined]
        for model in (ConnectionModel, CallbackRequestModel, audit_store.AuditEntryModel)
    }
    assert len(clients) == 3  # each model keeps its own client (and pynamodb its hooks on it)
    assert {c.meta.region_name for c in clients} == {REGION}
    assert [e.seq for e in audit_store.DynamoAuditLog().entries("org_x")] == [1, 2]
