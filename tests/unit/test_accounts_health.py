"""The scheduled re-check of connected accounts."""

from __future__ import annotations

from functions.accounts.exceptions import AwsUnavailable
from functions.accounts.logic.health import HealthDeps, check_connection, sweep
from functions.accounts.models.connection import ConnectionStatus, Health
from tests.fakes.accounts import FakeClock, FakeRoleProbe, InMemoryConnections, RecordingEvents
from tests.unit.accounts_builders import ACCOUNT, CONN_ID, ORG, ROLE_ARN, pending_connection

EXTERNAL_ID = "ext-" + "x" * 40


def deps(probe: object, *connections: object) -> HealthDeps:
    repo = InMemoryConnections()
    for connection in connections:
        repo.create(connection)  # type: ignore[arg-type]
    return HealthDeps(connections=repo, probe=probe, events=RecordingEvents(), clock=FakeClock())  # type: ignore[arg-type]


def connected(**changes: object) -> object:
    return pending_connection(FakeClock(), status=ConnectionStatus.CONNECTED, role_arn=ROLE_ARN, **changes)


def test_a_role_that_still_demands_the_external_id_is_healthy() -> None:
    d = deps(FakeRoleProbe(account=ACCOUNT, external_id=EXTERNAL_ID), connected())
    assert check_connection(d, d.connections.get(ORG, CONN_ID)) is Health.HEALTHY  # type: ignore[arg-type]
    stored = d.connections.get(ORG, CONN_ID)
    assert stored is not None and stored.health is Health.HEALTHY and stored.health_checked_at is not None
    assert d.events.published == []  # type: ignore[attr-defined]


def test_a_weakened_trust_policy_is_reported_once() -> None:
    d = deps(FakeRoleProbe(account=ACCOUNT, external_id=None), connected())
    for _ in range(2):
        assert check_connection(d, d.connections.get(ORG, CONN_ID)) is Health.UNHEALTHY  # type: ignore[arg-type]
    stored = d.connections.get(ORG, CONN_ID)
    assert stored is not None and stored.health_reason == "role does not require ExternalId"
    assert stored.status is ConnectionStatus.CONNECTED  # still connected: the user decides what to do
    assert d.events.types() == ["AccountUnhealthy"]  # type: ignore[attr-defined]


class DownProbe:
    def assume(self, role_arn: str, external_id: str | None, session_name: str) -> str | None:
        raise AwsUnavailable("STS failed: Throttling")


def test_our_own_outage_marks_nothing_unhealthy() -> None:
    d = deps(DownProbe(), connected())
    report = sweep(d, d.connections.list_connected())
    assert report.checked == 1 and report.not_checked == [CONN_ID] and report.unhealthy == []
    assert d.connections.get(ORG, CONN_ID).health is None  # type: ignore[union-attr]


def test_the_sweep_checks_every_connected_account_and_nothing_else() -> None:
    others = [  # one live connection per account and region: the same account in two more regions
        connected(connection_id="conn_" + "b" * 26, region="eu-west-1"),
        pending_connection(FakeClock(), connection_id="conn_" + "c" * 26, region="us-west-2"),
    ]
    d = deps(FakeRoleProbe(account=ACCOUNT, external_id=EXTERNAL_ID), connected(), *others)
    report = sweep(d, d.connections.list_connected(), concurrency=2)
    assert report.checked == 2 and report.healthy == 2
