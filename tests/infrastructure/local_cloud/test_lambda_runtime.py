"""Lambda handlers run in-process (infra/local/patches/lambda_runtime.py)."""

from __future__ import annotations

import json

from tests.fixtures import patch_handlers as handlers
from tests.infrastructure.local_cloud.support import (
    client,
    create_function,
    wait_until,
)


def test_lambda_invoke_runs_handler_in_process_with_context(aws: None) -> None:
    arn = create_function("echo", "echo", timeout=7)
    response = client("lambda").invoke(FunctionName="echo", Payload=json.dumps({"hello": "world"}))

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    body = json.load(response["Payload"])
    assert body["event"] == {"hello": "world"}
    assert body["function_name"] == "echo"
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == arn
    assert body["memory_limit_in_mb"] == 256
    assert len(body["aws_request_id"]) == 36
    assert body["log_group_name"] == "/aws/lambda/echo"
    assert "[$LATEST]" in body["log_stream_name"]
    assert 6000 < body["remaining_ms"] <= 7000


def test_lambda_error_contract(aws: None) -> None:
    create_function("flaky", "flaky")
    response = client("lambda").invoke(FunctionName="flaky", Payload=json.dumps({"key": "k"}))

    assert response["FunctionError"] == "Unhandled"
    body = json.load(response["Payload"])
    assert body["errorType"] == "FlakyError"
    assert body["errorMessage"] == "attempt 1 failed"
    assert isinstance(body["stackTrace"], list)
    assert body["stackTrace"]


def test_lambda_event_and_dry_run_invocations(aws: None) -> None:
    create_function("record", "record")
    lam = client("lambda")

    dry = lam.invoke(FunctionName="record", InvocationType="DryRun", Payload=b"{}")
    event = lam.invoke(FunctionName="record", InvocationType="Event", Payload=json.dumps({"n": 1}))

    assert dry["StatusCode"] == 204
    assert event["StatusCode"] == 202
    wait_until(lambda: handlers.RECEIVED, what="async invocation")
    assert handlers.RECEIVED == [{"function": "record", "event": {"n": 1}}]
