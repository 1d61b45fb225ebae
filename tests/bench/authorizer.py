"""The authorizer's cost per request, warm: CPU time as ratios to references measured in the same
run, interleaved (a noisy machine moves both alike), and the AWS calls each request makes.

References: verifying the same JWT with PyJWT alone (the crypto every token request must pay), and
one DynamoDB GetItem through boto3 against the same local endpoint (the authorizer must make at
least one: the caller's role is looked up, never trusted from the token).
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import jwt

from infra.definitions import function
from infra.local.runtime import LocalStackpilot
from tests.bench.counters import AwsCallCounter
from tests.workflows.client import Api

ORG = "org_bench_authorizer"
ROUNDS = 7
CALLS_PER_ROUND = 40


def _event(local: LocalStackpilot, credential: str, method: str, path: str) -> dict[str, Any]:
    header = f"Bearer {credential}"
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{local.cloud.region}:000000000000:bench/local/{method}{path}",
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Authorization": header},
        "multiValueHeaders": {"Authorization": [header]},
        "requestContext": {"requestId": str(uuid.uuid4()), "identity": {"sourceIp": "127.0.0.1"}},
    }


def _context() -> Any:
    fn = function("tenancy-authorizer")
    return SimpleNamespace(
        function_name=fn.key,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:us-east-1:000000000000:function:{fn.key}",
        memory_limit_in_mb=fn.memory_mb,
        aws_request_id="bench",
    )


def _per_call_seconds(call: Callable[[], Any]) -> float:
    started = time.process_time()
    for _ in range(CALLS_PER_ROUND):
        call()
    return (time.process_time() - started) / CALLS_PER_ROUND


def authorizer_costs(local: LocalStackpilot) -> None:
    owner = Api(local, org_id=ORG, role="owner")
    key = owner.request("POST", "/api-keys", {"name": "bench", "role": "viewer"}).body["key"]
    viewer_token = local.token(ORG, "viewer", "bench-viewer")
    cases = {
        "JWT, GET /accounts (allowed)": _event(local, viewer_token, "GET", "/accounts"),
        "API key, GET /accounts (allowed)": _event(local, key, "GET", "/accounts"),
        "JWT, POST /members by a viewer (denied)": _event(local, viewer_token, "POST", "/members"),
    }
    module_name, _, attribute = function("tenancy-authorizer").handler.rpartition(".")
    module = importlib.import_module(module_name)
    context = _context()
    module.logger.setLevel("WARNING")  # the denial's log line, thousands of times over, is not the point

    ddb = local.cloud.client("dynamodb")
    members = local.cloud.names.table("members")
    public_key = local.issuer.public_key

    def get_item() -> Any:
        return ddb.get_item(TableName=members, Key={"org_id": {"S": ORG}, "user_id": {"S": "bench-viewer"}})

    def verify_jwt() -> Any:
        return jwt.decode(
            viewer_token,
            public_key,
            algorithms=["RS256"],
            audience=local.issuer.audience,
            issuer=local.issuer.issuer_url,
        )

    references: dict[str, Callable[[], Any]] = {"PyJWT verify": verify_jwt, "one GetItem": get_item}
    calls: dict[str, dict[str, float]] = {}
    with AwsCallCounter().installed() as counter:
        handler = getattr(module, attribute)
        targets: dict[str, Callable[[], Any]] = {}
        for label, event in cases.items():
            targets[label] = lambda event=event: handler(event, context)
            targets[label]()  # warm: JWKS fetched, pepper read, clients made
        for label, target in targets.items():
            counter.calls.clear()
            for _ in range(CALLS_PER_ROUND):
                target()
            calls[label] = {op: n / CALLS_PER_ROUND for op, n in sorted(counter.by_operation().items()) if n}
        best: dict[str, float] = {}
        for _ in range(ROUNDS):
            for label, target in {**references, **targets}.items():
                best[label] = min(best.get(label, float("inf")), _per_call_seconds(target))

    print("Authorizer per request, warm (CPU time, best of 7 rounds of 40, as ratios to references")
    print("measured alternately in the same run):")
    for label in references:
        print(f"  reference: {label:44s}           ({best[label] * 1000:6.2f} ms)")
    for label in cases:
        ratios = "  ".join(f"{best[label] / best[ref]:5.1f}x {ref}" for ref in references)
        ops = ", ".join(f"{op} {n:g}" for op, n in calls[label].items())
        print(f"  {label:54s} {ratios}  ({best[label] * 1000:6.2f} ms)")
        print(f"      AWS calls per request: {sum(calls[label].values()):g} ({ops})")
