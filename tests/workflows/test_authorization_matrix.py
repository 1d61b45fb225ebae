"""The authorization matrix, through the running local API.

Every authorized operation of the served OpenAPI by every kind of caller (each role, an API key at
each level, the owner of another org, no credentials) by {the caller's own object, another org's
object, a missing object}. Each cell's expected answer is derived from the route's rule *as the
OpenAPI shows it* (``x-required-role``, ``x-api-keys``; which must be the one table,
``functions/shared/logic/access.py``):

- no credentials → 401; an API key on a people-only route, or a role below the minimum → 403;
- allowed, on the caller's own object (or a collection) → the operation's documented 2xx;
- allowed, on another org's object or a missing one → 404, the same answer for both.

In every cell: no answer carries anything of an org the caller is not in (its id, name, members,
keys, connections, secrets) unless the caller sent it; a request aimed at another org's object
leaves that object exactly as it was; and every mutation left exactly one audit entry, in the
caller's org, naming the caller, the action and the outcome (reads and unauthenticated requests
none: there is no verified org to attribute those to).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from functions.shared.logic.access import ROUTE_ACCESS
from functions.shared.models.principal import Role
from infra.definitions import ROUTES
from infra.local.openapi import build_openapi
from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api, Reply
from tests.workflows.onboarding import as_record_from_before_v3, deploy

pytestmark = pytest.mark.xdist_group("local-cloud")

ORGS = ("A", "B")
CUSTOMER_ACCOUNTS = {"A": "222222222222", "B": "333333333333"}  # each org's connected AWS account


@dataclass(frozen=True)
class Caller:
    label: str
    org: str  # "A" or "B"; the org whose objects are "own" (for no credentials: A)
    role: Role | None  # None: no credentials
    key: bool = False


CALLERS = (
    *(Caller(role.value, "A", role) for role in Role),
    *(Caller(f"API key ({role.value})", "A", role, key=True) for role in Role),
    Caller("owner of another org", "B", Role.OWNER),
    Caller("no credentials", "A", None),
)
OBJECTS = ("own", "another org's", "missing")


@dataclass
class Org:
    tag: str
    org_id: str
    name: str
    owner: str  # the founder's token
    users: dict[Role, str] = field(default_factory=dict)  # role → user id
    keys: dict[Role, tuple[str, str]] = field(default_factory=dict)  # role → (key id, key)
    shared: dict[str, str] = field(default_factory=dict)  # route path → an object kept for reads
    connected: str = ""  # a CONNECTED account connection (stacks go there)
    markers: set[str] = field(default_factory=set)  # everything that identifies this org's data


@dataclass
class World:
    local: LocalStackpilot
    orgs: dict[str, Org] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)
    said: dict[str, set[str]] = field(default_factory=lambda: {tag: set() for tag in ORGS})

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"

    def call(self, credential: str, method: str, path: str, body: Any = None) -> Reply:
        return Api(self.local, org_id="", role="", credential=credential).request(method, path, body)

    def as_owner(self, tag: str, method: str, path: str, body: Any = None) -> Reply:
        reply = self.call(self.orgs[tag].owner, method, path, body)
        assert reply.status < 300, (method, path, reply)
        return reply

    def credential(self, caller: Caller) -> str:
        if caller.role is None:
            return ""  # no Authorization header at all
        org = self.orgs[caller.org]
        if caller.key:
            return org.keys[caller.role][1]
        if caller.role is Role.OWNER:
            return org.owner
        return self.local.issuer.mint(org.org_id, org.users[caller.role])

    def actor(self, caller: Caller) -> str:
        org = self.orgs[caller.org]
        if caller.key:
            return f"key:{org.keys[caller.role][0]}" if caller.role else ""
        return f"user:{org.users[caller.role]}" if caller.role else ""


# --- how to make, name and look at each route's objects --------------------------------------


def _connection(world: World, tag: str) -> str:
    account = f"{300000000000 + next(world.counter)}"
    reply = world.as_owner(tag, "POST", "/accounts", {"aws_account_id": account, "region": "us-east-1"})
    world.orgs[tag].markers.add(account)
    return str(reply.body["connection_id"])


def _member(world: World, tag: str) -> str:
    user = world.unique(f"matrix-{tag.lower()}-member")
    world.as_owner(tag, "POST", "/members", {"user_id": user, "role": "viewer"})
    return user


def _key(world: World, tag: str) -> str:
    reply = world.as_owner(tag, "POST", "/api-keys", {"name": world.unique(f"key-{tag}"), "role": "viewer"})
    return str(reply.body["key_id"])


def _secret(world: World, tag: str) -> str:
    name = world.unique(f"matrix-{tag.lower()}-secret")
    world.as_owner(tag, "PUT", f"/secrets/{name}", {"value": f"value of {name}"})
    return name


def _stack(world: World, tag: str) -> str:
    """A stack in org ``tag``'s connected account, settled (so its template exists)."""
    org = world.orgs[tag]
    reply = world.as_owner(tag, "POST", "/stacks", _stack_spec(world, org.connected, tag))
    stack_id = str(reply.body["stack_id"])
    deadline = time.monotonic() + 60
    while world.as_owner(tag, "GET", f"/stacks/{stack_id}").body["status"] == "CREATING":
        assert time.monotonic() < deadline, "the matrix's stack did not settle"
        time.sleep(0.1)
    return stack_id


def _stack_spec(world: World, connection_id: str, tag: str) -> dict[str, Any]:
    name = world.unique(f"matrix-{tag.lower()}-stack")
    world.orgs[tag].markers.add(name)
    return {
        "connection_id": connection_id,
        "region": "us-east-1",
        "name": name,
        "stage": "dev",
        "container": {"image": "public.ecr.aws/nginx/nginx:1.27"},
    }


def _stack_state(world: World, tag: str, value: str) -> Any:
    return world.as_owner(tag, "GET", f"/stacks/{value}").body["status"]


def _connection_state(world: World, tag: str, value: str) -> Any:
    return world.as_owner(tag, "GET", f"/accounts/{value}").body["status"]


def _member_state(world: World, tag: str, value: str) -> Any:
    members = world.as_owner(tag, "GET", "/members").body["items"]
    return [m["role"] for m in members if m["user_id"] == value]


def _key_state(world: World, tag: str, value: str) -> Any:
    keys = world.as_owner(tag, "GET", "/api-keys").body["items"]
    return [k for k in keys if k["key_id"] == value]


def _secret_state(world: World, tag: str, value: str) -> Any:
    secrets = world.as_owner(tag, "GET", "/secrets").body["items"]
    return [s for s in secrets if s["name"] == value]


@dataclass(frozen=True)
class Objects:
    make: Callable[[World, str], str]  # a new object in org ``tag``; its path value
    state: Callable[[World, str, str], Any]  # how its own org sees it
    missing: str  # a well-formed value no org has


CONNECTIONS = Objects(_connection, _connection_state, "conn_" + "z" * 26)
MEMBERS = Objects(_member, _member_state, "matrix-nobody")
KEYS = Objects(_key, _key_state, "z" * 12)
SECRETS = Objects(_secret, _secret_state, "matrix-missing-secret")
STACKS = Objects(_stack, _stack_state, "stk_" + "z" * 26)


@dataclass(frozen=True)
class Scenario:
    objects: Objects | None = None  # the route names one object in its path
    body: Callable[[World, Caller], Any] = lambda world, caller: None
    upsert: bool = False  # PUT: the path names a slot in the caller's own org, created if missing
    keeps: bool = False  # a mutation that leaves its object as it was (a preview): no fresh one per cell


def _account_body(world: World, caller: Caller) -> Any:
    return {"aws_account_id": f"{400000000000 + next(world.counter)}", "region": "us-east-1"}


SCENARIOS: dict[tuple[str, str], Scenario] = {
    ("POST", "/accounts"): Scenario(body=_account_body),
    ("GET", "/accounts"): Scenario(),
    ("GET", "/accounts/{connection_id}"): Scenario(CONNECTIONS),
    ("DELETE", "/accounts/{connection_id}"): Scenario(CONNECTIONS),
    # Each org's connected account, as a record from before v3: asking again replaces the link only.
    ("POST", "/accounts/{connection_id}/upgrade"): Scenario(CONNECTIONS, keeps=True),
    ("POST", "/orgs"): Scenario(body=lambda world, caller: {"name": world.unique("Matrix spin-off")}),
    ("GET", "/orgs/current"): Scenario(),
    ("PATCH", "/orgs/current"): Scenario(body=lambda world, caller: {"name": world.orgs[caller.org].name}),
    ("GET", "/members"): Scenario(),
    ("POST", "/members"): Scenario(
        body=lambda world, caller: {"user_id": world.unique("matrix-new-member"), "role": "viewer"}
    ),
    ("PATCH", "/members/{user_id}"): Scenario(MEMBERS, body=lambda world, caller: {"role": "contributor"}),
    ("DELETE", "/members/{user_id}"): Scenario(MEMBERS),
    ("POST", "/api-keys"): Scenario(
        body=lambda world, caller: {"name": world.unique("ci"), "role": "viewer"}
    ),
    ("GET", "/api-keys"): Scenario(),
    ("DELETE", "/api-keys/{key_id}"): Scenario(KEYS),
    ("GET", "/audit"): Scenario(),
    ("GET", "/audit/export"): Scenario(),
    ("GET", "/audit/verify"): Scenario(),
    ("POST", "/stacks"): Scenario(
        body=lambda world, caller: _stack_spec(world, world.orgs[caller.org].connected, caller.org)
    ),
    ("GET", "/stacks"): Scenario(),
    ("GET", "/stacks/{stack_id}"): Scenario(STACKS),
    ("PATCH", "/stacks/{stack_id}"): Scenario(
        STACKS, body=lambda world, caller: {"container": {"desired_count": 3}}
    ),
    ("DELETE", "/stacks/{stack_id}"): Scenario(STACKS),
    ("POST", "/stacks/{stack_id}/preview"): Scenario(
        STACKS, body=lambda world, caller: {"container": {"desired_count": 3}}, keeps=True
    ),
    ("GET", "/stacks/{stack_id}/events"): Scenario(STACKS),
    ("GET", "/stacks/{stack_id}/template"): Scenario(STACKS),
    ("GET", "/secrets"): Scenario(),
    ("PUT", "/secrets/{name}"): Scenario(
        SECRETS, body=lambda world, caller: {"value": "rotated value"}, upsert=True
    ),
    ("DELETE", "/secrets/{name}"): Scenario(SECRETS),
}


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    }


OPERATIONS = _operations(build_openapi(ROUTES))


# --- the oracle --------------------------------------------------------------------------------


def expected_status(operation: dict[str, Any], scenario: Scenario, caller: Caller, obj: str) -> int:
    if caller.role is None:
        return 401
    if caller.key and not operation["x-api-keys"]:
        return 403
    required = operation["x-required-role"]
    if required != "any-user" and not caller.role.at_least(Role(required)):
        return 403
    if scenario.objects is None or scenario.upsert or obj == "own":
        return success_status(operation)
    return 404  # another org's object and a missing one answer alike


def success_status(operation: dict[str, Any]) -> int:
    (status,) = [int(code) for code in operation["responses"] if code.startswith("2")]
    return status


def audit_result(status: int) -> str:
    if status < 300:
        return "succeeded"
    return "denied" if status in (401, 403, 404) else "failed"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(stackpilot: LocalStackpilot) -> World:
    world = World(stackpilot)
    for tag in ORGS:
        founder = f"matrix-{tag.lower()}-founder"
        name = f"Matrix Org {tag} Ltd"
        created = world.call(stackpilot.issuer.mint("org_none_yet", founder), "POST", "/orgs", {"name": name})
        assert created.status == 201, created
        org = Org(tag, created.body["org_id"], name, stackpilot.issuer.mint(created.body["org_id"], founder))
        world.orgs[tag] = org
        org.users[Role.OWNER] = founder
        for role in (Role.ADMIN, Role.CONTRIBUTOR, Role.VIEWER):
            org.users[role] = f"matrix-{tag.lower()}-{role.value}"
            world.as_owner(tag, "POST", "/members", {"user_id": org.users[role], "role": role.value})
        for role in Role:
            made = world.as_owner(tag, "POST", "/api-keys", {"name": f"ci-{role.value}", "role": role.value})
            org.keys[role] = (made.body["key_id"], made.body["key"])
        account = CUSTOMER_ACCOUNTS[tag]
        link = world.as_owner(tag, "POST", "/accounts", {"aws_account_id": account, "region": "us-east-1"})
        assert deploy(stackpilot, link.body["quick_create_url"], account).status == "CREATE_COMPLETE"
        org.connected = link.body["connection_id"]
        org.markers |= {org.connected, account}
        deadline = time.monotonic() + 30
        while world.as_owner(tag, "GET", f"/accounts/{org.connected}").body["status"] != "CONNECTED":
            assert time.monotonic() < deadline, "the matrix's account did not connect"
            time.sleep(0.1)
        for route, objects in (
            ("/stacks/{stack_id}", STACKS),
            ("/accounts/{connection_id}", CONNECTIONS),
            ("/members/{user_id}", MEMBERS),
            ("/api-keys/{key_id}", KEYS),
            ("/secrets/{name}", SECRETS),
        ):
            org.shared[route] = objects.make(world, tag)
        as_record_from_before_v3(stackpilot, org.org_id, org.connected)
        org.shared["/accounts/{connection_id}/upgrade"] = org.connected
        for route in (
            "/stacks/{stack_id}/events",
            "/stacks/{stack_id}/template",
            "/stacks/{stack_id}/preview",
        ):
            org.shared[route] = org.shared["/stacks/{stack_id}"]
        org.markers |= {org.org_id, name, *org.users.values(), *(k for k, _ in org.keys.values())}
        org.markers |= set(org.shared.values())
    return world


def test_the_matrix_covers_every_authorized_operation_and_the_table_is_what_the_openapi_shows(
    stackpilot: LocalStackpilot,
) -> None:
    served = Api(stackpilot, org_id="", role="", credential="").request("GET", "/openapi.json")
    assert _operations(served.body).keys() == OPERATIONS.keys()
    assert set(SCENARIOS) == set(OPERATIONS), "each route needs a scenario here (and a rule in the table)"
    assert set(ROUTE_ACCESS) == set(OPERATIONS)
    for (method, path), operation in OPERATIONS.items():
        access = ROUTE_ACCESS[(method, path)]
        assert operation["x-required-role"] == access.required
        assert operation["x-api-keys"] == access.api_keys
        assert operation["x-audited"] == access.mutating


@pytest.mark.parametrize("route", sorted(OPERATIONS), ids=lambda r: f"{r[0]} {r[1]}")
def test_every_cell_answers_as_the_table_says(world: World, route: tuple[str, str]) -> None:
    method, path = route
    operation, scenario = OPERATIONS[route], SCENARIOS[route]
    mutating = bool(operation["x-audited"])
    cells: list[tuple[Caller, str, int, Reply]] = []
    wrong: list[str] = []
    for caller, obj in itertools.product(CALLERS, OBJECTS if scenario.objects else ("own",)):
        want = expected_status(operation, scenario, caller, obj)
        other = "B" if caller.org == "A" else "A"
        value, owner_tag = _target(
            world, scenario, path, caller, obj, other, consumed=mutating and want < 300 and not scenario.keeps
        )
        watched = scenario.objects if mutating and owner_tag == other else None
        before = watched.state(world, owner_tag, value) if watched else None
        url = path.replace(path[path.find("{") : path.find("}") + 1], value) if value else path
        if caller.role is not None:
            world.said[caller.org].add(value)
        reply = world.call(world.credential(caller), method, url, scenario.body(world, caller))
        cell = f"{method} {path} by {caller.label} on {obj} object"
        if reply.status != want:
            wrong.append(f"{cell}: {reply.status}, want {want}: {reply.body}")
        leaked = _foreign_data(world, caller, reply, value)
        if leaked:
            wrong.append(f"{cell}: answer shows another org's {sorted(leaked)}")
        if watched:
            after = watched.state(world, owner_tag, value)
            if after != before:
                wrong.append(f"{cell}: changed the other org's object: {before} → {after}")
        cells.append((caller, obj, want, reply))
    assert not wrong, "\n".join(wrong)
    _assert_audited_once(world, route, mutating, cells)


def _target(
    world: World, scenario: Scenario, path: str, caller: Caller, obj: str, other: str, consumed: bool
) -> tuple[str, str]:
    """The path value for this cell and the org whose object it is ("" when none)."""
    if scenario.objects is None:
        return "", ""
    if obj == "missing":
        return scenario.objects.missing, ""
    tag = caller.org if obj == "own" else other
    if consumed and obj == "own":  # this cell changes or removes it: a fresh one
        value = scenario.objects.make(world, tag)
        world.orgs[tag].markers.add(value)
        return value, tag
    return world.orgs[tag].shared[path], tag


def _foreign_data(world: World, caller: Caller, reply: Reply, sent: str) -> set[str]:
    """Identifiers of orgs the caller is not in, in the answer, that the caller's org never sent."""
    text = json.dumps(reply.body)
    mine = caller.org if caller.role is not None else None
    told = world.said[mine] if mine else set()
    found = set()
    for tag, org in world.orgs.items():
        if tag == mine:
            continue
        found |= {marker for marker in org.markers if marker and marker in text and marker not in told}
    return found - {sent}


def _assert_audited_once(
    world: World, route: tuple[str, str], mutating: bool, cells: list[tuple[Caller, str, int, Reply]]
) -> None:
    entries = _audit_entries_by_request(world)
    action = ROUTE_ACCESS[route].action
    wrong: list[str] = []
    for caller, obj, _, reply in cells:
        got = entries.get(reply.request_id, [])
        cell = f"{route[0]} {route[1]} by {caller.label} on {obj} object ({reply.status})"
        if not mutating or caller.role is None:
            if got:
                wrong.append(f"{cell}: {len(got)} audit entries, want none")
            continue
        if len(got) != 1:
            wrong.append(f"{cell}: {len(got)} audit entries, want exactly one")
            continue
        (entry,) = got
        org_id = reply.body["org_id"] if route == ("POST", "/orgs") and reply.status == 201 else None
        want = {
            "org_id": org_id or world.orgs[caller.org].org_id,
            "actor": world.actor(caller),
            "action": action,
            "result": audit_result(reply.status),
        }
        have = {k: entry[k] for k in want}
        if have != want:
            wrong.append(f"{cell}: audit entry {have}, want {want}")
    assert not wrong, "\n".join(wrong)


def _audit_entries_by_request(world: World) -> dict[str, list[dict[str, str]]]:
    ddb = world.local.cloud.client("dynamodb")
    table = world.local.cloud.names.table("audit")
    found: dict[str, list[dict[str, str]]] = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            request_id = item.get("request_id", {}).get("S")
            if request_id:
                entry = {k: v.get("S", "") for k, v in item.items() if "S" in v}
                found.setdefault(request_id, []).append(entry)
    return found
