"""The local front door over real HTTP: API Gateway's proxy events, authorizer and error answers.

Functions are reached through a real boto3 Lambda client whose transport runs the handler in this
process (what the local cloud does behind its endpoint), so the front door sees boto3's own
``invoke`` response: ``StatusCode``, a streaming ``Payload`` and ``FunctionError`` on failure.
The authorizer is the real one, fetching the local issuer's JWKS over HTTP from the front door.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import importlib
import io
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import (
    ApiGatewayAuthorizerRequest,
    APIGatewayProxyEventModel,
)
from botocore.awsrequest import AWSResponse
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from functions.shared.logic.access import ROUTE_ACCESS, Access
from functions.shared.models.principal import Role
from functions.tenancy.exceptions import InvalidToken, KeySetUnavailable
from functions.tenancy.handlers import authorizer as authorizer_handler
from functions.tenancy.integrations.jwks import JwksKeyResolver
from functions.tenancy.logic.authorize import AuthorizerDeps, TokenVerifier
from functions.tenancy.models.org import Member
from functions.tenancy.settings import get_authorizer_settings, get_settings
from infra.definitions import RouteDef
from infra.local.front_door import MAX_BODY_BYTES, FrontDoor
from infra.local.issuer import LocalIssuer
from infra.local.openapi import build_openapi
from tests.fakes.accounts import FakeClock
from tests.fakes.tenancy import InMemoryTenancy, StaticPepper
from tests.fixtures import front_door_handlers

FIXTURES = "tests.fixtures.front_door_handlers"
HANDLERS = {
    "echo": f"{FIXTURES}.echo",
    "boom": f"{FIXTURES}.boom",
    "malformed": f"{FIXTURES}.malformed",
    "binary": f"{FIXTURES}.binary",
    "slow": f"{FIXTURES}.slow",
    "widgets": f"{FIXTURES}.lambda_handler",
    "deny-authorizer": f"{FIXTURES}.deny_authorizer",
    "narrow-authorizer": f"{FIXTURES}.narrow_authorizer",
    "broken-authorizer": f"{FIXTURES}.broken_authorizer",
    "recording-authorizer": f"{FIXTURES}.recording_authorizer",
    "tenancy-authorizer": "functions.tenancy.handlers.authorizer.lambda_handler",
}
ROUTES = (
    RouteDef("POST", "/echo", "echo", "Echo the event", authorized=False),
    RouteDef("GET", "/echo", "echo", "Echo the event", authorized=False),
    RouteDef("GET", "/items/{item_id}", "echo", "Echo with a path parameter", authorized=False),
    RouteDef("GET", "/items/special", "echo", "A literal beside a parameter", authorized=False),
    RouteDef("GET", "/private/echo", "echo", "Echo behind the authorizer"),
    RouteDef("DELETE", "/private/echo", "echo", "Echo behind the authorizer"),
    RouteDef("GET", "/boom", "boom", "A function that raises", authorized=False),
    RouteDef("GET", "/malformed", "malformed", "A function that answers nonsense", authorized=False),
    RouteDef("GET", "/binary", "binary", "A binary answer", authorized=False),
    RouteDef("GET", "/slow", "slow", "A function slower than the integration timeout", authorized=False),
    RouteDef("POST", "/widgets", "widgets", "Create a widget"),
    RouteDef("GET", "/widgets/{widget_id}", "widgets", "Read a widget"),
)
ORG = "org_acme"


def function_name(key: str) -> str:
    return f"stackpilot-test-{key}"


# -- a boto3 Lambda client whose transport runs handlers in this process -------------------------


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


class InProcessLambda:
    """Answers boto3 ``Invoke`` calls by running the handler here, with Lambda's error contract."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "lambda", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.client.meta.events.register("before-send.lambda.Invoke", self._invoke)
        self.invocations: list[str] = []

    def _invoke(self, request: Any, **_: Any) -> AWSResponse:
        name = unquote(urlsplit(request.url).path.split("/")[3])
        self.invocations.append(name)
        key = name.removeprefix("stackpilot-test-")
        module, _, attribute = HANDLERS[key].rpartition(".")
        handler = getattr(importlib.import_module(module), attribute)
        context = LambdaContext(name, f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
        headers = {"x-amz-executed-version": "$LATEST", "x-amzn-requestid": context.aws_request_id}
        try:
            payload = json.dumps(handler(json.loads(request.body or b"{}"), context)).encode()
        except Exception as error:
            headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            ).encode()
        headers["content-length"] = str(len(payload))
        return AWSResponse(request.url, 200, headers, io.BytesIO(payload))


# -- serving -------------------------------------------------------------------------------------


@dataclass
class Served:
    door: FrontDoor
    port: int

    def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for name, value in headers or []:
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def json(self, method: str, target: str, **kwargs: Any) -> tuple[int, Any]:
        status, _, body = self.request(method, target, **kwargs)
        return status, json.loads(body)


@contextlib.contextmanager
def serving(door: FrontDoor) -> Iterator[Served]:
    server, thread = door.serve("127.0.0.1", 0)
    try:
        yield Served(door, server.port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# The authorizer's stores, in memory: this module is about the front door, not DynamoDB (the
# workflow tests run the whole authorizer against the local cloud).
MEMBERS = InMemoryTenancy()
TEST_ROUTES = {
    ("GET", "/private/echo"): Access(Role.VIEWER, "echo.read", mutating=False),
    ("DELETE", "/private/echo"): Access(Role.ADMIN, "echo.delete", mutating=True),
    ("POST", "/widgets"): Access(Role.CONTRIBUTOR, "widget.create", mutating=True),
    ("GET", "/widgets/{widget_id}"): Access(Role.VIEWER, "widget.read", mutating=False),
}


def member_token(issuer: LocalIssuer, role: str, user_id: str = "local-user") -> str:
    """A token for a member of ORG whose role, looked up by the authorizer, is ``role``."""
    now = datetime.now(UTC)
    MEMBERS.members[(ORG, user_id)] = Member(
        org_id=ORG, user_id=user_id, role=Role(role), added_by="test", added_at=now, updated_at=now
    )
    return issuer.mint(ORG, user_id)


def reset_authorizer_caches() -> None:
    get_settings.cache_clear()
    get_authorizer_settings.cache_clear()
    # The module currently imported: a local cloud started in this process re-imports handlers.
    module = importlib.import_module(authorizer_handler.__name__)

    def deps() -> AuthorizerDeps:
        s = get_authorizer_settings()
        keys = JwksKeyResolver(s.jwks_url, cache_seconds=s.jwks_cache_seconds)
        verifier = TokenVerifier(keys, issuer=s.jwt_issuer, audience=s.jwt_audience)
        return AuthorizerDeps(
            verifier=verifier, keys=MEMBERS, pepper=StaticPepper(), audit=MEMBERS.audit, clock=FakeClock()
        )

    module._deps = deps  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def lambdas() -> InProcessLambda:
    return InProcessLambda()


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("state"))


def front_door(lambdas: InProcessLambda, issuer: LocalIssuer, authorizer: str, **options: Any) -> FrontDoor:
    widget_routes = [r for r in ROUTES if r.function == "widgets"]
    return FrontDoor(
        ROUTES,
        function_name=function_name,
        authorizer_function=function_name(authorizer),
        lambda_client=lambdas.client,
        issuer=issuer,
        openapi=lambda: build_openapi(widget_routes, handler_of=HANDLERS.__getitem__),
        **options,
    )


@pytest.fixture(scope="module")
def api(lambdas: InProcessLambda, issuer: LocalIssuer) -> Iterator[Served]:
    """The front door with the real authorizer, configured like the local cloud configures it."""
    with (
        serving(front_door(lambdas, issuer, "tenancy-authorizer")) as served,
        pytest.MonkeyPatch.context() as env,
    ):
        issuer.base_url = f"http://127.0.0.1:{served.port}"
        env.setenv("JWT_ISSUER", issuer.issuer_url)
        env.setenv("JWT_AUDIENCE", issuer.audience)
        env.setenv("JWKS_URL", issuer.jwks_url)
        for route, access in TEST_ROUTES.items():
            env.setitem(ROUTE_ACCESS, route, access)
        reset_authorizer_caches()
        yield served
        reset_authorizer_caches()


@pytest.fixture(autouse=True)
def clear_received() -> None:
    front_door_handlers.received.clear()


def echoed(body: bytes) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(body)
    return event


# -- boto3's invoke response, as the front door reads it -----------------------------------------


def test_the_lambda_client_answers_like_boto3_invoke(lambdas: InProcessLambda) -> None:
    ok = lambdas.client.invoke(FunctionName=function_name("echo"), Payload=b'{"path": "/x"}')
    failed = lambdas.client.invoke(FunctionName=function_name("boom"), Payload=b"{}")

    assert ok["StatusCode"] == 200 and "FunctionError" not in ok
    assert json.loads(json.loads(ok["Payload"].read())["body"]) == {"path": "/x"}
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "the function failed")


# -- proxy events --------------------------------------------------------------------------------


def test_the_proxy_event_carries_the_raw_body_query_and_headers(api: Served) -> None:
    # GIVEN a request with an exact body (whitespace, unicode), repeated query keys and headers
    raw = '  {"name": "Zoë ☃",\n\t"n": 1.50}  \r\n'.encode()
    target = "/echo?a=1&a=2&b=x+y&c=%2B%26&empty="

    # WHEN it goes through the front door
    status, headers, body = api.request(
        "POST",
        target,
        body=raw,
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("x-lower-case", "kept"),
            ("User-Agent", "front-door-test"),
        ],
    )

    # THEN the function got API Gateway's REST proxy event
    assert status == 200
    event = echoed(body)
    APIGatewayProxyEventModel.model_validate(event)
    assert event["body"] == raw.decode("utf-8") and event["isBase64Encoded"] is False
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/echo", "/echo", "POST")
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "c": "+&", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "a": ["1", "2"],
        "b": ["x y"],
        "c": ["+&"],
        "empty": [""],
    }
    assert event["headers"]["x-lower-case"] == "kept"
    assert event["headers"]["X-Multi"] == "two"
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["pathParameters"] is None and event["stageVariables"] is None
    context = event["requestContext"]
    assert context["requestId"] == headers["x-amzn-RequestId"]
    assert (context["stage"], context["apiId"], context["path"]) == ("local", "local", "/local/echo")
    assert (context["resourcePath"], context["httpMethod"]) == ("/echo", "POST")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "front-door-test"
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 30
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["requestTime"])
    assert "authorizer" not in context


def test_a_request_without_body_or_query_has_nulls(api: Served) -> None:
    status, _, body = api.request("GET", "/echo")

    event = echoed(body)
    assert status == 200
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None


def test_a_body_that_is_not_utf8_arrives_base64_encoded(api: Served) -> None:
    raw = b"\x89PNG\r\n\x1a\n\x00\xff\xfe"

    status, _, body = api.request("POST", "/echo", body=raw, headers=[("Content-Type", "image/png")])

    event = echoed(body)
    assert status == 200 and event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_path_parameters_are_decoded_while_the_path_stays_as_sent(api: Served) -> None:
    status, _, body = api.request("GET", "/items/a%20b%2Fc%C3%A9")

    event = echoed(body)
    assert status == 200
    assert event["resource"] == "/items/{item_id}"
    assert event["path"] == "/items/a%20b%2Fc%C3%A9"
    assert event["pathParameters"] == {"item_id": "a b/cé"}


def test_a_literal_segment_wins_over_a_parameter(api: Served) -> None:
    status, _, body = api.request("GET", "/items/special")

    event = echoed(body)
    assert status == 200 and event["resource"] == "/items/special" and event["pathParameters"] is None


# -- API Gateway's own answers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/nope"), ("DELETE", "/echo"), ("GET", "/"), ("GET", "/echo/"), ("GET", "/items/")],
)
def test_an_unknown_route_is_missing_authentication_token(api: Served, method: str, target: str) -> None:
    status, headers, body = api.request(method, target)

    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert headers["x-amzn-RequestId"]
    assert front_door_handlers.received == []


@pytest.mark.parametrize("target", ["/boom", "/malformed"])
def test_a_failing_or_malformed_function_is_a_502(api: Served, target: str) -> None:
    status, headers, body = api.request("GET", target)

    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    assert headers["x-amzn-RequestId"]


def test_the_proxy_response_is_mapped_back(api: Served) -> None:
    status, headers, body = api.request("GET", "/binary")

    assert status == 201
    assert body == b"\x89PNG\x00\xff"
    assert headers["Content-Type"] == "image/png"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert headers["X-Single"] == "yes"
    # A function cannot set Content-Length itself: API Gateway renames it.
    assert headers["x-amzn-Remapped-Content-Length"] == "999"
    assert headers["Content-Length"] == str(len(body))


def test_a_declared_body_over_10_mb_is_refused_before_anything_runs(
    api: Served, lambdas: InProcessLambda
) -> None:
    # GIVEN a request announcing a body one byte over API Gateway's quota
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    before = len(lambdas.invocations)
    try:
        conn.putrequest("POST", "/echo")
        conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        conn.endheaders()
        # WHEN the front door sees the headers THEN it answers 413 without reading or invoking
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read()) == {"message": "Request Too Long"}
    finally:
        conn.close()
    assert len(lambdas.invocations) == before


def test_an_event_over_lambdas_6_mb_payload_is_refused(api: Served, lambdas: InProcessLambda) -> None:
    before = len(lambdas.invocations)

    status, _, _ = api.request("POST", "/echo", body=b"x" * (7 * 1024 * 1024))

    assert status == 413
    assert len(lambdas.invocations) == before


def test_a_function_slower_than_the_integration_timeout_is_a_504(
    lambdas: InProcessLambda, issuer: LocalIssuer
) -> None:
    door = front_door(lambdas, issuer, "tenancy-authorizer", integration_timeout_seconds=0.3)
    with serving(door) as served:
        status, body = served.json("GET", "/slow")

    assert status == 504
    assert body == {"message": "Endpoint request timed out"}


# -- local endpoints -----------------------------------------------------------------------------


def test_health(api: Served) -> None:
    assert api.json("GET", "/health") == (200, {"status": "ok"})


def test_openapi_document_lists_routed_operations_with_bearer_security(api: Served) -> None:
    status, document = api.json("GET", "/openapi.json")

    assert status == 200
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/widgets", "/widgets/{widget_id}"}
    create = document["paths"]["/widgets"]["post"]
    assert create["security"] == [{"bearerAuth": []}]
    assert create["summary"]
    assert "NewWidget" in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def test_docs_serve_swagger_ui_from_local_assets(api: Served) -> None:
    # GIVEN the docs page
    status, headers, body = api.request("GET", "/docs")
    html = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")

    # THEN every asset it references is served here (no CDN), and the UI reads /openapi.json
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/docs/") for a in assets)
    for asset in assets:
        asset_status, asset_headers, asset_body = api.request("GET", asset)
        assert asset_status == 200, asset
        assert asset_body
        if asset.endswith(".js"):
            assert "javascript" in asset_headers["Content-Type"]
    _, _, initializer = api.request("GET", "/docs/stackpilot-initializer.js")
    assert b'url: "/openapi.json"' in initializer


def test_docs_do_not_serve_files_outside_the_bundle(api: Served) -> None:
    for target in ["/docs/../definitions.py", "/docs/%2e%2e/%2e%2e/etc/passwd", "/docs/index.j2"]:
        status, _, _ = api.request("GET", target)
        assert status == 403


def test_the_local_issuer_publishes_its_keys(api: Served, issuer: LocalIssuer) -> None:
    status, jwks = api.json("GET", "/local-issuer/.well-known/jwks.json")
    _, config = api.json("GET", "/local-issuer/.well-known/openid-configuration")

    assert status == 200
    assert [k["kid"] for k in jwks["keys"]] == [issuer.kid]
    assert all("d" not in k for k in jwks["keys"])  # public parts only
    assert config["issuer"] == issuer.issuer_url and config["jwks_uri"] == issuer.jwks_url


# -- the authorizer ------------------------------------------------------------------------------


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def test_a_valid_token_reaches_the_function_with_the_callers_org_and_role(
    api: Served, issuer: LocalIssuer
) -> None:
    token = member_token(issuer, "contributor", "user-42")

    status, _, body = api.request("GET", "/private/echo", headers=bearer(token))

    assert status == 200
    authorizer = echoed(body)["requestContext"]["authorizer"]
    assert {k: authorizer[k] for k in ("org_id", "role", "user_id", "principal_type", "principalId")} == {
        "org_id": ORG,
        "role": "contributor",
        "user_id": "user-42",
        "principal_type": "user",
        "principalId": "user-42",
    }


def test_the_header_name_and_scheme_may_be_lowercase(api: Served, issuer: LocalIssuer) -> None:
    token = member_token(issuer, "viewer")

    status, _, _ = api.request("GET", "/private/echo", headers=[("authorization", f"bearer {token}")])

    assert status == 200


def test_a_new_role_takes_effect_on_the_next_request(api: Served, issuer: LocalIssuer) -> None:
    roles = []
    for role in ("viewer", "owner"):
        _, _, body = api.request("GET", "/private/echo", headers=bearer(member_token(issuer, role)))
        roles.append(echoed(body)["requestContext"]["authorizer"]["role"])

    assert roles == ["viewer", "owner"]


def test_a_real_powertools_function_behind_the_authorizer(api: Served, issuer: LocalIssuer) -> None:
    headers = [*bearer(member_token(issuer, "admin")), ("Content-Type", "application/json")]

    read = api.json("GET", "/widgets/w-9", headers=headers)
    created = api.json("POST", "/widgets", headers=headers, body=b'{"name": "gear"}')
    invalid_status, _, _ = api.request("POST", "/widgets", headers=headers, body=b'{"name": "", "org": "x"}')

    assert read == (200, {"widget_id": "w-9", "name": f"owned by {ORG}"})
    assert created == (200, {"widget_id": "w-1", "name": "gear"})
    assert invalid_status == 422


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([], id="no_authorization_header"),
        pytest.param([("Authorization", "")], id="empty_authorization_header"),
        pytest.param([("Authorization", "Basic dXNlcjpwYXNz")], id="basic_credentials"),
        pytest.param([("Authorization", "Bearer not.a.token")], id="garbage_token"),
    ],
)
def test_without_a_valid_credential_the_answer_is_401(api: Served, headers: list[tuple[str, str]]) -> None:
    status, response_headers, body = api.request("GET", "/private/echo", headers=headers)

    assert status == 401
    assert json.loads(body) == {"message": "Unauthorized"}
    assert response_headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert front_door_handlers.received == []


def test_tokens_the_issuer_did_not_vouch_for_are_401(
    api: Served, issuer: LocalIssuer, tmp_path: Path
) -> None:
    # GIVEN tokens that are well formed but expired, for another API, or signed by a stranger
    stranger = LocalIssuer(tmp_path, base_url=issuer.base_url)
    now = int(time.time())
    tokens = {
        "expired": issuer.sign(
            {
                "iss": issuer.issuer_url,
                "aud": issuer.audience,
                "sub": "u",
                "iat": now - 7200,
                "exp": now - 3600,
                "org_id": ORG,
                "role": "owner",
            }
        ),
        "other_audience": issuer.sign(
            {
                "iss": issuer.issuer_url,
                "aud": "another-api",
                "sub": "u",
                "iat": now,
                "exp": now + 60,
                "org_id": ORG,
                "role": "owner",
            }
        ),
        "stranger_key_same_issuer_url": stranger.mint(ORG),
        "stranger_key_claiming_our_kid": stranger.sign(
            {
                "iss": issuer.issuer_url,
                "aud": issuer.audience,
                "sub": "u",
                "iat": now,
                "exp": now + 60,
                "org_id": ORG,
                "role": "owner",
            },
            headers={"kid": issuer.kid},
        ),
    }

    # THEN each is refused with API Gateway's 401
    for name, token in tokens.items():
        status, body = api.json("GET", "/private/echo", headers=bearer(token))
        assert (status, body) == (401, {"message": "Unauthorized"}), name


def test_an_unreachable_jwks_is_a_500_not_a_401(
    api: Served, issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the authorizer configured with a JWKS nobody serves
    monkeypatch.setenv("JWKS_URL", "http://127.0.0.1:9/.well-known/jwks.json")
    reset_authorizer_caches()
    try:
        # WHEN a well-formed token arrives
        status, headers, body = api.request(
            "GET", "/private/echo", headers=bearer(member_token(issuer, "owner"))
        )
    finally:
        monkeypatch.undo()
        reset_authorizer_caches()

    # THEN the client is not told its token is bad: the failure is ours
    assert status == 500
    assert json.loads(body) == {"message": "Internal server error"}
    assert headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"


def test_an_explicit_deny_is_403(lambdas: InProcessLambda, issuer: LocalIssuer) -> None:
    with serving(front_door(lambdas, issuer, "deny-authorizer")) as served:
        status, headers, body = served.request("GET", "/private/echo", headers=bearer("anything"))

    assert status == 403
    assert json.loads(body) == {"message": "User is not authorized to access this resource"}
    assert headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert front_door_handlers.received == []


def test_a_policy_that_does_not_cover_the_method_is_403(
    lambdas: InProcessLambda, issuer: LocalIssuer
) -> None:
    with serving(front_door(lambdas, issuer, "narrow-authorizer")) as served:
        allowed, _, _ = served.request("GET", "/private/echo", headers=bearer("anything"))
        denied, _, _ = served.request("DELETE", "/private/echo", headers=bearer("anything"))

    assert (allowed, denied) == (200, 403)


def test_a_broken_authorizer_is_a_500(lambdas: InProcessLambda, issuer: LocalIssuer) -> None:
    with serving(front_door(lambdas, issuer, "broken-authorizer")) as served:
        status, headers, body = served.request("GET", "/private/echo", headers=bearer("anything"))

    assert status == 500
    assert json.loads(body) == {"message": "Internal server error"}
    assert headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"


def test_the_authorizer_gets_a_request_event_and_its_context_reaches_the_function(
    lambdas: InProcessLambda, issuer: LocalIssuer
) -> None:
    # GIVEN an authorizer that records its event and answers numbers and booleans in its context
    with serving(front_door(lambdas, issuer, "recording-authorizer")) as served:
        # WHEN an authorized route is called
        status, _, body = served.request("GET", "/private/echo?x=1", headers=bearer("anything"))

    # THEN the authorizer saw API Gateway's REQUEST authorizer event
    authorizer_event, _ = front_door_handlers.received
    ApiGatewayAuthorizerRequest.model_validate(authorizer_event)
    assert authorizer_event["type"] == "REQUEST"
    assert (
        authorizer_event["methodArn"]
        == "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/private/echo"
    )
    assert authorizer_event["queryStringParameters"] == {"x": "1"}
    assert "body" not in authorizer_event
    # AND the function sees the context as strings, with the principal
    assert status == 200
    context = echoed(body)["requestContext"]["authorizer"]
    assert {k: context[k] for k in ("org_id", "admin", "quota", "principalId")} == {
        "org_id": "org_acme",
        "admin": "true",
        "quota": "3",
        "principalId": "user-7",
    }
    assert isinstance(context["integrationLatency"], int)


# -- the JWKS adapter against a real HTTP endpoint -----------------------------------------------


@contextlib.contextmanager
def jwks_endpoint(document: dict[str, Any]) -> Iterator[str]:
    """Serves ``document`` (mutable: tests rotate keys in it) as a JWKS."""

    def app(environ: Any, start_response: Any) -> Any:
        return Response(json.dumps(document), content_type="application/json")(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_rotated_key_is_picked_up_on_an_unknown_kid(tmp_path: Path) -> None:
    # GIVEN an issuer that publishes one key, then rotates to another
    old, new = LocalIssuer(tmp_path / "old"), LocalIssuer(tmp_path / "new")
    document = old.jwks()
    with jwks_endpoint(document) as url:
        keys = JwksKeyResolver(url, refresh_cooldown_seconds=0)
        assert keys.public_key(old.kid).public_numbers() == old.public_key.public_numbers()
        document["keys"] = new.jwks()["keys"]

        # WHEN a token names the new kid THEN the set is refetched and the key found
        assert keys.public_key(new.kid).public_numbers() == new.public_key.public_numbers()
        # AND a kid nobody publishes is refused
        with pytest.raises(InvalidToken):
            keys.public_key("never-published")


def test_a_kid_naming_a_key_that_is_not_rs256_is_refused() -> None:
    ec_jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    rsa_jwk = json.loads(
        RSAAlgorithm.to_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())
    )
    document = {"keys": [{**ec_jwk, "kid": "ec"}, {**rsa_jwk, "kid": "rs512", "alg": "RS512"}]}
    with jwks_endpoint(document) as url:
        keys = JwksKeyResolver(url)
        for kid in ("ec", "rs512"):
            with pytest.raises(InvalidToken):
                keys.public_key(kid)


def test_a_jwks_that_cannot_be_read_is_unavailable_not_invalid() -> None:
    with pytest.raises(KeySetUnavailable):
        JwksKeyResolver("http://127.0.0.1:9/jwks.json", timeout_seconds=0.5).public_key("any")
    with jwks_endpoint({"not": "a key set"}) as url, pytest.raises(KeySetUnavailable):
        JwksKeyResolver(url).public_key("any")
