"""CloudFormation, EC2 and Secrets Manager in a customer's account: reached through the shared
assume-role chain (our assumer role, then the connection's deploy role with its ExternalId), every
change handed to the connection's CloudFormation service role."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError
from pydantic import SecretStr

from functions.shared.integrations.customer_roles import (
    AWS_ERRORS,
    REFUSED,
    AssumeRoleChain,
    AssumeRoleFailed,
    RoleRefused,
    error_code,
)
from functions.shared.logic.aws_messages import (
    change_set_without_changes,
    secret_scheduled_for_deletion,
    stack_does_not_exist,
)
from functions.shared.logic.customer_names import cloudformation_role_arn, deploy_role_arn
from functions.stacks.exceptions import CustomerAccessDenied, CustomerAwsFailure
from functions.stacks.logic.ports import ConnectionAccess
from functions.stacks.models.customer import CfnStack, ChangeSet, StackSummary

CHANGE_SET_SETTLE_SECONDS = 60


def _fail(exc: Exception, what: str) -> Exception:
    """The domain's errors for a failed call into the customer's account (the few lines that map
    the shared chain's and botocore's errors)."""
    if isinstance(exc, RoleRefused) or (isinstance(exc, ClientError) and error_code(exc) in REFUSED):
        code = exc.code if isinstance(exc, RoleRefused) else error_code(exc)
        return CustomerAccessDenied(
            f"the customer's account refused {what} ({code}): reconnect the account or check its role"
        )
    if isinstance(exc, ClientError | AssumeRoleFailed):
        code = exc.code if isinstance(exc, AssumeRoleFailed) else error_code(exc)
        return CustomerAwsFailure(f"{what} failed in the customer's account: {code}")
    return CustomerAwsFailure(f"{what} failed: {type(exc).__name__}")


class AssumedCustomerAccess:
    """The stacks' way into each connection's account: one client per connection and service,
    reused while its credentials last."""

    def __init__(self, chain: AssumeRoleChain) -> None:
        self._chain = chain

    def stacks(self, access: ConnectionAccess) -> CloudFormationStacks:
        cfn_role = cloudformation_role_arn(access.aws_account_id, access.connection_id)
        return CloudFormationStacks(self._client(access, "cloudformation"), cfn_role)

    def networks(self, access: ConnectionAccess) -> Ec2Networks:
        return Ec2Networks(self._client(access, "ec2"))

    def secrets(self, access: ConnectionAccess) -> CustomerSecretsManager:
        return CustomerSecretsManager(self._client(access, "secretsmanager"))

    def _client(self, access: ConnectionAccess, service: str) -> Any:
        role = access.role_arn or deploy_role_arn(access.aws_account_id, access.connection_id)
        try:
            return self._chain.client(
                (access.org_id, access.connection_id, service),
                role,
                access.external_id,
                "stackpilot-stacks",
                service,
                access.region,
            )
        except (RoleRefused, AssumeRoleFailed) as exc:
            raise _fail(exc, "assuming the deploy role") from None


class CloudFormationStacks:
    def __init__(self, client: Any, cfn_role_arn: str) -> None:
        self._cfn = client
        self._role = cfn_role_arn

    def create_change_set(
        self, stack_name: str, change_set_name: str, template_url: str, kind: str, tags: dict[str, str]
    ) -> ChangeSet:
        try:
            try:
                created = self._cfn.create_change_set(
                    StackName=stack_name,
                    ChangeSetName=change_set_name,
                    ChangeSetType=kind,
                    TemplateURL=template_url,
                    RoleARN=self._role,
                    Capabilities=["CAPABILITY_NAMED_IAM"],
                    Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                )
                change_set_id = created["Id"]
            except ClientError as exc:
                if error_code(exc) != "AlreadyExistsException":
                    raise
                # A retried step: the change set of this operation exists already; use it.
                change_set_id = change_set_name
            return self._settled_change_set(change_set_id, stack_name)
        except AWS_ERRORS as exc:
            raise _fail(exc, "creating a change set") from None

    def _settled_change_set(self, change_set_id: str, stack_name: str) -> ChangeSet:
        delay, deadline = 0.5, time.monotonic() + CHANGE_SET_SETTLE_SECONDS
        while True:
            described = self._cfn.describe_change_set(ChangeSetName=change_set_id, StackName=stack_name)
            status = described["Status"]
            if status in ("CREATE_COMPLETE", "FAILED") or time.monotonic() > deadline:
                changes = [c.get("ResourceChange", {}) for c in described.get("Changes", [])]
                settled = status if status in ("CREATE_COMPLETE", "FAILED") else "FAILED"
                reason = described.get("StatusReason") or (
                    None if status in ("CREATE_COMPLETE", "FAILED") else "the change set did not settle"
                )
                return ChangeSet(
                    change_set_id=described["ChangeSetId"],
                    stack_id=described["StackId"],
                    status=settled,
                    reason=reason,
                    changes=[_change(c) for c in changes],
                    empty=change_set_without_changes(settled, reason),
                )
            time.sleep(delay)
            delay = min(delay * 2, 5)

    def execute_change_set(self, change_set_id: str, stack_id: str) -> None:
        try:
            self._cfn.execute_change_set(ChangeSetName=change_set_id, StackName=stack_id)
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) == "InvalidChangeSetStatus":
                return  # executed already (a retried step)
            raise _fail(exc, "executing the change set") from None

    def describe(self, stack_id: str) -> CfnStack | None:
        try:
            stacks = self._cfn.describe_stacks(StackName=stack_id)["Stacks"]
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and stack_does_not_exist(error_code(exc), str(exc)):
                return None
            raise _fail(exc, "reading the stack") from None
        if not stacks:
            return None
        s = stacks[0]
        return CfnStack(
            stack_id=s["StackId"],
            status=s["StackStatus"],
            reason=s.get("StackStatusReason"),
            outputs={o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])},
        )

    def summaries(self) -> list[StackSummary]:
        """Every stack of the account and region (ListStacks, every page; deleted ones stay listed
        for 90 days): id, name, status and reason, all the reconcile sweep compares."""
        try:
            return [
                StackSummary(
                    stack_id=s["StackId"],
                    name=s["StackName"],
                    status=s["StackStatus"],
                    reason=s.get("StackStatusReason") or None,
                )
                for page in self._cfn.get_paginator("list_stacks").paginate()
                for s in page.get("StackSummaries", [])
            ]
        except AWS_ERRORS as exc:
            raise _fail(exc, "listing the stacks") from None

    def events(self, stack_id: str) -> list[dict[str, Any]]:
        try:
            return list(self._cfn.describe_stack_events(StackName=stack_id)["StackEvents"])
        except AWS_ERRORS as exc:
            raise _fail(exc, "reading the stack's events") from None

    def delete(self, stack_id: str) -> None:
        try:
            self._cfn.delete_stack(StackName=stack_id, RoleARN=self._role)
        except AWS_ERRORS as exc:
            raise _fail(exc, "deleting the stack") from None

    def delete_change_set(self, change_set_id: str) -> None:
        try:
            self._cfn.delete_change_set(ChangeSetName=change_set_id)
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) == "ChangeSetNotFound":
                return
            raise _fail(exc, "deleting the preview's change set") from None


class Ec2Networks:
    def __init__(self, client: Any) -> None:
        self._ec2 = client

    def describe_vpc(self, vpc_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
        try:
            subnets = [
                s
                for p in self._ec2.get_paginator("describe_subnets").paginate(Filters=by_vpc)
                for s in p["Subnets"]
            ]
            tables = [
                t
                for p in self._ec2.get_paginator("describe_route_tables").paginate(Filters=by_vpc)
                for t in p["RouteTables"]
            ]
        except AWS_ERRORS as exc:
            raise _fail(exc, "describing the VPC") from None
        return subnets, tables


def _change(change: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": change.get("Action"),
        "logical_id": change.get("LogicalResourceId"),
        "resource_type": change.get("ResourceType"),
        "replacement": change.get("Replacement"),
    }


class CustomerSecretsManager:
    """The stacks' app secrets in the customer's Secrets Manager: written through the deploy role
    (onboarding template v2), never read back. Values arrive as ``SecretStr`` and leave only in the
    request to Secrets Manager."""

    def __init__(self, client: Any) -> None:
        self._sm = client

    def put(self, name: str, value: SecretStr, tags: dict[str, str]) -> str:
        secret = value.get_secret_value()
        try:
            try:
                created = self._sm.create_secret(
                    Name=name,
                    SecretString=secret,
                    Description="Written by stackpilot: a secret environment variable of this stack",
                    Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                )
                return str(created["ARN"])
            except ClientError as exc:
                code, message = error_code(exc), str(exc.response["Error"].get("Message"))
                if code == "InvalidRequestException" and secret_scheduled_for_deletion(message):
                    # The stack was deleted and is being created again within the recovery window.
                    self._sm.restore_secret(SecretId=name)
                elif code != "ResourceExistsException":
                    raise
            return str(self._sm.put_secret_value(SecretId=name, SecretString=secret)["ARN"])
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) in REFUSED:
                raise CustomerAccessDenied(
                    "the connection's role may not write secrets to Secrets Manager: update the "
                    "account's stackpilot onboarding stack to the current template (version 2 or later), "
                    "or reconnect the account"
                ) from None
            raise _fail(exc, "writing a secret") from None

    def delete(self, arn: str) -> None:
        try:
            self._sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) == "ResourceNotFoundException":
                return
            if isinstance(exc, ClientError) and secret_scheduled_for_deletion(str(exc)):
                return
            raise _fail(exc, "deleting a secret") from None
