"""The accounts domain's composition root: settings read once, tables bound once, and one ``…Deps``
per use case, each built once per process (a warm container reuses it). Every handler module of the
domain takes its deps from here; clients a path may never need are built on first use."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from functions.accounts.dal import repository
from functions.accounts.exceptions import AwsUnavailable
from functions.accounts.settings import AccountsSettings, get_settings
from functions.shared.clock import now
from functions.shared.dal.audit_store import DynamoAuditLog
from functions.shared.integrations import aws

# Each builder imports the use case and adapters it wires: a function loads only its own (INIT time).
if TYPE_CHECKING:
    from functions.accounts.integrations.role_probe import StsRoleProbe
    from functions.accounts.logic.callback import CallbackDeps
    from functions.accounts.logic.connections import AccountsApiDeps
    from functions.accounts.logic.health import HealthDeps
    from functions.accounts.logic.outcome import OutcomeDeps
    from functions.accounts.logic.respond import RespondDeps
    from functions.accounts.logic.upgrade import UpgradeDeps
    from functions.accounts.logic.verification import VerifyDeps
    from functions.shared.integrations.stepfunctions import StateMachine


@cache
def settings() -> AccountsSettings:
    s = get_settings()
    repository.configure_from(s)
    return s


@cache
def audit_log() -> DynamoAuditLog:
    settings()
    return DynamoAuditLog()


def _connect_account(client: object) -> StateMachine:
    from functions.shared.integrations.stepfunctions import StateMachine

    return StateMachine(client, settings().connect_account_state_machine_arn, unavailable=AwsUnavailable)


def _probe() -> StsRoleProbe:
    from functions.accounts.integrations.role_probe import StsRoleProbe
    from functions.shared.integrations.customer_roles import AssumeRoleChain

    s = settings()
    return StsRoleProbe(
        AssumeRoleChain(aws.client("sts"), s.customer_assumer_role_arn, s.aws_region), s.aws_region
    )


@cache
def api_deps() -> AccountsApiDeps:
    from functions.accounts.logic.connections import AccountsApiDeps, ConnectConfig
    from functions.shared.integrations.eventbridge import EventBridgePublisher
    from functions.shared.integrations.service_bucket import ServiceBucket

    s = settings()
    return AccountsApiDeps(
        connections=repository.DynamoConnectionRepository(audit_log()),
        templates=ServiceBucket(aws.LazyClient("s3"), s.service_bucket),  # POST only
        # reads (most requests) never render a template, start or stop a workflow
        workflow=_connect_account(aws.LazyClient("stepfunctions")),
        events=EventBridgePublisher(aws.LazyClient("events"), s.event_bus_name),  # disconnect only
        clock=now,
        config=ConnectConfig(
            service_account_id=s.service_account_id,
            supported_regions=s.supported_regions,
            assumer_role_arn=s.customer_assumer_role_arn,
            callback_topic_name=s.callback_topic_name,
            event_bus_name=s.event_bus_name,
            connect_window_seconds=s.connect_window_seconds,
            home_region=s.aws_region,
        ),
    )


@cache
def upgrade_deps() -> UpgradeDeps:
    from functions.accounts.logic.upgrade import UpgradeDeps

    api = api_deps()
    return UpgradeDeps(
        connections=api.connections, templates=api.templates, clock=api.clock, config=api.config
    )


@cache
def callback_deps() -> CallbackDeps:
    from functions.accounts.integrations.cfn_response import responder
    from functions.accounts.logic.callback import CallbackDeps
    from functions.shared.integrations.eventbridge import EventBridgePublisher

    s = settings()
    return CallbackDeps(
        connections=repository.DynamoConnectionRepository(),
        callbacks=repository.DynamoCallbackRepository(),
        workflow=_connect_account(aws.client("stepfunctions")),
        responder=responder(s.response_url_endpoint_override, aws.LazyClient("s3")),
        events=EventBridgePublisher(aws.LazyClient("events"), s.event_bus_name),  # Delete only
        clock=now,
        supported_regions=s.supported_regions,
        connect_window_seconds=s.connect_window_seconds,
    )


@cache
def verify_deps() -> VerifyDeps:
    from functions.accounts.logic.verification import VerifyDeps

    settings()
    return VerifyDeps(connections=repository.DynamoConnectionRepository(), probe=_probe())


@cache
def outcome_deps() -> OutcomeDeps:
    from functions.accounts.logic.outcome import OutcomeDeps
    from functions.shared.integrations.eventbridge import EventBridgePublisher

    s = settings()
    return OutcomeDeps(
        connections=repository.DynamoConnectionRepository(),
        events=EventBridgePublisher(aws.client("events"), s.event_bus_name),
        clock=now,
        connect_window_seconds=s.connect_window_seconds,
    )


@cache
def respond_deps() -> RespondDeps:
    from functions.accounts.integrations.cfn_response import responder
    from functions.accounts.logic.respond import RespondDeps

    s = settings()
    return RespondDeps(
        connections=repository.DynamoConnectionRepository(),
        callbacks=repository.DynamoCallbackRepository(),
        responder=responder(s.response_url_endpoint_override, aws.LazyClient("s3")),  # local cloud only
    )


@cache
def health_deps() -> HealthDeps:
    from functions.accounts.logic.health import HealthDeps
    from functions.shared.integrations.eventbridge import EventBridgePublisher

    s = settings()
    return HealthDeps(
        connections=repository.DynamoConnectionRepository(),
        probe=_probe(),
        events=EventBridgePublisher(aws.LazyClient("events"), s.event_bus_name),
        clock=now,
    )


@cache
def connections() -> repository.DynamoConnectionRepository:
    settings()
    return repository.DynamoConnectionRepository()
