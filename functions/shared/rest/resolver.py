"""What every REST function of stackpilot shares: one resolver set-up, one error mapping, one entry.

A domain names its own errors and their statuses (``errors``); the rest is common to all: a 422
naming each field (never echoing what was sent: it may be a secret), 403 for a role that may not
act, 401 for a request with no verified caller, 503 when the audit log cannot be written (so
nothing changed), and the audit entry of every refused or failed mutation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from functions.shared.clock import now
from functions.shared.dal.audit_store import AuditUnavailable
from functions.shared.logic.auditing import RequestInfo, request_info
from functions.shared.logic.ports import AuditLog
from functions.shared.models.principal import Forbidden, Identity, Principal, Unauthenticated
from functions.shared.rest.http import error, invalid_request, refuse_non_json
from functions.shared.rest.refusals import record_refusal

COMMON_ERRORS: dict[type[Exception], int] = {Forbidden: 403, Unauthenticated: 401, AuditUnavailable: 503}


def rest_app(log: Logger, errors: Mapping[type[Exception], int]) -> APIGatewayRestResolver:
    """A resolver with validation on and every error class mapped to its status, in one place."""
    app = APIGatewayRestResolver(enable_validation=True)

    app.exception_handler(RequestValidationError)(_malformed)
    for exception, status in {**COMMON_ERRORS, **errors}.items():
        app.exception_handler(exception)(_answer(log, status))
    return app


def _malformed(exc: RequestValidationError) -> Response[Any]:
    # Never echo what was sent: it may be the secret itself.
    return invalid_request([{k: v for k, v in e.items() if k not in ("input", "ctx")} for e in exc.errors()])


def _answer(log: Logger, status: int) -> Callable[[Exception], Response[Any]]:
    def answer(exc: Exception) -> Response[Any]:
        if status == 401:
            return error(401, "Unauthorized")
        if status >= 500:
            log.exception("dependency failure; nothing was changed")
        return error(status, str(exc))

    return answer


def principal(app: APIGatewayRestResolver) -> Principal:
    return Principal.from_authorizer_context(app.current_event.request_context.authorizer.raw_event)


def identity(app: APIGatewayRestResolver) -> Identity:
    return Identity.from_authorizer_context(app.current_event.request_context.authorizer.raw_event)


def request(app: APIGatewayRestResolver) -> RequestInfo:
    return request_info(app.current_event.raw_event)


def handle(
    app: APIGatewayRestResolver, event: dict[str, Any], context: Any, audit_log: AuditLog, log: Logger
) -> dict[str, Any]:
    """The body of every REST ``lambda_handler``: JSON only, resolve, audit a refused mutation."""
    response = refuse_non_json(event) or app.resolve(event, context)
    if not record_refusal(event, response, audit_log, now):
        log.error("could not record a refused request in the audit log")
    return response
