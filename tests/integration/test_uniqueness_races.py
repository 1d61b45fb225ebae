"""Every uniqueness rule holds under a race, by a conditional write: many threads released at once by
a barrier make the same request against DynamoDB (moto) through the real repositories, each with its
audit entry, and exactly one wins. A rule checked by reading then writing fails these tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from functions.accounts.dal import repository as accounts_repository
from functions.accounts.dal.models import CallbackRequestModel, ConnectionModel
from functions.accounts.exceptions import AccountClaimed
from functions.accounts.models.connection import ConnectionChanges, ConnectionStatus
from functions.shared.dal import audit_store, dynamo
from functions.shared.errors import Conflict
from functions.shared.integrations import aws
from functions.shared.models.audit import AuditDraft
from functions.shared.models.principal import Role
from functions.stacks.dal import repository as stacks_repository
from functions.stacks.dal.models import StackHistoryModel, StackModel
from functions.stacks.models.stack import StackEvent, StackStatus
from functions.stacks.settings import StacksSettings
from functions.tenancy.dal import repository as tenancy_repository
from functions.tenancy.dal.models import ApiKeyModel, MemberModel, OrgModel
from functions.tenancy.exceptions import KeyNameTaken
from functions.tenancy.models.org import ApiKey, Member, Org
from tests.unit.accounts_builders import pending_connection
from tests.unit.stacks_builders import stack

REGION = "us-east-1"
RACERS = 24
ORG = "org_racing"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's DynamoDB, one call at a time as DynamoDB makes each call atomic (moto's own backend is
    not thread-safe: a transaction's rollback copy races other threads' writes). The calls of one
    request still interleave with the other racers' calls, as they would against DynamoDB."""
    from moto.dynamodb.responses import DynamoHandler

    one_at_a_time = threading.Lock()
    call_action = DynamoHandler.call_action

    def atomic(self: Any, *args: Any, **kwargs: Any) -> Any:
        with one_at_a_time:
            return call_action(self, *args, **kwargs)

    monkeypatch.setattr(DynamoHandler, "call_action", atomic)
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    aws.session.cache_clear()
    aws.client.cache_clear()
    dynamo.connection.cache_clear()
    with mock_aws():
        accounts_repository.configure(
            accounts_table="r-accounts", callbacks_table="r-callbacks", region=REGION
        )
        tenancy_repository.configure(
            orgs_table="r-orgs", members_table="r-members", api_keys_table="r-keys", region=REGION
        )
        stacks_repository.configure_from(
            StacksSettings(
                stacks_table="r-stacks",
                stack_history_table="r-history",
                accounts_table="r-accounts",
                audit_table="r-audit",
                aws_region=REGION,
            )
        )
        audit_store.configure("r-audit", REGION)
        for model in (
            ConnectionModel,  # its claims share its table
            CallbackRequestModel,
            OrgModel,
            MemberModel,
            ApiKeyModel,  # its name claims share its table
            StackModel,
            StackHistoryModel,
            audit_store.AuditEntryModel,
        ):
            model.create_table(wait=True)
        yield
    aws.session.cache_clear()
    aws.client.cache_clear()
    dynamo.connection.cache_clear()


def race(attempt: Callable[[int], Any]) -> list[Any]:
    """Runs ``attempt(i)`` in RACERS threads released together; returns each result or exception."""
    barrier = threading.Barrier(RACERS)

    def one(i: int) -> Any:
        barrier.wait()
        try:
            return attempt(i)
        except Exception as exc:  # the loser's answer is what the test checks
            return exc

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(one, range(RACERS)))


def entry(action: str, target: str) -> AuditDraft:
    return AuditDraft(
        org_id=ORG,
        actor="user:racer",
        actor_type="user",
        action=action,
        target=target,
        result="succeeded",
        source="test",
        time=NOW,
    )


def chain() -> list[Any]:
    return list(audit_store.DynamoAuditLog().entries(ORG))


def test_one_live_connection_per_org_account_and_region(tables: None) -> None:
    # GIVEN 24 requests connecting the same account and region, each its own new connection
    repo = accounts_repository.DynamoConnectionRepository()
    ids = [f"conn_{i:026d}" for i in range(RACERS)]

    def connect(i: int) -> str:
        connection = pending_connection(lambda: NOW, org_id=ORG, connection_id=ids[i])  # type: ignore[arg-type]
        repo.create(connection, entry("account.connect", f"connection:{ids[i]}"))
        return ids[i]

    # WHEN they race THEN one connection is written, and every other request is told which one holds it
    results = race(connect)
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1, results
    losers = [r for r in results if not isinstance(r, str)]
    assert all(isinstance(r, AccountClaimed) and r.holder == winners[0] for r in losers), losers
    assert [c.connection_id for c in repo.list_for_org(ORG)] == winners
    # AND the audit chain holds the one change that happened, once
    assert [e.target for e in chain()] == [f"connection:{winners[0]}"]

    # WHEN the winner is disconnected THEN the account and region are free again, for one racer
    winner = repo.get(ORG, winners[0])
    assert winner is not None
    assert repo.transition(
        winner,
        ConnectionStatus.DISCONNECTED,
        allowed_from=(ConnectionStatus.PENDING,),
        changes=ConnectionChanges(reason="disconnected"),
        audit=entry("account.disconnect", f"connection:{winners[0]}"),
    )
    ids = [f"conn_{i + RACERS:026d}" for i in range(RACERS)]
    again = [r for r in race(connect) if isinstance(r, str)]
    assert len(again) == 1 and again[0] != winners[0]


def test_a_failed_connection_cannot_come_back_live_over_a_newer_one(tables: None) -> None:
    # GIVEN a connection that failed (its claim released), and a newer one holding the account
    repo = accounts_repository.DynamoConnectionRepository()
    old = pending_connection(lambda: NOW, org_id=ORG, connection_id="conn_" + "o" * 26)  # type: ignore[arg-type]
    repo.create(old, entry("account.connect", "old"))
    assert repo.transition(
        old, ConnectionStatus.FAILED, allowed_from=(ConnectionStatus.PENDING,), audit=entry("fail", "old")
    )
    new = pending_connection(lambda: NOW, org_id=ORG, connection_id="conn_" + "n" * 26)  # type: ignore[arg-type]
    repo.create(new, entry("account.connect", "new"))
    # WHEN the old one is re-verified THEN it may not take the account back
    with pytest.raises(AccountClaimed) as claimed:
        repo.transition(
            old, ConnectionStatus.CONNECTED, allowed_from=(ConnectionStatus.FAILED,), audit=entry("ok", "old")
        )
    assert claimed.value.holder == new.connection_id
    # AND disconnecting the old one leaves the newer one's claim alone
    assert repo.transition(
        old, ConnectionStatus.DISCONNECTED, allowed_from=(ConnectionStatus.FAILED,), audit=entry("bye", "old")
    )
    assert repo.claim_holder(new) == new.connection_id
    assert repo.get(ORG, old.connection_id).status is ConnectionStatus.DISCONNECTED  # type: ignore[union-attr]


def _org_with_owner(store: tenancy_repository.DynamoTenancyStore) -> None:
    owner = Member(org_id=ORG, user_id="olga", role=Role.OWNER, added_by="olga", added_at=NOW, updated_at=NOW)
    org = Org(org_id=ORG, name="Racing", created_by="olga", created_at=NOW, owner_count=1)
    store.create_org(org, owner, entry("org.create", ORG))


def test_one_membership_per_user(tables: None) -> None:
    store = tenancy_repository.DynamoTenancyStore(audit_store.DynamoAuditLog())
    _org_with_owner(store)

    def add(i: int) -> str:
        member = Member(
            org_id=ORG, user_id="vera", role=Role.VIEWER, added_by="olga", added_at=NOW, updated_at=NOW
        )
        store.add_member(member, entry("member.add", f"user:vera#{i}"))
        return f"user:vera#{i}"

    results = race(add)
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) and "already a member" in str(r) for r in results if r not in winners)
    assert [m.user_id for m in store.list_members(ORG)] == ["olga", "vera"]
    assert [e.target for e in chain()] == [ORG, winners[0]]


def _key(i: int, name: str) -> ApiKey:
    return ApiKey(
        key_id=f"{i:012d}".translate(str.maketrans("0123456789", "abcdefghij")),
        org_id=ORG,
        name=name,
        role=Role.VIEWER,
        created_by="olga",
        key_hash="0" * 64,
        created_at=NOW,
        expires_at=NOW + timedelta(days=90),
    )


def test_one_active_api_key_per_name(tables: None) -> None:
    store = tenancy_repository.DynamoTenancyStore(audit_store.DynamoAuditLog())
    _org_with_owner(store)

    def create(i: int) -> str:
        key = _key(i, "CI deploys" if i % 2 else "ci DEPLOYS")  # one name, whatever its case
        store.create_key(key, entry("api_key.create", f"key:{key.key_id}"))
        return key.key_id

    results = race(create)
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1, results
    losers = [r for r in results if r not in winners]
    assert all(isinstance(r, KeyNameTaken) and "deploys" in str(r).lower() for r in losers), losers
    assert [k.key_id for k in store.list_keys(ORG)] == winners
    # WHEN the winner is revoked THEN the name is free for the next race's one winner
    won = store.get_key(winners[0])
    assert won is not None
    store.revoke_key(won, NOW, entry("api_key.revoke", f"key:{won.key_id}"))

    def create_again(i: int) -> str:
        return create(i + RACERS)

    assert len([r for r in race(create_again) if isinstance(r, str)]) == 1


def test_one_stack_per_name_and_stage_on_a_connection(tables: None) -> None:
    repo = stacks_repository.DynamoStackRepository()
    requested = stack("web", StackStatus.CREATING, None, with_id=False, org_id=ORG)
    event = StackEvent(
        at=NOW, kind="requested", status=StackStatus.CREATING, message="creation requested", actor="user:r"
    )

    def create(i: int) -> int | str:
        made = repo.create(
            requested, event.model_copy(update={"actor": f"user:{i}"}), entry("stack.create", f"{i}")
        )
        return i if made else "taken"  # the API answers a taken id with 409 naming the stack

    results = race(create)
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1, results
    assert all(r == "taken" for r in results if r not in winners), results
    assert [e.target for e in chain()] == [str(winners[0])]
