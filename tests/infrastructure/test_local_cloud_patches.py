"""Smoke tests for infra/local/patches.py: one per patch of moto internals.

Each test fails loudly when a moto upgrade changes the internals a patch relies on. They run
against moto in-process (mock_aws) except the last one, which uses ThreadedMotoServer.
"""

from __future__ import annotations

import io
import json
import socket
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import moto
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.config import default_user_config
from moto.iam.models import iam_backends
from moto.server import ThreadedMotoServer

from infra.local import patches
from tests.fixtures import patch_handlers as handlers

REGION = "us-east-1"
SERVICE = "123456789012"
CUSTOMER = "111111111111"
OTHER = "222222222222"
HANDLERS = "tests.fixtures.patch_handlers"
SCALE = 0.01
TERMINAL = {
    "CREATE_COMPLETE",
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_COMPLETE",
    "DELETE_FAILED",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
}

# --------------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    patches.install(time_scale=SCALE)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("MOTO_ACCOUNT_ID", raising=False)
    patches.set_time_scale(SCALE)
    handlers.reset()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        patches.register_service_account(SERVICE)
        yield
        patches.stop_executions()
    patches.clear_stack_hooks()


def client(service: str, creds: dict[str, str] | None = None, **kwargs: Any) -> Any:
    creds = creds or {}
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id=creds.get("AccessKeyId", "testing"),
        aws_secret_access_key=creds.get("SecretAccessKey", "testing"),
        aws_session_token=creds.get("SessionToken"),
        **kwargs,
    )


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# handlers are imported in-process\n")
    return buffer.getvalue()


def lambda_role(endpoint: str | None = None) -> str:
    iam = client("iam", endpoint_url=endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    try:
        return str(iam.get_role(RoleName="lambda-exec")["Role"]["Arn"])
    except ClientError:
        role = iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument=json.dumps(trust))
        return str(role["Role"]["Arn"])


def create_function(name: str, handler: str, *, timeout: int = 30, endpoint: str | None = None) -> str:
    role = lambda_role(endpoint)
    response = client("lambda", endpoint_url=endpoint).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler=f"{HANDLERS}.{handler}",
        Code={"ZipFile": zip_bytes()},
        Timeout=timeout,
        MemorySize=256,
    )
    return str(response["FunctionArn"])


def create_state_machine(name: str, definition: dict[str, Any], sfn: Any = None) -> str:
    sfn = sfn or client("stepfunctions")
    response = sfn.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{SERVICE}:role/sfn-exec",
    )
    return str(response["stateMachineArn"])


def run_execution(state_machine_arn: str, payload: Any, sfn: Any = None, timeout: float = 10.0) -> dict:
    sfn = sfn or client("stepfunctions")
    execution_arn = sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(payload))[
        "executionArn"
    ]
    return wait_execution(execution_arn, sfn, timeout)


def wait_execution(execution_arn: str, sfn: Any = None, timeout: float = 10.0) -> dict:
    sfn = sfn or client("stepfunctions")

    def finished() -> dict | None:
        described = sfn.describe_execution(executionArn=execution_arn)
        return described if described["status"] != "RUNNING" else None

    return dict(wait_until(finished, timeout, f"execution {execution_arn}"))


def lambda_task(function_arn: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        **extra,
    }


# --------------------------------------------------------------------------------------------------
# Version guard
# --------------------------------------------------------------------------------------------------


def test_patches_refuse_other_moto_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    assert moto.__version__ == patches.SUPPORTED_MOTO_VERSION
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(RuntimeError, match=r"patch 'lambda in-process invoke'.*moto 9\.9\.9"):
        patches._require_version("lambda in-process invoke")
    with pytest.raises(RuntimeError, match=r"patch 'register_service_account'"):
        patches.register_service_account(SERVICE)


def test_install_is_idempotent() -> None:
    before = list(patches.installed_patches())
    patches.install(time_scale=SCALE)
    assert list(patches.installed_patches()) == before
    assert len(before) >= 20


# --------------------------------------------------------------------------------------------------
# 1. Lambda in-process
# --------------------------------------------------------------------------------------------------


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


def test_sns_subscription_invokes_lambda_with_real_topic(aws: None) -> None:
    function_arn = create_function("record", "record")
    sns = client("sns")
    topic_arn = sns.create_topic(Name="notifications")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)

    message_id = sns.publish(TopicArn=topic_arn, Message="hi", Subject="greeting")["MessageId"]

    wait_until(lambda: handlers.RECEIVED, what="SNS delivery")
    notification = handlers.RECEIVED[0]["event"]["Records"][0]["Sns"]
    assert notification["TopicArn"] == topic_arn
    assert notification["MessageId"] == message_id
    assert notification["Message"] == "hi"
    assert notification["Subject"] == "greeting"


# --------------------------------------------------------------------------------------------------
# 2. Step Functions
# --------------------------------------------------------------------------------------------------


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


def test_sfn_stop_execution_aborts_a_task_token_wait_at_once(aws: None) -> None:
    machine = create_state_machine("token-stop", token_machine(create_function("hold", "hold_token")))
    sfn = client("stepfunctions")
    execution_arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    token = wait_until(lambda: handlers.TOKENS[:1], what="task token")[0]

    sfn.stop_execution(executionArn=execution_arn, error="Disconnected", cause="the admin disconnected")

    described = sfn.describe_execution(executionArn=execution_arn)
    assert described["status"] == "ABORTED"
    assert "stopDate" in described
    time.sleep(0.1)  # the interrupted worker must not turn it into FAILED
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


# --------------------------------------------------------------------------------------------------
# 3. STS trust policies
# --------------------------------------------------------------------------------------------------

EXTERNAL_ID = "stackpilot-ext-0001"


def assume(role_arn: str, creds: dict[str, str] | None = None, **kwargs: Any) -> dict[str, str]:
    response = client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="stackpilot", **kwargs)
    return dict(response["Credentials"])


def bootstrap_account(account_id: str, trusted_account: str = SERVICE) -> dict[str, str]:
    """Credentials in `account_id` (an admin role created directly in moto's IAM backend)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted_account}, "Action": "sts:AssumeRole"}],
    }
    iam = iam_backends[account_id]["aws"]
    if "bootstrap-admin" not in [role.name for role in iam.roles.values()]:
        iam.create_role(
            role_name="bootstrap-admin",
            assume_role_policy_document=json.dumps(trust),
            path="/",
            permissions_boundary=None,
            description="",
            tags=[],
            max_session_duration="3600",
            linked_service=None,
        )
    return assume(f"arn:aws:iam::{account_id}:role/bootstrap-admin")


@pytest.fixture
def trust_setup(aws: None) -> dict[str, Any]:
    """service root -> assumer role (service) -> customer role (trusts assumer + ExternalId)."""
    service_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SERVICE}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    assumer = client("iam").create_role(
        RoleName="stackpilot-assumer", AssumeRolePolicyDocument=json.dumps(service_trust)
    )["Role"]["Arn"]
    customer_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{SERVICE}:root"]},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"sts:ExternalId": EXTERNAL_ID},
                    "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{SERVICE}:role/stackpilot-*"},
                },
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringLike": {"aws:PrincipalArn": "*:role/stackpilot-blocked"}},
            },
        ],
    }
    admin = bootstrap_account(CUSTOMER)
    customer = client("iam", admin).create_role(
        RoleName="StackpilotAccess", AssumeRolePolicyDocument=json.dumps(customer_trust)
    )["Role"]["Arn"]
    blocked = client("iam").create_role(
        RoleName="stackpilot-blocked", AssumeRolePolicyDocument=json.dumps(service_trust)
    )["Role"]["Arn"]
    return {"assumer": assumer, "customer": customer, "blocked": blocked}


def assert_denied(call: Callable[[], Any], role_arn: str) -> None:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Code"] == "AccessDenied"
    assert "is not authorized to perform: sts:AssumeRole on resource: " + role_arn in error["Message"]


def test_sts_role_chaining_with_external_id_is_allowed(trust_setup: dict[str, Any]) -> None:
    assumer_creds = assume(trust_setup["assumer"])
    customer_creds = assume(trust_setup["customer"], assumer_creds, ExternalId=EXTERNAL_ID)

    assumer_identity = client("sts", assumer_creds).get_caller_identity()
    customer_identity = client("sts", customer_creds).get_caller_identity()
    assert assumer_identity["Account"] == SERVICE
    assert assumer_identity["Arn"] == f"arn:aws:sts::{SERVICE}:assumed-role/stackpilot-assumer/stackpilot"
    assert customer_identity["Account"] == CUSTOMER
    assert customer_identity["Arn"] == f"arn:aws:sts::{CUSTOMER}:assumed-role/StackpilotAccess/stackpilot"


def test_sts_refuses_missing_or_wrong_external_id(trust_setup: dict[str, Any]) -> None:
    assumer_creds = assume(trust_setup["assumer"])
    customer = trust_setup["customer"]

    assert_denied(lambda: assume(customer, assumer_creds), customer)
    assert_denied(lambda: assume(customer, assumer_creds, ExternalId="wrong-external-id"), customer)


def test_sts_refuses_wrong_principal_arn_and_explicit_deny(trust_setup: dict[str, Any]) -> None:
    customer = trust_setup["customer"]
    blocked_creds = assume(trust_setup["blocked"])

    # The service account root is trusted, but aws:PrincipalArn must be a stackpilot-* role.
    assert_denied(lambda: assume(customer, ExternalId=EXTERNAL_ID), customer)
    # stackpilot-blocked matches the Allow, and the explicit Deny wins.
    assert_denied(lambda: assume(customer, blocked_creds, ExternalId=EXTERNAL_ID), customer)


def test_sts_refuses_untrusted_account_and_missing_role(trust_setup: dict[str, Any]) -> None:
    # A look-alike "stackpilot-assumer" role, but in an account the customer does not trust.
    other_creds = bootstrap_account(OTHER)
    client("iam", other_creds).create_role(
        RoleName="stackpilot-assumer", AssumeRolePolicyDocument=trust(allow({"AWS": OTHER}))
    )
    other_session = assume(f"arn:aws:iam::{OTHER}:role/stackpilot-assumer", other_creds)
    missing = f"arn:aws:iam::{CUSTOMER}:role/DoesNotExist"

    assert_denied(
        lambda: assume(trust_setup["customer"], other_session, ExternalId=EXTERNAL_ID),
        trust_setup["customer"],
    )
    assert_denied(lambda: assume(missing), missing)


def trust(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, condition: dict[str, Any] | None = None, effect: str = "Allow") -> dict[str, Any]:
    statement = {"Effect": effect, "Principal": principal, "Action": ["sts:AssumeRole"]}
    if condition:
        statement["Condition"] = condition
    return statement


SESSION = patches._Caller(
    SERVICE, f"arn:aws:iam::{SERVICE}:role/stackpilot-assumer", f"arn:aws:sts::{SERVICE}:assumed-role/x/y"
)


@pytest.mark.parametrize(
    ("policy", "external_id", "allowed"),
    [
        (trust(allow({"AWS": SESSION.principal_arn})), None, True),
        (trust(allow({"AWS": [f"arn:aws:iam::{OTHER}:root", SERVICE]})), None, True),
        (trust(allow({"AWS": f"arn:aws:iam::{OTHER}:root"})), None, False),
        (trust(allow({"Service": "lambda.amazonaws.com"})), None, False),
        (trust(allow("*", {"StringLike": {"sts:ExternalId": "ext-*"}})), "ext-1", True),
        (trust(allow("*", {"StringEquals": {"sts:ExternalId": ["a", "b"]}})), "b", True),
        (trust(allow("*", {"StringEquals": {"sts:ExternalId": "a"}})), None, False),
        (trust(allow("*", {"ArnEquals": {"aws:PrincipalArn": SESSION.principal_arn}})), None, True),
        (trust(allow("*", {"StringNotEquals": {"sts:ExternalId": "a"}})), "b", False),
        (trust(allow("*", {"StringEquals": {"aws:SourceAccount": SERVICE}})), None, False),
        (trust(allow("*"), allow("*", effect="Deny")), None, False),
        (
            trust(allow("*"), allow("*", {"Bool": {"aws:SecureTransport": "false"}}, effect="Deny")),
            None,
            False,
        ),
    ],
)
def test_trust_policy_evaluation(policy: str, external_id: str | None, allowed: bool) -> None:
    assert patches.trust_policy_allows(policy, SESSION, external_id) is allowed


# --------------------------------------------------------------------------------------------------
# 4. EventBridge targets
# --------------------------------------------------------------------------------------------------


def test_eventbridge_delivers_to_lambda_and_state_machine(aws: None) -> None:
    function_arn = create_function("record", "record")
    disabled_arn = create_function("never", "record")
    detail_arn = create_function("detail-only", "record")
    constant_arn = create_function("constant", "record")
    sqs = client("sqs")
    tap_url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    machine = create_state_machine(
        "on-event", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    )
    events = client("events")
    pattern = json.dumps({"source": ["stackpilot.test"]})
    events.put_rule(Name="enabled", EventPattern=pattern)
    events.put_targets(
        Rule="enabled",
        Targets=[
            {"Id": "fn", "Arn": function_arn},
            {"Id": "sfn", "Arn": machine, "RoleArn": machine},
            {"Id": "path", "Arn": detail_arn, "InputPath": "$.detail"},
            {"Id": "constant", "Arn": constant_arn, "Input": '{"fixed": true}'},
            {"Id": "tap", "Arn": tap_arn},
        ],
    )
    events.put_rule(Name="disabled", EventPattern=pattern, State="DISABLED")
    events.put_targets(Rule="disabled", Targets=[{"Id": "fn", "Arn": disabled_arn}])

    events.put_events(
        Entries=[{"Source": "stackpilot.test", "DetailType": "Thing Happened", "Detail": '{"n": 1}'}]
    )

    wait_until(lambda: len(handlers.RECEIVED) >= 3, what="EventBridge -> Lambda")
    received = {r["function"]: r["event"] for r in handlers.RECEIVED}
    delivered = received["record"]
    assert list(delivered) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert delivered["account"] == SERVICE
    assert delivered["detail"] == {"n": 1}
    assert delivered["time"].endswith("Z")
    sfn = client("stepfunctions")
    executions = wait_until(lambda: sfn.list_executions(stateMachineArn=machine)["executions"], what="SFN")
    described = wait_execution(executions[0]["executionArn"])
    assert json.loads(described["input"])["id"] == delivered["id"]
    tapped = json.loads(sqs.receive_message(QueueUrl=tap_url)["Messages"][0]["Body"])
    assert tapped == delivered
    assert received["detail-only"] == {"n": 1}
    assert received["constant"] == {"fixed": True}
    time.sleep(0.2)
    assert "never" not in [r["function"] for r in handlers.RECEIVED], "disabled rule delivered"


# --------------------------------------------------------------------------------------------------
# 5. CloudFormation custom resources through SNS, in a customer account
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def connection_topic(aws: None) -> str:
    """Service-account topic with the responder Lambda subscribed (as the real control plane)."""
    function_arn = create_function("connection-responder", "connection_responder")
    sns = client("sns")
    topic_arn = str(sns.create_topic(Name="stackpilot-connections")["TopicArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)
    return topic_arn


@pytest.fixture
def customer(aws: None) -> dict[str, str]:
    return bootstrap_account(CUSTOMER)


def connection_template(topic_arn: str, **properties: Any) -> str:
    return json.dumps(
        {
            "Resources": {
                "Connection": {
                    "Type": "Custom::StackpilotConnection",
                    "Properties": {"ServiceToken": topic_arn, "Name": "acme", **properties},
                }
            },
            "Outputs": {"Token": {"Value": {"Fn::GetAtt": ["Connection", "Token"]}}},
        }
    )


def wait_stack(cfn: Any, stack_id: str, timeout: float = 10.0) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        return stack if stack["StackStatus"] in TERMINAL else None

    return dict(wait_until(settled, timeout, f"stack {stack_id}"))


def resource_events(cfn: Any, stack_id: str, logical_id: str) -> list[tuple[str, str | None]]:
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [
        (e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in reversed(events)
        if e["LogicalResourceId"] == logical_id
    ]


def test_custom_resource_success_in_customer_account(connection_topic: str, customer: dict) -> None:
    cfn = client("cloudformation", customer)

    stack_id = cfn.create_stack(StackName="conn-ok", TemplateBody=connection_template(connection_topic))[
        "StackId"
    ]

    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"
    stack = wait_stack(cfn, stack_id)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"] == [{"OutputKey": "Token", "OutputValue": "token-acme"}]
    request = handlers.CFN_REQUESTS[0]
    assert request["RequestType"] == "Create"
    assert request["StackId"] == stack_id and f":{CUSTOMER}:stack/conn-ok/" in stack_id
    assert request["LogicalResourceId"] == "Connection"
    assert request["ResourceType"] == "Custom::StackpilotConnection"
    assert request["ServiceToken"] == connection_topic
    assert request["ResourceProperties"] == {"ServiceToken": connection_topic, "Name": "acme"}
    assert "PhysicalResourceId" not in request
    assert request["ResponseURL"].startswith(
        f"https://{patches.CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX}useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation"
    )
    assert (
        "%7CConnection%7C" + request["RequestId"] + "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        in request["ResponseURL"]
    )
    resources = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    assert [(r["LogicalResourceId"], r["PhysicalResourceId"]) for r in resources] == [
        ("Connection", "connection-" + request["RequestId"][:8])
    ]
    assert resource_events(cfn, stack_id, "Connection") == [
        ("CREATE_IN_PROGRESS", None),
        ("CREATE_COMPLETE", None),
    ]


def test_custom_resource_failed_response_rolls_back(connection_topic: str, customer: dict) -> None:
    cfn = client("cloudformation", customer)
    template = connection_template(connection_topic, Mode="fail", FailReason="role not assumable")

    stack_id = cfn.create_stack(StackName="conn-failed", TemplateBody=template)["StackId"]

    stack = wait_stack(cfn, stack_id)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Outputs" not in stack
    assert (
        "CREATE_FAILED",
        "Received response status [FAILED] from custom resource. Message returned: role not assumable",
    ) in resource_events(cfn, stack_id, "Connection")


def test_custom_resource_without_answer_times_out(connection_topic: str, customer: dict) -> None:
    cfn = client("cloudformation", customer)
    template = connection_template(connection_topic, Mode="silent", ServiceTimeout="2")

    started = time.monotonic()
    stack_id = cfn.create_stack(StackName="conn-silent", TemplateBody=template)["StackId"]
    stack = wait_stack(cfn, stack_id)

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert time.monotonic() - started < 5.0
    status, reason = resource_events(cfn, stack_id, "Connection")[-1]
    assert status == "CREATE_FAILED"
    assert reason and reason.startswith("CloudFormation did not receive a response from your Custom Resource")


def test_custom_resource_update_and_delete(connection_topic: str, customer: dict) -> None:
    cfn = client("cloudformation", customer)
    stack_id = cfn.create_stack(StackName="conn-life", TemplateBody=connection_template(connection_topic))[
        "StackId"
    ]
    wait_stack(cfn, stack_id)
    physical_id = handlers.CFN_REQUESTS[0]["RequestId"][:8]

    cfn.update_stack(StackName=stack_id, TemplateBody=connection_template(connection_topic, Name="renamed"))
    updated = wait_stack(cfn, stack_id)
    cfn.delete_stack(StackName=stack_id)
    deleted = wait_stack(cfn, stack_id)

    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert updated["Outputs"][0]["OutputValue"] == "token-renamed"
    update, delete = handlers.CFN_REQUESTS[1], handlers.CFN_REQUESTS[2]
    assert update["RequestType"] == "Update"
    assert update["PhysicalResourceId"] == f"connection-{physical_id}"
    assert update["OldResourceProperties"]["Name"] == "acme"
    assert update["ResourceProperties"]["Name"] == "renamed"
    assert delete["RequestType"] == "Delete"
    assert delete["PhysicalResourceId"] == f"connection-{physical_id}"
    assert deleted["StackStatus"] == "DELETE_COMPLETE"


def test_custom_resource_failed_delete(connection_topic: str, customer: dict) -> None:
    cfn = client("cloudformation", customer)
    template = connection_template(connection_topic, DeleteMode="fail", FailReason="still in use")
    stack_id = cfn.create_stack(StackName="conn-stuck", TemplateBody=template)["StackId"]
    wait_stack(cfn, stack_id)

    cfn.delete_stack(StackName=stack_id)

    assert wait_stack(cfn, stack_id)["StackStatus"] == "DELETE_FAILED"
    assert [r["RequestType"] for r in handlers.CFN_REQUESTS] == ["Create", "Delete"]


def test_lambda_backed_custom_resource_answers_by_http_put(customer: dict) -> None:
    function_arn = create_function("cr-lambda", "lambda_responder")
    cfn = client("cloudformation", customer)
    template = {
        "Resources": {
            "Echo": {
                "Type": "AWS::CloudFormation::CustomResource",
                "Properties": {"ServiceToken": function_arn, "Name": "direct"},
            }
        },
        "Outputs": {"Echo": {"Value": {"Fn::GetAtt": ["Echo", "Echo"]}}},
    }

    stack_id = cfn.create_stack(StackName="lambda-cr", TemplateBody=json.dumps(template))["StackId"]

    stack = wait_stack(cfn, stack_id)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == "direct"
    assert handlers.CFN_REQUESTS[0]["ResourceType"] == "AWS::CloudFormation::CustomResource"


def test_change_set_with_custom_resource_is_asynchronous(connection_topic: str, customer: dict) -> None:
    cfn = client("cloudformation", customer)
    change_set = cfn.create_change_set(
        StackName="conn-cs",
        ChangeSetName="initial",
        ChangeSetType="CREATE",
        TemplateBody=connection_template(connection_topic),
    )

    cfn.execute_change_set(ChangeSetName=change_set["Id"])

    stack = wait_stack(cfn, change_set["StackId"])
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"] == [{"OutputKey": "Token", "OutputValue": "token-acme"}]
    assert [r["RequestType"] for r in handlers.CFN_REQUESTS] == ["Create"]


def representative_template(topic_arn: str) -> dict[str, Any]:
    """What a customer deploys: trust with ExternalId + PrincipalArn, boundary, custom resource."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "ExternalId": {"Type": "String", "AllowedPattern": "^[a-zA-Z0-9-]{8,64}$"},
            "EnableEvents": {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"]},
        },
        "Conditions": {"WithEvents": {"Fn::Equals": [{"Ref": "EnableEvents"}, "true"]}},
        "Rules": {
            "SupportedRegion": {
                "Assertions": [
                    {
                        "Assert": {"Fn::Contains": [["us-east-1", "eu-west-1"], {"Ref": "AWS::Region"}]},
                        "AssertDescription": "Stackpilot supports us-east-1 and eu-west-1 only",
                    }
                ]
            }
        },
        "Resources": {
            "AccessRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "StackpilotAccess",
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{SERVICE}:root"},
                                "Action": "sts:AssumeRole",
                                "Condition": {
                                    "StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}},
                                    "ArnLike": {
                                        "aws:PrincipalArn": f"arn:aws:iam::{SERVICE}:role/stackpilot-*"
                                    },
                                },
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": "read",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
                            },
                        }
                    ],
                },
            },
            "Boundary": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    }
                },
            },
            "DeployerRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "PermissionsBoundary": {"Ref": "Boundary"},
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudformation.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "ManagedPolicyArns": [{"Ref": "Boundary"}],
                },
            },
            "Connection": {
                "Type": "Custom::StackpilotConnection",
                "DependsOn": ["AccessRole", "DeployerRole"],
                "Properties": {
                    "ServiceToken": topic_arn,
                    "Name": "acme",
                    "RoleArn": {"Fn::GetAtt": ["AccessRole", "Arn"]},
                    "ExternalId": {"Ref": "ExternalId"},
                },
            },
            "StackEvents": {
                "Type": "AWS::Events::Rule",
                "Condition": "WithEvents",
                "Properties": {
                    "EventPattern": {"source": ["aws.cloudformation"]},
                    "Targets": [{"Id": "bus", "Arn": f"arn:aws:events:{REGION}:{SERVICE}:event-bus/default"}],
                },
            },
        },
        "Outputs": {
            "RoleArn": {"Value": {"Fn::GetAtt": ["AccessRole", "Arn"]}},
            "ConnectionToken": {"Value": {"Fn::GetAtt": ["Connection", "Token"]}},
        },
    }


def test_representative_customer_template(connection_topic: str, customer: dict) -> None:
    cfn = client("cloudformation", customer)
    body = json.dumps(representative_template(connection_topic))

    with pytest.raises(ClientError, match="must match pattern"):
        cfn.create_stack(
            StackName="bad-param",
            TemplateBody=body,
            Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": "no!"}],
        )
    stack_id = cfn.create_stack(
        StackName="stackpilot-connection",
        TemplateBody=body,
        Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": EXTERNAL_ID}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )["StackId"]

    stack = wait_stack(cfn, stack_id)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ConnectionToken"] == "token-acme"
    assert outputs["RoleArn"] == f"arn:aws:iam::{CUSTOMER}:role/StackpilotAccess"
    request = handlers.CFN_REQUESTS[0]
    assert request["ResourceProperties"]["RoleArn"] == outputs["RoleArn"]
    assert request["ResourceProperties"]["ExternalId"] == EXTERNAL_ID
    # The role the template created is really guarded by its trust policy.
    assumer = client("iam").create_role(
        RoleName="stackpilot-assumer",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": SERVICE}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]["Arn"]
    session = assume(assumer)
    assert_denied(lambda: assume(outputs["RoleArn"], session), outputs["RoleArn"])
    assert assume(outputs["RoleArn"], session, ExternalId=EXTERNAL_ID)["AccessKeyId"]


def test_template_rules_section_is_evaluated(connection_topic: str, customer: dict) -> None:
    cfn = client("cloudformation", customer)
    template = representative_template(connection_topic)
    template["Rules"]["SupportedRegion"]["Assertions"][0]["Assert"]["Fn::Contains"][0] = ["eu-west-1"]

    with pytest.raises(ClientError, match="supports us-east-1 and eu-west-1 only"):
        cfn.create_stack(
            StackName="wrong-region",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": EXTERNAL_ID}],
        )


def test_stack_completion_hook_delays_creation(customer: dict) -> None:
    cfn = client("cloudformation", customer)
    seen: list[str] = []

    def hold(stack: Any) -> None:
        seen.append(stack.name)
        time.sleep(0.3)

    patches.set_stack_completion_hook(hold)
    stack_id = cfn.create_stack(
        StackName="slow", TemplateBody=json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    )["StackId"]

    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"
    assert wait_stack(cfn, stack_id)["StackStatus"] == "CREATE_COMPLETE"
    assert seen == ["slow"]


def test_stack_creation_can_be_failed_on_purpose(customer: dict) -> None:
    cfn = client("cloudformation", customer)
    template = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    patches.fail_next_stack_creation("doomed-", "Queue", "injected failure")

    stack_id = cfn.create_stack(StackName="doomed-1", TemplateBody=template)["StackId"]
    stack = wait_stack(cfn, stack_id)
    healthy = cfn.create_stack(StackName="doomed-2", TemplateBody=template)["StackId"]

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("CREATE_FAILED", "injected failure") in resource_events(cfn, stack_id, "Queue")
    assert wait_stack(cfn, healthy)["StackStatus"] == "CREATE_COMPLETE"


# --------------------------------------------------------------------------------------------------
# Server mode
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    monkeypatch.setenv("MOTO_PORT", str(port))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    handlers.reset()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        # The server shares this process's moto backends: start from a clean slate.
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        patches.register_service_account(SERVICE)
        yield endpoint
    finally:
        patches.stop_executions()
        server.stop()


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


def test_server_mode_custom_resource_answered_by_path_style_put(moto_server: str) -> None:
    handlers.S3_ENDPOINT = moto_server
    function_arn = create_function("connection-responder", "connection_responder", endpoint=moto_server)
    sns = client("sns", endpoint_url=moto_server)
    topic_arn = sns.create_topic(Name="stackpilot-connections")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)
    cfn = client("cloudformation", endpoint_url=moto_server)

    stack_id = cfn.create_stack(StackName="server-conn", TemplateBody=connection_template(topic_arn))[
        "StackId"
    ]

    stack = wait_stack(cfn, stack_id)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    assert stack["Outputs"][0]["OutputValue"] == "token-acme"


def test_server_mode_template_url_is_the_emulators_presigned_url(moto_server: str) -> None:
    # The quick-create link carries a presigned GET on the emulator (path style, 127.0.0.1).
    s3 = client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="service-templates")
    s3.put_object(
        Bucket="service-templates",
        Key="connections/t.json",
        Body=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}),
    )
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "service-templates", "Key": "connections/t.json"}
    )
    assert url.startswith(moto_server)
    cfn = client("cloudformation", endpoint_url=moto_server)
    cfn.meta.events.register(
        "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", CUSTOMER)
    )

    stack_id = cfn.create_stack(StackName="from-url", TemplateURL=url)["StackId"]

    assert f":{CUSTOMER}:" in stack_id
    assert wait_stack(cfn, stack_id)["StackStatus"] == "CREATE_COMPLETE"


def test_update_stack_applies_a_changed_role_trust_policy(customer: dict) -> None:
    # moto alone keeps the old trust policy on UpdateStack; re-verification must see the new one.
    cfn = client("cloudformation", customer)

    def template(principal: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}],
        }
        return json.dumps(
            {
                "Resources": {
                    "Role": {
                        "Type": "AWS::IAM::Role",
                        "Properties": {"RoleName": "trust-updated", "AssumeRolePolicyDocument": trust},
                    }
                }
            }
        )

    stack_id = cfn.create_stack(
        StackName="trust", TemplateBody=template(SERVICE), Capabilities=["CAPABILITY_NAMED_IAM"]
    )["StackId"]
    wait_stack(cfn, stack_id)
    cfn.update_stack(
        StackName=stack_id, TemplateBody=template("222222222222"), Capabilities=["CAPABILITY_NAMED_IAM"]
    )
    wait_stack(cfn, stack_id)

    trust = client("iam", customer).get_role(RoleName="trust-updated")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"]["AWS"] == "222222222222"


def test_dynamodb_serves_concurrent_transactions_and_writes_without_corrupting_a_table(aws: None) -> None:
    # Functions run concurrently in the local cloud; moto's TransactWriteItems deep-copies the table
    # while other threads write it unless calls are serialized.
    import threading

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="busy",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    errors: list[BaseException] = []

    def hammer(worker: int) -> None:
        try:
            for i in range(150):
                if worker % 2:
                    ddb.put_item(TableName="busy", Item={"pk": {"S": f"w{worker}-{i}"}})
                else:
                    ddb.transact_write_items(
                        TransactItems=[
                            {"Put": {"TableName": "busy", "Item": {"pk": {"S": f"t{worker}-{i}"}}}}
                        ]
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ddb.scan(TableName="busy", Select="COUNT")["Count"] == 600
