"""Fixes to moto's own models (infra/local/patches/cloudformation/resources/moto_fixes.py): updates
moto lacks, applied in place."""

from __future__ import annotations

import json

from tests.infrastructure.local_cloud.support import client, wait_stack


def test_a_log_group_update_changes_its_retention_in_place(customer: dict[str, str]) -> None:
    def template(retention: int) -> str:
        group = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": "/stackpilot/shop/app", "RetentionInDays": retention},
        }
        return json.dumps({"Resources": {"Logs": group}})

    cfn = client("cloudformation", customer)
    stack_id = cfn.create_stack(StackName="logs", TemplateBody=template(30))["StackId"]
    cfn.update_stack(StackName=stack_id, TemplateBody=template(60))

    assert wait_stack(cfn, stack_id)["StackStatus"] == "UPDATE_COMPLETE"
    groups = client("logs", customer).describe_log_groups(logGroupNamePrefix="/stackpilot/")["logGroups"]
    assert [g["retentionInDays"] for g in groups] == [60]
