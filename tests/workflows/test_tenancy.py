"""Tenancy end to end through the local API: an org, its members, a key for CI, and an audit log
that records every change and every refusal, and proves it was not tampered with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.local.cli import main
from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api, Reply

pytestmark = pytest.mark.xdist_group("local-cloud")


def call(local: LocalStackpilot, method: str, path: str, credential: str, body: Any = None) -> Reply:
    return Api(local, org_id="", role="", credential=credential).request(method, path, body)


def test_a_new_user_runs_an_org_and_every_action_is_in_a_verifiable_export(
    stackpilot: LocalStackpilot, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a signed-in user of no org yet, who creates one
    founder_token = stackpilot.issuer.mint("org_placeholder", "founder")
    created = call(stackpilot, "POST", "/orgs", founder_token, {"name": "Acme"})
    assert created.status == 201 and created.body["your_role"] == "owner"
    org = created.body["org_id"]
    owner = stackpilot.issuer.mint(org, "founder")

    # WHEN they add a viewer and an admin, and the admin makes a key for CI
    assert call(stackpilot, "POST", "/members", owner, {"user_id": "vera", "role": "viewer"}).status == 201
    assert call(stackpilot, "POST", "/members", owner, {"user_id": "adam", "role": "admin"}).status == 201
    admin = stackpilot.issuer.mint(org, "adam")
    key = call(stackpilot, "POST", "/api-keys", admin, {"name": "CI", "role": "contributor"})
    assert key.status == 201 and key.body["key"].startswith("sp_")

    # THEN the roles hold: the viewer reads but cannot change, the key reads and is refused above its role
    viewer = stackpilot.issuer.mint(org, "vera")
    assert call(stackpilot, "GET", "/members", viewer).status == 200
    assert call(stackpilot, "POST", "/members", viewer, {"user_id": "eve", "role": "owner"}).status == 403
    assert call(stackpilot, "GET", "/accounts", key.body["key"]).status == 200
    assert (
        call(
            stackpilot,
            "POST",
            "/accounts",
            key.body["key"],
            {"aws_account_id": "111111111111", "region": "us-east-1"},
        ).status
        == 403
    )
    # AND an admin cannot touch the owner, and a demotion takes effect on the very next request
    assert call(stackpilot, "DELETE", "/members/founder", admin).status == 403
    assert call(stackpilot, "PATCH", "/members/adam", owner, {"role": "viewer"}).status == 200
    assert call(stackpilot, "GET", "/api-keys", admin).status == 403
    assert call(stackpilot, "GET", "/accounts", key.body["key"]).status == 200  # narrowed to viewer
    assert call(stackpilot, "DELETE", "/members/adam", owner).status == 204
    assert call(stackpilot, "GET", "/accounts", key.body["key"]).status == 401  # creator gone: key dead

    # THEN the export holds every change and every refused change, in order
    export = call(stackpilot, "GET", "/audit/export", owner)
    assert export.status == 200
    got = [(e["actor"].split(":")[0], e["action"], e["result"]) for e in export.body["entries"]]
    assert got == [
        ("user", "org.create", "succeeded"),
        ("user", "member.add", "succeeded"),
        ("user", "member.add", "succeeded"),
        ("user", "api_key.create", "succeeded"),
        ("user", "member.add", "denied"),
        ("key", "account.connect", "denied"),
        ("user", "member.remove", "denied"),
        ("user", "member.change_role", "succeeded"),
        ("user", "member.remove", "succeeded"),
    ]
    assert call(stackpilot, "GET", "/audit/verify", owner).body["ok"] is True
    # AND it verifies offline, and a single edit of the file is named at its place
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(export.body))
    assert main(["audit", "verify", str(path)]) == 0
    tampered = dict(export.body)
    tampered["entries"] = [dict(e) for e in export.body["entries"]]
    tampered["entries"][4]["result"] = "succeeded"
    path.write_text(json.dumps(tampered))
    assert main(["audit", "verify", str(path)]) == 1
    assert "position 4" in capsys.readouterr().out


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder", "insert"])
def test_tampering_with_the_live_table_is_named_by_verify(stackpilot: LocalStackpilot, tamper: str) -> None:
    # GIVEN an org with a few audited changes
    owner_api = Api(stackpilot, org_id=f"org_tamper_{tamper}", role="owner")
    for user in ("u1", "u2", "u3"):
        assert owner_api.request("POST", "/members", {"user_id": user, "role": "viewer"}).status == 201
    table = stackpilot.cloud.names.table("audit")
    ddb = stackpilot.cloud.client("dynamodb")
    org = owner_api.org_id
    items = ddb.query(
        TableName=table, KeyConditionExpression="org_id = :o", ExpressionAttributeValues={":o": {"S": org}}
    )["Items"]
    assert len(items) >= 4
    # WHEN someone with table access (not our functions: they cannot update or delete) tampers
    third = items[2]
    if tamper == "edit":
        ddb.put_item(TableName=table, Item={**third, "result": {"S": "denied"}})
    elif tamper == "delete":
        ddb.delete_item(TableName=table, Key={"org_id": third["org_id"], "seq": third["seq"]})
    elif tamper == "reorder":
        ddb.put_item(TableName=table, Item={**items[3], "seq": third["seq"]})
        ddb.put_item(TableName=table, Item={**third, "seq": items[3]["seq"]})
    else:
        forged = {**third, "action": {"S": "member.remove"}, "target": {"S": "member:u9"}}
        later = sorted(items[2:], key=lambda i: -int(i["seq"]["N"]))
        for item in later:  # renumber everything after the insertion point
            ddb.put_item(TableName=table, Item={**item, "seq": {"N": str(int(item["seq"]["N"]) + 1)}})
        ddb.put_item(TableName=table, Item=forged)
    # THEN verify names the entry at fault, at its place (a forged entry here keeps a copied hash, so
    # it reads as altered; forgeries that re-hash themselves are drilled in tests/unit/test_audit_chain.py)
    result = owner_api.request("GET", "/audit/verify").body
    assert result["ok"] is False
    assert result["first_bad"]["position"] == 2, result
    # In the table a swap moves contents between keys (seq is the key), so entry 3 now carries
    # entry 4's content and link: the verifier names the place; its word may be "removed" there.
    expected = {
        "edit": {"altered"},
        "delete": {"removed"},
        "reorder": {"reordered", "removed"},
        "insert": {"inserted", "altered"},
    }
    assert result["first_bad"]["problem"] in expected[tamper], result


def test_conflicts_in_dynamodb_transactions_name_the_right_cause(stackpilot: LocalStackpilot) -> None:
    # pynamodb sends a transaction's writes in its own order (checks, deletes, puts, updates); the
    # audit store maps DynamoDB's cancellation reasons back, so each conflict says what it is.
    owner = Api(stackpilot, org_id="org_conflicts", role="owner")
    assert owner.request("POST", "/members", {"user_id": "vic", "role": "viewer"}).status == 201
    twice = owner.request("POST", "/members", {"user_id": "vic", "role": "viewer"})
    assert twice.status == 409 and "already a member" in twice.body["message"]
    last = owner.request("PATCH", "/members/owner-user", {"role": "admin"})
    assert last.status == 409 and "at least one owner" in last.body["message"]
    leave = owner.request("DELETE", "/members/owner-user")
    assert leave.status == 409 and "at least one owner" in leave.body["message"]
