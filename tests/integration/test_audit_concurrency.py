"""The audit chain under concurrent writers of one org, on DynamoDB (moto, one call at a time as the
local cloud serves it): nobody refused, every change with exactly one entry, the chain intact."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.shared.dal import audit_store, dynamo
from functions.shared.dal.audit_store import AppendPolicy, AuditEntryModel, AuditUnavailable, DynamoAuditLog
from functions.shared.integrations import aws
from functions.shared.logic.audit_chain import verify
from functions.shared.models.audit import AuditDraft
from infra.local.patches import dynamodb as one_call_at_a_time

REGION = "us-east-1"
ORG = "org_busy"


class ThingModel(Model):
    """Stands in for any audited record (a member, a key, a stack...)."""

    class Meta:
        table_name = "t-things"
        region = REGION

    org_id = UnicodeAttribute(hash_key=True)
    thing_id = UnicodeAttribute(range_key=True)


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    one_call_at_a_time.patch()  # moto's DynamoDB is not thread-safe on its own
    aws.session.cache_clear()
    aws.client.cache_clear()
    dynamo.connection.cache_clear()
    with mock_aws():
        audit_store.configure("t-audit", REGION)
        dynamo.bind(REGION, {ThingModel: "t-things"})
        AuditEntryModel.create_table(wait=True)
        ThingModel.create_table(wait=True)
        yield
    aws.session.cache_clear()
    aws.client.cache_clear()
    dynamo.connection.cache_clear()


def _draft(n: int) -> AuditDraft:
    return AuditDraft(
        org_id=ORG,
        actor=f"user:u{n}",
        actor_type="user",
        action="thing.create",
        target=f"thing:{n}",
        result="succeeded",
        source="test",
        time=datetime.now(UTC),
    )


def _create(log: DynamoAuditLog, n: int) -> None:
    def writes(tx: Any) -> None:
        tx.save(ThingModel(org_id=ORG, thing_id=f"t{n}"), condition=ThingModel.thing_id.does_not_exist())

    log.change(_draft(n), writes)


def test_fifty_concurrent_audited_changes_in_one_org_are_all_made_and_chained_once(tables: None) -> None:
    # GIVEN 50 writers in one org, released together, with a budget no slow machine spends (what
    # the default 8 s holds is measured by `make bench`; a test never fails because the machine was
    # slow: the old fixed 8 tries still fail here)
    log = DynamoAuditLog(AppendPolicy(budget_seconds=300))
    start = threading.Barrier(50)

    def one(n: int) -> str | None:
        start.wait()
        try:
            _create(log, n)
        except AuditUnavailable as refused:
            return str(refused)
        return None

    # WHEN each makes one audited change at the same moment
    with ThreadPoolExecutor(max_workers=50) as pool:
        refusals = [r for r in pool.map(one, range(50)) if r is not None]

    # THEN none was refused, every change is there, with exactly one entry each, and the chain verifies
    assert refusals == []
    assert {t.thing_id for t in ThingModel.query(ORG)} == {f"t{n}" for n in range(50)}
    chain = list(log.entries(ORG))
    assert sorted(e.target for e in chain) == sorted(f"thing:{n}" for n in range(50))
    assert [e.seq for e in chain] == list(range(1, 51))
    assert verify(chain).ok


def test_an_append_that_never_wins_gives_up_at_its_budget_and_changes_nothing(tables: None) -> None:
    # GIVEN a writer always one round behind: after it reads the head, another writer appends
    others = DynamoAuditLog()
    others.record(_draft(0))
    clock = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock[0] += seconds

    log = DynamoAuditLog(AppendPolicy(budget_seconds=1.0), monotonic=lambda: clock[0], sleep=sleep)
    read_head = log.last

    def head_then_overtaken(org_id: str) -> Any:
        head = read_head(org_id)
        others.record(_draft(100 + len(pauses)))
        return head

    log.last = head_then_overtaken  # type: ignore[method-assign]

    # WHEN it tries to make its change THEN it is refused once its budget is spent, with how long it tried
    with pytest.raises(AuditUnavailable, match=r"busy for this org for 1 s \(\d+ attempts\)"):
        _create(log, 999)

    # AND nothing of it was written: no change without its entry
    assert ThingModel.count(ORG) == 0
    assert all(e.target != "thing:999" for e in log.entries(ORG))
    assert sum(pauses) <= 1.0
    assert len(pauses) >= 2  # it did retry, pausing in between


def test_pauses_are_jittered_under_a_growing_cap() -> None:
    policy = AppendPolicy(first_pause_seconds=0.004, max_pause_seconds=0.25)
    top = [policy.pause(attempt, draw=lambda low, high: high) for attempt in range(10)]
    assert top[:4] == [0.004, 0.008, 0.016, 0.032]
    assert max(top) == 0.25
    assert all(policy.pause(attempt, draw=lambda low, high: low) == 0.0 for attempt in range(10))
