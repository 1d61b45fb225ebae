"""Secrets through the local API: stored sealed under KMS, listed without values, audited."""

from __future__ import annotations

import json
import logging

import pytest

from functions.secrets.logic import secrets
from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api

pytestmark = pytest.mark.xdist_group("local-cloud")
VALUE = "ghp_s3cr3t-value-that-must-never-be-shown"


def test_a_secret_is_stored_sealed_listed_without_its_value_and_deleted(
    stackpilot: LocalStackpilot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    admin = Api(stackpilot, org_id="org_secrets", role="admin")
    # WHEN an admin stores a secret twice
    first = admin.request("PUT", "/secrets/github.token", {"value": VALUE, "description": "CI token"})
    second = admin.request("PUT", "/secrets/github.token", {"value": VALUE + "-2"})
    assert (first.status, first.body["version"], second.body["version"]) == (200, 1, 2)
    # THEN it is listed by name and version only, to contributors and up, never to viewers
    listed = Api(stackpilot, org_id="org_secrets", role="contributor").request("GET", "/secrets")
    assert [(i["name"], i["version"]) for i in listed.body["items"]] == [("github.token", 2)]
    assert Api(stackpilot, org_id="org_secrets", role="viewer").request("GET", "/secrets").status == 403
    assert Api(stackpilot, org_id="org_elsewhere", role="owner").request("GET", "/secrets").body == {
        "items": []
    }
    # AND the table holds ciphertext only, which KMS unseals for stackpilot's own use
    table = stackpilot.cloud.names.table("secrets")
    stored = stackpilot.cloud.client("dynamodb").scan(TableName=table)["Items"]
    assert VALUE not in json.dumps(stored, default=str)
    from functions.secrets.handlers import api as handler  # the container the local cloud runs

    assert secrets.reveal(handler.DEPS, "org_secrets", "github.token") == VALUE + "-2"
    # AND deleting is audited; a second delete is a 404; a bad name is a 422 naming it
    assert admin.request("DELETE", "/secrets/github.token").status == 204
    assert admin.request("DELETE", "/secrets/github.token").status == 404
    bad = admin.request("PUT", "/secrets/-leading-dash", {"value": "x"})
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "name"
    owner = Api(stackpilot, org_id="org_secrets", role="owner")
    export = owner.request("GET", "/audit/export").body
    actions = [(e["action"], e["result"]) for e in export["entries"] if e["action"].startswith("secret.")]
    assert actions == [
        ("secret.put", "succeeded"),
        ("secret.put", "succeeded"),
        ("secret.delete", "succeeded"),
        ("secret.delete", "denied"),
        ("secret.put", "failed"),
    ]
    # AND the value is in no answer, no audit entry and no log line
    logs = "".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert VALUE not in json.dumps(export) + json.dumps(listed.body) + logs


def test_a_value_in_a_refused_body_is_never_echoed(stackpilot: LocalStackpilot) -> None:
    admin = Api(stackpilot, org_id="org_secrets_echo", role="admin")
    reply = admin.request("PUT", "/secrets/token", {"value": VALUE, "unexpected": VALUE})
    assert reply.status == 422 and VALUE not in json.dumps(reply.body)


def test_times_without_an_offset_are_a_422_not_a_crash(stackpilot: LocalStackpilot) -> None:
    owner = Api(stackpilot, org_id="org_secrets_echo", role="owner")
    for path in ("/audit?since=2026-01-01T00:00:00", "/audit/export?until=2026-01-01T00:00:00"):
        reply = owner.request("GET", path)
        assert reply.status == 422 and reply.body["errors"][0]["field"] in ("since", "until"), reply
