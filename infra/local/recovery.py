"""What a restored local cloud does with the work that was in flight when it stopped.

The snapshot keeps state, not threads: a CloudFormation operation or a Step Functions execution that
was running has nobody running it any more. Left alone, a stack would stay CREATE_IN_PROGRESS and an
execution RUNNING forever, and the records they drive (a stack CREATING, a connection PENDING) with
them. So, on restore:

1. Every execution still RUNNING is redriven, as Step Functions' RedriveExecution does: its history
   gets ``ExecutionFailed`` (cause "the local cloud restarted") and ``ExecutionRedriven``, and it runs
   again from the top-level state that was interrupted, with that state's input. Every Task of
   stackpilot's workflows is conditional on the operation it belongs to, so running the interrupted
   one again is safe: a callback wait registers a new task token, a poll looks again, a finish records
   the outcome once. An execution whose interrupted state cannot be found ends FAILED with that cause.
   This comes first: until redriven, a RUNNING execution has no interpreter to take a task token.
2. Every stack operation still in progress ends where AWS leaves a stack whose operation can neither
   finish nor roll back (CREATE_FAILED, UPDATE_FAILED, DELETE_FAILED, *_ROLLBACK_FAILED), with the
   reason "the local cloud restarted"; its status event goes out as usual, so stackpilot hears of it
   as of any other failure (and the redriven workflow's wait looks at the stack anyway).
3. Every CodeBuild build still IN_PROGRESS ends FAILED in its current phase with that reason, and its
   "CodeBuild Build State Change" event goes out.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger(__name__)

REASON = "the local cloud restarted"
ERROR = "LocalCloud.Restarted"

# An interrupted operation's end: what AWS shows when an operation can neither finish nor roll back.
INTERRUPTED_STACK_STATUS = {
    "CREATE_IN_PROGRESS": "CREATE_FAILED",
    "UPDATE_IN_PROGRESS": "UPDATE_FAILED",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_COMPLETE",  # only old resources were left to delete
    "ROLLBACK_IN_PROGRESS": "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS": "DELETE_FAILED",
    "IMPORT_IN_PROGRESS": "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_IN_PROGRESS": "IMPORT_ROLLBACK_FAILED",
}


@dataclass(frozen=True)
class Recovered:
    stacks_settled: int = 0
    executions_redriven: int = 0
    executions_failed: int = 0
    builds_settled: int = 0


def recover() -> Recovered:
    # Executions first: until redriven, a RUNNING execution has no interpreter, and a task token
    # sent by a stack's status event (step 1's) would find none to look in.
    redriven, failed = redrive_executions()
    settled = settle_stack_operations()
    from infra.local.patches import settle_builds  # CodeBuild builds whose thread is gone: FAILED

    return Recovered(
        stacks_settled=settled,
        executions_redriven=redriven,
        executions_failed=failed,
        builds_settled=settle_builds(),
    )


def _all_backends(backend_dict: Any) -> list[Any]:
    return [backend for regions in list(backend_dict.values()) for backend in list(regions.values())]


def settle_stack_operations() -> int:
    from moto.cloudformation.models import cloudformation_backends

    settled = 0
    for backend in _all_backends(cloudformation_backends):
        for stack in list(backend.stacks.values()):
            final = INTERRUPTED_STACK_STATUS.get(stack.status)
            if final is None:
                continue
            LOG.info("stack %s was %s: now %s (%s)", stack.name, stack.status, final, REASON)
            stack._add_stack_event(final, resource_status_reason=REASON)  # the status event goes out
            settled += 1
    return settled


def running_executions() -> list[Any]:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return [
        execution
        for backend in _all_backends(stepfunctions_parser_backends)
        for machine in list(backend.state_machines)
        for execution in list(getattr(machine, "executions", []))
        if execution.exec_status == "RUNNING"
    ]


def redrive_executions() -> tuple[int, int]:
    redriven = failed = 0
    for execution in running_executions():
        events = execution.to_history_output()["events"]
        definition = json.loads(execution.state_machine.definition)
        resume = _interrupted_state(definition, events, execution.input_data)
        now = dt.datetime.now(tz=dt.UTC)
        failure = {"executionFailedEventDetails": {"error": ERROR, "cause": REASON}}
        ended = _event(events, "ExecutionFailed", now, failure)
        if resume is None:
            _end_failed(execution, [*events, ended], now)
            failed += 1
            continue
        state, state_input = resume
        again = {"executionRedrivenEventDetails": {"redriveCount": 1}}
        redrive = _event([*events, ended], "ExecutionRedriven", now, again)
        _restart_at(execution, state, state_input, [*events, ended, redrive])
        LOG.info("execution %s redriven from %s (%s)", execution.name, state, REASON)
        redriven += 1
    return redriven, failed


def _interrupted_state(
    definition: dict[str, Any], events: list[dict[str, Any]], execution_input: Any
) -> tuple[str, Any] | None:
    """The top-level state to run again and its input: the last one entered and not exited; after an
    exit, the next one; before any, the first, with the execution's input."""
    states = definition.get("States", {})
    known = _state_names(definition)
    current: tuple[str, Any] | None = None  # (name, input) of the state entered last
    output: Any = None  # its output, once it exited
    for event in events:
        entered = event.get("stateEnteredEventDetails")
        left = event.get("stateExitedEventDetails")
        if entered and entered.get("name") not in known:
            return None  # the definition changed under it: no telling where it was
        if entered and entered.get("name") in states:
            current, output = (entered["name"], entered.get("input")), None
        elif left and current and left.get("name") == current[0]:
            output = left.get("output")
    if current is None:
        start = str(definition.get("StartAt"))
        return (start, execution_input) if start in states else None
    name, state_input = current
    if output is None:
        return name, _json(state_input)
    following = states[name].get("Next")
    if following is not None:
        return following, _json(output)
    # A Choice's next state is not in its exit event: it decides again, from the same input. A
    # terminal state's exit is the end, which did not get recorded: nothing to run again.
    return (name, _json(state_input)) if states[name].get("Type") == "Choice" else None


def _state_names(definition: dict[str, Any]) -> set[str]:
    """Every state's name, nested ones (Map, Parallel) included."""
    names: set[str] = set()
    for name, spec in definition.get("States", {}).items():
        names.add(name)
        for nested in [spec.get("ItemProcessor"), spec.get("Iterator"), *spec.get("Branches", [])]:
            if isinstance(nested, dict):
                names |= _state_names(nested)
    return names


def _json(text: Any) -> Any:
    if text is None:
        return {}
    return json.loads(text) if isinstance(text, str) else text


def _event(
    events: list[dict[str, Any]], kind: str, now: dt.datetime, details: dict[str, Any]
) -> dict[str, Any]:
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    last = events[-1]["id"] if events else 0
    stamp = iso_8601_datetime_with_milliseconds(now)
    return {"id": last + 1, "previousEventId": last, "type": kind, "timestamp": stamp, **details}


def _end_failed(execution: Any, events: list[dict[str, Any]], now: dt.datetime) -> None:
    from infra.local.persistence import FrozenWorker

    execution.exec_worker = FrozenWorker(events)
    execution.exec_status, execution.stop_date = "FAILED", now
    execution.error, execution.cause = ERROR, REASON


def _restart_at(execution: Any, state: str, state_input: Any, earlier: list[dict[str, Any]]) -> None:
    """A new interpreter on the same execution (same ARN), starting at ``state``; GetExecutionHistory
    shows the earlier events first (the patched Execution.to_history_output)."""
    machine = execution.state_machine
    definition = json.loads(machine.definition)
    definition["StartAt"] = state
    redriven = copy.copy(machine)
    redriven.definition = json.dumps(definition)
    original_input = execution.input_data
    execution.state_machine, execution.input_data = redriven, state_input
    execution.exec_worker, execution.stop_date, execution.error, execution.cause = None, None, None, None
    execution.stackpilot_earlier_history = earlier
    try:
        execution.start()
    finally:
        execution.state_machine, execution.input_data = machine, original_input
