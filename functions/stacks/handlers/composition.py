"""The stacks domain's composition root: settings read once, tables bound once, and one ``…Deps``
per use case, each built once per process (a warm container reuses it). Every handler module of the
domain takes its deps from here; clients a path may never need are built on first use."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from functions.shared.clock import now
from functions.shared.dal.audit_store import DynamoAuditLog
from functions.shared.integrations import aws
from functions.shared.integrations.eventbridge import EventBridgePublisher
from functions.shared.integrations.stepfunctions import StateMachine
from functions.stacks.dal import repository
from functions.stacks.exceptions import ServiceUnavailable
from functions.stacks.settings import StacksSettings, get_settings

# Each builder imports the use case and adapters it wires: a function loads only its own (INIT time).
if TYPE_CHECKING:
    from functions.stacks.integrations.customer import AssumedCustomerAccess
    from functions.stacks.logic.account_status import StatusDeps
    from functions.stacks.logic.reconcile import ReconcileDeps
    from functions.stacks.logic.requests import RequestDeps
    from functions.stacks.logic.steps import StepDeps


@cache
def settings() -> StacksSettings:
    s = get_settings()
    repository.configure_from(s)
    return s


@cache
def audit_log() -> DynamoAuditLog:
    settings()
    return DynamoAuditLog()


@cache
def stacks() -> repository.DynamoStackRepository:
    return repository.DynamoStackRepository(audit_log())


@cache
def customer() -> AssumedCustomerAccess:
    """One per process: its assumed-role clients are reused per connection while they last."""
    from functions.shared.integrations.customer_roles import AssumeRoleChain
    from functions.stacks.integrations.customer import AssumedCustomerAccess

    s = settings()
    return AssumedCustomerAccess(
        AssumeRoleChain(aws.LazyClient("sts"), s.customer_assumer_role_arn, s.aws_region)
    )


def _machine(arn: str) -> StateMachine:
    return StateMachine(aws.LazyClient("stepfunctions"), arn, unavailable=ServiceUnavailable)


def _events() -> EventBridgePublisher:
    return EventBridgePublisher(aws.LazyClient("events"), settings().event_bus_name)


@cache
def request_deps() -> RequestDeps:
    from functions.shared.integrations.service_bucket import ServiceBucket
    from functions.stacks.logic.rendering import render
    from functions.stacks.logic.requests import RequestDeps

    s = settings()
    return RequestDeps(
        stacks=stacks(),
        connections=repository.DynamoConnectionAccess(),
        customer=customer(),
        templates=ServiceBucket(aws.LazyClient("s3"), s.service_bucket),
        provision=_machine(s.provision_stack_state_machine_arn),
        deletion=_machine(s.delete_stack_state_machine_arn),
        audit=audit_log(),
        events=_events(),
        clock=now,
        render=render,
    )


@cache
def step_deps() -> StepDeps:
    from functions.shared.integrations.service_bucket import ServiceBucket
    from functions.stacks.logic.rendering import render
    from functions.stacks.logic.steps import StepDeps, WaitPolicy

    s = settings()
    return StepDeps(
        stacks=stacks(),
        reads=repository.DynamoStackWithAccess(),
        customer=customer(),
        templates=ServiceBucket(aws.LazyClient("s3"), s.service_bucket),
        workflow=_machine(s.provision_stack_state_machine_arn),  # resumes any stack workflow's task
        events=_events(),
        clock=now,
        render=render,
        wait=WaitPolicy(
            first=s.stack_wait_first_seconds,
            cap=s.stack_wait_max_seconds,
            give_up=s.stack_wait_give_up_seconds,
        ),
    )


@cache
def status_deps() -> StatusDeps:
    from functions.stacks.logic.account_status import StatusDeps

    return StatusDeps(
        stacks=stacks(),
        workflow=_machine(settings().provision_stack_state_machine_arn),  # resumes any stack workflow's task
        events=_events(),
        clock=now,
    )


@cache
def reconcile_deps() -> ReconcileDeps:
    from functions.stacks.logic.reconcile import ReconcileDeps

    return ReconcileDeps(
        status=status_deps(),
        connections=repository.DynamoConnectionAccess(),
        groups=stacks(),
        listing=customer(),
    )
