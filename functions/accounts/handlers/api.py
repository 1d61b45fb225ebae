"""REST API of the accounts domain: POST/GET /accounts, GET/DELETE /accounts/{connection_id}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.accounts.dal import repository
from functions.accounts.integrations.templates import S3TemplateStore
from functions.accounts.integrations.workflow import StepFunctionsWorkflow
from functions.accounts.logic import connections
from functions.accounts.logic.connections import AccountsApiDeps, ConnectConfig
from functions.accounts.models.api import ConnectAccountRequest, ConnectionList, ConnectionView
from functions.accounts.settings import get_settings
from functions.shared.clock import now
from functions.shared.dal.audit_store import DynamoAuditLog
from functions.shared.integrations import aws
from functions.shared.integrations.eventbridge import EventBridgePublisher
from functions.shared.logic.auditing import RequestInfo
from functions.shared.models.ids import CONNECTION_ID_PATTERN
from functions.shared.models.principal import Principal
from functions.shared.observability import logger
from functions.shared.rest import resolver as rest
from functions.shared.rest.http import error_responses

log = logger("accounts")
app = rest.rest_app(log)
ConnectionIdPath = Annotated[str, Path(pattern=CONNECTION_ID_PATTERN, description="A connection id")]


AUDIT_LOG = DynamoAuditLog()


def _deps() -> AccountsApiDeps:
    s = get_settings()
    repository.configure_from(s)
    return AccountsApiDeps(
        connections=repository.DynamoConnectionRepository(AUDIT_LOG),
        templates=S3TemplateStore(aws.LazyClient("s3"), s.service_bucket),  # POST only
        # reads (most requests) never render a template, start or stop a workflow
        workflow=StepFunctionsWorkflow(aws.LazyClient("stepfunctions"), s.connect_account_state_machine_arn),
        events=EventBridgePublisher(aws.LazyClient("events"), s.event_bus_name),  # disconnect only
        clock=now,
        config=ConnectConfig(
            service_account_id=s.service_account_id,
            supported_regions=s.supported_regions,
            assumer_role_arn=s.customer_assumer_role_arn,
            callback_topic_name=s.callback_topic_name,
            event_bus_name=s.event_bus_name,
            state_machine_arn=s.connect_account_state_machine_arn,
            connect_window_seconds=s.connect_window_seconds,
            home_region=s.aws_region,
        ),
    )


DEPS = _deps()


def _principal() -> Principal:
    return rest.principal(app)


def _info() -> RequestInfo:
    return rest.request(app)


@app.post(
    "/accounts",
    status_code=201,
    summary="Connect an AWS account",
    responses={201: {"description": "The connection, PENDING, with its quick-create URL"}}
    | error_responses(401, 403, 409, 415, 422, 503, ok=None),
)
def connect(body: Annotated[ConnectAccountRequest, Body()]) -> ConnectionView:
    return connections.connect_account(DEPS, _principal(), body, _info())


@app.get("/accounts", summary="List the org's account connections", responses=error_responses(401))
def list_all() -> ConnectionList:
    return ConnectionList(items=connections.list_connections(DEPS, _principal()))


@app.get(
    "/accounts/<connection_id>",
    summary="Read one account connection",
    responses=error_responses(401, 404, 422),
)
def get_one(connection_id: ConnectionIdPath) -> ConnectionView:
    return connections.get_connection(DEPS, _principal(), connection_id)


@app.delete(
    "/accounts/<connection_id>",
    summary="Disconnect an AWS account",
    responses=error_responses(401, 403, 404, 422),
)
def disconnect(connection_id: ConnectionIdPath) -> ConnectionView:
    return connections.disconnect(DEPS, _principal(), connection_id, _info())


@log.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return rest.handle(app, event, context, AUDIT_LOG, log)
