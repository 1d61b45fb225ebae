"""An HTTP request as the event API Gateway's REST API sends a Lambda proxy integration: the path as
sent, headers (case, order and repeats kept), query parameters, the body (base64 when binary), the
identity and the request time."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request

from infra.local.front_door.responses import too_large

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload quota
RAW_HEADERS_KEY = "stackpilot.raw_headers"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class RawHeadersRequestHandler(WSGIRequestHandler):
    """Keeps the request's headers as sent (case, order, repeats), which WSGI's environ loses."""

    server_version = "stackpilot-front-door"

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        environ[RAW_HEADERS_KEY] = list(self.headers.items())
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The front door writes its own access log (with the request id)."""


def read_body(request: Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large()
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large() from None


def raw_target(environ: Mapping[str, Any]) -> tuple[str, str]:
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


def path_segments(path: str) -> list[str] | None:
    # Strict: "/accounts/" is not "/accounts" (if API Gateway is laxer, only the local side refuses).
    if not path.startswith("/"):
        return None
    parts = path[1:].split("/") if path != "/" else []
    return None if any(p == "" for p in parts) else parts


def match_template(template: list[str], segments: list[str]) -> dict[str, str] | None:
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


def request_headers(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
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


def query_parameters(raw_query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        multi.setdefault(key, []).append(value)
    if not multi:
        return None, None
    return {k: vs[-1] for k, vs in multi.items()}, multi


def proxy_body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def caller_identity(request: Request) -> dict[str, Any]:
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


def request_time(now: datetime) -> str:
    return f"{now:%d}/{_MONTHS[now.month - 1]}/{now:%Y:%H:%M:%S} +0000"


def resource_id(resource: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, resource).hex[:6]
