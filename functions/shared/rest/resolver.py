"""What every REST function of stackpilot shares: one resolver set-up, one error mapping, one entry.

Errors are answered by their kind (``functions/shared/errors.py``), here and nowhere else: a 422
naming each field (never echoing what was sent: it may be a secret), 401 for a request with no
verified caller, 403 for a role that may not act, 404 for another org's object as for none, 409 for a
conflict, 424 when the customer's account refused us, 503 when a dependency failed (the audit log
included: then nothing changed); and the audit entry of every refused or failed mutation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from functions.shared.clock import now
from functions.shared.errors import (
    Conflict,
    CustomerRefused,
    DependencyDown,
    Forbidden,
    InvalidField,
    NotFound,
    Unauthenticated,
)
from functions.shared.logic.auditing import RequestInfo, request_info
from functions.shared.logic.ports import AuditLog
from functions.shared.models.principal import Identity, Principal
from functions.shared.rest.http import error, invalid_request, refuse_non_json
from functions.shared.rest.refusals import record_refusal

#: Each kind of error and its status. A domain's exception answers as the kind it derives from.
STATUSES: dict[type[Exception], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    CustomerRefused: 424,
    DependencyDown: 503,
}


class _RestResolver(APIGatewayRestResolver):
    """Powertools keeps the event being resolved on a class (``BaseRouter.current_event``), shared
    by every resolver in the process. Lambda runs one request per process, but the local cloud runs
    every function in one: two API functions answering at once read each other's event, principal
    included. Here each thread reads the event it resolves."""

    def __init__(self, **kwargs: Any) -> None:
        self._resolving = threading.local()
        super().__init__(**kwargs)

    @property  # type: ignore[override]
    def current_event(self) -> APIGatewayProxyEvent:
        return self._resolving.event  # type: ignore[no-any-return]

    @current_event.setter
    def current_event(self, event: APIGatewayProxyEvent) -> None:
        self._resolving.event = event

    @property  # type: ignore[override]
    def lambda_context(self) -> Any:
        return self._resolving.context

    @lambda_context.setter
    def lambda_context(self, context: Any) -> None:
        self._resolving.context = context

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        self._resolving.event = APIGatewayProxyEvent(dict(event))
        self._resolving.context = context
        try:
            return super().resolve(event, context)
        finally:
            self._resolving.event = self._resolving.context = None


def rest_app(log: Logger) -> APIGatewayRestResolver:
    """A resolver with validation on and every kind of error mapped to its answer."""
    app = _RestResolver(enable_validation=True)
    app.exception_handler(RequestValidationError)(_malformed)
    app.exception_handler(InvalidField)(_invalid_field)
    for exception, status in STATUSES.items():
        app.exception_handler(exception)(_answer(log, status))
    return app


def _malformed(exc: RequestValidationError) -> Response[Any]:
    # Never echo what was sent: it may be the secret itself.
    return invalid_request([{k: v for k, v in e.items() if k not in ("input", "ctx")} for e in exc.errors()])


def _invalid_field(exc: InvalidField) -> Response[Any]:
    return invalid_request([{"loc": [exc.location, *exc.field.split(".")], "msg": exc.message}])


#: Set while a request is answered when its error says its audit entry is written already.
_AUDITED: ContextVar[bool] = ContextVar("stackpilot_request_audited", default=False)


def _answer(log: Logger, status: int) -> Callable[[Exception], Response[Any]]:
    def answer(exc: Exception) -> Response[Any]:
        if getattr(exc, "audited", False):
            _AUDITED.set(True)
        if status == 401:
            return error(401, "Unauthorized")
        if status >= 500:
            detail = getattr(exc, "detail", None)
            log.exception(
                "dependency failure; nothing was changed", extra={"detail": detail} if detail else {}
            )
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
    audited = _AUDITED.set(False)
    try:
        response = refuse_non_json(event) or app.resolve(event, context)
        if not _AUDITED.get() and not record_refusal(event, response, audit_log, now):
            log.error("could not record a refused request in the audit log")
    finally:
        _AUDITED.reset(audited)
    return response
