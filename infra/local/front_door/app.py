"""The front door's WSGI app: a request is matched to a route, turned into the proxy event, checked
by the REQUEST authorizer Lambda when the route is authorized, and handed to the route's function
through ``lambda_client.invoke`` (with API Gateway's payload quota and integration timeout)."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from infra.definitions import HOME_REGION, RouteDef
from infra.local.front_door.docs import DOCS_HTML, DOCS_INITIALIZER, static_file, swagger_assets
from infra.local.front_door.events import (
    MAX_BODY_BYTES,
    RawHeadersRequestHandler,
    caller_identity,
    match_template,
    path_segments,
    proxy_body,
    query_parameters,
    raw_target,
    read_body,
    request_headers,
    request_time,
    resource_id,
)
from infra.local.front_door.policy import read_policy
from infra.local.front_door.responses import (
    GatewayError,
    access_denied,
    authorizer_failure,
    error_summary,
    gateway_response,
    integration_failure,
    json_response,
    missing_token,
    proxy_response,
    too_large,
    unauthorized,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from infra.local.issuer import LocalIssuer

log = logging.getLogger("stackpilot.front_door")

MAX_LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload quota
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway's default integration timeout
IDENTITY_HEADER = "authorization"  # the authorizer's identity source: method.request.header.Authorization
DEFAULT_ACCOUNT_ID = "123456789012"


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
            "/health": lambda: json_response(200, {"status": "ok"}),
            "/openapi.json": self._openapi_document,
            "/docs": lambda: Response(DOCS_HTML, 200, content_type="text/html; charset=utf-8"),
            "/docs/stackpilot-initializer.js": lambda: Response(
                DOCS_INITIALIZER, 200, content_type="text/javascript; charset=utf-8"
            ),
        }
        if issuer is not None:
            self._local_endpoints["/local-issuer/.well-known/jwks.json"] = lambda: json_response(
                200, issuer.jwks(), {"Cache-Control": "public, max-age=60"}
            )
            self._local_endpoints["/local-issuer/.well-known/openid-configuration"] = lambda: json_response(
                200, issuer.openid_configuration()
            )
        self._assets = swagger_assets()

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_BODY_BYTES
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        try:
            response = self._dispatch(request, request_id)
        except GatewayError as error:
            response = gateway_response(error)
        except Exception:
            log.exception("Front door failed on %s %s", request.method, request.path)
            response = gateway_response(integration_failure(500))
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
        server = make_server(host, port, self, threaded=True, request_handler=RawHeadersRequestHandler)
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
                return static_file(self._assets[request.path[len("/docs/") :]])

        # The edge refuses an oversized payload before anything else runs.
        body = read_body(request)
        raw_path, raw_query = raw_target(request.environ)
        match = self._match(request.method, raw_path)
        event = self._proxy_event(request, request_id, match, raw_path, raw_query, body)

        if match.route.authorized:
            event["requestContext"]["authorizer"] = self._authorize(event)
        return self._integrate(match.route, event)

    def _match(self, method: str, raw_path: str) -> _Match:
        segments = path_segments(raw_path)
        if segments is None:
            raise missing_token()
        best: _Match | None = None
        best_rank: tuple[int, ...] = ()
        for route in self._routes:
            if route.method not in (method, "ANY"):
                continue
            params = match_template(path_segments(route.path) or [], segments)
            if params is None:
                continue
            # API Gateway prefers literal segments over {parameters}, left to right.
            rank = tuple(0 if s.startswith("{") else 1 for s in (path_segments(route.path) or []))
            if best is None or rank > best_rank:
                best, best_rank = _Match(route, params), rank
        if best is None:
            raise missing_token()  # unknown path and unknown method look the same
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
        headers, multi_headers = request_headers(request)
        query, multi_query = query_parameters(raw_query)
        now = datetime.now(UTC)
        host = headers.get("Host") or headers.get("host") or request.host
        event_body, is_base64 = proxy_body(body)
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
                "resourceId": resource_id(match.route.path),
                "resourcePath": match.route.path,
                "httpMethod": request.method,
                "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode("ascii"),
                "requestTime": request_time(now),
                "path": f"/{self._stage}{raw_path}",
                "accountId": self._account_id,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "stage": self._stage,
                "domainPrefix": host.split(".", 1)[0],
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": caller_identity(request),
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
            raise unauthorized()
        method_arn = self._method_arn(event)
        authorizer_event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")},
        }
        started = time.monotonic()
        try:
            outcome = self._invoke(self._authorizer_function, authorizer_event)
        except GatewayError:
            raise authorizer_failure() from None
        if outcome.error:
            message = outcome.payload.get("errorMessage") if isinstance(outcome.payload, dict) else None
            if message == "Unauthorized":
                raise unauthorized()
            log.warning("Authorizer failed: %s", error_summary(outcome.payload))
            raise authorizer_failure()
        principal_id, context, effect = read_policy(outcome.payload, method_arn)
        if effect != "Allow":
            raise access_denied()
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
            log.warning("%s failed: %s", route.function, error_summary(outcome.payload))
            raise integration_failure()
        return proxy_response(outcome.payload)

    def _invoke(self, function_name: str, event: Mapping[str, Any]) -> _Invocation:
        payload = json.dumps(event).encode("utf-8")
        if len(payload) > MAX_LAMBDA_PAYLOAD_BYTES:
            raise too_large()
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
            raise GatewayError(504, "IntegrationTimeout", "Endpoint request timed out")
        if "exception" in outcome:
            log.error("Invoking %s failed: %r", function_name, outcome["exception"])
            raise integration_failure(500)
        try:
            return _Invocation(json.loads(outcome["raw"] or b"null"), outcome["error"])
        except ValueError:
            return _Invocation(None, True)

    def _openapi_document(self) -> Response:
        if self._openapi is None:
            return json_response(404, {"message": "No OpenAPI document configured"})
        return json_response(200, self._openapi())
