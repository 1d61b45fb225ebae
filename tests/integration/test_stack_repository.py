"""The stacks repository on DynamoDB (moto): a status change and its history line are one
conditional write; a lone change answers the stored record; a step reads its stack and connection in
one call. Counted by botocore operation, since the counts are what these writes are for."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from functions.shared.dal import audit_store
from functions.shared.models.audit import AuditDraft
from functions.stacks.dal.models import ConnectionAccessModel, StackHistoryModel, StackModel
from functions.stacks.dal.repository import DynamoStackRepository, DynamoStackWithAccess
from functions.stacks.models.stack import Precondition, StackChanges, StackEvent, StackStatus
from tests.fixtures.moto_tables import counted_tables
from tests.unit.stacks_builders import CONN, ORG, T0, stack

REGION = "us-east-1"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    tables = {
        StackModel: "t-stacks",
        StackHistoryModel: "t-stack-history",
        ConnectionAccessModel: "t-accounts",
    }
    with counted_tables(monkeypatch, REGION, tables) as counted:
        yield counted


def _line(message: str) -> StackEvent:
    return StackEvent(at=T0, kind="status", status=StackStatus.CREATING, message=message, actor="event")


def _audit(action: str) -> AuditDraft:
    return AuditDraft(
        org_id=ORG,
        actor="user:alice",
        actor_type="user",
        action=action,
        target="stack:stk_steady",
        result="succeeded",
        source="127.0.0.1",
        time=T0,
    )


def test_a_status_change_and_its_history_line_are_one_write_and_a_failed_condition_writes_neither(
    calls: Counter[str],
) -> None:
    repo = DynamoStackRepository()
    creating = stack("steady", StackStatus.CREATING, "CREATE_IN_PROGRESS")
    assert repo.create(creating, _line("creation requested"), _audit("stack.create"))
    calls.clear()
    # WHEN a status is recorded with its history line, on a condition that holds
    written = repo.update(
        creating,
        StackChanges(cfn_status="CREATE_COMPLETE"),
        expect=Precondition(seq=1, statuses=(StackStatus.CREATING,)),
        event=_line("CREATE_COMPLETE"),
    )
    # THEN both are written in one call, a transaction
    assert written is not None and written.cfn_status == "CREATE_COMPLETE"
    assert calls == Counter({"TransactWriteItems": 1})
    # WHEN the same change is tried on a condition that no longer holds (another operation)
    refused = repo.update(
        creating,
        StackChanges(cfn_status="ROLLBACK_COMPLETE"),
        expect=Precondition(seq=7),
        event=_line("ROLLBACK_COMPLETE"),
    )
    # THEN neither the change nor its history line is written
    assert refused is None
    stored = repo.get(ORG, "stk_steady")
    assert stored is not None and stored.cfn_status == "CREATE_COMPLETE"
    assert [e.message for e in repo.history(ORG, "stk_steady")] == ["CREATE_COMPLETE", "creation requested"]


def test_a_lone_change_is_one_update_that_answers_the_stored_record(calls: Counter[str]) -> None:
    repo = DynamoStackRepository()
    creating = stack("steady", StackStatus.CREATING, "CREATE_IN_PROGRESS")
    assert repo.create(creating, _line("creation requested"), _audit("stack.create"))
    # GIVEN a field written by someone else since the stack was read
    assert repo.update(creating, StackChanges(outputs={"Url": "https://x.example"})) is not None
    calls.clear()
    # WHEN a change is written alone
    written = repo.update(creating, StackChanges(reason="why"), expect=Precondition(seq=1))
    # THEN one UpdateItem, and the answer is the record as stored (the other writer's field included)
    assert calls == Counter({"UpdateItem": 1})
    assert written is not None and written.reason == "why" and written.outputs == {"Url": "https://x.example"}
    # AND keeping a task token answers the record too; a stack at another operation keeps none
    calls.clear()
    waiting = repo.wait_on(ORG, "stk_steady", 1, "token-1")
    assert waiting is not None and waiting.wait_token == "token-1" and waiting.reason == "why"
    assert repo.wait_on(ORG, "stk_steady", 2, "token-2") is None
    assert calls == Counter({"UpdateItem": 2})


def test_a_taken_id_is_not_created_again_but_a_deleted_stack_is_replaced_as_it_was_read(
    calls: Counter[str],
) -> None:
    repo = DynamoStackRepository()
    first = stack("steady", StackStatus.CREATING, None, with_id=False)
    assert repo.create(first, _line("creation requested"), _audit("stack.create"))
    # THEN a second creation of the same id writes nothing
    assert not repo.create(first, _line("again"), _audit("stack.create"))
    assert len(list(audit_store.AuditEntryModel.query(ORG))) == 1
    # AND once deleted, it is replaced, as it was read: two creations racing to replace it cannot
    # both win (the loser's read is stale)
    deleted = repo.update(first, StackChanges(status=StackStatus.DELETED))
    assert deleted is not None
    again = first.model_copy(update={"operation_seq": 2})
    assert repo.create(again, _line("again"), _audit("stack.create"), replaces=deleted)
    assert not repo.create(again, _line("racing"), _audit("stack.create"), replaces=deleted)
    stored = repo.get(ORG, "stk_steady")
    assert stored is not None and (stored.operation_seq, stored.status) == (2, StackStatus.CREATING)
    assert len(list(audit_store.AuditEntryModel.query(ORG))) == 2


def test_a_step_reads_its_stack_and_connection_in_one_call(calls: Counter[str]) -> None:
    repo = DynamoStackRepository()
    assert repo.create(stack("steady", StackStatus.CREATING), _line("requested"), _audit("stack.create"))
    ConnectionAccessModel(
        org_id=ORG,
        connection_id=CONN,
        aws_account_id="181818181818",
        region=REGION,
        status="CONNECTED",
        external_id="ext",
    ).save()
    calls.clear()
    found, access = DynamoStackWithAccess().read(ORG, "stk_steady", CONN)
    assert calls == Counter({"TransactGetItems": 1})
    assert found is not None and found.stack_id == "stk_steady"
    assert access is not None and access.status == "CONNECTED"
    # AND a connection that is gone reads as None, the stack still found
    found, access = DynamoStackWithAccess().read(ORG, "stk_steady", "conn_" + "x" * 26)
    assert found is not None and access is None
    # AND a stack that is gone reads as None
    assert DynamoStackWithAccess().read(ORG, "stk_nothing", CONN) == (None, None)
