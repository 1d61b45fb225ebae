"""What every EC2 instance of the stack shares (NAT instance, ECS container instances, bastion)."""

from __future__ import annotations

from typing import Final

from troposphere import Parameter, ec2

from functions.stacks.logic.template.context import Context

AL2023_AMI_PARAMETER: Final = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
AMI_PARAMETER_TYPE: Final = "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"


def ensure_al2023_parameter(ctx: Context) -> None:
    if "AmazonLinuxAmi" not in ctx.t.parameters:
        ctx.t.add_parameter(
            Parameter(
                "AmazonLinuxAmi",
                Type=AMI_PARAMETER_TYPE,
                Default=AL2023_AMI_PARAMETER,
                Description="Amazon Linux 2023 AMI (x86_64) for the NAT instance and the bastion",
            )
        )


def imds_v2() -> ec2.MetadataOptions:
    # Tokens required; one hop: containers cannot borrow the instance's credentials.
    return ec2.MetadataOptions(HttpEndpoint="enabled", HttpTokens="required", HttpPutResponseHopLimit=1)


def encrypted_root() -> ec2.LaunchTemplateBlockDeviceMapping:
    return ec2.LaunchTemplateBlockDeviceMapping(
        DeviceName="/dev/xvda",
        Ebs=ec2.EBSBlockDevice(Encrypted=True, VolumeType="gp3", DeleteOnTermination=True),
    )
