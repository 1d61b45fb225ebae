"""The stacks domain: creating, changing and deleting stacks in customers' accounts (the
provision_stack and delete_stack workflows), their forwarded status events, the scheduled
reconcile_stacks sweep, and the REST routes."""

from __future__ import annotations

from infra.definitions.model import (
    STATE_MACHINES_DIR,
    BusRuleDef,
    FunctionDef,
    Grant,
    RouteDef,
    ScheduleDef,
    StateMachineDef,
    TableDef,
)
from infra.definitions.shared import AUDIT, COMMON_ENV

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

TABLES: tuple[TableDef, ...] = (
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
        key="reconcile-stacks",
        construct_id="ReconcileStacks",
        state_machine="reconcile-stacks",
        expression="rate(10 minutes)",
        description="Keep every stack's status current: catches missed events, console changes and drift",
    ),
)

ROUTES: tuple[RouteDef, ...] = (
    RouteDef("POST", "/stacks", "stacks-api", "Create a stack"),
    RouteDef("GET", "/stacks", "stacks-api", "List stacks"),
    RouteDef("GET", "/stacks/{stack_id}", "stacks-api", "Read one stack"),
    RouteDef("PATCH", "/stacks/{stack_id}", "stacks-api", "Change a stack"),
    RouteDef("DELETE", "/stacks/{stack_id}", "stacks-api", "Delete a stack"),
    RouteDef("POST", "/stacks/{stack_id}/preview", "stacks-api", "Preview a change to a stack"),
    RouteDef("GET", "/stacks/{stack_id}/events", "stacks-api", "A stack's history"),
    RouteDef("GET", "/stacks/{stack_id}/template", "stacks-api", "A stack's rendered template"),
)
