"""Upgrading a connection to the latest onboarding template: the link, the Update's callback, the
recorded version, and what an older connection says about releases."""

from __future__ import annotations

import json
import shlex
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.accounts.exceptions import ConnectionConflict, ConnectionNotFound
from functions.accounts.logic import connections
from functions.accounts.logic.callback import CallbackDeps, Outcome, handle_request
from functions.accounts.logic.connections import AccountsApiDeps
from functions.accounts.logic.nonce import nonce_matches
from functions.accounts.logic.outcome import OutcomeDeps, record_outcome
from functions.accounts.logic.upgrade import UpgradeDeps, upgrade_connection
from functions.accounts.models.api import UpgradeInstructions
from functions.accounts.models.callback import CustomResourceRequest
from functions.accounts.models.connection import Connection, ConnectionStatus
from functions.accounts.models.workflow import Callback
from functions.shared.errors import Forbidden
from functions.shared.logic.auditing import RequestInfo
from functions.shared.logic.customer_names import TEMPLATE_VERSION
from functions.shared.models.principal import Role
from tests.fakes.accounts import FakeClock, RecordingEvents
from tests.unit.accounts_builders import (
    CONN_ID,
    ORG,
    OTHER_ORG,
    ROLE_ARN,
    STACK_ID,
    api_deps,
    callback_deps,
    custom_resource_request,
    pending_connection,
    principal,
)

INFO = RequestInfo(request_id="req-1", source="203.0.113.9")


def connected_v2(clock: FakeClock, **changes: Any) -> Connection:
    """A connection as stored before versions were kept: no template_version at all."""
    base = pending_connection(
        clock, status=ConnectionStatus.CONNECTED, nonce_hash=None, task_token=None, stack_id=STACK_ID
    )
    return Connection.model_validate({**base.model_dump(exclude={"template_version"}), **changes})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> AccountsApiDeps:
    deps = api_deps(clock)
    deps.connections.create(connected_v2(clock))
    return deps


def upgrade_deps(api: AccountsApiDeps) -> UpgradeDeps:
    return UpgradeDeps(
        connections=api.connections, templates=api.templates, clock=api.clock, config=api.config
    )


def upgrade(api: AccountsApiDeps, role: Role = Role.ADMIN, org: str = ORG) -> UpgradeInstructions:
    return upgrade_connection(upgrade_deps(api), principal(role, org), CONN_ID, INFO)


def stored_template(api: AccountsApiDeps, answer: UpgradeInstructions) -> dict[str, Any]:
    (key,) = [k for k in api.templates.objects if k in answer.template_url]  # type: ignore[attr-defined]
    return dict(json.loads(api.templates.objects[key]))  # type: ignore[attr-defined]


def test_an_old_record_reads_as_v2_and_says_releases_need_an_upgrade(api: AccountsApiDeps) -> None:
    # GIVEN a connection stored before template versions were kept
    view = connections.get_connection(api, principal(Role.VIEWER), CONN_ID)
    # THEN it runs v2, v3 is the latest, and releases are not possible on it yet
    assert (view.template_version, view.latest_template_version) == ("2", TEMPLATE_VERSION) == ("2", "3")
    assert view.supports_releases is False


def test_a_new_connection_runs_the_latest_template(clock: FakeClock) -> None:
    from functions.accounts.models.api import ConnectAccountRequest

    deps = api_deps(clock)
    view = connections.connect_account(
        deps, principal(), ConnectAccountRequest(aws_account_id="222222222222", region="us-east-1"), INFO
    )
    assert view.template_version == "3" and view.supports_releases is True


def test_an_admin_gets_the_console_link_and_the_cli_command(api: AccountsApiDeps, clock: FakeClock) -> None:
    # WHEN an admin asks to upgrade a v2 connection
    answer = upgrade(api)
    # THEN the console's update page names the stack and a template rendered for this connection
    parts = urlsplit(answer.console_url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "console.aws.amazon.com",
        "/cloudformation/home",
    )
    assert parse_qs(parts.query) == {"region": ["us-east-1"]}
    route, query = parts.fragment.split("?", 1)
    assert route == "/stacks/update/template"
    assert parse_qs(query) == {"stackId": [STACK_ID], "templateURL": [answer.template_url]}
    # AND the CLI command is the same update, keeping every parameter as it is
    words = shlex.split(answer.cli_command)
    assert words[:3] == ["aws", "cloudformation", "update-stack"]
    assert words[words.index("--stack-name") + 1] == STACK_ID
    assert words[words.index("--template-url") + 1] == answer.template_url
    assert words[words.index("--region") + 1] == "us-east-1"
    kept = {w.split(",")[0].removeprefix("ParameterKey=") for w in words if w.startswith("ParameterKey=")}
    assert kept == {"ConnectionId", "ExternalId", "Nonce", "EnableStatusForwarding"}
    assert all(w.endswith(",UsePreviousValue=true") for w in words if w.startswith("ParameterKey="))
    assert (answer.template_version, answer.target_template_version) == ("2", "3")
    assert answer.expires_at == clock() + timedelta(seconds=3600)


def test_the_upgrade_template_is_v3_for_the_same_connection_with_a_token_only_its_hash_is_kept(
    api: AccountsApiDeps,
) -> None:
    before = api.connections.get(ORG, CONN_ID)
    answer = upgrade(api)
    template = stored_template(api, answer)
    props = template["Resources"]["StackpilotConnection"]["Properties"]
    # THEN the same connection and ExternalId, the latest version, and a fresh token
    assert props["TemplateVersion"] == "3" and props["ConnectionId"] == {"Ref": "ConnectionId"}
    assert template["Parameters"]["ExternalId"]["Default"] == before.external_id  # type: ignore[union-attr]
    assert "BuildForwardingRule" in template["Resources"]
    after = api.connections.get(ORG, CONN_ID)
    assert after is not None and after.nonce_hash is not None
    assert nonce_matches(after.nonce_hash, props["UpgradeToken"])
    assert props["UpgradeToken"] not in answer.model_dump_json()  # only inside the private template
    # AND the connection is still CONNECTED on v2 (nothing changes until the customer's Update)
    assert (after.status, after.template_version) == (ConnectionStatus.CONNECTED, "2")
    (entry,) = api.connections.audited  # type: ignore[attr-defined]
    assert entry.action == "account.upgrade" and entry.reason == "onboarding template v2 -> v3"


@pytest.mark.parametrize("role", [Role.CONTRIBUTOR, Role.VIEWER])
def test_only_admins_upgrade(api: AccountsApiDeps, role: Role) -> None:
    with pytest.raises(Forbidden):
        upgrade(api, role)
    assert api.templates.objects == {}  # type: ignore[attr-defined]


def test_another_orgs_connection_is_not_found(api: AccountsApiDeps) -> None:
    with pytest.raises(ConnectionNotFound):
        upgrade(api, Role.OWNER, OTHER_ORG)


@pytest.mark.parametrize(
    "status", [ConnectionStatus.PENDING, ConnectionStatus.FAILED, ConnectionStatus.DISCONNECTED]
)
def test_only_a_connected_connection_is_upgraded(clock: FakeClock, status: ConnectionStatus) -> None:
    deps = api_deps(clock)
    deps.connections.create(connected_v2(clock, status=status))
    with pytest.raises(ConnectionConflict, match=f"is {status.value}"):
        upgrade(deps)


def test_a_connection_on_the_latest_template_is_a_conflict(clock: FakeClock) -> None:
    deps = api_deps(clock)
    deps.connections.create(connected_v2(clock, template_version="3"))
    with pytest.raises(ConnectionConflict, match="already runs the latest"):
        upgrade(deps)


# --- the customer's Update, as the callback receives it ---------------------------------------------


def receiver(api: AccountsApiDeps, clock: FakeClock) -> CallbackDeps:
    deps = callback_deps(clock)
    return CallbackDeps(**{**deps.__dict__, "connections": api.connections})


def update_request(template: dict[str, Any], request_id: str = "u1", **props: str) -> CustomResourceRequest:
    sent = template["Resources"]["StackpilotConnection"]["Properties"]
    values = {
        "TemplateVersion": sent["TemplateVersion"],
        "UpgradeToken": sent.get("UpgradeToken", ""),
        **props,
    }
    return CustomResourceRequest.model_validate(
        custom_resource_request("Update", PhysicalResourceId=CONN_ID, RequestId=request_id, props=values)
    )


def test_the_upgrades_update_re_verifies_and_carries_the_new_version(
    api: AccountsApiDeps, clock: FakeClock
) -> None:
    template = stored_template(api, upgrade(api))
    deps = receiver(api, clock)
    # WHEN the customer's stack sends the Update of the upgrade template
    assert handle_request(deps, update_request(template), "us-east-1") is Outcome.DISPATCHED
    # THEN a re-verification starts, carrying the version to record once it passed (no token in it)
    ((_, payload),) = deps.workflow.started  # type: ignore[attr-defined]
    assert payload["mode"] == "reverify" and payload["callback"]["template_version"] == "3"
    assert template["Resources"]["StackpilotConnection"]["Properties"]["UpgradeToken"] not in json.dumps(
        payload
    )


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"UpgradeToken": ""}, "was not issued to upgrade this connection"),
        ({"UpgradeToken": "forged-token-0123456789"}, "was replaced or already used"),
    ],
)
def test_a_newer_version_without_the_links_token_is_refused(
    api: AccountsApiDeps, clock: FakeClock, props: dict[str, str], reason: str
) -> None:
    template = stored_template(api, upgrade(api))
    deps = receiver(api, clock)
    assert handle_request(deps, update_request(template, **props), "us-east-1") is Outcome.ANSWERED
    (sent,) = deps.responder.sent  # type: ignore[attr-defined]
    assert sent[1]["Status"] == "FAILED" and reason in sent[1]["Reason"]
    assert deps.workflow.started == []  # type: ignore[attr-defined]
    assert api.connections.get(ORG, CONN_ID).template_version == "2"  # type: ignore[union-attr]


def test_asking_again_replaces_the_link(api: AccountsApiDeps, clock: FakeClock) -> None:
    first = stored_template(api, upgrade(api))
    second = stored_template(api, upgrade(api))
    deps = receiver(api, clock)
    handle_request(deps, update_request(first), "us-east-1")
    assert "replaced or already used" in deps.responder.sent[0][1]["Reason"]  # type: ignore[attr-defined]
    assert handle_request(deps, update_request(second, request_id="u2"), "us-east-1") is Outcome.DISPATCHED


def test_an_expired_link_is_refused(api: AccountsApiDeps, clock: FakeClock) -> None:
    template = stored_template(api, upgrade(api))
    clock.advance(3601)
    deps = receiver(api, clock)
    handle_request(deps, update_request(template), "us-east-1")
    assert "expired" in deps.responder.sent[0][1]["Reason"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", ["2", "1"])
def test_an_update_that_keeps_or_rolls_back_the_version_only_re_verifies(
    api: AccountsApiDeps, clock: FakeClock, version: str
) -> None:
    deps = receiver(api, clock)
    request = CustomResourceRequest.model_validate(
        custom_resource_request(
            "Update", PhysicalResourceId=CONN_ID, RequestId="u1", props={"TemplateVersion": version}
        )
    )
    assert handle_request(deps, request, "us-east-1") is Outcome.DISPATCHED
    ((_, payload),) = deps.workflow.started  # type: ignore[attr-defined]
    assert "template_version" not in payload["callback"]


# --- the outcome of the re-verification -------------------------------------------------------------


def outcome(api: AccountsApiDeps) -> OutcomeDeps:
    return OutcomeDeps(
        connections=api.connections, events=RecordingEvents(), clock=api.clock, connect_window_seconds=3600
    )


def reverified(template_version: str | None) -> Callback:
    return Callback(
        request_key="k" * 64,
        request_type="Update",
        stack_id=STACK_ID,
        role_arn=ROLE_ARN,
        template_version=template_version,
    )


def test_a_passed_upgrade_records_the_version_and_burns_the_token(api: AccountsApiDeps) -> None:
    upgrade(api)
    recorded = record_outcome(outcome(api), ORG, CONN_ID, "CONNECTED", callback=reverified("3"))
    after = api.connections.get(ORG, CONN_ID)
    assert recorded.status is ConnectionStatus.CONNECTED and after is not None
    assert (after.template_version, after.supports_releases, after.nonce_hash) == ("3", True, None)
    assert connections.get_connection(api, principal(), CONN_ID).template_version == "3"


def test_a_plain_update_keeps_the_version_and_a_pending_upgrade_link(api: AccountsApiDeps) -> None:
    upgrade(api)
    token_hash = api.connections.get(ORG, CONN_ID).nonce_hash  # type: ignore[union-attr]
    record_outcome(outcome(api), ORG, CONN_ID, "CONNECTED", callback=reverified(None))
    after = api.connections.get(ORG, CONN_ID)
    assert after is not None and (after.template_version, after.nonce_hash) == ("2", token_hash)


def test_a_failed_upgrade_keeps_the_previous_version_and_says_why(api: AccountsApiDeps) -> None:
    upgrade(api)
    from functions.shared.models.workflow import StepError

    error = StepError(
        error="RoleTrustTooBroad",
        cause=json.dumps({"errorMessage": "role does not require ExternalId"}),
    )
    record_outcome(outcome(api), ORG, CONN_ID, "FAILED", error=error)
    after = api.connections.get(ORG, CONN_ID)
    assert after is not None and after.template_version == "2" and after.supports_releases is False
    assert (after.status, after.reason) == (ConnectionStatus.FAILED, "role does not require ExternalId")


def test_a_version_change_never_touches_the_accounts_claim(api: AccountsApiDeps) -> None:
    # GIVEN the one claim this connection holds on its account and region
    claims = dict(api.connections.claims)  # type: ignore[attr-defined]
    upgrade(api)
    record_outcome(outcome(api), ORG, CONN_ID, "CONNECTED", callback=reverified("3"))
    # THEN still one connection, holding the same claim
    assert api.connections.claims == claims  # type: ignore[attr-defined]
    assert [c.connection_id for c in api.connections.list_for_org(ORG)] == [CONN_ID]
