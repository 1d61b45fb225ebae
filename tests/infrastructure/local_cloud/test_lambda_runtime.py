"""Lambda handlers run in-process (infra/local/patches/lambda_runtime.py)."""

from __future__ import annotations

import json
import threading

import pytest

from infra.local import patches
from infra.local.patches import lambda_runtime
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


def test_a_pending_async_retry_is_dropped_on_stop(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an Event invocation that failed and waits for its retry (an hour away, scaled)
    monkeypatch.setattr(lambda_runtime, "ASYNC_RETRY_DELAYS_SECONDS", (3600.0, 3600.0))
    create_function("flaky", "flaky")
    client("lambda").invoke(FunctionName="flaky", InvocationType="Event", Payload=json.dumps({"key": "k"}))
    wait_until(lambda: handlers.CALLS.get("k") == 1, what="the first attempt")
    waiting = [t for t in threading.enumerate() if t.name == "stackpilot-lambda-flaky"]
    assert len(waiting) == 1
    # WHEN the local cloud stops (stop_executions, then the mock: the retry would find no emulator,
    # or the next local cloud of this process)
    patches.stop_executions()
    waiting[0].join(timeout=30)
    # THEN the retry is lost with it, as with a process that died: it never runs
    assert handlers.CALLS["k"] == 1
    assert not waiting[0].is_alive()
