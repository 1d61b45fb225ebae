"""REST API of the accounts domain: POST/GET /accounts, GET/DELETE /accounts/{connection_id}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.accounts.dal import repository
from functions.accounts.exceptions import (
    ConnectionConflict,
    ConnectionNotFound,
    InvalidRequest,
    ServiceUnavailable,
)
from functions.accounts.integrations.templates import S3TemplateStore
from functions.accounts.integrations.workflow import StepFunctionsWorkflow
from functions.accounts.logic import connections
from functions.accounts.logic.connections import AccountsApiDeps, ConnectConfig
from functions.accounts.models.api import ConnectAccountRequest, ConnectionList, ConnectionView
from functions.accounts.settings import get_settings
from functions.shared import aws
from functions.shared.audit_store import AuditUnavailable, DynamoAuditLog
from functions.shared.auditing import RequestInfo, request_info
from functions.shared.clock import now
from functions.shared.events import EventBridgePublisher
from functions.shared.http import error, error_responses, invalid_request, refuse_non_json
from functions.shared.observability import logger
from functions.shared.principal import Forbidden, Principal, Unauthenticated
from functions.shared.refusals import record_refusal

log = logger("accounts")
app = APIGatewayRestResolver(enable_validation=True)
ConnectionIdPath = Annotated[str, Path(pattern=r"^conn_[a-z0-9]{26}$", description="A connection id")]


AUDIT_LOG = DynamoAuditLog()


def _deps() -> AccountsApiDeps:
    s = get_settings()
    repository.configure_from(s)
    return AccountsApiDeps(
        connections=repository.DynamoConnectionRepository(AUDIT_LOG),
        templates=S3TemplateStore(aws.client("s3"), s.service_bucket),
        # reads (most requests) never start or stop a workflow
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
    return Principal.from_authorizer_context(app.current_event.request_context.authorizer.raw_event)


def _info() -> RequestInfo:
    return request_info(app.current_event.raw_event)


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


@app.exception_handler(RequestValidationError)
def _malformed(exc: RequestValidationError) -> Response[Any]:
    return invalid_request(exc.errors())


@app.exception_handler(InvalidRequest)
def _invalid(exc: InvalidRequest) -> Response[Any]:
    return invalid_request([{"loc": ("body", exc.field), "msg": exc.message}])


@app.exception_handler(ConnectionNotFound)
def _not_found(exc: ConnectionNotFound) -> Response[Any]:
    return error(404, str(exc))


@app.exception_handler(ConnectionConflict)
def _conflict(exc: ConnectionConflict) -> Response[Any]:
    return error(409, str(exc))


@app.exception_handler(Forbidden)
def _forbidden(exc: Forbidden) -> Response[Any]:
    return error(403, str(exc))


@app.exception_handler(Unauthenticated)
def _unauthenticated(exc: Unauthenticated) -> Response[Any]:
    return error(401, "Unauthorized")


@app.exception_handler(AuditUnavailable)
def _audit_unavailable(exc: AuditUnavailable) -> Response[Any]:
    log.exception("audit log unavailable")
    return error(503, str(exc))


@app.exception_handler(ServiceUnavailable)
def _unavailable(exc: ServiceUnavailable) -> Response[Any]:
    log.exception("dependency failure")
    return error(503, str(exc))


@log.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = refuse_non_json(event) or app.resolve(event, context)
    if not record_refusal(event, response, AUDIT_LOG, now):
        log.error("could not record a refused request in the audit log")
    return response
