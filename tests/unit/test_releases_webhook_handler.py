"""The webhook function (functions/releases/handlers/webhook.py) as API Gateway invokes it: GitHub's
answers for each outcome, the raw bytes whether API Gateway passes text or base64, headers in any
case, and nothing secret in its logs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from functions.releases.handlers import webhook
from functions.releases.logic import signatures
from functions.releases.logic.receiving import ReceiveDeps
from functions.releases.models.routing import InstallationLink
from tests.fakes.releases import FixedSecret, InMemoryDeliveries, InMemoryRoutes, RecordingWorkflow

SECRET = b"handler-test-secret-0123456789"
STACK = "stk_" + "c" * 26
DELIVERY = "0b989ba4-242f-11e5-81e1-c7b6966d2516"
PUSH = {
    "ref": "refs/heads/main",
    "before": "1" * 40,
    "after": "2" * 40,
    "repository": {"id": 7, "full_name": "acme/shop"},
    "installation": {"id": 42},
    "head_commit": {"id": "2" * 40, "message": "Ship", "author": {"name": "Ada"}},
    "sender": {"login": "ada", "id": 1},
}


@dataclass
class Context:
    function_name: str = "stackpilot-local-releases-webhook"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:stackpilot-local-releases-webhook"
    )
    aws_request_id: str = "req-1"


@pytest.fixture
def workflow(monkeypatch: pytest.MonkeyPatch) -> RecordingWorkflow:
    started = RecordingWorkflow()
    routes = InMemoryRoutes(
        links={42: InstallationLink(link_id="lnk_1", org_id="org_acme", installation_id=42)},
        tracking={(7, "main"): (STACK,)},
    )
    deps = ReceiveDeps(FixedSecret(SECRET), routes, InMemoryDeliveries(), started)
    monkeypatch.setattr(webhook, "DEPS", deps)
    return started


def _event(body: bytes, headers: dict[str, str], *, base64_encoded: bool = False) -> dict[str, Any]:
    return {
        "httpMethod": "POST",
        "path": "/webhooks/github",
        "headers": headers,
        "body": base64.b64encode(body).decode() if base64_encoded else body.decode(),
        "isBase64Encoded": base64_encoded,
        "requestContext": {"requestId": "req-1"},
    }


def _signed(body: bytes, **extra: str) -> dict[str, str]:
    return {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": DELIVERY,
        "X-Hub-Signature-256": signatures.sign(SECRET, body),
        **extra,
    }


def _call(event: dict[str, Any]) -> tuple[int, str]:
    answer = webhook.lambda_handler(event, Context())  # type: ignore[arg-type]
    return answer["statusCode"], json.loads(answer["body"])["message"]


@pytest.mark.parametrize("base64_encoded", [False, True])
def test_a_signed_push_to_a_tracked_branch_is_a_202_whether_the_body_came_as_text_or_base64(
    workflow: RecordingWorkflow, base64_encoded: bool
) -> None:
    body = json.dumps(PUSH, ensure_ascii=False).replace("Ship", "Ship ✓").encode()  # non-ASCII bytes
    status, message = _call(_event(body, _signed(body), base64_encoded=base64_encoded))
    assert status == 202 and "release started" in message
    assert list(workflow.started) == [DELIVERY]


def test_header_names_are_matched_in_any_case(workflow: RecordingWorkflow) -> None:
    body = json.dumps(PUSH).encode()
    lowered = {k.lower(): v for k, v in _signed(body).items()}
    assert _call(_event(body, lowered))[0] == 202


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{}", {"X-GitHub-Event": "push", "X-GitHub-Delivery": DELIVERY}, 401),  # unsigned
        (b"{}", {"X-Hub-Signature": "sha1=" + "0" * 40, "X-GitHub-Event": "push"}, 401),  # sha1 only
        (b"{nope", None, 400),  # signed, not JSON
    ],
)
def test_refusals_get_githubs_statuses_and_never_a_500(
    workflow: RecordingWorkflow, body: bytes, headers: dict[str, str] | None, status: int
) -> None:
    assert _call(_event(body, headers if headers is not None else _signed(body)))[0] == status
    assert workflow.started == {}


def test_without_a_secret_it_is_a_503_with_an_operator_line_and_no_secret_anywhere(
    monkeypatch: pytest.MonkeyPatch, workflow: RecordingWorkflow, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        webhook, "DEPS", ReceiveDeps(FixedSecret(b""), webhook.DEPS.routes, webhook.DEPS.deliveries, workflow)
    )
    body = json.dumps(PUSH).encode()
    status, _ = _call(_event(body, _signed(body)))
    assert status == 503
    logged = capsys.readouterr().out
    assert "webhook secret has no value" in logged


def test_the_logs_carry_no_secret_and_no_signature(
    workflow: RecordingWorkflow, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps(PUSH).encode()
    headers = _signed(body)
    _call(_event(body, headers))
    _call(_event(body, {**headers, "X-Hub-Signature-256": "sha256=" + "f" * 64}))  # and a refused one
    logged = capsys.readouterr().out
    assert logged  # it did log both
    for secret in (SECRET.decode(), headers["X-Hub-Signature-256"].removeprefix("sha256=")):
        assert secret not in logged
