"""Dynamic references and SSM parameter types (resources/dynamic_references.py)."""

from __future__ import annotations

import json

from tests.infrastructure.local_cloud.support import (
    AL2023_AMI,
    ECS_AMI,
    QUEUE,
    client,
    stack_events,
    wait_stack,
)


def test_dynamic_references_are_resolved(customer: dict[str, str]) -> None:
    client("ssm", customer).put_parameter(Name="/app/queue", Value="from-ssm", Type="String")
    client("secretsmanager", customer).create_secret(Name="app-db", SecretString='{"user": "admin"}')
    template = {
        "Resources": {
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": "{{resolve:ssm:/app/queue}}"},
            },
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": "t-{{resolve:secretsmanager:app-db:SecretString:user}}"},
            },
        }
    }
    cfn = client("cloudformation", customer)

    stack_id = cfn.create_stack(StackName="resolving", TemplateBody=json.dumps(template))["StackId"]

    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    }
    assert physical["Queue"].endswith("/from-ssm")
    assert physical["Topic"].endswith(":t-admin")
    wrong = {
        "Resources": {
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": "{{resolve:secretsmanager:nope}}"},
            }
        }
    }
    failed = cfn.create_stack(StackName="unresolvable", TemplateBody=json.dumps(wrong))["StackId"]
    assert wait_stack(cfn, failed)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Secrets Manager can't find the specified secret" in str(stack_events(cfn, failed, "Queue")[-1][2])


def test_public_ssm_parameters_resolve_in_a_customer_account(customer: dict[str, str]) -> None:
    template = {
        "Parameters": {
            "EcsAmi": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": ECS_AMI},
            "NatAmi": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": AL2023_AMI},
        },
        **QUEUE,
    }
    cfn = client("cloudformation", customer)
    stack_id = cfn.create_stack(StackName="amis", TemplateBody=json.dumps(template))["StackId"]
    parameters = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["Parameters"]
    }
    assert parameters["EcsAmi"].startswith("ami-") and parameters["NatAmi"].startswith("ami-")
    assert parameters["EcsAmi"] != parameters["NatAmi"]
