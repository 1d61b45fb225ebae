"""The local REST API: an HTTP front door that behaves like API Gateway (REST API, Lambda proxy).

Every request becomes the event API Gateway would send: routes come from ``infra.definitions``,
``authorized`` routes go through the REQUEST authorizer Lambda first, and functions are reached
only through ``lambda_client.invoke`` (locally the emulator runs the handlers in-process). The
responses API Gateway itself produces (403 Missing Authentication Token, 401, 413, 502, 504, ...)
are reproduced with their messages and ``x-amzn-ErrorType`` headers. Beside the API it serves
``/health``, ``/openapi.json``, Swagger UI at ``/docs`` (offline) and the local issuer's JWKS.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import mimetypes
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from infra.definitions import HOME_REGION, RouteDef

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from infra.local.issuer import LocalIssuer

log = logging.getLogger("stackpilot.front_door")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload quota
MAX_LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload quota
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway's default integration timeout
IDENTITY_HEADER = "authorization"  # the authorizer's identity source: method.request.header.Authorization
DEFAULT_ACCOUNT_ID = "123456789012"
RAW_HEADERS_KEY = "stackpilot.raw_headers"

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
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DOCS_HTML = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>stackpilot API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/stackpilot-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"""
# Served as a file (not inline) so the page works under a strict Content-Security-Policy.
_DOCS_INITIALIZER = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
};
"""


class _GatewayError(Exception):
    """A response API Gateway itself would produce (never the function's)."""

    def __init__(self, status: int, error_type: str, message: str | None, **headers: str) -> None:
        super().__init__(f"{status} {error_type}")
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = headers


def _missing_token() -> _GatewayError:
    return _GatewayError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")


def _unauthorized() -> _GatewayError:
    return _GatewayError(401, "UnauthorizedException", "Unauthorized")


def _access_denied() -> _GatewayError:
    return _GatewayError(403, "AccessDeniedException", "User is not authorized to access this resource")


def _authorizer_failure() -> _GatewayError:
    return _GatewayError(500, "AuthorizerConfigurationException", "Internal server error")


def _integration_failure(status: int = 502) -> _GatewayError:
    return _GatewayError(status, "InternalServerErrorException", "Internal server error")


def _too_large() -> _GatewayError:
    return _GatewayError(413, "RequestTooLarge", "Request Too Long", Connection="close")


@dataclass(frozen=True)
class _Match:
    route: RouteDef
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _Invocation:
    payload: Any
    error: bool


class FrontDoor:
    """A WSGI app that turns HTTP requests into API Gateway REST proxy events."""

    def __init__(
        self,
        routes: Sequence[RouteDef],
        *,
        function_name: Callable[[str], str],
        authorizer_function: str,
        lambda_client: Any,
        issuer: LocalIssuer | None = None,
        openapi: Callable[[], Mapping[str, Any]] | None = None,
        region: str = HOME_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        api_id: str = "local",
        stage: str = "local",
        integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        self._routes = tuple(routes)
        self._function_name = function_name
        self._authorizer_function = authorizer_function
        self._lambda = lambda_client
        self._openapi = openapi
        self._region = region
        self._account_id = account_id
        self._api_id = api_id
        self._stage = stage
        self._timeout = integration_timeout_seconds
        self._local_endpoints: dict[str, Callable[[], Response]] = {
            "/health": lambda: _json_response(200, {"status": "ok"}),
            "/openapi.json": self._openapi_document,
            "/docs": lambda: Response(_DOCS_HTML, 200, content_type="text/html; charset=utf-8"),
            "/docs/stackpilot-initializer.js": lambda: Response(
                _DOCS_INITIALIZER, 200, content_type="text/javascript; charset=utf-8"
            ),
        }
        if issuer is not None:
            self._local_endpoints["/local-issuer/.well-known/jwks.json"] = lambda: _json_response(
                200, issuer.jwks(), {"Cache-Control": "public, max-age=60"}
            )
            self._local_endpoints["/local-issuer/.well-known/openid-configuration"] = lambda: _json_response(
                200, issuer.openid_configuration()
            )
        self._assets = _swagger_assets()

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_BODY_BYTES
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        try:
            response = self._dispatch(request, request_id)
        except _GatewayError as error:
            response = _gateway_response(error)
        except Exception:
            log.exception("Front door failed on %s %s", request.method, request.path)
            response = _gateway_response(_integration_failure(500))
        response.headers["x-amzn-RequestId"] = request_id
        log.info(
            "%s %s -> %s (%.0f ms) %s",
            request.method,
            request.path,
            response.status_code,
            (time.monotonic() - started) * 1000,
            request_id,
        )
        return response(environ, start_response)

    def serve(self, host: str = "127.0.0.1", port: int = 3000) -> tuple[BaseWSGIServer, threading.Thread]:
        """Serve in a daemon thread; port 0 picks a free port (``server.port`` is the bound one).

        Stop with ``server.shutdown(); server.server_close(); thread.join()``.
        """
        server = make_server(host, port, self, threaded=True, request_handler=_RawHeadersRequestHandler)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"front-door:{server.port}",
            daemon=True,
        )
        thread.start()
        return server, thread

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, request: Request, request_id: str) -> Response:
        if request.method in ("GET", "HEAD"):
            local = self._local_endpoints.get(request.path)
            if local is not None:
                return local()
            if request.path.startswith("/docs/") and request.path[len("/docs/") :] in self._assets:
                return _static_file(self._assets[request.path[len("/docs/") :]])

        # The edge refuses an oversized payload before anything else runs.
        body = _read_body(request)
        raw_path, raw_query = _raw_target(request.environ)
        match = self._match(request.method, raw_path)
        event = self._proxy_event(request, request_id, match, raw_path, raw_query, body)

        if match.route.authorized:
            event["requestContext"]["authorizer"] = self._authorize(event)
        return self._integrate(match.route, event)

    def _match(self, method: str, raw_path: str) -> _Match:
        segments = _segments(raw_path)
        if segments is None:
            raise _missing_token()
        best: _Match | None = None
        best_rank: tuple[int, ...] = ()
        for route in self._routes:
            if route.method not in (method, "ANY"):
                continue
            params = _match_template(_segments(route.path) or [], segments)
            if params is None:
                continue
            # API Gateway prefers literal segments over {parameters}, left to right.
            rank = tuple(0 if s.startswith("{") else 1 for s in (_segments(route.path) or []))
            if best is None or rank > best_rank:
                best, best_rank = _Match(route, params), rank
        if best is None:
            raise _missing_token()  # unknown path and unknown method look the same
        return best

    # -- events -------------------------------------------------------------------------------

    def _proxy_event(
        self,
        request: Request,
        request_id: str,
        match: _Match,
        raw_path: str,
        raw_query: str,
        body: bytes,
    ) -> dict[str, Any]:
        headers, multi_headers = _request_headers(request)
        query, multi_query = _query_parameters(raw_query)
        now = datetime.now(UTC)
        host = headers.get("Host") or headers.get("host") or request.host
        event_body, is_base64 = _event_body(body)
        return {
            "resource": match.route.path,
            "path": raw_path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": match.path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": _resource_id(match.route.path),
                "resourcePath": match.route.path,
                "httpMethod": request.method,
                "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode("ascii"),
                "requestTime": _request_time(now),
                "path": f"/{self._stage}{raw_path}",
                "accountId": self._account_id,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "stage": self._stage,
                "domainPrefix": host.split(".", 1)[0],
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": _identity(request),
                "domainName": host,
                "apiId": self._api_id,
            },
            "body": event_body,
            "isBase64Encoded": is_base64,
        }

    def _method_arn(self, event: Mapping[str, Any]) -> str:
        path = str(event["path"]).lstrip("/")
        return (
            f"arn:aws:execute-api:{self._region}:{self._account_id}:"
            f"{self._api_id}/{self._stage}/{event['httpMethod']}/{path}"
        )

    # -- authorizer ---------------------------------------------------------------------------

    def _authorize(self, event: Mapping[str, Any]) -> dict[str, Any]:
        identity = [
            v for k, vs in event["multiValueHeaders"].items() if k.lower() == IDENTITY_HEADER for v in vs
        ]
        if not any(v.strip() for v in identity):
            # Identity source absent: API Gateway answers 401 without invoking the authorizer.
            raise _unauthorized()
        method_arn = self._method_arn(event)
        authorizer_event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")},
        }
        started = time.monotonic()
        try:
            outcome = self._invoke(self._authorizer_function, authorizer_event)
        except _GatewayError:
            raise _authorizer_failure() from None
        if outcome.error:
            message = outcome.payload.get("errorMessage") if isinstance(outcome.payload, dict) else None
            if message == "Unauthorized":
                raise _unauthorized()
            log.warning("Authorizer failed: %s", _error_summary(outcome.payload))
            raise _authorizer_failure()
        principal_id, context, effect = _read_policy(outcome.payload, method_arn)
        if effect != "Allow":
            raise _access_denied()
        # No authorizer cache (TTL 0): a changed role takes effect on the very next request.
        return {
            **context,
            "principalId": principal_id,
            "integrationLatency": int((time.monotonic() - started) * 1000),
        }

    # -- integration --------------------------------------------------------------------------

    def _integrate(self, route: RouteDef, event: Mapping[str, Any]) -> Response:
        outcome = self._invoke(self._function_name(route.function), event)
        if outcome.error:
            log.warning("%s failed: %s", route.function, _error_summary(outcome.payload))
            raise _integration_failure()
        return _proxy_response(outcome.payload)

    def _invoke(self, function_name: str, event: Mapping[str, Any]) -> _Invocation:
        payload = json.dumps(event).encode("utf-8")
        if len(payload) > MAX_LAMBDA_PAYLOAD_BYTES:
            raise _too_large()
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                result = self._lambda.invoke(
                    FunctionName=function_name, InvocationType="RequestResponse", Payload=payload
                )
                outcome["raw"] = result["Payload"].read()
                outcome["error"] = bool(result.get("FunctionError"))
            except Exception as error:
                outcome["exception"] = error

        worker = threading.Thread(target=call, name=f"invoke:{function_name}", daemon=True)
        worker.start()
        worker.join(self._timeout)
        if worker.is_alive():
            raise _GatewayError(504, "IntegrationTimeout", "Endpoint request timed out")
        if "exception" in outcome:
            log.error("Invoking %s failed: %r", function_name, outcome["exception"])
            raise _integration_failure(500)
        try:
            return _Invocation(json.loads(outcome["raw"] or b"null"), outcome["error"])
        except ValueError:
            return _Invocation(None, True)

    def _openapi_document(self) -> Response:
        if self._openapi is None:
            return _json_response(404, {"message": "No OpenAPI document configured"})
        return _json_response(200, self._openapi())


# -- helpers: requests --------------------------------------------------------------------------


class _RawHeadersRequestHandler(WSGIRequestHandler):
    """Keeps the request's headers as sent (case, order, repeats), which WSGI's environ loses."""

    server_version = "stackpilot-front-door"

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        environ[RAW_HEADERS_KEY] = list(self.headers.items())
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The front door writes its own access log (with the request id)."""


def _read_body(request: Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _too_large()
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise _too_large() from None


def _raw_target(environ: Mapping[str, Any]) -> tuple[str, str]:
    """The path as sent (still percent-encoded, as API Gateway's ``path`` is) and the raw query."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        target = urlsplit(_from_wsgi(str(raw)))
        return target.path or "/", target.query
    return quote(_from_wsgi(environ.get("PATH_INFO", "/")), safe="/"), _from_wsgi(
        environ.get("QUERY_STRING", "")
    )


def _from_wsgi(value: str) -> str:
    # WSGI carries request-line bytes as latin-1 code points.
    return value.encode("latin-1").decode("utf-8", "replace")


def _segments(path: str) -> list[str] | None:
    # Strict: "/accounts/" is not "/accounts" (if API Gateway is laxer, only the local side refuses).
    if not path.startswith("/"):
        return None
    parts = path[1:].split("/") if path != "/" else []
    return None if any(p == "" for p in parts) else parts


def _match_template(template: list[str], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):  # greedy {proxy+}
            if i >= len(segments):
                return None
            params[part[1:-2]] = unquote("/".join(segments[i:]))
            return params
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = unquote(segments[i])
        elif part != unquote(segments[i]):
            return None
    return params if len(template) == len(segments) else None


def _request_headers(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    raw: list[tuple[str, str]] = request.environ.get(RAW_HEADERS_KEY) or list(request.headers.items())
    multi: dict[str, list[str]] = {}
    for name, value in raw:
        multi.setdefault(name, []).append(value)
    # API Gateway adds what its edge knows about the connection.
    client_ip = request.remote_addr or "127.0.0.1"
    forwarded = [v for k, vs in multi.items() if k.lower() == "x-forwarded-for" for v in vs]
    for key in [
        k for k in multi if k.lower() in ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto")
    ]:
        del multi[key]
    multi["X-Forwarded-For"] = [", ".join([*forwarded, client_ip])]
    multi["X-Forwarded-Port"] = [str(request.environ.get("SERVER_PORT", "80"))]
    multi["X-Forwarded-Proto"] = [request.scheme]
    if not any(k.lower() == "x-amzn-trace-id" for k in multi):
        multi["X-Amzn-Trace-Id"] = [f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"]
    return {k: vs[-1] for k, vs in multi.items()}, multi


def _query_parameters(raw_query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        multi.setdefault(key, []).append(value)
    if not multi:
        return None, None
    return {k: vs[-1] for k, vs in multi.items()}, multi


def _event_body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _identity(request: Request) -> dict[str, Any]:
    return {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": request.remote_addr or "127.0.0.1",
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": request.headers.get("User-Agent"),
        "user": None,
        "apiKey": None,
        "apiKeyId": None,
        "clientCert": None,
    }


def _request_time(now: datetime) -> str:
    return f"{now:%d}/{_MONTHS[now.month - 1]}/{now:%Y:%H:%M:%S} +0000"


def _resource_id(resource: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, resource).hex[:6]


# -- helpers: authorizer policy -----------------------------------------------------------------


def _read_policy(output: Any, method_arn: str) -> tuple[str, dict[str, str], str | None]:
    """principalId, the context as API Gateway passes it on (strings), and the policy's effect."""
    if not isinstance(output, dict):
        raise _authorizer_failure()
    principal_id = output.get("principalId")
    policy = output.get("policyDocument")
    context = output.get("context") or {}
    if not isinstance(principal_id, str) or not isinstance(policy, dict) or not isinstance(context, dict):
        log.warning("Authorizer answered without principalId/policyDocument")
        raise _authorizer_failure()
    flat: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, bool):
            flat[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            flat[key] = str(value)
        else:  # API Gateway refuses objects and arrays in an authorizer context
            log.warning("Authorizer context %r is not a string, number or boolean", key)
            raise _authorizer_failure()
    return principal_id, flat, _policy_effect(policy, method_arn)


def _policy_effect(policy: Mapping[str, Any], method_arn: str) -> str | None:
    """``Deny`` if any statement denies, else ``Allow`` if one allows, else ``None`` (implicit deny)."""
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise _authorizer_failure()
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            raise _authorizer_failure()
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if not any(_arn_glob(a, "execute-api:Invoke", ignore_case=True) for a in actions):
            continue
        if not any(_arn_glob(r, method_arn) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        allowed = allowed or statement.get("Effect") == "Allow"
    return "Allow" if allowed else None


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _arn_glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


# -- helpers: responses -------------------------------------------------------------------------


def _proxy_response(result: Any) -> Response:
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


def _malformed(what: str) -> _GatewayError:
    log.warning("Malformed Lambda proxy response: %s", what)
    return _integration_failure()


def _error_summary(payload: Any) -> str:
    if isinstance(payload, dict):
        # Local only: the trace is what a developer needs (in AWS it is in the function's own log).
        trace = "".join(payload.get("stackTrace") or [])
        return f"{payload.get('errorType')}: {payload.get('errorMessage')}" + (f"\n{trace}" if trace else "")
    return "no error payload"


def _json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers=dict(headers or {}), content_type="application/json")


def _gateway_response(error: _GatewayError) -> Response:
    response = _json_response(status=error.status, body={"message": error.message})
    response.headers["x-amzn-ErrorType"] = error.error_type
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _swagger_assets() -> dict[str, Path]:
    """Swagger UI's files from the swagger_ui_bundle package: served locally, no CDN."""
    from swagger_ui_bundle import swagger_ui_path

    root = Path(str(swagger_ui_path))
    return {p.name: p for p in root.iterdir() if p.is_file() and p.suffix in (".js", ".css", ".png", ".map")}


def _static_file(path: Path) -> Response:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    response = Response(path.read_bytes(), 200, content_type=content_type)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
