"""Change sets checked like AWS (infra/local/patches/cloudformation/change_sets.py)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.infrastructure.local_cloud.support import (
    QUEUE,
    client,
    create_via_change_set,
    queue_template,
)


def test_change_sets_are_checked_like_aws(customer: dict[str, str]) -> None:
    cfn = client("cloudformation", customer)
    broken = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Nope"}}}}
    }
    with pytest.raises(ClientError, match=r"Unresolved resource dependencies \[Nope\]"):
        create_via_change_set(cfn, "stackpilot-broken", broken)
    missing_ssm = {
        "Parameters": {
            "Ami": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": "/no/such"}
        },
        **QUEUE,
    }
    with pytest.raises(ClientError, match=r"Unable to fetch parameters \[/no/such\]"):
        create_via_change_set(cfn, "stackpilot-ssm", missing_ssm)

    created = create_via_change_set(cfn, "stackpilot-cs", queue_template())
    with pytest.raises(ClientError, match="cannot be executed in its current execution status"):
        cfn.execute_change_set(ChangeSetName=created["Id"])
    same = cfn.create_change_set(
        StackName=created["StackId"],
        ChangeSetName="same",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(queue_template()),
    )
    described = cfn.describe_change_set(ChangeSetName=same["Id"])
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"].startswith("The submitted information didn't contain changes")
    with pytest.raises(ClientError, match="does not exist"):
        cfn.execute_change_set(ChangeSetName="never-created", StackName=created["StackId"])
