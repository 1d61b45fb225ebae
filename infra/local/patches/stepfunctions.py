"""2. Step Functions: Wait and Retry in scaled time, unnamed executions, SendTaskFailure's cause,
StopExecution that aborts at once, and the executions tracked for teardown."""

from __future__ import annotations

import datetime as dt
import time
import types
import uuid
from typing import Any

from infra.local.patches._machinery import _call_original, _replace, _scale, _scaled_sleep, _state


def _scaled_wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
    """WaitFunction._wait_interval on a float deadline (moto's int() rounding would re-enter)."""
    generation = _state.generation
    deadline = time.monotonic() + max(0, wait_seconds) * _scale()
    while env.is_running() and generation == _state.generation:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        env.program_state_event.wait(min(remaining, 0.1))


def _start_execution(
    self: Any,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> Any:
    """AWS generates a uuid name when none is given (moto builds an ARN ending ':None')."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    return _call_original(
        StepFunctionsParserBackend,
        "start_execution",
        self,
        state_machine_arn,
        name or str(uuid.uuid4()),
        execution_input,
        trace_header,
    )


def _send_task_failure(self: Any) -> Any:
    """moto's response layer drops `cause`."""
    from moto.core.responses import EmptyResult

    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _execution_start(self: Any) -> None:
    from moto.stepfunctions.parser.backend.execution import Execution

    with _state.lock:
        # Keep only live executions: a long-running local server starts many.
        _state.executions = [e for e in _state.executions if e.exec_status in (None, "RUNNING")]
        _state.executions.append(self)
    _call_original(Execution, "start", self)


def _stop_execution(execution: Any) -> None:
    if execution.exec_status == "RUNNING":
        execution.stop(
            stop_date=dt.datetime.now(tz=dt.UTC), error="States.Aborted", cause="local cloud teardown"
        )


def _interrupt_callbacks(execution: Any) -> None:
    env = getattr(getattr(execution, "exec_worker", None), "env", None)
    pool = getattr(getattr(env, "callback_pool_manager", None), "_pool", {})
    for endpoint in list(pool.values()):
        endpoint.interrupt_all()


def _execution_stop(self: Any, stop_date: dt.datetime, error: str | None, cause: str | None) -> None:
    """StopExecution is ABORTED at once, like AWS.

    moto only flags the interpreter and reflects the status when the worker thread ends; a worker
    blocked on a task token would stay RUNNING until the token times out, and the interrupted
    wait would then be reported as FAILED.
    """
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    worker = getattr(self, "exec_worker", None)
    if worker is not None and worker.env is not None:
        _call_original(Execution, "stop", self, stop_date=stop_date, error=error, cause=cause)
    if self.exec_status == "RUNNING":
        self.stackpilot_aborted = True
        self.exec_status, self.stop_date = ExecutionStatus.ABORTED, stop_date
        self.error, self.cause = error or None, cause or None
    _interrupt_callbacks(self)


def _reflect_execution_status(self: Any) -> None:
    """Keep ABORTED once StopExecution said so (see _execution_stop)."""
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    if getattr(self.execution, "stackpilot_aborted", False):
        return
    _call_original(BaseExecutionWorkerCommunication, "_reflect_execution_status", self)


def _eval_component(self: Any, env: Any) -> None:
    """A Task state evaluates its timeout (and heartbeat), then pops the value off the stack; but moto
    evaluates nothing once the execution is stopped, so a StopExecution landing between the two made
    the pop take the state's input, wrote it into the history's ``timeoutInSeconds``, and
    GetExecutionHistory then failed to serialise it. Once stopped, a timeout or heartbeat pushes a
    value all the same (0: the task never runs)."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat import Heartbeat
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import Timeout
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    if not env.is_running() and isinstance(self, Timeout | Heartbeat):
        env.stack.append(0)
        return
    _call_original(EvalComponent, "eval", self, env)


def _history_output(self: Any) -> Any:
    """An execution redriven after a restart (``infra/local/recovery.py``) shows its earlier events
    first, then the new interpreter's, numbered on from them (as a redriven execution's history)."""
    from moto.stepfunctions.parser.backend.execution import Execution

    output = _call_original(Execution, "to_history_output", self)
    earlier = getattr(self, "stackpilot_earlier_history", None)
    if not earlier:
        return output
    # The new interpreter's ExecutionStarted (id 1) is the earlier ExecutionRedriven: number on from it.
    offset = earlier[-1]["id"] - 1
    later = [
        {
            **event,
            "id": event["id"] + offset,
            "previousEventId": max(event.get("previousEventId") or 0, 1) + offset,
        }
        for event in output["events"]
        if event.get("type") != "ExecutionStarted"  # the redrive's start is ExecutionRedriven
    ]
    output["events"] = [*earlier, *later]
    return output


def patch() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    _replace(WaitFunction, "_wait_interval", _scaled_wait_interval, "sfn scaled Wait")
    # retrier_decl calls time.sleep(interval) after backoff/MaxDelay/jitter: give that module a
    # `time` whose sleep is scaled, leaving the global time module alone.
    current = vars(retrier_decl)["time"]
    if current is not time and getattr(current, "sleep", None) is not _scaled_sleep:
        raise RuntimeError(
            "stackpilot patch 'sfn scaled Retry': retrier_decl no longer sleeps via time.sleep"
        )
    _replace(retrier_decl, "time", types.SimpleNamespace(sleep=_scaled_sleep), "sfn scaled Retry")
    _replace(StepFunctionsParserBackend, "start_execution", _start_execution, "sfn unnamed execution")
    _replace(StepFunctionResponse, "send_task_failure", _send_task_failure, "sfn SendTaskFailure cause")
    _replace(Execution, "start", _execution_start, "sfn execution tracking")
    _replace(Execution, "stop", _execution_stop, "sfn StopExecution aborts at once")
    _replace(Execution, "to_history_output", _history_output, "sfn history of a redriven execution")
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    _replace(EvalComponent, "eval", _eval_component, "sfn a stop between a Task's timeout and its pop")
    _replace(
        BaseExecutionWorkerCommunication,
        "_reflect_execution_status",
        _reflect_execution_status,
        "sfn StopExecution aborts at once",
    )
