"""A refused mutation's answer never depends on its audit entry: when the entry cannot be written the
answer is still the 4xx (an operator hears of it), never a 500."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from functions.shared.errors import DependencyDown, NotFound
from functions.shared.models.audit import AuditDraft, AuditEntry
from functions.shared.rest.resolver import handle, rest_app


class RefusingAuditLog:
    def __init__(self) -> None:
        self.tried: list[AuditDraft] = []

    def record(self, draft: AuditDraft) -> AuditEntry:
        self.tried.append(draft)
        raise DependencyDown(
            "the audit log stayed busy for this org for 8 s (40 attempts); nothing was changed"
        )


def _event() -> dict[str, Any]:
    return {
        "httpMethod": "DELETE",
        "resource": "/api-keys/{key_id}",
        "path": "/api-keys/abc",
        "pathParameters": {"key_id": "abc"},
        "headers": {"content-type": "application/json"},
        "body": None,
        "requestContext": {
            "requestId": "req-9",
            "identity": {"sourceIp": "198.51.100.1"},
            "authorizer": {"org_id": "org_acme", "user_id": "u1", "role": "admin"},
        },
    }


def test_a_refusal_whose_audit_entry_fails_still_answers_its_404(caplog: pytest.LogCaptureFixture) -> None:
    log = Logger(service="test-refusals")
    app = rest_app(log)

    @app.delete("/api-keys/<key_id>")
    def revoke(key_id: str) -> dict[str, str]:
        raise NotFound(f"no API key {key_id}")

    audit = RefusingAuditLog()
    with caplog.at_level(logging.ERROR):
        response = handle(app, _event(), None, audit, log)  # type: ignore[arg-type]

    assert response["statusCode"] == 404
    assert json.loads(response["body"])["message"] == "no API key abc"
    assert len(audit.tried) == 1 and audit.tried[0].result == "denied"
    assert "could not record a refused request in the audit log" in caplog.text
