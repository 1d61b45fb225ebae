"""REST API of the secrets domain: PUT/DELETE /secrets/{name}, GET /secrets (metadata only)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.secrets.dal import repository
from functions.secrets.integrations.kms import KmsDataKeys
from functions.secrets.logic import secrets
from functions.secrets.logic.secrets import SecretsDeps
from functions.secrets.models.secret import PutSecretRequest, SecretList, SecretMetadata
from functions.secrets.settings import get_settings
from functions.shared.clock import now
from functions.shared.dal.audit_store import DynamoAuditLog
from functions.shared.integrations import aws
from functions.shared.models.principal import Principal
from functions.shared.observability import logger
from functions.shared.rest import resolver as rest
from functions.shared.rest.http import error_responses

log = logger("secrets")
app = rest.rest_app(log)
NamePath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", description="The secret's name in your org")
]
AUDIT_LOG = DynamoAuditLog()


def _deps() -> SecretsDeps:
    s = get_settings()
    repository.configure_from(s)
    return SecretsDeps(
        store=repository.DynamoSecretStore(AUDIT_LOG),
        keys=KmsDataKeys(aws.LazyClient("kms"), s.secrets_key_id),
        clock=now,
    )


DEPS = _deps()


def _principal() -> Principal:
    return rest.principal(app)


@app.put(
    "/secrets/<name>",
    summary="Store a secret (a new version each time); its value is never shown again",
    responses=error_responses(401, 403, 409, 415, 422, 503),
)
def put_secret(name: NamePath, body: Annotated[PutSecretRequest, Body()]) -> SecretMetadata:
    return secrets.put_secret(DEPS, _principal(), name, body, rest.request(app))


@app.get(
    "/secrets",
    summary="The org's secrets: names and versions, never values",
    responses=error_responses(401, 403),
)
def list_secrets() -> SecretList:
    return SecretList(items=secrets.list_secrets(DEPS, _principal()))


@app.delete(
    "/secrets/<name>",
    status_code=204,
    summary="Delete a secret",
    responses={204: {"description": "Deleted", "content": {}}}
    | error_responses(401, 403, 404, 422, 503, ok=None),
)
def delete_secret(name: NamePath) -> Response[Any]:
    secrets.delete_secret(DEPS, _principal(), name, rest.request(app))
    return Response(status_code=204)


@log.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return rest.handle(app, event, context, AUDIT_LOG, log)


startup.ready()  # INIT ends here
