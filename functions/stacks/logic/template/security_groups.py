"""Security groups (ingress is only ever a separate ``AWS::EC2::SecurityGroupIngress``).

ALB: 80 (and 443 with a certificate) from anywhere. Internal ALB: 80 from the VPC link. App (tasks):
the container port from the (internal) ALB only. DB: 5432 from the app and, with a bastion, from the
bastion. Bastion, ECS instances, VPC link: no ingress. NAT: all from the VPC range. Endpoints: 443 from
the VPC range. Egress is inline and narrowed where the traffic is known.

The NAT's and the endpoints' groups are built with them (``nat.py``, ``network.py``); the rest here.
"""

from __future__ import annotations

from typing import Any, Final

from troposphere import AWSObject, GetAtt, ec2

from functions.shared.logic.iam import checkov_skips
from functions.stacks.logic.template.context import Context, Network
from functions.stacks.logic.template.database import DB_PORT

ANYWHERE: Final = "0.0.0.0/0"


def _tcp(port: int, description: str, **target: Any) -> ec2.SecurityGroupRule:
    return ec2.SecurityGroupRule(
        IpProtocol="tcp", FromPort=port, ToPort=port, Description=description, **target
    )


# The way to say "no egress at all" (an empty list would keep the default allow-all rule).
NO_EGRESS: Final = ec2.SecurityGroupRule(
    IpProtocol="icmp", FromPort=252, ToPort=86, CidrIp="255.255.255.255/32", Description="No egress"
)


def security_groups(ctx: Context, net: Network) -> dict[str, AWSObject]:
    port = ctx.spec.container.port
    sgs: dict[str, AWSObject] = {}
    sgs["app"] = ctx.add(
        ec2.SecurityGroup(
            "AppSecurityGroup",
            GroupDescription=f"{ctx.name}: application tasks",
            VpcId=net.vpc_id,
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="-1", CidrIp=ANYWHERE, Description="The app calls services of its choice"
                )
            ],
            Tags=ctx.tags("app"),
        )
    )
    sgs["hosts"] = ctx.add(
        ec2.SecurityGroup(
            "ContainerInstanceSecurityGroup",
            GroupDescription=f"{ctx.name}: ECS container instances (no inbound)",
            VpcId=net.vpc_id,
            SecurityGroupEgress=[_tcp(443, "ECS, ECR and image registries over HTTPS", CidrIp=ANYWHERE)],
            Tags=ctx.tags("ecs-hosts"),
        )
    )
    alb_sg = ctx.add(
        ec2.SecurityGroup(
            "LoadBalancerSecurityGroup",
            GroupDescription=f"{ctx.name}: "
            + ("internet-facing ALB" if ctx.spec.front_door == "alb" else "internal ALB"),
            VpcId=net.vpc_id,
            SecurityGroupEgress=[
                _tcp(
                    port,
                    "To the app's container port",
                    DestinationSecurityGroupId=GetAtt(sgs["app"], "GroupId"),
                )
            ],
            Tags=ctx.tags("alb"),
        )
    )
    sgs["alb"] = alb_sg
    ctx.add(
        ec2.SecurityGroupIngress(
            "AppIngressFromLoadBalancer",
            GroupId=GetAtt(sgs["app"], "GroupId"),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            SourceSecurityGroupId=GetAtt(alb_sg, "GroupId"),
            Description="Container port from the load balancer only",
        )
    )
    if ctx.spec.front_door == "alb":
        ports = [80, 443] if ctx.spec.certificate_arn else [80]
        for listener_port in ports:
            why = "HTTPS" if listener_port == 443 else ("redirect to HTTPS" if 443 in ports else "HTTP")
            ctx.add(
                ec2.SecurityGroupIngress(
                    f"LoadBalancerIngress{listener_port}",
                    GroupId=GetAtt(alb_sg, "GroupId"),
                    IpProtocol="tcp",
                    FromPort=listener_port,
                    ToPort=listener_port,
                    CidrIp=ANYWHERE,
                    Description=f"Internet clients: {why}",
                    **(
                        {
                            "Metadata": checkov_skips(
                                ("CKV_AWS_260", "The internet-facing ALB is the public entry")
                            )
                        }
                        if listener_port == 80
                        else {}
                    ),
                )
            )
    else:
        sgs["link"] = ctx.add(
            ec2.SecurityGroup(
                "VpcLinkSecurityGroup",
                GroupDescription=f"{ctx.name}: API Gateway VPC link (no inbound)",
                VpcId=net.vpc_id,
                SecurityGroupEgress=[
                    _tcp(80, "To the internal ALB", DestinationSecurityGroupId=GetAtt(alb_sg, "GroupId"))
                ],
                Tags=ctx.tags("vpc-link"),
            )
        )
        ctx.add(
            ec2.SecurityGroupIngress(
                "LoadBalancerIngressFromVpcLink",
                GroupId=GetAtt(alb_sg, "GroupId"),
                IpProtocol="tcp",
                FromPort=80,
                ToPort=80,
                SourceSecurityGroupId=GetAtt(sgs["link"], "GroupId"),
                Description="HTTP from the API's VPC link only",
            )
        )
    if ctx.spec.bastion:
        egress = [_tcp(443, "Session Manager and package repositories over HTTPS", CidrIp=ANYWHERE)]
        sgs["bastion"] = ctx.add(
            ec2.SecurityGroup(
                "BastionSecurityGroup",
                GroupDescription=f"{ctx.name}: Session Manager bastion (no inbound)",
                VpcId=net.vpc_id,
                SecurityGroupEgress=egress,
                Tags=ctx.tags("bastion"),
            )
        )
    if ctx.spec.database:
        sgs["db"] = ctx.add(
            ec2.SecurityGroup(
                "DatabaseSecurityGroup",
                GroupDescription=f"{ctx.name}: PostgreSQL",
                VpcId=net.vpc_id,
                SecurityGroupEgress=[NO_EGRESS],
                Tags=ctx.tags("db"),
            )
        )
        sources = {"App": sgs["app"]} | ({"Bastion": sgs["bastion"]} if ctx.spec.bastion else {})
        for who, source in sources.items():
            ctx.add(
                ec2.SecurityGroupIngress(
                    f"DatabaseIngressFrom{who}",
                    GroupId=GetAtt(sgs["db"], "GroupId"),
                    IpProtocol="tcp",
                    FromPort=DB_PORT,
                    ToPort=DB_PORT,
                    SourceSecurityGroupId=GetAtt(source, "GroupId"),
                    Description=f"PostgreSQL from the {who.lower()} only",
                )
            )
        if ctx.spec.bastion:
            sgs["bastion"].SecurityGroupEgress.append(
                _tcp(DB_PORT, "PostgreSQL", DestinationSecurityGroupId=GetAtt(sgs["db"], "GroupId"))
            )
    return sgs
