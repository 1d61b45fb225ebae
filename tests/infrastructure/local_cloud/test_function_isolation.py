"""Each function serves one request at a time, as Lambda does (infra/local/patches/lambda_runtime.py):
mixed concurrent requests from two orgs, through the front door, each get their own answer, with
their own caller as the principal, and the audit log names the right actor for each.

Before, concurrent invocations of one function shared Powertools' current event: a GET answered
201, a POST was refused for an empty body it never sent, and a request could act as another
org's caller."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local import runtime
from tests.workflows.client import Api, Reply

pytestmark = pytest.mark.xdist_group("local-cloud")

ORGS = {"a": "org_isolation_a", "b": "org_isolation_b"}
REQUESTS = 40
THREADS = 8


@dataclass(frozen=True)
class Caller:
    org: str  # "a" or "b"
    user: str
    role: str

    @property
    def org_id(self) -> str:
        return ORGS[self.org]


ADMIN_A = Caller("a", "a-admin", "admin")
VIEWER_A = Caller("a", "a-viewer", "viewer")
ADMIN_B = Caller("b", "b-admin", "admin")
CONTRIBUTOR_B = Caller("b", "b-contributor", "contributor")
CALLERS = (ADMIN_A, VIEWER_A, ADMIN_B, CONTRIBUTOR_B)


@dataclass(frozen=True)
class Call:
    """One request and what it alone must be answered."""

    n: int
    caller: Caller
    method: str
    path: str
    body: Any = None

    @property
    def member(self) -> str:
        return f"{self.caller.org}-member-{self.n}"


@pytest.fixture(scope="module")
def stackpilot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[runtime.LocalStackpilot]:
    state_dir: Path = tmp_path_factory.mktemp("stackpilot-state")
    local = runtime.start(in_process=True, api_port=0, time_scale=0.05, state_dir=state_dir)
    try:
        for caller in CALLERS:  # members (and orgs) made before the race
            local.token(caller.org_id, caller.role, caller.user)
        yield local
    finally:
        local.stop()


def api(local: runtime.LocalStackpilot, caller: Caller) -> Api:
    return Api(local, org_id=caller.org_id, role=caller.role, user_id=caller.user)


def mixed_calls() -> list[Call]:
    """GETs and POSTs of both orgs, interleaved: additions, reads of the caller's own org and role,
    an invalid body, and an addition by a role that may not add."""
    calls = []
    for n in range(REQUESTS):
        admin, other = (ADMIN_A, VIEWER_A) if n % 2 == 0 else (ADMIN_B, CONTRIBUTOR_B)
        kind = (n // 2) % 5
        if kind == 0:
            calls.append(
                Call(n, admin, "POST", "/members", {"user_id": f"{admin.org}-member-{n}", "role": "viewer"})
            )
        elif kind == 1:
            calls.append(Call(n, other if n % 4 < 2 else admin, "GET", "/orgs/current"))
        elif kind == 2:
            calls.append(Call(n, other if n % 4 >= 2 else admin, "GET", "/members"))
        elif kind == 3:
            calls.append(
                Call(n, admin, "POST", "/members", {"user_id": f"{admin.org}-bad-{n}", "role": "emperor"})
            )
        else:
            calls.append(
                Call(n, other, "POST", "/members", {"user_id": f"{other.org}-member-{n}", "role": "viewer"})
            )
    return calls


def check(call: Call, reply: Reply) -> None:
    """The answer this request, and no other, must get."""
    caller = call.caller
    if call.method == "GET" and call.path == "/orgs/current":
        assert (reply.status, reply.body["org_id"], reply.body["your_role"]) == (
            200,
            caller.org_id,
            caller.role,
        )
    elif call.method == "GET":
        assert reply.status == 200
        users = [m["user_id"] for m in reply.body["items"]]
        assert caller.user in users
        # only the caller's org: its callers, its own additions, and the org's placeholder owner
        assert all(not u.startswith(("a-", "b-")) or u.startswith(f"{caller.org}-") for u in users), users
    elif caller.role != "admin":
        assert reply.status == 403, reply
    elif call.body["role"] == "emperor":
        assert reply.status == 422, reply
        assert [e["field"] for e in reply.body["errors"]] == ["role"]
    else:
        assert reply.status == 201, reply
        assert reply.body["user_id"] == call.member
        assert reply.body["added_by"] == f"user:{caller.user}"


def test_concurrent_requests_of_two_orgs_each_get_their_own_answer_and_principal(
    stackpilot: runtime.LocalStackpilot,
) -> None:
    # GIVEN 40 mixed requests of two orgs' callers
    calls = mixed_calls()

    # WHEN they are sent 8 at a time to the tenancy API
    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(
            pool.map(
                lambda call: api(stackpilot, call.caller).request(call.method, call.path, call.body), calls
            )
        )

    # THEN each got its own answer, computed as its own caller
    failures = []
    for call, reply in zip(calls, replies, strict=True):
        try:
            check(call, reply)
        except (AssertionError, KeyError, TypeError) as wrong:
            failures.append(f"{call.method} {call.path} {call.body} as {call.caller.user}: {reply} ({wrong})")
    assert not failures, "\n".join(failures)

    # AND each org's audit log holds each of its mutations once, by its own caller, and none of the other's
    mutations = [(call, reply) for call, reply in zip(calls, replies, strict=True) if call.method == "POST"]
    for org in ORGS:
        entries = audit_entries(stackpilot, ADMIN_A if org == "a" else ADMIN_B)
        by_request: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            by_request.setdefault(str(entry["request_id"]), []).append(entry)
        for call, reply in mutations:
            found = by_request.get(reply.request_id, [])
            if call.caller.org != org:
                assert found == [], f"org {org}'s log has another org's request: {found}"
                continue
            result = {201: "succeeded", 422: "failed", 403: "denied"}[reply.status]
            assert len(found) == 1, (call, found)
            assert (found[0]["actor"], found[0]["action"], found[0]["result"]) == (
                f"user:{call.caller.user}",
                "member.add",
                result,
            )
            if result == "succeeded":
                assert found[0]["target"] == f"member:{call.member}"


def audit_entries(local: runtime.LocalStackpilot, admin: Caller) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api(local, admin).request("GET", f"/audit?limit=100{cursor}")
        assert page.status == 200, page
        entries += page.body["items"]
        if page.body["next_cursor"] is None:
            return entries
        cursor = f"&cursor={page.body['next_cursor']}"


def test_two_api_functions_answering_at_once_each_read_their_own_request(
    stackpilot: runtime.LocalStackpilot,
) -> None:
    """Powertools keeps the event being resolved on a class that every API function in the process
    shares: requests to two different functions at once must not read each other's event either."""
    # GIVEN tenancy and secrets requests of both orgs, interleaved
    calls = []
    for n in range(REQUESTS):
        admin = ADMIN_A if n % 2 == 0 else ADMIN_B
        if n % 4 < 2:
            calls.append(Call(n, admin, "GET", "/orgs/current"))
        else:
            name = f"{admin.org}-secret-{n}"
            calls.append(Call(n, admin, "PUT", f"/secrets/{name}", {"value": f"value of {name}"}))

    # WHEN they are sent 8 at a time
    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(
            pool.map(
                lambda call: api(stackpilot, call.caller).request(call.method, call.path, call.body), calls
            )
        )

    # THEN each got the answer of its own function, route and caller
    failures = []
    for call, reply in zip(calls, replies, strict=True):
        if call.method == "GET":
            got = (reply.status, (reply.body or {}).get("org_id"), (reply.body or {}).get("your_role"))
            want: tuple[Any, ...] = (200, call.caller.org_id, "admin")
        else:
            got = (reply.status, (reply.body or {}).get("name"), (reply.body or {}).get("updated_by"))
            want = (200, call.path.rsplit("/", 1)[1], f"user:{call.caller.user}")
        if got != want:
            failures.append(f"{call.method} {call.path} as {call.caller.user}: {got} != {want}")
    assert not failures, "\n".join(failures)
    # AND each org lists exactly its own secrets
    for admin in (ADMIN_A, ADMIN_B):
        listed = api(stackpilot, admin).request("GET", "/secrets")
        names = {s["name"] for s in listed.body["items"]}
        assert names == {c.path.rsplit("/", 1)[1] for c in calls if c.method == "PUT" and c.caller == admin}
