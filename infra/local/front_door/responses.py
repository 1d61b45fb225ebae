"""Responses: the function's proxy result mapped back to HTTP (API Gateway's rules for what is
malformed), and the responses API Gateway itself produces, with their messages and
``x-amzn-ErrorType`` headers."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Response

log = logging.getLogger("stackpilot.front_door")

_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# Integration response headers API Gateway does not pass through as-is but renames.
_REMAPPED_RESPONSE_HEADERS = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "date",
        "expect",
        "host",
        "max-forwards",
        "proxy-authenticate",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "via",
        "warn",
        "www-authenticate",
    }
)


class GatewayError(Exception):
    """A response API Gateway itself would produce (never the function's)."""

    def __init__(self, status: int, error_type: str, message: str | None, **headers: str) -> None:
        super().__init__(f"{status} {error_type}")
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = headers


def missing_token() -> GatewayError:
    return GatewayError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")


def unauthorized() -> GatewayError:
    return GatewayError(401, "UnauthorizedException", "Unauthorized")


def access_denied() -> GatewayError:
    return GatewayError(403, "AccessDeniedException", "User is not authorized to access this resource")


def authorizer_failure() -> GatewayError:
    return GatewayError(500, "AuthorizerConfigurationException", "Internal server error")


def integration_failure(status: int = 502) -> GatewayError:
    return GatewayError(status, "InternalServerErrorException", "Internal server error")


def too_large() -> GatewayError:
    return GatewayError(413, "RequestTooLarge", "Request Too Long", Connection="close")


def proxy_response(result: Any) -> Response:
    """Map a Lambda proxy result back to HTTP; anything API Gateway would call malformed is a 502."""
    if not isinstance(result, dict) or not result.keys() <= _PROXY_RESPONSE_KEYS:
        raise _malformed("not an object with only proxy response keys")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise _malformed("statusCode")
    body = result.get("body")
    is_base64 = result.get("isBase64Encoded", False)
    if body is not None and not isinstance(body, str):
        raise _malformed("body is not a string")
    if not isinstance(is_base64, bool | None):
        raise _malformed("isBase64Encoded")
    try:
        payload = base64.b64decode(body or "", validate=True) if is_base64 else (body or "").encode("utf-8")
    except (binascii.Error, ValueError):
        raise _malformed("body is not base64") from None
    response = Response(payload, status=status)
    response.headers.clear()
    for name, value in _response_headers(result.get("headers"), result.get("multiValueHeaders")):
        if name.lower() in _REMAPPED_RESPONSE_HEADERS:
            name = f"x-amzn-Remapped-{name}"
        response.headers.add(name, value)
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    response.headers["Content-Length"] = str(len(payload))
    return response


def _response_headers(headers: Any, multi: Any) -> list[tuple[str, str]]:
    """API Gateway merges both maps; a pair present in both appears once."""
    if not isinstance(headers, dict | None) or not isinstance(multi, dict | None):
        raise _malformed("headers")
    merged: list[tuple[str, str]] = []
    for name, values in (multi or {}).items():
        if not isinstance(values, list):
            raise _malformed("multiValueHeaders")
        merged.extend((name, _header_value(v)) for v in values)
    for name, value in (headers or {}).items():
        pair = (name, _header_value(value))
        if pair not in merged:
            merged.append(pair)
    return merged


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _malformed("header value")


def _malformed(what: str) -> GatewayError:
    log.warning("Malformed Lambda proxy response: %s", what)
    return integration_failure()


def error_summary(payload: Any) -> str:
    if isinstance(payload, dict):
        # Local only: the trace is what a developer needs (in AWS it is in the function's own log).
        trace = "".join(payload.get("stackTrace") or [])
        return f"{payload.get('errorType')}: {payload.get('errorMessage')}" + (f"\n{trace}" if trace else "")
    return "no error payload"


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers=dict(headers or {}), content_type="application/json")


def gateway_response(error: GatewayError) -> Response:
    response = json_response(status=error.status, body={"message": error.message})
    response.headers["x-amzn-ErrorType"] = error.error_type
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
