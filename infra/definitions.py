"""The one description of what stackpilot is made of.

Both the CDK app (``infra/stack.py``) and the local cloud (``infra/local/cloud.py``) build from
this module, so the functions, tables, bus, topics, routes and state machines that run on a laptop
are the ones that deploy. Physical names derive from the stage, so every function can share one
environment (see ``environment``); values that only exist at deploy time (account, region) are
passed in by the caller, as literals locally and as CDK tokens in the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_MACHINES_DIR = REPO_ROOT / "state_machines"

# Regions where a customer may connect an account: one callback topic each (a custom resource's
# ServiceToken must live in the stack's own region).
SUPPORTED_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
)
HOME_REGION = "us-east-1"


@dataclass(frozen=True)
class Names:
    """Physical names of every resource, derived from the stage, account and region."""

    stage: str
    account: str
    region: str

    @property
    def prefix(self) -> str:
        return f"stackpilot-{self.stage}"

    def function(self, key: str) -> str:
        return f"{self.prefix}-{key}"

    def table(self, key: str) -> str:
        return f"{self.prefix}-{key}"

    @property
    def event_bus(self) -> str:
        return self.prefix

    @property
    def callback_topic(self) -> str:
        return f"{self.prefix}-connection-callbacks"

    def callback_topic_arn(self, region: str) -> str:
        return f"arn:aws:sns:{region}:{self.account}:{self.callback_topic}"

    @property
    def service_bucket(self) -> str:
        return f"{self.prefix}-service-{self.account}-{self.region}"

    def state_machine(self, key: str) -> str:
        return f"{self.prefix}-{key}"

    def state_machine_arn(self, key: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{self.state_machine(key)}"

    def execution_arn(self, key: str, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:execution:{self.state_machine(key)}:{name}"

    @property
    def customer_assumer_role(self) -> str:
        return f"{self.prefix}-customer-assumer"

    @property
    def customer_assumer_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.customer_assumer_role}"

    @property
    def kms_alias(self) -> str:
        return f"alias/{self.prefix}"

    @property
    def api_key_pepper_secret(self) -> str:
        return f"{self.prefix}/api-key-pepper"


@dataclass(frozen=True)
class Grant:
    """A permission a function needs, in words the CDK app turns into IAM and the local cloud ignores.

    resource: ``table:<key>`` | ``bus`` | ``bucket`` | ``state_machine:<key>`` | ``assumer_role`` |
              ``task_tokens:<key>`` (SendTask* on that machine's executions) | ``pepper`` |
              ``service_key`` (KMS data keys under an encryption context)
    access:   ``read`` | ``write`` | ``read_write`` | ``append`` (put new items and read: never update
              or delete) | ``put_events`` | ``start`` | ``stop`` | ``assume`` | ``data_keys``
    """

    resource: str
    access: str


@dataclass(frozen=True)
class FunctionDef:
    key: str  # physical name suffix: stackpilot-<stage>-<key>
    construct_id: str
    domain: str
    handler: str  # dotted path to the entry point, as Lambda's Handler setting
    description: str
    env: tuple[str, ...]  # which keys of ``environment()`` this function receives
    grants: tuple[Grant, ...] = ()
    timeout_seconds: int = 10
    memory_mb: int = 512


@dataclass(frozen=True)
class TableDef:
    key: str
    construct_id: str
    model: str  # dotted path to the pynamodb model whose schema the table must have


@dataclass(frozen=True)
class StateMachineDef:
    key: str
    construct_id: str
    asl_path: Path
    # ${Placeholder} in the ASL -> key of the function whose ARN replaces it
    function_substitutions: dict[str, str] = field(default_factory=dict)
    # functions allowed to send task results back to executions of this machine
    callers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteDef:
    method: str
    path: str  # API Gateway style: /accounts/{connection_id}
    function: str  # key of the FunctionDef that serves it
    summary: str
    authorized: bool = True


@dataclass(frozen=True)
class ScheduleDef:
    """A function run, or a state machine started, on a schedule (an EventBridge rule on the default
    bus whose target retries, then dead-letters). Exactly one of ``function`` and ``state_machine``."""

    key: str
    construct_id: str
    expression: str  # rate(...) or cron(...)
    description: str
    function: str | None = None  # function key
    state_machine: str | None = None  # state machine key

    def __post_init__(self) -> None:
        if (self.function is None) == (self.state_machine is None):
            raise ValueError(f"schedule {self.key}: give exactly one of function and state_machine")


@dataclass(frozen=True)
class BusRuleDef:
    """A rule on stackpilot's bus delivering matching events to a function (retries and a DLQ)."""

    key: str
    construct_id: str
    function: str  # function key
    pattern: dict[str, list[str]]
    description: str


@dataclass(frozen=True)
class TopicDef:
    """One SNS topic per supported region, each delivering to ``subscriber``."""

    key: str
    construct_id: str
    subscriber: str  # function key
    regions: tuple[str, ...] = SUPPORTED_REGIONS


COMMON_ENV = ("STACKPILOT_STAGE", "SERVICE_ACCOUNT_ID", "POWERTOOLS_LOG_LEVEL")
ACCOUNTS_ENV = (
    *COMMON_ENV,
    "ACCOUNTS_TABLE",
    "ACCOUNT_CALLBACKS_TABLE",
    "EVENT_BUS_NAME",
    "AUDIT_TABLE",
)
TENANCY_ENV = (
    *COMMON_ENV,
    "ORGS_TABLE",
    "MEMBERS_TABLE",
    "API_KEYS_TABLE",
    "AUDIT_TABLE",
    "API_KEY_PEPPER_SECRET",
)
STACKS_ENV = (
    *COMMON_ENV,
    "STACKS_TABLE",
    "STACK_HISTORY_TABLE",
    "ACCOUNTS_TABLE",
    "EVENT_BUS_NAME",
    "AUDIT_TABLE",
    "SERVICE_BUCKET",
    "PROVISION_STACK_STATE_MACHINE_ARN",
    "DELETE_STACK_STATE_MACHINE_ARN",
    "CUSTOMER_ASSUMER_ROLE_ARN",
    "STACK_WAIT_FIRST_SECONDS",
    "STACK_WAIT_MAX_SECONDS",
)
AUDIT = Grant("table:audit", "append")

TABLES: tuple[TableDef, ...] = (
    TableDef("orgs", "OrgsTable", "functions.tenancy.dal.models.OrgModel"),
    TableDef("members", "MembersTable", "functions.tenancy.dal.models.MemberModel"),
    TableDef("api-keys", "ApiKeysTable", "functions.tenancy.dal.models.ApiKeyModel"),
    TableDef("audit", "AuditTable", "functions.shared.dal.audit_store.AuditEntryModel"),
    TableDef("secrets", "SecretsTable", "functions.secrets.dal.models.SecretModel"),
    TableDef("accounts", "AccountsTable", "functions.accounts.dal.models.ConnectionModel"),
    TableDef(
        "account-callbacks", "AccountCallbacksTable", "functions.accounts.dal.models.CallbackRequestModel"
    ),
    TableDef("stacks", "StacksTable", "functions.stacks.dal.models.StackModel"),
    TableDef("stack-history", "StackHistoryTable", "functions.stacks.dal.models.StackHistoryModel"),
)

_STACK_STEP_GRANTS = (
    AUDIT,
    Grant("table:stacks", "read_write"),
    Grant("table:stack-history", "read_write"),
    Grant("table:accounts", "read"),
    Grant("assumer_role", "assume"),
    Grant("bus", "put_events"),
)

FUNCTIONS: tuple[FunctionDef, ...] = (
    FunctionDef(
        key="secrets-api",
        construct_id="SecretsApi",
        domain="secrets",
        handler="functions.secrets.handlers.api.lambda_handler",
        description="REST: org-scoped secrets, envelope-encrypted with KMS (values never returned)",
        env=(*COMMON_ENV, "SECRETS_TABLE", "SECRETS_KEY_ID", "AUDIT_TABLE"),
        grants=(Grant("table:secrets", "read_write"), AUDIT, Grant("service_key", "data_keys")),
    ),
    FunctionDef(
        key="tenancy-authorizer",
        construct_id="Authorizer",
        domain="tenancy",
        handler="functions.tenancy.handlers.authorizer.lambda_handler",
        description="API Gateway authorizer: a JWT or API key, the role looked up, the route's rule applied",
        env=(*TENANCY_ENV, "JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL"),
        grants=(
            Grant("table:members", "read"),
            Grant("table:api-keys", "read_write"),  # last-used time
            AUDIT,  # refused mutations
            Grant("pepper", "read"),
        ),
        timeout_seconds=5,
    ),
    FunctionDef(
        key="tenancy-api",
        construct_id="TenancyApi",
        domain="tenancy",
        handler="functions.tenancy.handlers.api.lambda_handler",
        description="REST: orgs, members, API keys and the audit log",
        env=TENANCY_ENV,
        grants=(
            Grant("table:orgs", "read_write"),
            Grant("table:members", "read_write"),
            Grant("table:api-keys", "read_write"),
            AUDIT,
            Grant("pepper", "read"),
        ),
    ),
    FunctionDef(
        key="accounts-api",
        construct_id="AccountsApi",
        domain="accounts",
        handler="functions.accounts.handlers.api.lambda_handler",
        description="REST: connect, list, read and disconnect AWS accounts",
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
    FunctionDef(
        key="stacks-api",
        construct_id="StacksApi",
        domain="stacks",
        handler="functions.stacks.handlers.api.lambda_handler",
        description="REST: create, list and read stacks, their history and rendered templates",
        env=STACKS_ENV,
        grants=(
            *_STACK_STEP_GRANTS,
            Grant("bucket", "read_write"),
            Grant("state_machine:provision-stack", "start"),
            Grant("state_machine:delete-stack", "start"),
        ),
        timeout_seconds=29,
    ),
    FunctionDef(
        key="stacks-start-change",
        construct_id="StacksStartChange",
        domain="stacks",
        handler="functions.stacks.handlers.start_change.lambda_handler",
        description="provision_stack: renders the template, makes the change set and executes it",
        env=STACKS_ENV,
        grants=(*_STACK_STEP_GRANTS, Grant("bucket", "read_write")),
        timeout_seconds=120,
        memory_mb=1024,
    ),
    FunctionDef(
        key="stacks-await-status",
        construct_id="StacksAwaitStatus",
        domain="stacks",
        handler="functions.stacks.handlers.await_status.lambda_handler",
        description="provision_stack: keeps the task token a forwarded status event resumes",
        env=STACKS_ENV,
        grants=(
            *_STACK_STEP_GRANTS,
            Grant("task_tokens:provision-stack", "write"),
            Grant("task_tokens:delete-stack", "write"),
        ),
        timeout_seconds=30,
    ),
    FunctionDef(
        key="stacks-poll",
        construct_id="StacksPoll",
        domain="stacks",
        handler="functions.stacks.handlers.poll.lambda_handler",
        description="provision_stack: no event came in time: reads the stack's status",
        env=STACKS_ENV,
        grants=_STACK_STEP_GRANTS,
        timeout_seconds=30,
    ),
    FunctionDef(
        key="stacks-finish",
        construct_id="StacksFinish",
        domain="stacks",
        handler="functions.stacks.handlers.finish.lambda_handler",
        description="provision_stack: records outputs or the root cause, emits the outcome",
        env=STACKS_ENV,
        grants=_STACK_STEP_GRANTS,
        timeout_seconds=60,
    ),
    FunctionDef(
        key="stacks-status-event",
        construct_id="StacksStatusEvent",
        domain="stacks",
        handler="functions.stacks.handlers.status_event.lambda_handler",
        description="Customer accounts' forwarded CloudFormation status changes: records them, resumes waits",
        env=STACKS_ENV,
        grants=(
            *_STACK_STEP_GRANTS,
            Grant("task_tokens:provision-stack", "write"),
            Grant("task_tokens:delete-stack", "write"),
        ),
        timeout_seconds=30,
    ),
    FunctionDef(
        key="stacks-reconcile-plan",
        construct_id="StacksReconcilePlan",
        domain="stacks",
        handler="functions.stacks.handlers.reconcile_plan.lambda_handler",
        description="reconcile_stacks: the groups (org, connection, region) that have stacks to sweep",
        env=STACKS_ENV,
        grants=(Grant("table:stacks", "read"),),
        timeout_seconds=60,
    ),
    FunctionDef(
        key="stacks-sweep",
        construct_id="StacksSweep",
        domain="stacks",
        handler="functions.stacks.handlers.reconcile_sweep.lambda_handler",
        description="reconcile_stacks: one account and region listed once, every difference recorded",
        env=STACKS_ENV,
        grants=(
            *_STACK_STEP_GRANTS,
            Grant("task_tokens:provision-stack", "write"),
            Grant("task_tokens:delete-stack", "write"),
        ),
        timeout_seconds=120,
    ),
)

# Creating, updating and deleting a stack are the same steps around a different change.
_STACK_OPERATION_STEPS = {
    "StartChangeFunctionArn": "stacks-start-change",
    "AwaitStatusFunctionArn": "stacks-await-status",
    "PollFunctionArn": "stacks-poll",
    "FinishFunctionArn": "stacks-finish",
}
# What resumes or wakes a waiting stack operation: its own step, the status event, the sweep.
_STACK_OPERATION_CALLERS = ("stacks-await-status", "stacks-status-event", "stacks-sweep")

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
    StateMachineDef(
        key="provision-stack",
        construct_id="ProvisionStack",
        asl_path=STATE_MACHINES_DIR / "stacks" / "provision_stack.asl.json",
        function_substitutions=dict(_STACK_OPERATION_STEPS),
        callers=_STACK_OPERATION_CALLERS,
    ),
    StateMachineDef(
        key="delete-stack",
        construct_id="DeleteStack",
        asl_path=STATE_MACHINES_DIR / "stacks" / "delete_stack.asl.json",
        function_substitutions=dict(_STACK_OPERATION_STEPS),
        callers=_STACK_OPERATION_CALLERS,
    ),
    StateMachineDef(
        key="reconcile-stacks",
        construct_id="ReconcileStacks",
        asl_path=STATE_MACHINES_DIR / "stacks" / "reconcile_stacks.asl.json",
        function_substitutions={
            "PlanFunctionArn": "stacks-reconcile-plan",
            "SweepFunctionArn": "stacks-sweep",
        },
    ),
)

BUS_RULES: tuple[BusRuleDef, ...] = (
    BusRuleDef(
        key="stack-status",
        construct_id="StackStatusEvents",
        function="stacks-status-event",
        pattern={"source": ["aws.cloudformation"], "detail-type": ["CloudFormation Stack Status Change"]},
        description="Status changes of stackpilot stacks, forwarded by customers' accounts",
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
    ScheduleDef(
        key="reconcile-stacks",
        construct_id="ReconcileStacks",
        state_machine="reconcile-stacks",
        expression="rate(10 minutes)",
        description="Keep every stack's status current: catches missed events, console changes and drift",
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
    RouteDef("POST", "/orgs", "tenancy-api", "Create an org"),
    RouteDef("GET", "/orgs/current", "tenancy-api", "The org you act in"),
    RouteDef("PATCH", "/orgs/current", "tenancy-api", "Rename the org"),
    RouteDef("GET", "/members", "tenancy-api", "List members"),
    RouteDef("POST", "/members", "tenancy-api", "Add a member"),
    RouteDef("PATCH", "/members/{user_id}", "tenancy-api", "Change a member's role"),
    RouteDef("DELETE", "/members/{user_id}", "tenancy-api", "Remove a member"),
    RouteDef("POST", "/api-keys", "tenancy-api", "Create an API key"),
    RouteDef("GET", "/api-keys", "tenancy-api", "List API keys"),
    RouteDef("DELETE", "/api-keys/{key_id}", "tenancy-api", "Revoke an API key"),
    RouteDef("GET", "/audit", "tenancy-api", "Read the audit log"),
    RouteDef("GET", "/audit/export", "tenancy-api", "Export the audit chain"),
    RouteDef("GET", "/audit/verify", "tenancy-api", "Verify the audit chain"),
    RouteDef("POST", "/stacks", "stacks-api", "Create a stack"),
    RouteDef("GET", "/stacks", "stacks-api", "List stacks"),
    RouteDef("GET", "/stacks/{stack_id}", "stacks-api", "Read one stack"),
    RouteDef("PATCH", "/stacks/{stack_id}", "stacks-api", "Change a stack"),
    RouteDef("DELETE", "/stacks/{stack_id}", "stacks-api", "Delete a stack"),
    RouteDef("POST", "/stacks/{stack_id}/preview", "stacks-api", "Preview a change to a stack"),
    RouteDef("GET", "/stacks/{stack_id}/events", "stacks-api", "A stack's history"),
    RouteDef("GET", "/stacks/{stack_id}/template", "stacks-api", "A stack's rendered template"),
    RouteDef("GET", "/secrets", "secrets-api", "List secrets (metadata only)"),
    RouteDef("PUT", "/secrets/{name}", "secrets-api", "Store a secret"),
    RouteDef("DELETE", "/secrets/{name}", "secrets-api", "Delete a secret"),
)


def function(key: str) -> FunctionDef:
    return next(f for f in FUNCTIONS if f.key == key)


def environment(
    names: Names,
    *,
    jwt_issuer: str,
    jwt_audience: str,
    jwks_url: str,
    log_level: str = "INFO",
    stack_wait_first_seconds: int = 10,
    stack_wait_max_seconds: int = 120,
) -> dict[str, str]:
    """Every environment variable any function reads; each function gets the subset it names."""
    return {
        "STACKPILOT_STAGE": names.stage,
        "SERVICE_ACCOUNT_ID": names.account,
        "POWERTOOLS_LOG_LEVEL": log_level,
        "ACCOUNTS_TABLE": names.table("accounts"),
        "ACCOUNT_CALLBACKS_TABLE": names.table("account-callbacks"),
        "EVENT_BUS_NAME": names.event_bus,
        "SERVICE_BUCKET": names.service_bucket,
        "CONNECT_ACCOUNT_STATE_MACHINE_ARN": names.state_machine_arn("connect-account"),
        "CUSTOMER_ASSUMER_ROLE_ARN": names.customer_assumer_role_arn,
        "CALLBACK_TOPIC_NAME": names.callback_topic,
        "SUPPORTED_REGIONS": ",".join(SUPPORTED_REGIONS),
        "JWT_ISSUER": jwt_issuer,
        "JWT_AUDIENCE": jwt_audience,
        "JWKS_URL": jwks_url,
        "ORGS_TABLE": names.table("orgs"),
        "MEMBERS_TABLE": names.table("members"),
        "API_KEYS_TABLE": names.table("api-keys"),
        "AUDIT_TABLE": names.table("audit"),
        "API_KEY_PEPPER_SECRET": names.api_key_pepper_secret,
        "SECRETS_TABLE": names.table("secrets"),
        "SECRETS_KEY_ID": names.kms_alias,
        "STACKS_TABLE": names.table("stacks"),
        "STACK_HISTORY_TABLE": names.table("stack-history"),
        "PROVISION_STACK_STATE_MACHINE_ARN": names.state_machine_arn("provision-stack"),
        "DELETE_STACK_STATE_MACHINE_ARN": names.state_machine_arn("delete-stack"),
        "STACK_WAIT_FIRST_SECONDS": str(stack_wait_first_seconds),
        "STACK_WAIT_MAX_SECONDS": str(stack_wait_max_seconds),
    }


def function_environment(fn: FunctionDef, env: dict[str, str]) -> dict[str, str]:
    missing = [k for k in fn.env if k not in env]
    if missing:
        raise KeyError(f"{fn.key} needs environment {missing} that environment() does not define")
    return {k: env[k] for k in fn.env}


def asl_placeholders(sm: StateMachineDef) -> set[str]:
    import re

    return set(re.findall(r"\$\{([A-Za-z0-9]+)\}", sm.asl_path.read_text()))
