"""REST API of the secrets domain: PUT/DELETE /secrets/{name}, GET /secrets (metadata only)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.secrets.dal import repository
from functions.secrets.exceptions import KeyServiceUnavailable, SecretConflict, SecretNotFound
from functions.secrets.integrations.kms import KmsDataKeys
from functions.secrets.logic import secrets
from functions.secrets.logic.secrets import SecretsDeps
from functions.secrets.models.secret import PutSecretRequest, SecretList, SecretMetadata
from functions.secrets.settings import get_settings
from functions.shared import audit_store, aws
from functions.shared.audit_store import AuditUnavailable, DynamoAuditLog
from functions.shared.auditing import request_info
from functions.shared.clock import now
from functions.shared.http import error, error_responses, invalid_request, refuse_non_json
from functions.shared.observability import logger
from functions.shared.principal import Forbidden, Principal, Unauthenticated
from functions.shared.refusals import record_refusal

log = logger("secrets")
app = APIGatewayRestResolver(enable_validation=True)
NamePath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", description="The secret's name in your org")
]
AUDIT_LOG = DynamoAuditLog()


def _deps() -> SecretsDeps:
    s = get_settings()
    repository.configure(secrets_table=s.secrets_table, region=s.aws_region)
    audit_store.configure_from(s)
    return SecretsDeps(
        store=repository.DynamoSecretStore(AUDIT_LOG),
        keys=KmsDataKeys(aws.LazyClient("kms"), s.secrets_key_id),
        clock=now,
    )


DEPS = _deps()


def _principal() -> Principal:
    return Principal.from_authorizer_context(app.current_event.request_context.authorizer.raw_event)


@app.put(
    "/secrets/<name>",
    summary="Store a secret (a new version each time); its value is never shown again",
    responses=error_responses(401, 403, 409, 415, 422, 503),
)
def put_secret(name: NamePath, body: Annotated[PutSecretRequest, Body()]) -> SecretMetadata:
    return secrets.put_secret(DEPS, _principal(), name, body, request_info(app.current_event.raw_event))


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
    secrets.delete_secret(DEPS, _principal(), name, request_info(app.current_event.raw_event))
    return Response(status_code=204)


@app.exception_handler(RequestValidationError)
def _malformed(exc: RequestValidationError) -> Response[Any]:
    # Never echo what was sent: it may be the secret itself.
    return invalid_request([{k: v for k, v in e.items() if k not in ("input", "ctx")} for e in exc.errors()])


@app.exception_handler(SecretNotFound)
def _not_found(exc: SecretNotFound) -> Response[Any]:
    return error(404, str(exc))


@app.exception_handler(SecretConflict)
def _conflict(exc: SecretConflict) -> Response[Any]:
    return error(409, str(exc))


@app.exception_handler(Forbidden)
def _forbidden(exc: Forbidden) -> Response[Any]:
    return error(403, str(exc))


@app.exception_handler(Unauthenticated)
def _unauthenticated(exc: Unauthenticated) -> Response[Any]:
    return error(403, "this route needs a member of an org")


@app.exception_handler(KeyServiceUnavailable)
def _kms_unavailable(exc: KeyServiceUnavailable) -> Response[Any]:
    log.error("key service unavailable", extra={"code": exc.code})
    return error(503, "the key service is unavailable; nothing was changed")


@app.exception_handler(AuditUnavailable)
def _audit_unavailable(exc: AuditUnavailable) -> Response[Any]:
    log.exception("audit log unavailable")
    return error(503, str(exc))


@log.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = refuse_non_json(event) or app.resolve(event, context)
    if not record_refusal(event, response, AUDIT_LOG, now):
        log.error("could not record a refused request in the audit log")
    return response
