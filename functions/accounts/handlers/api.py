"""REST API of the accounts domain: POST/GET /accounts, GET/DELETE /accounts/{connection_id},
POST /accounts/{connection_id}/upgrade."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.accounts.handlers import composition
from functions.accounts.logic import connections, upgrade
from functions.accounts.models.api import (
    ConnectAccountRequest,
    ConnectionList,
    ConnectionView,
    UpgradeInstructions,
)
from functions.shared.logic.auditing import RequestInfo
from functions.shared.models.ids import CONNECTION_ID_PATTERN
from functions.shared.models.principal import Principal
from functions.shared.observability import logger
from functions.shared.rest import resolver as rest
from functions.shared.rest.http import error_responses

log = logger("accounts")
app = rest.rest_app(log)
ConnectionIdPath = Annotated[str, Path(pattern=CONNECTION_ID_PATTERN, description="A connection id")]
AUDIT_LOG = composition.audit_log()
DEPS = composition.api_deps()
UPGRADE_DEPS = composition.upgrade_deps()


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


@app.post(
    "/accounts/<connection_id>/upgrade",
    summary="Update a connection's onboarding stack to the latest template",
    responses={200: {"description": "What the customer runs: the console link and the CLI command"}}
    | error_responses(401, 403, 404, 409, 422, 503, ok=None),
)
def upgrade_one(connection_id: ConnectionIdPath) -> UpgradeInstructions:
    return upgrade.upgrade_connection(UPGRADE_DEPS, _principal(), connection_id, _info())


@log.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return rest.handle(app, event, context, AUDIT_LOG, log)


startup.ready()  # INIT ends here
