"""The releases tables on DynamoDB (moto): a push is routed in one read, and a delivery id is claimed
once however many identical deliveries race for it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from functions.releases.dal.models import GitDeliveryModel, GitLinkModel, GitTrackingModel
from functions.releases.dal.repository import (
    DELIVERY_KEPT,
    DynamoDeliveryLog,
    DynamoLinkStore,
    DynamoRouteDirectory,
)
from functions.releases.exceptions import InstallationTaken
from functions.releases.models.routing import InstallationLink, LinkStatus
from functions.shared.dal.audit_store import DynamoAuditLog
from functions.shared.models.audit import AuditDraft
from tests.fixtures.moto_tables import counted_tables

REGION = "us-east-1"
NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
STACK_A, STACK_B = "stk_" + "a" * 26, "stk_" + "b" * 26


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    tables = {GitLinkModel: "t-links", GitTrackingModel: "t-tracking", GitDeliveryModel: "t-deliveries"}
    with counted_tables(monkeypatch, REGION, tables) as counted:
        GitLinkModel(42, link_id="lnk_acme", org_id="org_acme", status="ACTIVE").save()
        GitTrackingModel(7, "main", org_id="org_acme", stack_ids={STACK_B, STACK_A}).save()
        GitTrackingModel(7, "other-org", org_id="org_other", stack_ids={STACK_A}).save()
        counted.clear()  # what the test does, not the setup
        yield counted


def test_a_push_is_routed_in_one_read_to_the_links_org_and_its_tracking_stacks(calls: Counter[str]) -> None:
    route = DynamoRouteDirectory().route(42, 7, "main")
    assert route.link is not None
    assert (route.link.org_id, route.link.status, route.stack_ids) == (
        "org_acme",
        LinkStatus.ACTIVE,
        (STACK_A, STACK_B),
    )
    assert calls == Counter({"TransactGetItems": 1})


@pytest.mark.parametrize(
    ("installation", "branch", "linked", "stacks"),
    [
        (42, "feature", True, ()),  # nobody tracks it
        (99, "main", False, ()),  # nobody linked the installation
        (42, "other-org", True, ()),  # tracked by stacks of an org that is not the installation's
    ],
)
def test_what_is_not_linked_or_tracked_by_the_links_org_routes_nowhere(
    calls: Counter[str], installation: int, branch: str, linked: bool, stacks: tuple[str, ...]
) -> None:
    route = DynamoRouteDirectory().route(installation, 7, branch)
    assert (route.link is not None, route.stack_ids) == (linked, stacks)


def test_a_delivery_is_claimed_once_and_kept_past_the_redelivery_window(calls: Counter[str]) -> None:
    log = DynamoDeliveryLog()
    assert log.claim("d-1", "push", NOW) is True
    assert log.claim("d-1", "push", NOW) is False
    item = GitDeliveryModel.get("d-1")
    assert item.expires_at == NOW + DELIVERY_KEPT
    assert calls["PutItem"] == 2


def test_identical_deliveries_racing_claim_it_exactly_once(calls: Counter[str]) -> None:
    # GIVEN 16 threads that receive the same delivery at once
    log, barrier, won = DynamoDeliveryLog(), threading.Barrier(16), []

    def receive() -> None:
        barrier.wait()
        won.append(log.claim("d-race", "push", NOW))

    threads = [threading.Thread(target=receive) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN exactly one claimed it
    assert sorted(won) == [False] * 15 + [True]


def _draft(org_id: str) -> AuditDraft:
    return AuditDraft(
        org_id=org_id,
        actor="user:alice",
        actor_type="user",
        action="git.link",
        target="gh_77",
        result="succeeded",
        source="203.0.113.9",
        time=NOW,
    )


def test_an_installation_is_linked_with_its_audit_entry_and_stays_with_its_org(calls: Counter[str]) -> None:
    audit = DynamoAuditLog()
    store = DynamoLinkStore(audit)
    link = InstallationLink(link_id="gh_77", org_id="org_acme", installation_id=77)
    # WHEN the org links it, then links it again (a second install flow)
    store.link(link, "acme", _draft("org_acme"))
    store.link(link, "acme", _draft("org_acme"))
    # THEN it is the org's, and each link is in the org's audit chain
    item = GitLinkModel.get(77)
    assert (item.org_id, item.status, item.account_login, item.linked_by) == (
        "org_acme",
        "ACTIVE",
        "acme",
        "user:alice",
    )
    assert [e.action for e in audit.entries("org_acme", 0, 10)] == ["git.link", "git.link"]
    # AND another org cannot take it: nothing written, no entry in its chain
    with pytest.raises(InstallationTaken):
        store.link(link.model_copy(update={"org_id": "org_rival"}), "acme", _draft("org_rival"))
    assert GitLinkModel.get(77).org_id == "org_acme"
    assert list(audit.entries("org_rival", 0, 10)) == []
