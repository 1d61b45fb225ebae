"""The accounts domain: connecting a customer's AWS account (the connect_account workflow, the
callback topic its role stacks answer on, the scheduled re-check) and its REST routes."""

from __future__ import annotations

from infra.definitions.model import (
    STATE_MACHINES_DIR,
    FunctionDef,
    Grant,
    RouteDef,
    ScheduleDef,
    StateMachineDef,
    TableDef,
    TopicDef,
)
from infra.definitions.shared import AUDIT, COMMON_ENV

ACCOUNTS_ENV = (
    *COMMON_ENV,
    "ACCOUNTS_TABLE",
    "ACCOUNT_CALLBACKS_TABLE",
    "EVENT_BUS_NAME",
    "AUDIT_TABLE",
)

TABLES: tuple[TableDef, ...] = (
    TableDef("accounts", "AccountsTable", "functions.accounts.dal.models.ConnectionModel"),
    TableDef(
        "account-callbacks", "AccountCallbacksTable", "functions.accounts.dal.models.CallbackRequestModel"
    ),
)

FUNCTIONS: tuple[FunctionDef, ...] = (
    FunctionDef(
        key="accounts-api",
        construct_id="AccountsApi",
        domain="accounts",
        handler="functions.accounts.handlers.api.lambda_handler",
        description="REST: connect, list, read, upgrade and disconnect AWS accounts",
        env=(
            *ACCOUNTS_ENV,
            "SERVICE_BUCKET",
            "CONNECT_ACCOUNT_STATE_MACHINE_ARN",
            "CUSTOMER_ASSUMER_ROLE_ARN",
            "CALLBACK_TOPIC_NAME",
            "SUPPORTED_REGIONS",
        ),
        grants=(
            AUDIT,
            Grant("table:accounts", "read_write"),
            Grant("bus", "put_events"),
            Grant("bucket", "read_write"),
            Grant("state_machine:connect-account", "start"),
            Grant("state_machine:connect-account", "stop"),
        ),
    ),
    FunctionDef(
        key="accounts-callback",
        construct_id="AccountsCallback",
        domain="accounts",
        handler="functions.accounts.handlers.callback.lambda_handler",
        description="Receives CloudFormation custom-resource requests from customers' role stacks (SNS)",
        env=(*ACCOUNTS_ENV, "CONNECT_ACCOUNT_STATE_MACHINE_ARN", "SUPPORTED_REGIONS"),
        grants=(
            AUDIT,
            Grant("table:accounts", "read_write"),
            Grant("table:account-callbacks", "read_write"),
            Grant("bus", "put_events"),
            Grant("state_machine:connect-account", "start"),
            Grant("task_tokens:connect-account", "write"),
        ),
        timeout_seconds=30,
    ),
    FunctionDef(
        key="accounts-register-waiter",
        construct_id="AccountsRegisterWaiter",
        domain="accounts",
        handler="functions.accounts.handlers.register_waiter.lambda_handler",
        description="connect_account: records the task token the customer's callback resumes",
        env=ACCOUNTS_ENV,
        grants=(Grant("table:accounts", "read_write"),),
    ),
    FunctionDef(
        key="accounts-verify",
        construct_id="AccountsVerify",
        domain="accounts",
        handler="functions.accounts.handlers.verify.lambda_handler",
        description="connect_account: assumes the customer's role and probes that it demands the ExternalId",
        env=(*ACCOUNTS_ENV, "CUSTOMER_ASSUMER_ROLE_ARN"),
        grants=(Grant("table:accounts", "read"), Grant("assumer_role", "assume")),
        timeout_seconds=30,
    ),
    FunctionDef(
        key="accounts-finalize",
        construct_id="AccountsFinalize",
        domain="accounts",
        handler="functions.accounts.handlers.finalize.lambda_handler",
        description="connect_account: records the outcome and emits it on the bus",
        env=ACCOUNTS_ENV,
        grants=(AUDIT, Grant("table:accounts", "read_write"), Grant("bus", "put_events")),
    ),
    FunctionDef(
        key="accounts-health",
        construct_id="AccountsHealth",
        domain="accounts",
        handler="functions.accounts.handlers.health.lambda_handler",
        description="Scheduled: re-checks every connected account's role (assume + negative probes)",
        env=(*ACCOUNTS_ENV, "CUSTOMER_ASSUMER_ROLE_ARN"),
        grants=(
            AUDIT,
            Grant("table:accounts", "read_write"),
            Grant("bus", "put_events"),
            Grant("assumer_role", "assume"),
        ),
        timeout_seconds=300,
    ),
    FunctionDef(
        key="accounts-respond",
        construct_id="AccountsRespond",
        domain="accounts",
        handler="functions.accounts.handlers.respond.lambda_handler",
        description="connect_account: answers the customer's CloudFormation custom resource",
        env=(*ACCOUNTS_ENV, "SUPPORTED_REGIONS"),
        grants=(Grant("table:accounts", "read"), Grant("table:account-callbacks", "read_write")),
        timeout_seconds=30,
    ),
)

STATE_MACHINES: tuple[StateMachineDef, ...] = (
    StateMachineDef(
        key="connect-account",
        construct_id="ConnectAccount",
        asl_path=STATE_MACHINES_DIR / "accounts" / "connect_account.asl.json",
        function_substitutions={
            "RegisterWaiterFunctionArn": "accounts-register-waiter",
            "VerifyConnectionFunctionArn": "accounts-verify",
            "FinalizeConnectionFunctionArn": "accounts-finalize",
            "RespondToCloudFormationFunctionArn": "accounts-respond",
        },
        callers=("accounts-callback",),
    ),
)

SCHEDULES: tuple[ScheduleDef, ...] = (
    ScheduleDef(
        key="account-health",
        construct_id="AccountHealth",
        function="accounts-health",
        expression="rate(6 hours)",
        description="Re-check every connected account: a role changed or deleted since is reported",
    ),
)

TOPICS: tuple[TopicDef, ...] = (
    TopicDef(key="connection-callbacks", construct_id="ConnectionCallbacks", subscriber="accounts-callback"),
)

ROUTES: tuple[RouteDef, ...] = (
    RouteDef("POST", "/accounts", "accounts-api", "Connect an AWS account"),
    RouteDef("GET", "/accounts", "accounts-api", "List the org's account connections"),
    RouteDef("GET", "/accounts/{connection_id}", "accounts-api", "Read one account connection"),
    RouteDef("DELETE", "/accounts/{connection_id}", "accounts-api", "Disconnect an AWS account"),
    RouteDef(
        "POST",
        "/accounts/{connection_id}/upgrade",
        "accounts-api",
        "Update a connection's onboarding stack to the latest template",
    ),
)
