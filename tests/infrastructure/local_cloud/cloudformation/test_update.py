"""Stack updates and their rollback (infra/local/patches/cloudformation/update.py)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from infra.local import patches
from tests.infrastructure.local_cloud.support import (
    PREFIX,
    SERVICE,
    STACK_EVENT_PATTERN,
    client,
    create_via_change_set,
    drain,
    queue_template,
    stack_events,
    statuses,
    tap,
    update_via_change_set,
    wait_stack,
)


def test_a_delayed_update_is_in_progress_then_completes(customer: dict[str, str]) -> None:
    cfn = client("cloudformation", customer)
    stack_id = create_via_change_set(cfn, "stackpilot-upd", queue_template())["StackId"]
    patches.delay_next_stack_update(PREFIX, 300)  # 3 s at SCALE (see above)

    update_via_change_set(cfn, stack_id, queue_template(timeout=90), wait=False)

    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
    with pytest.raises(ClientError, match="UPDATE_IN_PROGRESS state and can not be updated"):
        cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(queue_template(timeout=5)))
    assert wait_stack(cfn, stack_id)["StackStatus"] == "UPDATE_COMPLETE"
    url = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["Outputs"][0]["OutputValue"]
    attributes = client("sqs", customer).get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "90"


def test_a_failed_update_rolls_back(customer: dict[str, str]) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    cfn = client("cloudformation", customer)
    stack_id = create_via_change_set(cfn, "stackpilot-api", queue_template())["StackId"]
    drain(customer, queue, 3)
    patches.fail_next_stack_update(PREFIX, "Queue", "Resource handler returned message: quota exceeded")
    changed = queue_template(
        timeout=120, Topic={"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "added"}}
    )
    changed["Resources"]["Queue"]["DependsOn"] = "Topic"  # created before the update fails

    change_set_id = update_via_change_set(cfn, stack_id, changed)

    events = drain(customer, queue, 4)
    assert statuses(events) == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    assert events[1]["detail"]["status-details"]["status-reason"] == (
        "The following resource(s) failed to update: [Queue]. "
    )
    assert ("Queue", "UPDATE_FAILED", "Resource handler returned message: quota exceeded") in stack_events(
        cfn, stack_id, "Queue"
    )
    # The resource the failed update added is gone again; the stack keeps its previous template.
    assert [s for s, _ in [(e[1], e[2]) for e in stack_events(cfn, stack_id, "Topic")]] == [
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]
    assert client("sns", customer).list_topics()["Topics"] == []
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE" and stack["Outputs"]
    assert "Topic" not in json.dumps(cfn.get_template(StackName=stack_id)["TemplateBody"])
    assert cfn.describe_change_set(ChangeSetName=change_set_id)["ExecutionStatus"] == "EXECUTE_FAILED"
    # ...and it can be updated again.
    update_via_change_set(cfn, stack_id, queue_template(timeout=45))
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_an_update_reverts_resources_it_changed_before_failing(customer: dict[str, str]) -> None:
    cfn = client("cloudformation", customer)
    template = queue_template(Other={"Type": "AWS::SQS::Queue", "DependsOn": "Queue"})
    stack_id = cfn.create_stack(StackName="stackpilot-revert", TemplateBody=json.dumps(template))["StackId"]
    patches.fail_next_stack_update(PREFIX, "Other", "injected")
    changed = queue_template(
        timeout=200,
        Other={"Type": "AWS::SQS::Queue", "DependsOn": "Queue", "Properties": {"DelaySeconds": 5}},
    )

    cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(changed))

    assert wait_stack(cfn, stack_id)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert [s for _, s, _ in stack_events(cfn, stack_id, "Queue")][-4:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_IN_PROGRESS",  # rollback: the previous properties again
        "UPDATE_COMPLETE",
    ]
    url = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["Outputs"][0]["OutputValue"]
    attributes = client("sqs", customer).get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "30"


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
