"""A CI job's burst in one org, through the front door: 50 audited mutations at once, of every kind
(members, API keys, secrets, accounts, stacks). None is refused, each answers what it must, and
the org's chain holds each exactly once and verifies."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api, Reply
from tests.workflows.stack_support import connected_account, spec

pytestmark = pytest.mark.xdist_group("local-cloud")

ORG = "org_burst"


def test_fifty_concurrent_mutations_in_one_org_are_all_made_and_audited_once(
    stackpilot: LocalStackpilot,
) -> None:
    # GIVEN an org with a connected account, and 50 mutations of five kinds to make at once
    admin, connection_id = connected_account(stackpilot, ORG, "333333333301")
    owner = Api(stackpilot, org_id=ORG, role="owner")
    mutations: list[tuple[Api, str, str, Any, int | None]] = []  # api, method, path, body, status
    for n in range(12):
        mutations.append((owner, "POST", "/members", {"user_id": f"burst-{n}", "role": "viewer"}, 201))
    for n in range(12):
        mutations.append((admin, "POST", "/api-keys", {"name": f"ci-{n}", "role": "contributor"}, 201))
    for n in range(12):
        mutations.append((admin, "PUT", f"/secrets/burst-{n}", {"value": f"v{n}"}, None))
    for n in range(8):
        body = {"aws_account_id": f"44444444440{n}", "region": "us-east-1"}
        mutations.append((admin, "POST", "/accounts", body, 201))
    for n in range(6):
        mutations.append((admin, "POST", "/stacks", spec(connection_id, name=f"burst{n}"), 202))
    assert len(mutations) == 50
    before = {e["seq"] for e in _chain(owner)}
    start = threading.Barrier(len(mutations))

    def one(mutation: tuple[Api, str, str, Any, int | None]) -> Reply:
        api, method, path, body, _ = mutation
        start.wait(timeout=60)
        return api.request(method, path, body)

    # WHEN they all go at the same moment
    with ThreadPoolExecutor(max_workers=len(mutations)) as pool:
        replies = list(pool.map(one, mutations))

    # THEN every one answers as it must, none refused or busy
    for (_, method, path, _, status), reply in zip(mutations, replies, strict=True):
        expected = status or (200, 201)
        assert reply.status in (expected if isinstance(expected, tuple) else (expected,)), (
            method,
            path,
            reply,
        )
    # AND the chain holds each mutation exactly once (its entry carries the request's id), and verifies
    entries = [e for e in _chain(owner) if e["seq"] not in before]
    by_request = Counter(e["request_id"] for e in entries if e["result"] == "succeeded")
    for (_, method, path, _, _), reply in zip(mutations, replies, strict=True):
        assert by_request[reply.request_id] == 1, (method, path, reply.request_id)
    verified = owner.request("GET", "/audit/verify").body
    assert verified["ok"] is True, verified


def _chain(api: Api) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.request("GET", "/audit?limit=100" + (f"&cursor={cursor}" if cursor else "")).body
        entries.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return entries
