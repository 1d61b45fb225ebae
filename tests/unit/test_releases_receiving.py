"""Receiving a GitHub delivery (functions/releases/logic/receiving.py): the signature before anything
is read, the org from the installation's link only, every authentic delivery answered 2xx, and one
release started per push to a tracked branch, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.releases.exceptions import (
    DeliveryTooLarge,
    MalformedDelivery,
    ReleasesError,
    ServiceUnavailable,
    SignatureRefused,
    WebhookSecretMissing,
)
from functions.releases.logic import receiving, signatures
from functions.releases.logic.receiving import Delivery, ReceiveDeps
from functions.releases.models.routing import InstallationLink, LinkStatus
from functions.releases.models.workflow import ReleaseRequest
from tests.fakes.releases import FixedSecret, InMemoryDeliveries, InMemoryRoutes, RecordingWorkflow

SECRET = b"webhook-secret-for-tests"
NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
INSTALLATION, REPO_ID = 42, 7
STACK_A, STACK_B = "stk_" + "a" * 26, "stk_" + "b" * 26
SHA_BEFORE, SHA_AFTER = "1" * 40, "2" * 40
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def _push(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ref": "refs/heads/main",
        "before": SHA_BEFORE,
        "after": SHA_AFTER,
        "deleted": False,
        # the owner in the payload is whoever pushed: it never decides the org
        "repository": {"id": REPO_ID, "full_name": "acme/shop", "owner": {"login": "org_other"}},
        "installation": {"id": INSTALLATION},
        "head_commit": {"id": SHA_AFTER, "message": "Ship it", "author": {"name": "Ada", "username": "ada"}},
        "sender": {"login": "ada", "id": 1},
    }
    return body | changes


def _delivery(
    payload: Any = None, event: str = "push", delivery_id: str | None = DELIVERY, **kw: Any
) -> Delivery:
    body = kw.get("body", json.dumps(_push() if payload is None else payload).encode())
    signature = kw.get("signature", signatures.sign(SECRET, body))
    return Delivery(event=event, delivery_id=delivery_id, signature=signature, body=body)


class World:
    def __init__(self, status: LinkStatus = LinkStatus.ACTIVE, tracked: tuple[str, ...] = (STACK_A, STACK_B)):
        self.routes = InMemoryRoutes(
            links={
                INSTALLATION: InstallationLink(
                    link_id="lnk_1", org_id="org_acme", installation_id=42, status=status
                )
            },
            tracking={(REPO_ID, "main"): tracked},
        )
        self.deliveries = InMemoryDeliveries()
        self.workflow = RecordingWorkflow()

    def deps(self, secret: bytes = SECRET) -> ReceiveDeps:
        return ReceiveDeps(
            webhook_secret=FixedSecret(secret),
            routes=self.routes,
            deliveries=self.deliveries,
            workflow=self.workflow,
        )

    def receive(self, delivery: Delivery) -> receiving.Receipt:
        return receiving.receive(self.deps(), delivery, NOW)


def test_a_push_to_a_tracked_branch_starts_one_release_named_by_the_delivery_for_the_links_org() -> None:
    world = World()
    # WHEN a signed push to main arrives
    receipt = world.receive(_delivery())
    # THEN one release started, named by the delivery id, for the org of the installation's link
    assert receipt.status == 202 and receipt.started is not None and receipt.started.endswith(DELIVERY)
    request = ReleaseRequest.model_validate(world.workflow.started[DELIVERY])
    assert (request.org_id, request.commit, request.branch, request.stack_ids) == (
        "org_acme",
        SHA_AFTER,
        "main",
        (STACK_A, STACK_B),
    )
    assert (request.author, request.sender, request.repository) == ("ada", "ada", "acme/shop")
    # AND the ack cost two reads/writes of our tables (the route, the claim)
    assert sum(world.routes.calls.values()) + sum(world.deliveries.calls.values()) == 2


def test_a_replayed_delivery_answers_2xx_and_changes_nothing() -> None:
    world = World()
    world.receive(_delivery())
    # WHEN GitHub (or anyone holding a captured request) sends it again
    again = world.receive(_delivery())
    # THEN it is acknowledged, and nothing more started
    assert again.status == 200 and "already received" in again.message
    assert len(world.workflow.started) == 1


def test_a_release_that_cannot_start_claims_nothing_so_its_redelivery_is_taken() -> None:
    world = World()
    world.workflow.fail = True
    # WHEN Step Functions refuses the start THEN the answer is a 503 kind and nothing is claimed
    with pytest.raises(ServiceUnavailable):
        world.receive(_delivery())
    assert world.deliveries.received == {}
    # AND the redelivery (same id) starts it
    assert world.receive(_delivery()).status == 202
    assert list(world.workflow.started) == [DELIVERY]


@pytest.mark.parametrize(
    ("payload", "event", "says"),
    [
        ({"zen": "Keep it logically awesome.", "hook_id": 1}, "ping", "pong"),
        (_push(ref="refs/tags/v1.0"), "push", "refs/tags/v1.0 is not a branch"),
        (_push(deleted=True, after="0" * 40, head_commit=None), "push", "branch main was deleted"),
        (_push(ref="refs/heads/other"), "push", "no stack tracks acme/shop@other"),
        (_push(installation={"id": 999}), "push", "installation 999 is not linked to an org"),
        (_push(installation=None), "push", "no installation"),
        ({"action": "opened", "number": 1}, "pull_request", "the pull_request event starts nothing here"),
    ],
)
def test_authentic_deliveries_that_release_nothing_are_answered_2xx_saying_why(
    payload: dict[str, Any], event: str, says: str
) -> None:
    world = World()
    receipt = world.receive(_delivery(payload, event=event))
    assert receipt.status == 200 and says in receipt.message
    assert world.workflow.started == {} and world.deliveries.received == {}


@pytest.mark.parametrize(
    ("status", "word"), [(LinkStatus.SUSPENDED, "suspended"), (LinkStatus.DELETED, "deleted")]
)
def test_a_suspended_or_deleted_installation_releases_nothing_and_says_so(
    status: LinkStatus, word: str
) -> None:
    world = World(status=status)
    receipt = world.receive(_delivery())
    assert receipt.status == 200 and f"is {word}" in receipt.message
    assert world.workflow.started == {}


def test_the_signature_is_checked_before_the_body_is_read() -> None:
    world = World()
    # GIVEN a body that is not even JSON, wrongly signed WHEN it arrives THEN 401, not 400
    with pytest.raises(SignatureRefused):
        world.receive(_delivery(body=b"{not json", signature="sha256=" + "0" * 64))
    assert sum(world.routes.calls.values()) == 0


@pytest.mark.parametrize(
    "delivery",
    [
        _delivery(body=b"{not json"),  # signed, but not JSON
        _delivery(delivery_id=None),
        _delivery(delivery_id="../../x"),  # would name an execution
        _delivery(event=""),
        _delivery(_push(after="not-a-sha")),
        _delivery(_push(repository={"id": 0, "full_name": "acme/shop"})),
    ],
)
def test_an_authentic_but_malformed_delivery_is_a_400(delivery: Delivery) -> None:
    with pytest.raises(MalformedDelivery):
        World().receive(delivery)


def test_a_body_over_githubs_25_mb_is_refused_before_it_is_verified() -> None:
    world = World()
    with pytest.raises(DeliveryTooLarge):
        world.receive(
            Delivery(event="push", delivery_id=DELIVERY, signature=None, body=b" " * (25 * 1024 * 1024 + 1))
        )


def test_without_a_configured_secret_no_delivery_is_accepted() -> None:
    world = World()
    with pytest.raises(WebhookSecretMissing):
        receiving.receive(world.deps(secret=b""), _delivery(), NOW)
    assert world.workflow.started == {}


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=st.one_of(
        _json_values,
        st.builds(
            lambda extra: _push() | extra, st.dictionaries(st.sampled_from(list(_push())), _json_values)
        ),
    ),
    event=st.sampled_from(["push", "ping", "installation", "pull_request"]),
)
def test_any_signed_body_gets_an_answer_or_one_of_the_domains_refusals_never_a_crash(
    payload: Any, event: str
) -> None:
    # GIVEN any JSON, or a push with any of its fields replaced, correctly signed
    world = World()
    try:
        receipt = world.receive(_delivery(payload, event=event))
    except ReleasesError as refused:
        assert isinstance(refused, MalformedDelivery)  # the only refusal an authentic delivery can get
        return
    assert receipt.status in (200, 202)
