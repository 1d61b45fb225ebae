"""Step Functions in scaled time (infra/local/patches/stepfunctions.py), in-process and in server mode."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fixtures import patch_handlers as handlers
from tests.infrastructure.local_cloud.support import (
    client,
    create_function,
    create_state_machine,
    lambda_task,
    run_execution,
    wait_execution,
    wait_until,
)


def test_sfn_retries_on_exception_class_then_catches(aws: None) -> None:
    function_arn = create_function("flaky", "flaky")
    retry = {
        "ErrorEquals": ["FlakyError"],
        "IntervalSeconds": 2,
        "MaxAttempts": 2,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 3,
        "JitterStrategy": "FULL",
    }
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": lambda_task(
                function_arn,
                Retry=[retry],
                Catch=[{"ErrorEquals": ["FlakyError"], "ResultPath": "$.error", "Next": "Recovered"}],
                End=True,
            ),
            "Recovered": {"Type": "Pass", "End": True},
        },
    }
    machine = create_state_machine("retry-catch", definition)

    started = time.monotonic()
    always_fails = run_execution(machine, {"key": "a"})
    elapsed = time.monotonic() - started
    recovers = run_execution(machine, {"key": "b", "fail_times": 1})

    assert always_fails["status"] == "SUCCEEDED"
    caught = json.loads(always_fails["output"])["error"]
    assert caught["Error"] == "FlakyError"
    assert json.loads(caught["Cause"])["errorMessage"] == "attempt 3 failed"
    assert handlers.CALLS["a"] == 3  # 1 attempt + 2 retries
    assert elapsed < 3.0, "Retry backoff is not scaled (2 s + 3 s real time)"
    assert recovers["status"] == "SUCCEEDED"
    assert json.loads(recovers["output"]) == {"attempt": 2}


def test_sfn_wait_state_is_scaled(aws: None) -> None:
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 50, "Next": "WaitPath"},
            "WaitPath": {"Type": "Wait", "SecondsPath": "$.seconds", "End": True},
        },
    }
    machine = create_state_machine("waits", definition)

    started = time.monotonic()
    result = run_execution(machine, {"seconds": 20})
    elapsed = time.monotonic() - started

    assert result["status"] == "SUCCEEDED"
    assert elapsed < 5.0, "Wait is not scaled (70 s at scale 0.01 = 0.7 s)"
    assert elapsed >= 0.6, "Wait did not wait at all"


def test_sfn_unnamed_executions_get_unique_names(aws: None) -> None:
    machine = create_state_machine("pass", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    sfn = client("stepfunctions")

    first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    assert first != second
    assert not first.endswith(":None")
    assert wait_execution(second)["status"] == "SUCCEEDED"


def token_machine(function_arn: str, timeout_seconds: int | None = None) -> dict[str, Any]:
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": function_arn, "Payload": {"token.$": "$$.Task.Token"}},
        "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"}],
        "End": True,
    }
    if timeout_seconds is not None:
        task["TimeoutSeconds"] = timeout_seconds
    return {
        "StartAt": "Wait",
        "States": {
            "Wait": task,
            "TimedOut": {"Type": "Pass", "Result": {"outcome": "timed out"}, "End": True},
        },
    }


def test_sfn_wait_for_task_token_success_and_failure_with_cause(aws: None) -> None:
    machine = create_state_machine("token", token_machine(create_function("hold", "hold_token")))
    sfn = client("stepfunctions")

    succeeding = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    token = wait_until(lambda: handlers.TOKENS[:1], what="task token")[0]
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    failing = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    token = wait_until(lambda: handlers.TOKENS[1:2], what="second task token")[0]
    sfn.send_task_failure(taskToken=token, error="Rejected", cause="the reviewer said no")

    assert json.loads(wait_execution(succeeding)["output"]) == {"approved": True}
    failed = wait_execution(failing)
    assert failed["status"] == "FAILED"
    assert failed["error"] == "Rejected"
    assert failed["cause"] == "the reviewer said no"


def final_events(sfn: Any, execution_arn: str) -> list[str]:
    """The execution's terminal history events (ExecutionSucceeded/Failed/Aborted/TimedOut)."""
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    return [
        e["type"] for e in events if e["type"].startswith("Execution") and e["type"] != "ExecutionStarted"
    ]


def test_sfn_stop_execution_aborts_a_task_token_wait_at_once(aws: None) -> None:
    machine = create_state_machine("token-stop", token_machine(create_function("hold", "hold_token")))
    sfn = client("stepfunctions")
    execution_arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    token = wait_until(lambda: handlers.TOKENS[:1], what="task token")[0]

    sfn.stop_execution(executionArn=execution_arn, error="Disconnected", cause="the admin disconnected")

    described = sfn.describe_execution(executionArn=execution_arn)
    assert described["status"] == "ABORTED"
    assert "stopDate" in described
    # The interrupted worker's last act is the execution's final history event (it then reports its
    # status): once that event is there, the worker must not have turned the execution into FAILED.
    wait_until(lambda: final_events(sfn, execution_arn), what="the worker's final history event")
    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "ABORTED"
    with pytest.raises(ClientError):
        sfn.send_task_success(taskToken=token, output="{}")


def test_sfn_wait_for_task_token_times_out_to_catch(aws: None) -> None:
    machine = create_state_machine(
        "token-timeout", token_machine(create_function("hold", "hold_token"), timeout_seconds=1)
    )

    result = run_execution(machine, {})

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"outcome": "timed out"}


def test_server_mode_lambda_and_state_machine(moto_server: str) -> None:
    arn = create_function("echo", "echo", endpoint=moto_server)
    lam = client("lambda", endpoint_url=moto_server)
    sfn = client("stepfunctions", endpoint_url=moto_server)

    invoked = lam.invoke(FunctionName="echo", Payload=json.dumps({"via": "server"}))
    machine = create_state_machine(
        "server", {"StartAt": "Call", "States": {"Call": lambda_task(arn, End=True)}}, sfn
    )
    result = run_execution(machine, {"via": "sfn"}, sfn)

    assert json.load(invoked["Payload"])["event"] == {"via": "server"}
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["event"] == {"via": "sfn"}


def test_sfn_a_task_stopped_before_its_timeout_is_read_still_gets_a_number() -> None:
    # GIVEN a Task's timeout, evaluated in an execution that is running, and in one just stopped
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    class Env:
        def __init__(self, running: bool) -> None:
            self.stack: list[Any] = [{"the": "state's input"}]
            self.running = running
            self.next_field_name: str | None = None

        def is_running(self) -> bool:
            return self.running

    running, stopped = Env(running=True), Env(running=False)
    # WHEN the Task evaluates it and pops what it expects to be the seconds
    TimeoutSeconds(timeout_seconds=30).eval(running)  # type: ignore[arg-type]
    TimeoutSeconds(timeout_seconds=30).eval(stopped)  # type: ignore[arg-type]
    # THEN it pops a number either way, never the state's input (which broke GetExecutionHistory)
    assert running.stack.pop() == 30
    assert stopped.stack.pop() == 0
