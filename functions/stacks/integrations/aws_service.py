"""Our own AWS: the service bucket (rendered templates) and Step Functions (the workflow)."""

from __future__ import annotations

from typing import Any, Literal

from botocore.exceptions import ClientError

TEMPLATE_URL_SECONDS = 3600


class S3Templates:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3, self._bucket = s3, bucket

    def put(self, key: str, body: str) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body.encode(), ContentType="application/json")

    def url(self, key: str) -> str:
        """A short-lived link the customer's CloudFormation reads the template from."""
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=TEMPLATE_URL_SECONDS
            )
        )

    def get(self, key: str) -> str | None:
        try:
            return str(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read().decode())
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise


class StepFunctionsWorkflow:
    def __init__(self, sfn: Any, provision_arn: str, delete_arn: str) -> None:
        self._sfn = sfn
        self._arns = {"provision": provision_arn, "delete": delete_arn}

    def start(self, machine: Literal["provision", "delete"], name: str, payload: dict[str, Any]) -> str:
        import json

        machine_arn = self._arns[machine]
        arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        try:
            return str(
                self._sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(payload))[
                    "executionArn"
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return arn  # a retried request: one execution per operation
            raise

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        import json

        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                return False  # the wait ended already (timed out into a poll): the poll will see it
            raise
        return True
