"""Templates as CloudFormation reads them: parameter constraints, Rules, TemplateURL
(infra/local/patches/cloudformation/templates.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fixtures import patch_handlers as handlers
from tests.infrastructure.local_cloud.support import (
    CUSTOMER,
    EXTERNAL_ID,
    REGION,
    SERVICE,
    assert_denied,
    assume,
    client,
    wait_stack,
)


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
