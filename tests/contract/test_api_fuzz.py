"""Schemathesis against the running local API's own /openapi.json: no 5xx, every answer documented.

Each operation is fuzzed with the owner's token (all four checks) and without a valid one (no 5xx,
documented statuses only). Bounded in ``make test``; ``--fuzz-deep`` (``make fuzz``) multiplies the
examples. The seed is fixed, so a failure replays by running the same command again; its report
carries a curl line for the request and the test's output names the seed.

``schemathesis.pytest.from_fixture`` would be the usual loader for a live server, but in 4.32.5 it
reads ``Node._nodeid``, which pytest 9.2 no longer has; so each test drives Hypothesis itself with
the operation's schemathesis strategies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from infra.definitions import ROUTES, SUPPORTED_REGIONS
from infra.local import runtime
from infra.local.front_door import INTEGRATION_TIMEOUT_SECONDS

pytestmark = pytest.mark.xdist_group("local-cloud")

SEED = 20_250_611
OWNER_EXAMPLES = 25  # per operation, valid and invalid inputs together
ANONYMOUS_EXAMPLES = 8  # per operation and kind of credential: the front door answers before any handler
# --fuzz-deep (make fuzz). More than this, and the local audit table outgrows moto: each of its
# queries sorts the whole table, so late requests take seconds (DynamoDB's cost does not grow so).
DEEP_FACTOR = 10
# Past API Gateway's own limit (its 504 is then the answer checked), so requests never overlap: the
# local Lambda runs concurrent invocations of one function in one process, sharing its globals.
REQUEST_TIMEOUT = INTEGRATION_TIMEOUT_SECONDS + 5
MAX_BODY_BYTES = 16 * 1024
CONNECTION_PATH = "/accounts/{connection_id}"

Check = Callable[..., Any]
OWNER_CHECKS: tuple[Check, ...] = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)
ANONYMOUS_CHECKS: tuple[Check, ...] = (not_a_server_error, status_code_conformance)
OPERATIONS = [pytest.param(route.method, route.path, id=f"{route.method} {route.path}") for route in ROUTES]


def _sent_body(case: Case) -> bytes:
    sent = case.as_transport_kwargs(base_url="http://fuzz")
    if "json" in sent:
        return json.dumps(sent["json"]).encode()  # as requests serializes it
    data = sent.get("data")
    if data is None:
        return b""
    return data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def stackpilot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[runtime.LocalStackpilot]:
    state_dir = tmp_path_factory.mktemp("fuzz-state")
    local = runtime.start(in_process=True, api_port=0, time_scale=0.05, state_dir=state_dir)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def depth(request: pytest.FixtureRequest) -> int:
    return DEEP_FACTOR if request.config.getoption("--fuzz-deep") else 1


def _settings(max_examples: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,  # nothing written under the repo: the fixed seed replays a failure
        print_blob=True,
        suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.filter_too_much],
    )


def _live_schema(local: runtime.LocalStackpilot, *, forge_tokens: bool) -> schemathesis.BaseSchema:
    # forge_tokens: schemathesis makes up the Authorization header itself (never a valid token)
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": forge_tokens}})
    return schemathesis.openapi.from_url(f"{local.api_url}/openapi.json", config=config)


@pytest.fixture(scope="module")
def owner_api(stackpilot: runtime.LocalStackpilot) -> schemathesis.BaseSchema:
    return _live_schema(stackpilot, forge_tokens=False)


def _owner(local: runtime.LocalStackpilot, org_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {local.token(org_id, 'owner', 'fuzz-owner')}"}


def _send(
    api: schemathesis.BaseSchema, method: str, path: str, headers: dict[str, str], **case: Any
) -> schemathesis.Response:
    """One request of a test's own setup, checked like the fuzzed ones."""
    if "body" in case:
        case["media_type"] = "application/json"
    operation = api[path][method]
    return operation.Case(**case).call_and_validate(
        headers=headers, checks=list(OWNER_CHECKS), timeout=REQUEST_TIMEOUT
    )


def _connections(
    local: runtime.LocalStackpilot, api: schemathesis.BaseSchema, owner: dict[str, str]
) -> list[str]:
    """Two connections, so GET/DELETE by id reach their 200 answers, not only 404.

    Made here, not by the fuzz (generated regions are almost never served ones, so 201 is rare), and
    disconnected at once: a pending connection's workflow runs in background threads where moto's
    ASL parser calls ``ast.literal_eval``; Hypothesis calls ``ast.parse`` meanwhile, and CPython
    3.11's ast module is not thread-safe ("SystemError: AST constructor recursion depth mismatch").
    """
    ids = []
    for account in ("100000000001", "100000000002"):
        body = {"aws_account_id": account, "region": SUPPORTED_REGIONS[0]}
        connection_id = _send(api, "POST", "/accounts", owner, body=body).json()["connection_id"]
        _send(api, "DELETE", CONNECTION_PATH, owner, path_parameters={"connection_id": connection_id})
        status, _ = local.cloud.settled_execution("connect-account", connection_id)
        assert status != "RUNNING"
        ids.append(connection_id)
    return ids


def _history(api: schemathesis.BaseSchema, owner: dict[str, str]) -> None:
    """Audit entries of several kinds (succeeded and failed) for the audit reads to return."""
    member = {"user_id": "fuzz-member"}
    _send(api, "POST", "/members", owner, body={**member, "role": "viewer"})
    _send(api, "PATCH", "/members/{user_id}", owner, path_parameters=member, body={"role": "admin"})
    _send(api, "POST", "/members", owner, body={"role": "admin"})  # a 422: recorded as failed
    key_id = _send(api, "POST", "/api-keys", owner, body={"name": "fuzz", "role": "viewer"}).json()["key_id"]
    _send(api, "DELETE", "/api-keys/{key_id}", owner, path_parameters={"key_id": key_id})
    _send(api, "PUT", "/secrets/{name}", owner, path_parameters={"name": "fuzz"}, body={"value": "s3cret"})
    _send(api, "DELETE", "/secrets/{name}", owner, path_parameters={"name": "fuzz"})


def _cases(operation: Any, connection_ids: list[str] | None = None) -> st.SearchStrategy[Case]:
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    if operation.body or operation.path_parameters or operation.query or operation.headers:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))  # nothing to negate otherwise
    if connection_ids:
        strategies.append(st.sampled_from(connection_ids).flatmap(partial(_with_connection_id, operation)))
    return st.one_of(strategies)


def _with_connection_id(operation: Any, connection_id: str) -> st.SearchStrategy[Case]:
    return operation.as_strategy(path_parameters={"connection_id": connection_id})


def _fuzz(
    settings: hypothesis.settings,
    cases: st.SearchStrategy[Case],
    checks: tuple[Check, ...],
    headers: dict[str, str] | None = None,
) -> None:
    @settings
    @hypothesis.seed(SEED)
    @hypothesis.given(case=cases)
    def run(case: Case) -> None:
        hypothesis.assume(len(_sent_body(case)) <= MAX_BODY_BYTES)
        case.call_and_validate(headers=headers, checks=list(checks), timeout=REQUEST_TIMEOUT)

    # shown with a failure (pytest prints a failed test's output); the same command replays it
    print(f"api fuzz: hypothesis seed {SEED}, max_examples {settings.max_examples}")
    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_owner_gets_no_5xx_and_only_documented_answers(
    stackpilot: runtime.LocalStackpilot,
    owner_api: schemathesis.BaseSchema,
    depth: int,
    method: str,
    path: str,
) -> None:
    # An org per operation: each test owns its data, and the audit log each read walks stays as
    # small as one operation's fuzzing makes it.
    owner = _owner(stackpilot, f"org_fuzz_{method.lower()}{re.sub(r'[^a-z]+', '_', path)}".rstrip("_"))
    connection_ids = _connections(stackpilot, owner_api, owner) if path == CONNECTION_PATH else None
    if path.startswith("/audit"):
        _history(owner_api, owner)
    operation = owner_api[path][method]
    _fuzz(_settings(OWNER_EXAMPLES * depth), _cases(operation, connection_ids), OWNER_CHECKS, owner)


@pytest.mark.parametrize("forge_tokens", [False, True], ids=["no-token", "forged-token"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_a_caller_without_a_valid_token_gets_no_5xx_and_only_documented_statuses(
    stackpilot: runtime.LocalStackpilot,
    depth: int,
    method: str,
    path: str,
    forge_tokens: bool,
) -> None:
    operation = _live_schema(stackpilot, forge_tokens=forge_tokens)[path][method]
    _fuzz(_settings(ANONYMOUS_EXAMPLES * depth), _cases(operation), ANONYMOUS_CHECKS)


def test_the_fuzz_covers_every_operation_the_live_document_lists(owner_api: schemathesis.BaseSchema) -> None:
    listed = {
        (op.method.upper(), op.path) for op in (result.ok() for result in owner_api.get_all_operations())
    }
    assert listed == {(route.method, route.path) for route in ROUTES}


def test_adding_someone_already_a_member_is_a_documented_409(
    stackpilot: runtime.LocalStackpilot, owner_api: schemathesis.BaseSchema
) -> None:
    owner = _owner(stackpilot, "org_fuzz_member_twice")
    body = {"user_id": "fuzz-twice", "role": "viewer"}
    _send(owner_api, "POST", "/members", owner, body=body)
    again = owner_api["/members"]["POST"].Case(body=body, media_type="application/json")
    response = again.call_and_validate(headers=owner, checks=[status_code_conformance])
    # The member's own condition failed, not the org's: pynamodb sends a transaction's writes in
    # its own order, and the audit store maps DynamoDB's reasons back to the order they were added.
    assert response.status_code == 409, response.text
