"""Step Functions adapter for the accounts workflows."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from functions.accounts.exceptions import AwsUnavailable

GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}


class StepFunctionsWorkflow:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, name: str, payload: dict[str, Any]) -> str:
        try:
            result = self._sfn.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(payload)
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                # Same name, same input: StartExecution is idempotent in AWS; a replay lands here.
                return f"{self._arn.replace(':stateMachine:', ':execution:')}:{name}"
            raise AwsUnavailable(f"could not start the workflow: {exc.response['Error']['Code']}") from exc
        return str(result["executionArn"])

    def stop(self, execution_arn: str, cause: str) -> None:
        try:
            self._sfn.stop_execution(executionArn=execution_arn, cause=cause)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"ExecutionDoesNotExist", "ExecutionNotFound"}:
                raise

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        try:
            self._sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in GONE:
                return False
            raise AwsUnavailable(f"could not resume the workflow: {exc.response['Error']['Code']}") from exc
        return True
