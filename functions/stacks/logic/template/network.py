"""The stack's network: a new VPC, or the subnets of an existing one.

Network (new VPC)
    Three AZs (``Fn::GetAZs`` + ``Fn::Select``: the template does not name AZs). Tiers, in fixed
    positions of the VPC range so adding a database or toggling NAT never moves a subnet:

    * 3 **public** subnets (``/N+3``): the internet-facing ALB and the NAT instance;
    * 3 **app** subnets (``/N+3``): ECS instances and tasks, the VPC link, the internal ALB and the
      bastion. With ``nat_instance`` they are *private* (one route table per AZ whose ``0.0.0.0/0``
      the NAT instance points at itself when it boots); without it they are *isolated* and reach
      AWS through VPC endpoints (ECR, ECS, Logs, Secrets Manager, SSM - interface endpoints in the 3
      AZs, which cost more than the NAT instance: the option buys isolation, not savings) and the
      free S3 gateway endpoint (always present);
    * 3 **data** subnets (``/N+4``, only with a database): isolated, one route table without a
      default route; the RDS subnet group.

    So a stack has **6 subnets, or 9 with a database** (whether NAT is on or off). The database
    could share the app subnets when those are isolated (NAT off), but then turning NAT on later
    would have to move the database to other subnets - a replacement that deletion protection
    refuses. A separate data tier keeps the DB where it is whatever the NAT setting.

Network (existing VPC)
    Nothing is created: the ALB goes in ``public_subnet_ids``, ECS/VPC link/bastion in
    ``private_subnet_ids``, the database in ``isolated_subnet_ids``, after
    ``functions.stacks.logic.network`` accepted the subnets' facts (rendering refuses otherwise).
    ``nat_instance`` is not used.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Final

from troposphere import AWSObject, GetAtt, GetAZs, Ref, Select, Sub, ec2

from functions.stacks.logic.template.context import Context, Network
from functions.stacks.logic.template.nat import nat_instance
from functions.stacks.logic.template.security_groups import ANYWHERE, NO_EGRESS
from functions.stacks.models.spec import ExistingVpc, NewVpc

AZ_COUNT: Final = 3


def _tier_cidrs(vpc_cidr: str) -> dict[str, list[str]]:
    """Fixed positions: public and app /N+3 blocks 0-5, data /N+4 in blocks 6-7 (/28 at least)."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    blocks = list(vpc.subnets(prefixlen_diff=3))
    data = [*blocks[6].subnets(prefixlen_diff=1), next(blocks[7].subnets(prefixlen_diff=1))]
    return {
        "public": [str(b) for b in blocks[0:3]],
        "app": [str(b) for b in blocks[3:6]],
        "data": [str(b) for b in data],
    }


def existing_vpc(ctx: Context) -> Network:
    network = ctx.spec.network
    assert isinstance(network, ExistingVpc)
    return Network(
        vpc_id=network.vpc_id,
        public=list(network.public_subnet_ids),
        app=list(network.private_subnet_ids),
        data=list(network.isolated_subnet_ids) if ctx.spec.database else [],
        cidr=None,
        app_route_tables=[],
    )


def new_vpc(ctx: Context) -> Network:
    network = ctx.spec.network
    assert isinstance(network, NewVpc)
    cidrs = _tier_cidrs(network.cidr)
    vpc = ctx.add(
        ec2.VPC(
            "Vpc",
            CidrBlock=network.cidr,
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=ctx.tags("vpc"),
        )
    )
    igw = ctx.add(ec2.InternetGateway("InternetGateway", Tags=ctx.tags("igw")))
    attachment = ctx.add(
        ec2.VPCGatewayAttachment("InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw))
    )
    public_table = ctx.add(ec2.RouteTable("PublicRouteTable", VpcId=Ref(vpc), Tags=ctx.tags("public")))
    ctx.add(
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn=[attachment.title],
            RouteTableId=Ref(public_table),
            DestinationCidrBlock=ANYWHERE,
            GatewayId=Ref(igw),
        )
    )
    app_kind = "private" if ctx.spec.nat_instance else "isolated"
    public, app, app_tables, data = [], [], [], []
    for i in range(AZ_COUNT):
        n = i + 1
        az = Select(i, GetAZs(""))
        subnet = _subnet(ctx, f"PublicSubnet{n}", vpc, cidrs["public"][i], az, "public", public_table)
        public.append(Ref(subnet))
        table = ctx.add(ec2.RouteTable(f"AppRouteTable{n}", VpcId=Ref(vpc), Tags=ctx.tags(f"app-{n}")))
        app_tables.append(Ref(table))
        app.append(Ref(_subnet(ctx, f"AppSubnet{n}", vpc, cidrs["app"][i], az, app_kind, table)))
    if ctx.spec.database:
        data_table = ctx.add(ec2.RouteTable("DataRouteTable", VpcId=Ref(vpc), Tags=ctx.tags("data")))
        for i in range(AZ_COUNT):
            az = Select(i, GetAZs(""))
            data.append(
                Ref(_subnet(ctx, f"DataSubnet{i + 1}", vpc, cidrs["data"][i], az, "isolated", data_table))
            )
    # ECR image layers and the Amazon Linux repositories are in S3: free, and no NAT traffic.
    ctx.add(
        ec2.VPCEndpoint(
            "S3GatewayEndpoint",
            VpcId=Ref(vpc),
            ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
            VpcEndpointType="Gateway",
            RouteTableIds=app_tables,
        )
    )
    net = Network(
        vpc_id=Ref(vpc),
        public=public,
        app=app,
        data=data,
        cidr=GetAtt(vpc, "CidrBlock"),
        app_route_tables=app_tables if ctx.spec.nat_instance else [],
    )
    if ctx.spec.nat_instance:
        nat_instance(ctx, net, attachment.title)
    else:
        _interface_endpoints(ctx, net)
    return net


def _subnet(
    ctx: Context, title: str, vpc: AWSObject, cidr: str, az: Any, kind: str, table: AWSObject
) -> AWSObject:
    subnet = ctx.add(
        ec2.Subnet(
            title,
            VpcId=Ref(vpc),
            CidrBlock=cidr,
            AvailabilityZone=az,
            MapPublicIpOnLaunch=False,
            Tags=ctx.tags(title.lower(), **{"stackpilot:subnet-kind": kind}),
        )
    )
    ctx.add(
        ec2.SubnetRouteTableAssociation(
            f"{title}RouteTableAssociation", SubnetId=Ref(subnet), RouteTableId=Ref(table)
        )
    )
    return subnet


def _interface_endpoints(ctx: Context, net: Network) -> None:
    """NAT off: the isolated app subnets reach the AWS APIs the stack needs privately."""
    group = ctx.add(
        ec2.SecurityGroup(
            "EndpointSecurityGroup",
            GroupDescription=f"{ctx.name}: VPC interface endpoints",
            VpcId=net.vpc_id,
            SecurityGroupEgress=[NO_EGRESS],
            Tags=ctx.tags("endpoints"),
        )
    )
    ctx.add(
        ec2.SecurityGroupIngress(
            "EndpointIngressFromVpc",
            GroupId=GetAtt(group, "GroupId"),
            IpProtocol="tcp",
            FromPort=443,
            ToPort=443,
            CidrIp=net.cidr,
            Description="HTTPS to the AWS APIs from inside the VPC",
        )
    )
    services = {"EcrApi": "ecr.api", "EcrDkr": "ecr.dkr", "Ecs": "ecs", "EcsAgent": "ecs-agent"}
    services |= {"EcsTelemetry": "ecs-telemetry", "Logs": "logs"}
    if ctx.spec.database or ctx.spec.container.secret_env:
        services["SecretsManager"] = "secretsmanager"
    if ctx.spec.bastion:
        services |= {"Ssm": "ssm", "SsmMessages": "ssmmessages", "Ec2Messages": "ec2messages"}
    for title, service in services.items():
        ctx.add(
            ec2.VPCEndpoint(
                f"{title}Endpoint",
                VpcId=net.vpc_id,
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Interface",
                PrivateDnsEnabled=True,
                SubnetIds=net.app,
                SecurityGroupIds=[GetAtt(group, "GroupId")],
            )
        )
