"""A cold request: a fresh interpreter imports the handler (INIT) and serves one real request
against the local cloud's endpoint. What the first request builds (pynamodb's DynamoDB clients, any
client made on first use) is billed as surely as INIT, and the user waits for both.

Ratios to `python -c pass`, measured alternately in the same run (see init_cost.py). Only the
function's own CPU counts: the emulator answers from this process, not the child's.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.local import runtime
from infra.local.patches import lambda_runtime
from tests.bench.init_cost import handler_import, measure
from tests.workflows.stack_support import connected_account

# The reference: what pynamodb does left to itself, a new botocore session for each connection.
_OWN_SESSIONS = (
    "import botocore.session, functions.shared.dal.dynamo as d\n"
    "d._SessionConnection.session = property(lambda self: botocore.session.get_session())\n"
)

ORG = "org_bench_cold"
ACCOUNT = "101010101010"

_CALL = """
import json, types
event = json.loads({event!r})
context = types.SimpleNamespace(
    function_name={name!r}, function_version="$LATEST", memory_limit_in_mb=512, aws_request_id="bench",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:" + {name!r},
    log_group_name="/aws/lambda/bench", log_stream_name="bench", get_remaining_time_in_millis=lambda: 30000,
)
result = m.lambda_handler(event, context)
assert {check}, result
"""


@contextmanager
def _captured_events() -> Iterator[list[tuple[str, Any]]]:
    """Every (function name, event) the local cloud delivers while inside."""
    seen: list[tuple[str, Any]] = []
    real = lambda_runtime._call_handler  # every invocation, synchronous or not, in its turn

    def recording(function: Any, event: Any, request_id: str, turn: Any) -> tuple[bytes, bool]:
        seen.append((function.function_name, event))
        return real(function, event, request_id, turn)

    lambda_runtime._call_handler = recording  # type: ignore[assignment]
    try:
        yield seen
    finally:
        lambda_runtime._call_handler = real  # type: ignore[assignment]


def _first(seen: list[tuple[str, Any]], name: str, keep: Callable[[Any], bool]) -> Any:
    for function, event in seen:
        if function == name and keep(event):
            return event
    raise RuntimeError(f"{name} received no such event during the onboarding")


def cold_requests() -> None:
    local = runtime.start(
        in_process=False, aws_port=0, api_port=0, time_scale=0.05, state_dir=Path(tempfile.mkdtemp())
    )
    try:
        names = local.cloud.names.function
        with _captured_events() as seen:
            admin, _ = connected_account(local, ORG, ACCOUNT)
            assert admin.request("GET", "/accounts").status == 200
        listing = _first(seen, names("accounts-api"), lambda e: e.get("httpMethod") == "GET")
        callback = _first(seen, names("accounts-callback"), lambda e: "Records" in e)
        requests = {
            "accounts-api": (listing, "result['statusCode'] == 200", "GET /accounts"),
            "accounts-callback": (callback, "result['outcomes'] != ['MALFORMED']", "its Create, replayed"),
        }
        targets: dict[str, str] = {}
        for key, (event, check, what) in requests.items():
            code = handler_import(key)
            targets[f"{key}: INIT"] = code
            call = _CALL.format(event=json.dumps(event), name=names(key), check=check)
            targets[f"{key}: INIT + {what}"] = code + call
            targets[f"{key}: the same, pynamodb left to itself"] = _OWN_SESSIONS + code + call
        results = measure(targets, cloud=local.cloud)
    finally:
        local.stop()
    print("A cold request: INIT plus the first request, against the local cloud (same method as INIT):")
    for result in results:
        print(f"  {result.label:56s} {result.ratio:6.1f}x  ({result.cpu_ms:5.0f} ms)")
