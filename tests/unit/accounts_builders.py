"""Builders shared by the accounts unit tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from functions.accounts.logic.callback import CallbackDeps
from functions.accounts.logic.connections import AccountsApiDeps, ConnectConfig
from functions.accounts.logic.nonce import hash_nonce
from functions.accounts.models.connection import Connection, ConnectionStatus
from functions.shared.models.principal import Principal, Role
from tests.fakes.accounts import (
    FakeClock,
    FakeTemplates,
    FakeWorkflow,
    InMemoryCallbacks,
    InMemoryConnections,
    RecordingEvents,
    RecordingResponder,
)

ORG = "org_acme"
OTHER_ORG = "org_other"
ACCOUNT = "111111111111"
REGION = "us-east-1"
NONCE = "the-nonce-0123456789abcdefghij"
CONN_ID = "conn_" + "a" * 26
STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/StackpilotConnection-abc/"
    + "0f9d1c60-aaaa-bbbb-cccc-0123456789ab"
)
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stackpilot-deploy-abc"
RESPONSE_URL = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/"
    "arn%3Aaws%3Acloudformation%3Aus-east-1%3A111111111111%3Astack/x/y%7CStackpilotConnection%7Creq-1"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261123T120000Z&X-Amz-SignedHeaders=host"
    "&X-Amz-Expires=7200&X-Amz-Credential=AKIA%2F20261123%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature="
    + "ab12"
    * 16
)


def principal(role: Role = Role.ADMIN, org: str = ORG) -> Principal:
    return Principal(org_id=org, role=role, user_id="user-1")


def api_deps(clock: FakeClock | None = None, **overrides: Any) -> AccountsApiDeps:
    values: dict[str, Any] = {
        "connections": InMemoryConnections(),
        "templates": FakeTemplates(),
        "workflow": FakeWorkflow(
            state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:stackpilot-test-connect-account"
        ),
        "events": RecordingEvents(),
        "clock": clock or FakeClock(),
        "config": ConnectConfig(
            service_account_id="123456789012",
            supported_regions=("us-east-1", "eu-west-1"),
            assumer_role_arn="arn:aws:iam::123456789012:role/stackpilot-test-customer-assumer",
            callback_topic_name="stackpilot-test-connection-callbacks",
            event_bus_name="stackpilot-test",
            connect_window_seconds=3600,
            home_region="us-east-1",
        ),
    }
    values.update(overrides)
    return AccountsApiDeps(**values)


def pending_connection(clock: FakeClock, **changes: Any) -> Connection:
    base = Connection(
        org_id=ORG,
        connection_id=CONN_ID,
        aws_account_id=ACCOUNT,
        region=REGION,
        status=ConnectionStatus.PENDING,
        external_id="ext-" + "x" * 40,
        nonce_hash=hash_nonce(NONCE),
        nonce_expires_at=clock() + timedelta(hours=1),
        template_key="connections/org_acme/conn/role-v1.json",
        created_at=clock(),
        updated_at=clock(),
        created_by="user-1",
        task_token="token-1",
    )
    return base.model_copy(update=changes)


def custom_resource_request(request_type: str = "Create", **changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": RESPONSE_URL,
        "StackId": STACK_ID,
        "RequestId": "req-1",
        "LogicalResourceId": "StackpilotConnection",
        "ResourceType": "Custom::StackpilotConnection",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:sns:us-east-1:123456789012:stackpilot-test-connection-callbacks",
            "ConnectionId": CONN_ID,
            "Nonce": NONCE,
            "RoleArn": ROLE_ARN,
            "AccountId": ACCOUNT,
            "Region": REGION,
            "TemplateVersion": "1",
        },
    }
    props = changes.pop("props", {})
    request["ResourceProperties"].update(props)
    request.update(changes)
    return request


def callback_deps(clock: FakeClock) -> CallbackDeps:
    """A receiver whose one connection is PENDING and whose workflow waits (task token "token-1")."""
    connections = InMemoryConnections()
    connections.create(pending_connection(clock))
    return CallbackDeps(
        connections=connections,
        callbacks=InMemoryCallbacks(),
        workflow=FakeWorkflow(),
        responder=RecordingResponder(),
        events=RecordingEvents(),
        clock=clock,
        supported_regions=(REGION,),
        connect_window_seconds=3600,
    )
