"""The stacks domain's composition root: settings read once, tables bound, adapters built once per
process (a warm container reuses them)."""

from __future__ import annotations

from functools import lru_cache

from functions.shared.clock import now
from functions.shared.dal.audit_store import DynamoAuditLog
from functions.shared.integrations import aws
from functions.shared.integrations.eventbridge import EventBridgePublisher
from functions.stacks.dal import repository
from functions.stacks.integrations.aws_service import S3Templates, StepFunctionsWorkflow
from functions.stacks.integrations.customer import AssumedCustomerAccess
from functions.stacks.logic.lifecycle import StacksDeps
from functions.stacks.logic.rendering import render
from functions.stacks.settings import get_settings


@lru_cache
def deps() -> StacksDeps:
    s = get_settings()
    repository.configure_from(s)
    return StacksDeps(
        stacks=repository.DynamoStackRepository(DynamoAuditLog()),
        connections=repository.DynamoConnectionAccess(),
        customer=AssumedCustomerAccess(aws.LazyClient("sts"), s.customer_assumer_role_arn),
        templates=S3Templates(aws.LazyClient("s3"), s.service_bucket),
        workflow=StepFunctionsWorkflow(
            aws.LazyClient("stepfunctions"),
            s.provision_stack_state_machine_arn,
            s.delete_stack_state_machine_arn,
        ),
        audit=DynamoAuditLog(),
        events=EventBridgePublisher(aws.LazyClient("events"), s.event_bus_name),
        clock=now,
        render=render,
        wait_first_seconds=s.stack_wait_first_seconds,
        wait_max_seconds=s.stack_wait_max_seconds,
        give_up_seconds=s.stack_wait_give_up_seconds,
    )
