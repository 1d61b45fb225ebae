"""NAT instance (new VPC with ``nat_instance``).

An Auto Scaling group of exactly one Amazon Linux 2023 instance (AMI from the public SSM parameter) in
the public subnets, with a public IP, its own security group admitting only the VPC range, and user
data that enables forwarding + masquerading, turns the source/destination check off and replaces the
app route tables' default route with itself. Its role may do exactly that:
``ec2:CreateRoute``/``ec2:ReplaceRoute`` on those route tables, ``ec2:ModifyInstanceAttribute`` on
instances tagged as this stack's NAT, ``ec2:DescribeRouteTables``.
"""

from __future__ import annotations

from typing import Final

from troposphere import Base64, GetAtt, Ref, Sub, autoscaling, ec2
from troposphere.policies import AutoScalingReplacingUpdate, UpdatePolicy

from functions.shared.logic.iam import ARN, HERE, checkov_skips, policy_document, statement
from functions.stacks.logic.template.context import Context, Network
from functions.stacks.logic.template.instances import encrypted_root, ensure_al2023_parameter, imds_v2
from functions.stacks.logic.template.roles import instance_profile, role
from functions.stacks.logic.template.security_groups import ANYWHERE

NAT_INSTANCE_TYPE: Final = "t3.micro"

# The NAT instance's boot script (an Fn::Sub template: ${...} are CloudFormation values, $X bash).
_NAT_USER_DATA: Final = """#!/bin/bash
# stackpilot NAT instance: translate the VPC's outbound traffic and own the app subnets' default routes.
set -euo pipefail
dnf install -y iptables-services
systemctl enable --now iptables
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-stackpilot-nat.conf
sysctl --system
IFACE=$(ip -o -4 route show to default | awk '{print $5}' | head -n 1)
iptables -F FORWARD
iptables -t nat -A POSTROUTING -o "$IFACE" -s ${VpcCidr} -j MASQUERADE
service iptables save
TOKEN=$(curl -sS -X PUT http://169.254.169.254/latest/api/token \\
  -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
ID=$(curl -sS -H "X-aws-ec2-metadata-token: $TOKEN" \\
  http://169.254.169.254/latest/meta-data/instance-id)
export AWS_DEFAULT_REGION=${AWS::Region}
aws ec2 modify-instance-attribute --instance-id "$ID" --no-source-dest-check
for TABLE in @TABLES@; do
  aws ec2 replace-route --route-table-id "$TABLE" --destination-cidr-block 0.0.0.0/0 --instance-id "$ID" \\
    || aws ec2 create-route --route-table-id "$TABLE" --destination-cidr-block 0.0.0.0/0 --instance-id "$ID"
done
"""


def nat_instance(ctx: Context, net: Network, attachment: str) -> None:
    ensure_al2023_parameter(ctx)
    group = ctx.add(
        ec2.SecurityGroup(
            "NatSecurityGroup",
            GroupDescription=f"{ctx.name}: NAT instance",
            VpcId=net.vpc_id,
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="-1", CidrIp=ANYWHERE, Description="Forwards the VPC's outbound traffic"
                )
            ],
            Tags=ctx.tags("nat"),
        )
    )
    ctx.add(
        ec2.SecurityGroupIngress(
            "NatIngressFromVpc",
            GroupId=GetAtt(group, "GroupId"),
            IpProtocol="-1",
            CidrIp=net.cidr,
            Description="Outbound traffic of the VPC to translate",
        )
    )
    tag = "stackpilot:nat-instance"
    tables = [Sub(f"{ARN}:ec2:{HERE}:route-table/${{Table}}", Table=t) for t in net.app_route_tables]
    instance_role = role(
        ctx,
        "NatRole",
        "ec2.amazonaws.com",
        "NAT instance: own the app subnets' default routes",
        policy_document(
            statement("PointAppRoutesAtItself", ["ec2:CreateRoute", "ec2:ReplaceRoute"], tables),
            statement(
                "DisableItsSourceDestCheck",
                ["ec2:ModifyInstanceAttribute"],
                [Sub(f"{ARN}:ec2:{HERE}:instance/*")],
                condition={"StringEquals": {f"aws:ResourceTag/{tag}": ctx.name}},
            ),
            statement("FindRouteTables", ["ec2:DescribeRouteTables"], "*"),
        ),
    )
    profile = instance_profile(ctx, "NatInstanceProfile", instance_role)
    tables_text = " ".join(f"${{AppRouteTable{i + 1}}}" for i in range(len(net.app_route_tables)))
    user_data = _NAT_USER_DATA.replace("@TABLES@", tables_text)
    template = ctx.add(
        ec2.LaunchTemplate(
            "NatLaunchTemplate",
            LaunchTemplateData=ec2.LaunchTemplateData(
                ImageId=Ref("AmazonLinuxAmi"),
                InstanceType=NAT_INSTANCE_TYPE,
                IamInstanceProfile=ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
                MetadataOptions=imds_v2(),
                BlockDeviceMappings=[encrypted_root()],
                # The NAT instance needs a public address: it is the VPC's way out.
                NetworkInterfaces=[
                    ec2.NetworkInterfaces(
                        DeviceIndex=0,
                        AssociatePublicIpAddress=True,
                        Groups=[GetAtt(group, "GroupId")],
                        DeleteOnTermination=True,
                    )
                ],
                TagSpecifications=[
                    ec2.TagSpecifications(ResourceType="instance", Tags=ctx.tags("nat", **{tag: ctx.name})),
                    ec2.TagSpecifications(ResourceType="volume", Tags=ctx.tags("nat")),
                ],
                UserData=Base64(Sub(user_data, VpcCidr=net.cidr)),
            ),
            Metadata=checkov_skips(
                (
                    "CKV_AWS_88",
                    "The NAT instance is the VPC's way out to the internet: it needs a public IP",
                )
            ),
        )
    )
    ctx.add(
        autoscaling.AutoScalingGroup(
            "NatAutoScalingGroup",
            DependsOn=[attachment, "PublicDefaultRoute"],
            MinSize="1",
            MaxSize="1",
            VPCZoneIdentifier=net.public,
            LaunchTemplate=autoscaling.LaunchTemplateSpecification(
                LaunchTemplateId=Ref(template), Version=GetAtt(template, "LatestVersionNumber")
            ),
            HealthCheckType="EC2",
            # A new template version gets a new group whose instance repoints the routes.
            UpdatePolicy=UpdatePolicy(
                AutoScalingReplacingUpdate=AutoScalingReplacingUpdate(WillReplace=True)
            ),
        )
    )
