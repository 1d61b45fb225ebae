"""One state machine of ours, as every domain's workflows use it: an idempotent start (executions are
named by what they do, so a retried request starts nothing new), resuming a waiting task, stopping an
execution, and the ARN an execution of a given name has (known before it starts)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.shared.errors import DependencyDown

#: The waiting task is gone (timed out, or resumed already): resuming it again is not an error.
GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
#: Stopping what is not running any more is not an error either.
NOT_RUNNING = frozenset({"ExecutionDoesNotExist", "ExecutionNotFound"})


def execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


class StateMachine:
    """``unavailable`` makes the domain's own error for a Step Functions failure (its class name is
    what the domain's state machines and answers know)."""

    def __init__(
        self,
        client: Any,
        state_machine_arn: str,
        unavailable: Callable[[str], Exception] = DependencyDown,
    ) -> None:
        self._sfn = client
        self._arn = state_machine_arn
        self._unavailable = unavailable

    def execution_arn(self, name: str) -> str:
        return execution_arn(self._arn, name)

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Starts the execution ``name``; returns its ARN. Starting it again is a no-op (AWS answers
        ExecutionAlreadyExists for a name used with another input: the first one stands)."""
        try:
            result = self._sfn.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(payload)
            )
        except ClientError as exc:
            if _code(exc) == "ExecutionAlreadyExists":
                return self.execution_arn(name)
            raise self._unavailable(f"could not start the workflow: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise self._unavailable(f"could not start the workflow: {type(exc).__name__}") from exc
        return str(result["executionArn"])

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Sends the waiting task its result; False if it is not waiting any more."""
        try:
            self._sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as exc:
            if _code(exc) in GONE:
                return False
            raise self._unavailable(f"could not resume the workflow: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise self._unavailable(f"could not resume the workflow: {type(exc).__name__}") from exc
        return True

    def stop(self, execution_arn: str, cause: str) -> None:
        try:
            self._sfn.stop_execution(executionArn=execution_arn, cause=cause)
        except ClientError as exc:
            if _code(exc) not in NOT_RUNNING:
                raise self._unavailable(f"could not stop the workflow: {_code(exc)}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])
