"""The bastion: one instance in an app subnet reached through Session Manager only (no SSH keys, no
inbound), with ``psql`` when the stack has a database.
"""

from __future__ import annotations

from troposphere import AWSObject, Base64, GetAtt, Ref, Sub, ec2

from functions.shared.logic.iam import ARN, HERE, policy_document, statement
from functions.stacks.logic.template.context import Context, Network
from functions.stacks.logic.template.instances import encrypted_root, ensure_al2023_parameter, imds_v2
from functions.stacks.logic.template.roles import instance_profile, role


def bastion(ctx: Context, net: Network, sgs: dict[str, AWSObject]) -> AWSObject:
    bastion = ctx.spec.bastion
    assert bastion is not None
    ensure_al2023_parameter(ctx)
    instance_role = role(
        ctx,
        "BastionRole",
        "ec2.amazonaws.com",
        "bastion: Session Manager only",
        policy_document(
            statement(
                "RegisterWithSessionManager",
                ["ssm:UpdateInstanceInformation"],
                [Sub(f"{ARN}:ec2:{HERE}:instance/*")],
            ),
            statement(
                "SessionChannels",
                [
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                "*",
            ),
        ),
    )
    profile = instance_profile(ctx, "BastionInstanceProfile", instance_role)
    lines = ["#!/bin/bash", "# stackpilot bastion: Session Manager only (no SSH keys, no inbound)."]
    if ctx.spec.database:
        lines.append("dnf install -y postgresql16 || true  # psql for the database; best effort")
    template = ctx.add(
        ec2.LaunchTemplate(
            "BastionLaunchTemplate",
            LaunchTemplateData=ec2.LaunchTemplateData(
                ImageId=Ref("AmazonLinuxAmi"),
                InstanceType=bastion.instance_type,
                IamInstanceProfile=ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
                MetadataOptions=imds_v2(),
                BlockDeviceMappings=[encrypted_root()],
                EbsOptimized=True,
                TagSpecifications=[
                    ec2.TagSpecifications(ResourceType="instance", Tags=ctx.tags("bastion")),
                    ec2.TagSpecifications(ResourceType="volume", Tags=ctx.tags("bastion")),
                ],
                UserData=Base64("\n".join([*lines, ""])),
            ),
        )
    )
    return ctx.add(
        ec2.Instance(
            "Bastion",
            LaunchTemplate=ec2.LaunchTemplateSpecification(
                LaunchTemplateId=Ref(template), Version=GetAtt(template, "LatestVersionNumber")
            ),
            SubnetId=net.app[0],
            SecurityGroupIds=[GetAtt(sgs["bastion"], "GroupId")],
            Tags=ctx.tags("bastion"),
        )
    )
