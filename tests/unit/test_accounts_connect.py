"""Use cases of the accounts API, with in-memory adapters."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.accounts.exceptions import (
    ConnectionConflict,
    ConnectionNotFound,
    InvalidRequest,
)
from functions.accounts.logic import connections
from functions.accounts.models.api import ConnectAccountRequest
from functions.accounts.models.connection import ConnectionStatus
from functions.shared.errors import Forbidden
from functions.shared.logic.auditing import RequestInfo
from functions.shared.models.principal import Role
from tests.fakes.accounts import FakeClock, FakeWorkflow
from tests.unit.accounts_builders import ACCOUNT, OTHER_ORG, api_deps, principal

REQUEST = ConnectAccountRequest(aws_account_id=ACCOUNT, region="us-east-1")
INFO = RequestInfo(request_id="req-1", source="203.0.113.9")


def test_connect_creates_a_pending_connection_with_server_generated_secrets() -> None:
    # GIVEN an admin
    deps = api_deps()
    # WHEN they connect an account
    view = connections.connect_account(deps, principal(Role.ADMIN), REQUEST, INFO)
    # THEN the connection waits for the customer, with its own ExternalId and nonce
    stored = deps.connections.get("org_acme", view.connection_id)
    assert view.status is ConnectionStatus.PENDING and stored is not None
    assert len(stored.external_id) >= 43 and stored.nonce_hash and len(stored.nonce_hash) == 64
    assert stored.nonce_expires_at == deps.clock() + __import__("datetime").timedelta(seconds=3600)
    # AND the workflow starts named by the connection, with no secret in its input
    name, payload = deps.workflow.started[0]
    assert name == view.connection_id
    assert stored.external_id not in json.dumps(payload)
    assert payload == {
        "org_id": "org_acme",
        "connection_id": view.connection_id,
        "aws_account_id": ACCOUNT,
        "region": "us-east-1",
        "connect_window_seconds": 3600,
    }
    # AND the template is stored and linked from a quick-create URL without NoEcho secrets
    assert stored.template_key in deps.templates.objects
    resources = json.loads(deps.templates.objects[stored.template_key])["Resources"]
    assert resources["StackpilotConnection"]["Properties"]["OrgId"] == "org_acme"  # read by key on callback
    query = parse_qs(urlsplit(view.quick_create_url or "").fragment.split("?", 1)[1])
    assert query["stackName"][0].startswith("StackpilotConnection-")
    assert query["param_ExternalId"] == [stored.external_id]
    assert "param_Nonce" not in query


def test_two_connections_never_share_an_external_id() -> None:
    deps = api_deps()
    a = connections.connect_account(deps, principal(), REQUEST, INFO)
    b = connections.connect_account(
        deps, principal(), ConnectAccountRequest(aws_account_id="222222222222", region="us-east-1"), INFO
    )
    ext = {deps.connections.get("org_acme", v.connection_id).external_id for v in (a, b)}  # type: ignore[union-attr]
    assert len(ext) == 2


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_contributors_and_viewers_cannot_connect(role: Role) -> None:
    deps = api_deps()
    with pytest.raises(Forbidden):
        connections.connect_account(deps, principal(role), REQUEST, INFO)
    assert deps.connections.items == {} and deps.workflow.started == []


def test_an_unsupported_region_names_the_field() -> None:
    deps = api_deps()
    with pytest.raises(InvalidRequest) as err:
        connections.connect_account(
            deps, principal(), ConnectAccountRequest(aws_account_id=ACCOUNT, region="sa-east-1"), INFO
        )
    assert err.value.field == "region"


def test_the_same_account_and_region_cannot_be_connected_twice() -> None:
    deps = api_deps()
    first = connections.connect_account(deps, principal(), REQUEST, INFO)
    with pytest.raises(ConnectionConflict, match=first.connection_id):
        connections.connect_account(deps, principal(), REQUEST, INFO)


def test_disconnecting_frees_the_account_for_a_new_connection() -> None:
    # GIVEN a pending connection, disconnected
    deps = api_deps()
    first = connections.connect_account(deps, principal(), REQUEST, INFO)
    connections.disconnect(deps, principal(), first.connection_id, INFO)
    # WHEN the same account and region are connected again THEN it is a new live connection
    second = connections.connect_account(deps, principal(), REQUEST, INFO)
    assert second.connection_id != first.connection_id and second.status is ConnectionStatus.PENDING
    # AND one more is refused, naming the live one (not the disconnected one)
    with pytest.raises(ConnectionConflict, match=second.connection_id):
        connections.connect_account(deps, principal(), REQUEST, INFO)


def test_the_same_account_in_another_region_or_org_is_another_connection() -> None:
    deps = api_deps()
    connections.connect_account(deps, principal(), REQUEST, INFO)
    other_region = ConnectAccountRequest(aws_account_id=ACCOUNT, region="eu-west-1")
    assert connections.connect_account(deps, principal(), other_region, INFO).region == "eu-west-1"
    other_org = principal(org=OTHER_ORG)
    assert connections.connect_account(deps, other_org, REQUEST, INFO).status is ConnectionStatus.PENDING


def test_a_workflow_that_cannot_start_leaves_one_audit_entry_and_a_working_link() -> None:
    # GIVEN Step Functions refusing to start the workflow
    deps = api_deps(workflow=FakeWorkflow(fail_start=True))
    # WHEN an admin connects an account
    view = connections.connect_account(deps, principal(), REQUEST, INFO)
    # THEN the connection is recorded once, with its one audit entry, and its link works: the
    # customer's callback starts the workflow by the same name (tests/unit/test_accounts_callback.py)
    assert view.status is ConnectionStatus.PENDING and view.quick_create_url
    assert [a.action for a in deps.connections.audited] == ["account.connect"]
    assert list(deps.connections.items) == [("org_acme", view.connection_id)]


def test_another_orgs_connection_is_not_found() -> None:
    deps = api_deps()
    view = connections.connect_account(deps, principal(), REQUEST, INFO)
    with pytest.raises(ConnectionNotFound):
        connections.get_connection(deps, principal(Role.OWNER, org=OTHER_ORG), view.connection_id)
    with pytest.raises(ConnectionNotFound):
        connections.disconnect(deps, principal(Role.OWNER, org=OTHER_ORG), view.connection_id, INFO)
    assert connections.list_connections(deps, principal(Role.OWNER, org=OTHER_ORG)) == []


def test_disconnecting_a_pending_connection_stops_its_workflow_and_says_so() -> None:
    deps = api_deps()
    view = connections.connect_account(deps, principal(), REQUEST, INFO)
    result = connections.disconnect(deps, principal(), view.connection_id, INFO)
    assert result.status is ConnectionStatus.DISCONNECTED and result.quick_create_url is None
    assert deps.workflow.stopped == [
        f"arn:aws:states:us-east-1:123456789012:execution:stackpilot-test-connect-account:{view.connection_id}"
    ]
    assert deps.events.types() == ["AccountDisconnected"]
    # AND a second disconnect is a no-op
    connections.disconnect(deps, principal(), view.connection_id, INFO)
    assert deps.events.types() == ["AccountDisconnected"]


def test_viewers_can_read_but_not_disconnect() -> None:
    deps = api_deps()
    view = connections.connect_account(deps, principal(), REQUEST, INFO)
    assert (
        connections.get_connection(deps, principal(Role.VIEWER), view.connection_id).status
        is ConnectionStatus.PENDING
    )
    with pytest.raises(Forbidden):
        connections.disconnect(deps, principal(Role.VIEWER), view.connection_id, INFO)


def test_the_quick_create_link_lapses_with_the_window() -> None:
    clock = FakeClock()
    deps = api_deps(clock=clock)
    view = connections.connect_account(deps, principal(), REQUEST, INFO)
    clock.advance(3601)
    assert connections.get_connection(deps, principal(), view.connection_id).quick_create_url is None


def test_status_events_are_forwarded_to_the_bus_in_our_home_region() -> None:
    deps = api_deps()
    view = connections.connect_account(
        deps, principal(), ConnectAccountRequest(aws_account_id=ACCOUNT, region="eu-west-1"), INFO
    )
    stored = deps.connections.get("org_acme", view.connection_id)
    template = json.loads(deps.templates.objects[stored.template_key])  # type: ignore[union-attr]
    targets = [
        t["Arn"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        for t in r["Properties"]["Targets"]
    ]
    # stack status changes and (since v3) build state changes, both to our home region's bus
    assert targets == ["arn:aws:events:us-east-1:123456789012:event-bus/stackpilot-test"] * 2


def test_connect_and_disconnect_are_each_audited_with_the_change() -> None:
    # GIVEN an admin who connects and then disconnects an account
    deps = api_deps()
    view = connections.connect_account(deps, principal(), REQUEST, INFO)
    connections.disconnect(deps, principal(), view.connection_id, INFO)
    # THEN each change carried its one audit entry, naming who, what and from where
    actions = [(a.action, a.target, a.actor, a.request_id, a.source) for a in deps.connections.audited]
    target = f"connection:{view.connection_id}"
    assert actions == [
        ("account.connect", target, "user:user-1", "req-1", "203.0.113.9"),
        ("account.disconnect", target, "user:user-1", "req-1", "203.0.113.9"),
    ]
