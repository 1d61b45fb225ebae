"""Custom resources answered through S3 (infra/local/patches/cloudformation/custom_resources.py)."""

from __future__ import annotations

import json
import time

from infra.local import patches
from tests.fixtures import patch_handlers as handlers
from tests.infrastructure.local_cloud.support import (
    CUSTOMER,
    client,
    connection_template,
    create_function,
    resource_events,
    wait_stack,
)


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
