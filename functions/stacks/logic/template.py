"""The CloudFormation template of one application stack (DESIGN.md, workflow 2), rendered with troposphere.

``render_stack_template`` turns a :class:`StackTemplateInput` into deterministic JSON (sorted keys,
same input -> same bytes). The stack is created in the customer's account by the CloudFormation
service role of the onboarding template, so it keeps that role's naming contract
(``functions/accounts/logic/role_template.py``): every IAM role and instance profile has
``Path: /stackpilot/`` and the connection's ``PermissionsBoundary``, with inline policies only; the
stack's secrets are named ``stackpilot-<name>-<stage>/...``, its log groups live under
``/stackpilot/``, bucket names are generated from the stack name; the database credentials live in
such a secret (not an RDS-managed ``rds!`` one).

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

NAT instance
    An Auto Scaling group of exactly one Amazon Linux 2023 instance (AMI from the public SSM
    parameter) in the public subnets, with a public IP, its own security group admitting only the
    VPC range, and user data that enables forwarding + masquerading, turns the source/destination
    check off and replaces the app route tables' default route with itself. Its role may do exactly
    that: ``ec2:CreateRoute``/``ec2:ReplaceRoute`` on those route tables,
    ``ec2:ModifyInstanceAttribute`` on instances tagged as this stack's NAT, ``ec2:DescribeRouteTables``.

Compute
    ECS on EC2: ECS-optimized AL2023 instances (the smallest listed type that fits one task with
    15 % memory headroom) in the app subnets, an ASG the capacity provider scales (managed scaling and
    managed draining; room for 2 x max_count tasks so a rolling deployment fits); a REPLICA service
    (awsvpc, circuit breaker with rollback, 200 %/100 %) spread over AZs; CPU target tracking at 60 %
    between ``min_count`` and ``max_count``. Secrets come in through the task definition's
    ``Secrets`` (the given ARNs; the execution role may read exactly those); with a database the
    task also gets ``PGHOST``/``PGPORT``/``PGDATABASE`` and, from the database secret,
    ``PGUSER``/``PGPASSWORD``. The task role has no permissions.

Front door
    ``alb``: an internet-facing ALB in the public subnets (HTTP 80, or HTTPS 443 with TLS 1.2+ and
    80 -> 443 redirects when a certificate is given), invalid headers dropped, access logs to the
    logs bucket, IP target group with the health check path. ``api_gateway``: an HTTP API whose
    ``$default`` route goes through a VPC link (app subnets) to an **internal** ALB listener. The
    internal ALB rather than Cloud Map: the onboarding CloudFormation role grants Elastic Load
    Balancing but neither Cloud Map nor Route 53, and the target group's health checks keep the
    health check path and the circuit breaker meaningful; it costs an ALB's hourly price. Stage
    access logs go to a log group.

Database
    RDS PostgreSQL in the data tier, gp3, storage encrypted (AWS-managed ``aws/rds`` key), not
    public, IAM authentication, ``postgresql`` and ``upgrade`` log exports, backups for the spec's
    days, deletion protection, snapshot on delete/replace, tags copied to snapshots, automatic minor
    upgrades. Credentials: generated into ``stackpilot-<name>-<stage>/database`` and referenced with
    ``{{resolve:secretsmanager:...}}``; a ``SecretTargetAttachment`` adds host/port/dbname.

Security groups (ingress is only ever a separate ``AWS::EC2::SecurityGroupIngress``)
    ALB: 80 (and 443 with a certificate) from anywhere. Internal ALB: 80 from the VPC link. App
    (tasks): the container port from the (internal) ALB only. DB: 5432 from the app and, with a
    bastion, from the bastion. Bastion, ECS instances, VPC link: no ingress. NAT: all from the VPC
    range. Endpoints: 443 from the VPC range. Egress is inline and narrowed where the traffic is known.

Encryption and logs
    No customer-managed KMS key: the onboarding CloudFormation role cannot create keys and the
    permissions boundary grants workload roles no KMS use, so AWS-managed keys are used (S3 SSE-S3 -
    the only option ALB access logs accept -, ``aws/rds``, ``aws/secretsmanager``, encrypted EBS
    volumes with the account default key; CloudWatch Logs encrypts at rest). Log groups keep 365 days
    in every stage (the usual one-year audit horizon; storage is cheap next to ingestion); the logs
    bucket is private, versioned, TLS-only, expires objects after 365 days and is retained when the
    stack is deleted.

Known limits: the new-VPC layout needs a region where the account sees 3 AZs; images must be public
or come from this account's ``stackpilot-*`` ECR repositories in the stack's region (the boundary).
This module is framework-free: troposphere and the standard library only.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from troposphere import (
    AWSObject,
    Base64,
    GetAtt,
    GetAZs,
    Join,
    Output,
    Parameter,
    Ref,
    Select,
    Sub,
    Tags,
    Template,
    apigatewayv2,
    applicationautoscaling,
    autoscaling,
    ec2,
    ecs,
    iam,
    logs,
    rds,
    s3,
    secretsmanager,
)
from troposphere import elasticloadbalancingv2 as elb
from troposphere.policies import AutoScalingReplacingUpdate, UpdatePolicy

from functions.shared.logic.customer_names import WORKLOAD_PATH
from functions.shared.logic.iam import (
    ACCOUNT_ID_RE,
    ARN,
    HERE,
    PARTITION_RE,
    checkov_skips,
    iam_arn_re,
    partition,
    policy_document,
    statement,
)
from functions.stacks.logic.network import SubnetFacts, validate_existing_network
from functions.stacks.models.spec import (
    DATABASE_ENV_NAMES,
    ECR_IMAGE_RE,
    ExistingVpc,
    NewVpc,
    StackSpec,
    secret_name,
)

__all__ = ["StackTemplateInput", "render_stack_template", "secret_name"]

LOG_RETENTION_DAYS: Final = 365
AZ_COUNT: Final = 3
CONTAINER_NAME: Final = "app"
DB_PORT: Final = 5432
DB_NAME: Final = "app"
DB_USER: Final = "stackpilot"
NAT_INSTANCE_TYPE: Final = "t3.micro"
CPU_TARGET_PERCENT: Final = 60.0
AL2023_AMI_PARAMETER: Final = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
ECS_AMI_PARAMETER: Final = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
TLS_POLICY: Final = "ELBSecurityPolicy-TLS13-1-2-2021-06"

_AMI_TYPE: Final = "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
_ANYWHERE: Final = "0.0.0.0/0"

# (type, CPU units, MiB): the ECS instance is the smallest that fits one task.
_HOST_TYPES: Final = (
    ("t3.small", 2048, 2048),
    ("t3.medium", 2048, 4096),
    ("t3.large", 2048, 8192),
    ("t3.xlarge", 4096, 16384),
    ("t3.2xlarge", 8192, 32768),
    ("m5.4xlarge", 16384, 65536),
)
_HOST_MEMORY_HEADROOM: Final = 0.85  # the OS and the ECS agent keep the rest

# Regions that predate the ELB log-delivery service principal: their ELB account writes access logs.
_ELB_LOG_ACCOUNTS: Final = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-gov-east-1": "190560391635",
    "us-gov-west-1": "048591011584",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
_ELB_LOG_SERVICE: Final = "logdelivery.elasticloadbalancing.amazonaws.com"

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

_ROLE_PATH_RE: Final = re.compile(r"/[a-z][a-z0-9-]*/")


@dataclass(frozen=True)
class StackTemplateInput:
    spec: StackSpec  # secret values are never read: only the names of container.secret_env
    stack_name: str  # must be spec.stack_name
    account_id: str  # the customer's account (12 digits)
    # arn:aws:iam::<account>:policy/stackpilot-connection/stackpilot-boundary-<suffix>
    permissions_boundary_arn: str
    # Per secret env name, the ARN of the secret already written as ``secret_name(spec, NAME)``.
    secret_arns: Mapping[str, str] = field(default_factory=dict)
    # Existing-VPC mode: the listed subnets as the customer's account describes them.
    subnets: Mapping[str, SubnetFacts] = field(default_factory=dict)
    role_path: str = WORKLOAD_PATH
    # Off only for the update that precedes a deletion (delete_stack): the database is still
    # snapshotted when the stack deletes it.
    deletion_protection: bool = True


def render_stack_template(inp: StackTemplateInput) -> str:
    """The stack's template as JSON text. Same input -> same bytes. Raises ``ValueError`` on bad input."""
    _validate(inp)
    return str(_Builder(inp).build().to_json(indent=1, sort_keys=True)) + "\n"


# --------------------------------------------------------------------------------------------------
# Validation of what the spec cannot know by itself
# --------------------------------------------------------------------------------------------------


def _validate(inp: StackTemplateInput) -> None:
    spec = inp.spec
    if not ACCOUNT_ID_RE.fullmatch(inp.account_id):
        raise ValueError("invalid account_id")
    if inp.stack_name != spec.stack_name:
        raise ValueError(f"stack_name must be {spec.stack_name}")
    if not _ROLE_PATH_RE.fullmatch(inp.role_path):
        raise ValueError("invalid role_path")
    if not iam_arn_re(inp.account_id, "policy").fullmatch(inp.permissions_boundary_arn):
        raise ValueError("permissions_boundary_arn must be a policy of the customer's account")
    if set(inp.secret_arns) != set(spec.container.secret_env):
        raise ValueError("secret_arns must name exactly the secret_env names")
    for env_name, arn in inp.secret_arns.items():
        expected = (
            rf"arn:{PARTITION_RE}:secretsmanager:{re.escape(spec.region)}:{inp.account_id}:"
            rf"secret:{re.escape(secret_name(spec, env_name))}-[A-Za-z0-9]{{6}}"
        )
        if not re.fullmatch(expected, arn):
            raise ValueError(f"secret_arns[{env_name}] must be the ARN of {secret_name(spec, env_name)}")
    ecr = ECR_IMAGE_RE.match(spec.container.image)
    if ecr is not None and ecr["account"] != inp.account_id:
        raise ValueError("container.image: an ECR image must come from the stack's own account")
    problems = validate_existing_network(spec, inp.subnets)
    if problems:
        raise ValueError("; ".join(f"{p.field}: {p.reason}" for p in problems))


# --------------------------------------------------------------------------------------------------
# Small building blocks
# --------------------------------------------------------------------------------------------------


def _tcp(port: int, description: str, **target: Any) -> ec2.SecurityGroupRule:
    return ec2.SecurityGroupRule(
        IpProtocol="tcp", FromPort=port, ToPort=port, Description=description, **target
    )


# The way to say "no egress at all" (an empty list would keep the default allow-all rule).
_NO_EGRESS: Final = ec2.SecurityGroupRule(
    IpProtocol="icmp", FromPort=252, ToPort=86, CidrIp="255.255.255.255/32", Description="No egress"
)


def _host_type(cpu: int, memory: int) -> str:
    for name, units, mib in _HOST_TYPES:
        if units >= cpu and mib * _HOST_MEMORY_HEADROOM >= memory:
            return name
    raise ValueError(f"no instance type fits cpu {cpu} / memory {memory}")  # unreachable for valid specs


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


@dataclass(frozen=True)
class _Network:
    vpc_id: Any  # Ref or literal id
    public: list[Any]
    app: list[Any]
    data: list[Any]
    cidr: Any | None  # the VPC range (new VPC only)
    app_route_tables: list[Any]  # new VPC with NAT: the tables the NAT instance points at itself


# --------------------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, inp: StackTemplateInput) -> None:
        self.inp = inp
        self.spec = inp.spec
        self.name = inp.stack_name
        self.t = Template(
            Description=f"stackpilot stack {self.name}: {self.spec.front_door} -> ECS on EC2"
            + (" -> PostgreSQL" if self.spec.database else "")
        )
        self.t.set_version("2010-09-09")
        self.t.set_metadata({"stackpilot": {"Stack": self.name, "Stage": self.spec.stage}})
        self.log_prefix = f"{inp.role_path}{self.spec.name}-{self.spec.stage}"

    def add(self, resource: AWSObject) -> AWSObject:
        return self.t.add_resource(resource)

    def tags(self, suffix: str, **extra: str) -> Tags:
        return Tags({"Name": f"{self.name}-{suffix}", **extra})

    def build(self) -> Template:
        net = self.new_vpc() if isinstance(self.spec.network, NewVpc) else self.existing_vpc()
        sgs = self.security_groups(net)
        logs_bucket = self.logs_bucket()
        cluster, capacity = self.cluster(net, sgs)
        app_log_group = self.log_group("AppLogGroup", "app")
        database = self.database(net, sgs) if self.spec.database else None
        task = self.task_definition(app_log_group, database)
        if self.spec.front_door == "alb":
            target_group, listener, endpoint = self.public_alb(net, sgs, logs_bucket)
        else:
            target_group, listener, endpoint = self.api_gateway(net, sgs, logs_bucket)
        service = self.service(net, sgs, cluster, capacity, task, target_group, listener)
        self.autoscaling(cluster, service)
        bastion = self.bastion(net, sgs) if self.spec.bastion else None
        self.outputs(net, cluster, service, endpoint, app_log_group, database, bastion)
        return self.t

    # ---------------------------------------------------------------------------------------------
    # Network
    # ---------------------------------------------------------------------------------------------

    def existing_vpc(self) -> _Network:
        network = self.spec.network
        assert isinstance(network, ExistingVpc)
        return _Network(
            vpc_id=network.vpc_id,
            public=list(network.public_subnet_ids),
            app=list(network.private_subnet_ids),
            data=list(network.isolated_subnet_ids) if self.spec.database else [],
            cidr=None,
            app_route_tables=[],
        )

    def new_vpc(self) -> _Network:
        network = self.spec.network
        assert isinstance(network, NewVpc)
        cidrs = _tier_cidrs(network.cidr)
        vpc = self.add(
            ec2.VPC(
                "Vpc",
                CidrBlock=network.cidr,
                EnableDnsHostnames=True,
                EnableDnsSupport=True,
                Tags=self.tags("vpc"),
            )
        )
        igw = self.add(ec2.InternetGateway("InternetGateway", Tags=self.tags("igw")))
        attachment = self.add(
            ec2.VPCGatewayAttachment("InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw))
        )
        public_table = self.add(ec2.RouteTable("PublicRouteTable", VpcId=Ref(vpc), Tags=self.tags("public")))
        self.add(
            ec2.Route(
                "PublicDefaultRoute",
                DependsOn=[attachment.title],
                RouteTableId=Ref(public_table),
                DestinationCidrBlock=_ANYWHERE,
                GatewayId=Ref(igw),
            )
        )
        app_kind = "private" if self.spec.nat_instance else "isolated"
        public, app, app_tables, data = [], [], [], []
        for i in range(AZ_COUNT):
            n = i + 1
            az = Select(i, GetAZs(""))
            subnet = self.subnet(f"PublicSubnet{n}", vpc, cidrs["public"][i], az, "public", public_table)
            public.append(Ref(subnet))
            table = self.add(ec2.RouteTable(f"AppRouteTable{n}", VpcId=Ref(vpc), Tags=self.tags(f"app-{n}")))
            app_tables.append(Ref(table))
            app.append(Ref(self.subnet(f"AppSubnet{n}", vpc, cidrs["app"][i], az, app_kind, table)))
        if self.spec.database:
            data_table = self.add(ec2.RouteTable("DataRouteTable", VpcId=Ref(vpc), Tags=self.tags("data")))
            for i in range(AZ_COUNT):
                az = Select(i, GetAZs(""))
                data.append(
                    Ref(self.subnet(f"DataSubnet{i + 1}", vpc, cidrs["data"][i], az, "isolated", data_table))
                )
        # ECR image layers and the Amazon Linux repositories are in S3: free, and no NAT traffic.
        self.add(
            ec2.VPCEndpoint(
                "S3GatewayEndpoint",
                VpcId=Ref(vpc),
                ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
                VpcEndpointType="Gateway",
                RouteTableIds=app_tables,
            )
        )
        net = _Network(
            vpc_id=Ref(vpc),
            public=public,
            app=app,
            data=data,
            cidr=GetAtt(vpc, "CidrBlock"),
            app_route_tables=app_tables if self.spec.nat_instance else [],
        )
        if self.spec.nat_instance:
            self.nat_instance(net, attachment.title)
        else:
            self.interface_endpoints(net)
        return net

    def subnet(
        self, title: str, vpc: AWSObject, cidr: str, az: Any, kind: str, table: AWSObject
    ) -> AWSObject:
        subnet = self.add(
            ec2.Subnet(
                title,
                VpcId=Ref(vpc),
                CidrBlock=cidr,
                AvailabilityZone=az,
                MapPublicIpOnLaunch=False,
                Tags=self.tags(title.lower(), **{"stackpilot:subnet-kind": kind}),
            )
        )
        self.add(
            ec2.SubnetRouteTableAssociation(
                f"{title}RouteTableAssociation", SubnetId=Ref(subnet), RouteTableId=Ref(table)
            )
        )
        return subnet

    def interface_endpoints(self, net: _Network) -> None:
        """NAT off: the isolated app subnets reach the AWS APIs the stack needs privately."""
        group = self.add(
            ec2.SecurityGroup(
                "EndpointSecurityGroup",
                GroupDescription=f"{self.name}: VPC interface endpoints",
                VpcId=net.vpc_id,
                SecurityGroupEgress=[_NO_EGRESS],
                Tags=self.tags("endpoints"),
            )
        )
        self.add(
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
        if self.spec.database or self.spec.container.secret_env:
            services["SecretsManager"] = "secretsmanager"
        if self.spec.bastion:
            services |= {"Ssm": "ssm", "SsmMessages": "ssmmessages", "Ec2Messages": "ec2messages"}
        for title, service in services.items():
            self.add(
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

    def nat_instance(self, net: _Network, attachment: str) -> None:
        self.ensure_al2023_parameter()
        group = self.add(
            ec2.SecurityGroup(
                "NatSecurityGroup",
                GroupDescription=f"{self.name}: NAT instance",
                VpcId=net.vpc_id,
                SecurityGroupEgress=[
                    ec2.SecurityGroupRule(
                        IpProtocol="-1", CidrIp=_ANYWHERE, Description="Forwards the VPC's outbound traffic"
                    )
                ],
                Tags=self.tags("nat"),
            )
        )
        self.add(
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
        role = self.role(
            "NatRole",
            "ec2.amazonaws.com",
            "NAT instance: own the app subnets' default routes",
            policy_document(
                statement("PointAppRoutesAtItself", ["ec2:CreateRoute", "ec2:ReplaceRoute"], tables),
                statement(
                    "DisableItsSourceDestCheck",
                    ["ec2:ModifyInstanceAttribute"],
                    [Sub(f"{ARN}:ec2:{HERE}:instance/*")],
                    condition={"StringEquals": {f"aws:ResourceTag/{tag}": self.name}},
                ),
                statement("FindRouteTables", ["ec2:DescribeRouteTables"], "*"),
            ),
        )
        profile = self.instance_profile("NatInstanceProfile", role)
        tables_text = " ".join(f"${{AppRouteTable{i + 1}}}" for i in range(len(net.app_route_tables)))
        user_data = _NAT_USER_DATA.replace("@TABLES@", tables_text)
        template = self.add(
            ec2.LaunchTemplate(
                "NatLaunchTemplate",
                LaunchTemplateData=ec2.LaunchTemplateData(
                    ImageId=Ref("AmazonLinuxAmi"),
                    InstanceType=NAT_INSTANCE_TYPE,
                    IamInstanceProfile=ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
                    MetadataOptions=self.imds_v2(),
                    BlockDeviceMappings=[self.encrypted_root()],
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
                        ec2.TagSpecifications(
                            ResourceType="instance", Tags=self.tags("nat", **{tag: self.name})
                        ),
                        ec2.TagSpecifications(ResourceType="volume", Tags=self.tags("nat")),
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
        self.add(
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

    def ensure_al2023_parameter(self) -> None:
        if "AmazonLinuxAmi" not in self.t.parameters:
            self.t.add_parameter(
                Parameter(
                    "AmazonLinuxAmi",
                    Type=_AMI_TYPE,
                    Default=AL2023_AMI_PARAMETER,
                    Description="Amazon Linux 2023 AMI (x86_64) for the NAT instance and the bastion",
                )
            )

    # ---------------------------------------------------------------------------------------------
    # Security groups
    # ---------------------------------------------------------------------------------------------

    def security_groups(self, net: _Network) -> dict[str, AWSObject]:
        port = self.spec.container.port
        sgs: dict[str, AWSObject] = {}
        sgs["app"] = self.add(
            ec2.SecurityGroup(
                "AppSecurityGroup",
                GroupDescription=f"{self.name}: application tasks",
                VpcId=net.vpc_id,
                SecurityGroupEgress=[
                    ec2.SecurityGroupRule(
                        IpProtocol="-1", CidrIp=_ANYWHERE, Description="The app calls services of its choice"
                    )
                ],
                Tags=self.tags("app"),
            )
        )
        sgs["hosts"] = self.add(
            ec2.SecurityGroup(
                "ContainerInstanceSecurityGroup",
                GroupDescription=f"{self.name}: ECS container instances (no inbound)",
                VpcId=net.vpc_id,
                SecurityGroupEgress=[_tcp(443, "ECS, ECR and image registries over HTTPS", CidrIp=_ANYWHERE)],
                Tags=self.tags("ecs-hosts"),
            )
        )
        alb_sg = self.add(
            ec2.SecurityGroup(
                "LoadBalancerSecurityGroup",
                GroupDescription=f"{self.name}: "
                + ("internet-facing ALB" if self.spec.front_door == "alb" else "internal ALB"),
                VpcId=net.vpc_id,
                SecurityGroupEgress=[
                    _tcp(
                        port,
                        "To the app's container port",
                        DestinationSecurityGroupId=GetAtt(sgs["app"], "GroupId"),
                    )
                ],
                Tags=self.tags("alb"),
            )
        )
        sgs["alb"] = alb_sg
        self.add(
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
        if self.spec.front_door == "alb":
            ports = [80, 443] if self.spec.certificate_arn else [80]
            for listener_port in ports:
                why = "HTTPS" if listener_port == 443 else ("redirect to HTTPS" if 443 in ports else "HTTP")
                self.add(
                    ec2.SecurityGroupIngress(
                        f"LoadBalancerIngress{listener_port}",
                        GroupId=GetAtt(alb_sg, "GroupId"),
                        IpProtocol="tcp",
                        FromPort=listener_port,
                        ToPort=listener_port,
                        CidrIp=_ANYWHERE,
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
            sgs["link"] = self.add(
                ec2.SecurityGroup(
                    "VpcLinkSecurityGroup",
                    GroupDescription=f"{self.name}: API Gateway VPC link (no inbound)",
                    VpcId=net.vpc_id,
                    SecurityGroupEgress=[
                        _tcp(80, "To the internal ALB", DestinationSecurityGroupId=GetAtt(alb_sg, "GroupId"))
                    ],
                    Tags=self.tags("vpc-link"),
                )
            )
            self.add(
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
        if self.spec.bastion:
            egress = [_tcp(443, "Session Manager and package repositories over HTTPS", CidrIp=_ANYWHERE)]
            sgs["bastion"] = self.add(
                ec2.SecurityGroup(
                    "BastionSecurityGroup",
                    GroupDescription=f"{self.name}: Session Manager bastion (no inbound)",
                    VpcId=net.vpc_id,
                    SecurityGroupEgress=egress,
                    Tags=self.tags("bastion"),
                )
            )
        if self.spec.database:
            sgs["db"] = self.add(
                ec2.SecurityGroup(
                    "DatabaseSecurityGroup",
                    GroupDescription=f"{self.name}: PostgreSQL",
                    VpcId=net.vpc_id,
                    SecurityGroupEgress=[_NO_EGRESS],
                    Tags=self.tags("db"),
                )
            )
            sources = {"App": sgs["app"]} | ({"Bastion": sgs["bastion"]} if self.spec.bastion else {})
            for who, source in sources.items():
                self.add(
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
            if self.spec.bastion:
                sgs["bastion"].SecurityGroupEgress.append(
                    _tcp(DB_PORT, "PostgreSQL", DestinationSecurityGroupId=GetAtt(sgs["db"], "GroupId"))
                )
        return sgs

    # ---------------------------------------------------------------------------------------------
    # IAM (path + boundary + inline policies only: the CloudFormation role's contract)
    # ---------------------------------------------------------------------------------------------

    def role(self, title: str, service: str, purpose: str, policy: dict[str, Any] | None) -> AWSObject:
        trust: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }
        if service == "ecs-tasks.amazonaws.com":
            # Only ECS tasks of this account and region (confused-deputy guard).
            trust["Condition"] = {
                "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
                "ArnLike": {"aws:SourceArn": Sub(f"{ARN}:ecs:{HERE}:*")},
            }
        return self.add(
            iam.Role(
                title,
                Path=self.inp.role_path,
                PermissionsBoundary=self.inp.permissions_boundary_arn,
                Description=f"{self.name}: {purpose}",
                AssumeRolePolicyDocument=policy_document(trust),
                Policies=[iam.Policy(PolicyName=title, PolicyDocument=policy)] if policy else [],
            )
        )

    def instance_profile(self, title: str, role: AWSObject) -> AWSObject:
        return self.add(iam.InstanceProfile(title, Path=self.inp.role_path, Roles=[Ref(role)]))

    @staticmethod
    def imds_v2() -> ec2.MetadataOptions:
        # Tokens required; one hop: containers cannot borrow the instance's credentials.
        return ec2.MetadataOptions(HttpEndpoint="enabled", HttpTokens="required", HttpPutResponseHopLimit=1)

    @staticmethod
    def encrypted_root() -> ec2.LaunchTemplateBlockDeviceMapping:
        return ec2.LaunchTemplateBlockDeviceMapping(
            DeviceName="/dev/xvda",
            Ebs=ec2.EBSBlockDevice(Encrypted=True, VolumeType="gp3", DeleteOnTermination=True),
        )

    # ---------------------------------------------------------------------------------------------
    # Logs
    # ---------------------------------------------------------------------------------------------

    def log_group(self, title: str, suffix: str) -> AWSObject:
        return self.add(
            logs.LogGroup(
                title,
                LogGroupName=f"{self.log_prefix}/{suffix}",
                RetentionInDays=LOG_RETENTION_DAYS,
                # Named log groups: kept ones would collide with a re-created stack of the same name.
                DeletionPolicy="Delete",
                UpdateReplacePolicy="Delete",
                Metadata=checkov_skips(
                    (
                        "CKV_AWS_158",
                        "Encrypted at rest by CloudWatch Logs; a customer-managed key is not possible: "
                        "the onboarding CloudFormation role cannot create KMS keys",
                    )
                ),
            )
        )

    def logs_bucket(self) -> AWSObject:
        bucket = self.add(
            s3.Bucket(
                "LogsBucket",
                DeletionPolicy="Retain",  # access logs outlive the stack (audit evidence)
                UpdateReplacePolicy="Retain",
                BucketEncryption=s3.BucketEncryption(
                    ServerSideEncryptionConfiguration=[
                        s3.ServerSideEncryptionRule(
                            ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                                SSEAlgorithm="AES256"
                            )
                        )
                    ]
                ),
                VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
                PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                    BlockPublicAcls=True,
                    BlockPublicPolicy=True,
                    IgnorePublicAcls=True,
                    RestrictPublicBuckets=True,
                ),
                OwnershipControls=s3.OwnershipControls(
                    Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
                ),
                LifecycleConfiguration=s3.LifecycleConfiguration(
                    Rules=[
                        s3.LifecycleRule(
                            Id="expire-access-logs",
                            Status="Enabled",
                            ExpirationInDays=LOG_RETENTION_DAYS,
                            NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=30),
                            AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                                DaysAfterInitiation=7
                            ),
                        )
                    ]
                ),
                Tags=self.tags("logs"),
                Metadata=checkov_skips(
                    ("CKV_AWS_18", "This is the access-log bucket; logging it into itself would loop"),
                ),
            )
        )
        region = self.spec.region
        writer: dict[str, Any] = (
            {"AWS": f"arn:{partition(region)}:iam::{_ELB_LOG_ACCOUNTS[region]}:root"}
            if region in _ELB_LOG_ACCOUNTS
            else {"Service": _ELB_LOG_SERVICE}
        )
        bucket_arn = GetAtt(bucket, "Arn")
        self.add(
            s3.BucketPolicy(
                "LogsBucketPolicy",
                # Kept with the bucket, so a retained bucket stays TLS-only.
                DeletionPolicy="Retain",
                UpdateReplacePolicy="Retain",
                Bucket=Ref(bucket),
                PolicyDocument=policy_document(
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [bucket_arn, Sub("${LogsBucket.Arn}/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                    {
                        "Sid": "LoadBalancerAccessLogs",
                        "Effect": "Allow",
                        "Principal": writer,
                        "Action": "s3:PutObject",
                        "Resource": Sub("${LogsBucket.Arn}/alb/AWSLogs/${AWS::AccountId}/*"),
                    },
                ),
            )
        )
        return bucket

    # ---------------------------------------------------------------------------------------------
    # ECS
    # ---------------------------------------------------------------------------------------------

    def cluster(self, net: _Network, sgs: dict[str, AWSObject]) -> tuple[AWSObject, AWSObject]:
        container = self.spec.container
        cluster = self.add(
            ecs.Cluster(
                "Cluster",
                ClusterName=self.name,
                ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
            )
        )
        cluster_arn = Sub(f"{ARN}:ecs:{HERE}:cluster/${{Cluster}}")
        instances = Sub(f"{ARN}:ecs:{HERE}:container-instance/${{Cluster}}/*")
        role = self.role(
            "ContainerInstanceRole",
            "ec2.amazonaws.com",
            "ECS container instances: the ECS agent of this cluster",
            policy_document(
                statement(
                    "RegisterWithThisCluster",
                    [
                        "ecs:DeregisterContainerInstance",
                        "ecs:RegisterContainerInstance",
                        "ecs:SubmitContainerStateChange",
                        "ecs:SubmitTaskStateChange",
                    ],
                    [cluster_arn],
                ),
                statement(
                    "RunAsThisClustersInstance",
                    ["ecs:Poll", "ecs:StartTelemetrySession", "ecs:UpdateContainerInstancesState"],
                    [instances],
                ),
                statement("FindTheEcsEndpoint", ["ecs:DiscoverPollEndpoint"], "*"),
            ),
        )
        profile = self.instance_profile("ContainerInstanceProfile", role)
        user_data = "\n".join(
            [
                "#!/bin/bash",
                "cat >> /etc/ecs/ecs.config <<'EOF'",
                "ECS_CLUSTER=${Cluster}",
                "ECS_AWSVPC_BLOCK_IMDS=true",
                "ECS_ENABLE_CONTAINER_METADATA=true",
                "EOF",
                "",
            ]
        )
        template = self.add(
            ec2.LaunchTemplate(
                "ContainerInstanceLaunchTemplate",
                LaunchTemplateData=ec2.LaunchTemplateData(
                    ImageId=Ref(self.ecs_ami_parameter()),
                    InstanceType=_host_type(container.cpu, container.memory),
                    IamInstanceProfile=ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
                    SecurityGroupIds=[GetAtt(sgs["hosts"], "GroupId")],
                    MetadataOptions=self.imds_v2(),
                    BlockDeviceMappings=[self.encrypted_root()],
                    TagSpecifications=[
                        ec2.TagSpecifications(ResourceType="instance", Tags=self.tags("ecs")),
                        ec2.TagSpecifications(ResourceType="volume", Tags=self.tags("ecs")),
                    ],
                    UserData=Base64(Sub(user_data)),
                ),
            )
        )
        group = self.add(
            autoscaling.AutoScalingGroup(
                "ContainerInstanceAutoScalingGroup",
                MinSize="0",
                # Room for a rolling deployment at 200 % of max_count, one task per instance at worst.
                MaxSize=str(2 * container.max_count),
                VPCZoneIdentifier=net.app,
                LaunchTemplate=autoscaling.LaunchTemplateSpecification(
                    LaunchTemplateId=Ref(template), Version=GetAtt(template, "LatestVersionNumber")
                ),
                HealthCheckType="EC2",
                NewInstancesProtectedFromScaleIn=False,
            )
        )
        capacity = self.add(
            ecs.CapacityProvider(
                "CapacityProvider",
                AutoScalingGroupProvider=ecs.AutoScalingGroupProvider(
                    AutoScalingGroupArn=Ref(group),
                    ManagedScaling=ecs.ManagedScaling(Status="ENABLED", TargetCapacity=100),
                    # Draining instead of termination protection: scale-in moves tasks away first,
                    # and deleting the stack never waits on protected instances.
                    ManagedTerminationProtection="DISABLED",
                    ManagedDraining="ENABLED",
                ),
            )
        )
        self.add(
            ecs.ClusterCapacityProviderAssociations(
                "ClusterCapacityProviders",
                Cluster=Ref(cluster),
                CapacityProviders=[Ref(capacity)],
                DefaultCapacityProviderStrategy=[
                    ecs.CapacityProviderStrategy(CapacityProvider=Ref(capacity), Weight=1)
                ],
            )
        )
        return cluster, capacity

    def ecs_ami_parameter(self) -> Parameter:
        return self.t.add_parameter(
            Parameter(
                "EcsAmi",
                Type=_AMI_TYPE,
                Default=ECS_AMI_PARAMETER,
                Description="ECS-optimized Amazon Linux 2023 AMI (x86_64)",
            )
        )

    def task_definition(self, log_group: AWSObject, database: AWSObject | None) -> AWSObject:
        spec, container = self.spec, self.spec.container
        environment = [ecs.Environment(Name=k, Value=v) for k, v in sorted(container.env.items())]
        secrets = [
            ecs.Secret(Name=k, ValueFrom=self.inp.secret_arns[k]) for k in sorted(container.secret_env)
        ]
        readable: list[Any] = [self.inp.secret_arns[k] for k in sorted(container.secret_env)]
        if database is not None:
            plain = {
                "PGDATABASE": DB_NAME,
                "PGHOST": GetAtt(database, "Endpoint.Address"),
                "PGPORT": GetAtt(database, "Endpoint.Port"),
            }
            environment += [ecs.Environment(Name=k, Value=v) for k, v in plain.items()]
            keys = {"PGPASSWORD": "password", "PGUSER": "username"}
            secrets += [
                ecs.Secret(Name=k, ValueFrom=Sub(f"${{DatabaseSecret}}:{v}::")) for k, v in keys.items()
            ]
            readable.append(Ref("DatabaseSecret"))
            environment.sort(key=lambda e: e.Name)
            secrets.sort(key=lambda s: s.Name)
            assert {e.Name for e in environment + secrets} >= set(DATABASE_ENV_NAMES)
        statements = [
            statement(
                "WriteAppLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [GetAtt(log_group, "Arn")]
            )
        ]
        ecr = ECR_IMAGE_RE.match(container.image)
        if ecr is not None:
            repository = f"{ARN}:ecr:{HERE}:repository/{ecr['repository']}"
            statements += [
                statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
                statement(
                    "PullTheAppImage",
                    ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    [Sub(repository)],
                ),
            ]
        if readable:
            statements.append(statement("ReadTheAppSecrets", ["secretsmanager:GetSecretValue"], readable))
        execution = self.role(
            "TaskExecutionRole",
            "ecs-tasks.amazonaws.com",
            "ECS task execution: pull the image, write logs, read the app's secrets",
            policy_document(*statements),
        )
        task_role = self.role(
            "TaskRole", "ecs-tasks.amazonaws.com", "the application's own AWS identity (no permissions)", None
        )
        return self.add(
            ecs.TaskDefinition(
                "TaskDefinition",
                Family=self.name,
                NetworkMode="awsvpc",
                RequiresCompatibilities=["EC2"],
                Cpu=str(container.cpu),
                Memory=str(container.memory),
                ExecutionRoleArn=GetAtt(execution, "Arn"),
                TaskRoleArn=GetAtt(task_role, "Arn"),
                ContainerDefinitions=[
                    ecs.ContainerDefinition(
                        Name=CONTAINER_NAME,
                        Image=container.image,
                        Essential=True,
                        PortMappings=[ecs.PortMapping(ContainerPort=container.port, Protocol="tcp")],
                        Environment=environment,
                        Secrets=secrets,
                        LogConfiguration=ecs.LogConfiguration(
                            LogDriver="awslogs",
                            Options={
                                "awslogs-group": Ref(log_group),
                                "awslogs-region": Ref("AWS::Region"),
                                "awslogs-stream-prefix": CONTAINER_NAME,
                            },
                        ),
                    )
                ],
                Tags=Tags({"stackpilot:stage": spec.stage}),
            )
        )

    def service(
        self,
        net: _Network,
        sgs: dict[str, AWSObject],
        cluster: AWSObject,
        capacity: AWSObject,
        task: AWSObject,
        target_group: AWSObject,
        listener: AWSObject,
    ) -> AWSObject:
        container = self.spec.container
        return self.add(
            ecs.Service(
                "Service",
                DependsOn=["ClusterCapacityProviders", listener.title],
                Cluster=Ref(cluster),
                TaskDefinition=Ref(task),
                DesiredCount=container.desired_count,
                SchedulingStrategy="REPLICA",
                CapacityProviderStrategy=[
                    ecs.CapacityProviderStrategyItem(CapacityProvider=Ref(capacity), Weight=1)
                ],
                DeploymentConfiguration=ecs.DeploymentConfiguration(
                    DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
                    MaximumPercent=200,
                    MinimumHealthyPercent=100,
                ),
                NetworkConfiguration=ecs.NetworkConfiguration(
                    AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                        Subnets=net.app,
                        SecurityGroups=[GetAtt(sgs["app"], "GroupId")],
                        AssignPublicIp="DISABLED",
                    )
                ),
                LoadBalancers=[
                    ecs.LoadBalancer(
                        ContainerName=CONTAINER_NAME,
                        ContainerPort=container.port,
                        TargetGroupArn=Ref(target_group),
                    )
                ],
                HealthCheckGracePeriodSeconds=60,
                PlacementStrategies=[
                    ecs.PlacementStrategy(Type="spread", Field="attribute:ecs.availability-zone"),
                    ecs.PlacementStrategy(Type="binpack", Field="memory"),
                ],
                PropagateTags="SERVICE",
                EnableECSManagedTags=True,
            )
        )

    def autoscaling(self, cluster: AWSObject, service: AWSObject) -> None:
        container = self.spec.container
        target = self.add(
            applicationautoscaling.ScalableTarget(
                "ServiceScalableTarget",
                ServiceNamespace="ecs",
                ScalableDimension="ecs:service:DesiredCount",
                ResourceId=Join("/", ["service", Ref(cluster), GetAtt(service, "Name")]),
                MinCapacity=container.min_count,
                MaxCapacity=container.max_count,
            )
        )
        self.add(
            applicationautoscaling.ScalingPolicy(
                "ServiceCpuScaling",
                PolicyName=f"{self.name}-cpu",
                PolicyType="TargetTrackingScaling",
                ScalingTargetId=Ref(target),
                TargetTrackingScalingPolicyConfiguration=applicationautoscaling.TargetTrackingScalingPolicyConfiguration(
                    PredefinedMetricSpecification=applicationautoscaling.PredefinedMetricSpecification(
                        PredefinedMetricType="ECSServiceAverageCPUUtilization"
                    ),
                    TargetValue=CPU_TARGET_PERCENT,
                    ScaleInCooldown=300,
                    ScaleOutCooldown=60,
                ),
            )
        )

    # ---------------------------------------------------------------------------------------------
    # Front doors
    # ---------------------------------------------------------------------------------------------

    def load_balancer(
        self, title: str, net: _Network, group: AWSObject, *, internal: bool, logs_bucket: AWSObject
    ) -> tuple[AWSObject, AWSObject]:
        balancer = self.add(
            elb.LoadBalancer(
                title,
                DependsOn=["LogsBucketPolicy"],
                Type="application",
                Scheme="internal" if internal else "internet-facing",
                Subnets=net.app if internal else net.public,
                SecurityGroups=[GetAtt(group, "GroupId")],
                LoadBalancerAttributes=[
                    elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
                    elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=Ref(logs_bucket)),
                    elb.LoadBalancerAttributes(Key="access_logs.s3.prefix", Value="alb"),
                    elb.LoadBalancerAttributes(
                        Key="routing.http.drop_invalid_header_fields.enabled", Value="true"
                    ),
                    elb.LoadBalancerAttributes(Key="routing.http.desync_mitigation_mode", Value="defensive"),
                ],
                Tags=self.tags("internal-alb" if internal else "alb"),
            )
        )
        container = self.spec.container
        target_group = self.add(
            elb.TargetGroup(
                "TargetGroup",
                TargetType="ip",
                Protocol="HTTP",
                Port=container.port,
                VpcId=net.vpc_id,
                HealthCheckProtocol="HTTP",
                HealthCheckPath=container.health_check_path,
                HealthCheckIntervalSeconds=15,
                HealthCheckTimeoutSeconds=5,
                HealthyThresholdCount=2,
                UnhealthyThresholdCount=3,
                Matcher=elb.Matcher(HttpCode="200-399"),
                TargetGroupAttributes=[
                    elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")
                ],
            )
        )
        return balancer, target_group

    def public_alb(
        self, net: _Network, sgs: dict[str, AWSObject], logs_bucket: AWSObject
    ) -> tuple[AWSObject, AWSObject, Any]:
        balancer, target_group = self.load_balancer(
            "LoadBalancer", net, sgs["alb"], internal=False, logs_bucket=logs_bucket
        )
        forward = [elb.Action(Type="forward", TargetGroupArn=Ref(target_group))]
        if self.spec.certificate_arn is None:
            listener = self.add(
                elb.Listener(
                    "HttpListener",
                    LoadBalancerArn=Ref(balancer),
                    Port=80,
                    Protocol="HTTP",
                    DefaultActions=forward,
                    Metadata=checkov_skips(
                        (
                            "CKV_AWS_2",
                            "No certificate_arn in the spec: HTTP until the team adds a certificate",
                        ),
                        ("CKV_AWS_103", "No certificate_arn in the spec: no TLS listener to configure"),
                    ),
                )
            )
            return target_group, listener, Sub("http://${LoadBalancer.DNSName}")
        listener = self.add(
            elb.Listener(
                "HttpsListener",
                LoadBalancerArn=Ref(balancer),
                Port=443,
                Protocol="HTTPS",
                SslPolicy=TLS_POLICY,
                Certificates=[elb.Certificate(CertificateArn=self.spec.certificate_arn)],
                DefaultActions=forward,
            )
        )
        self.add(
            elb.Listener(
                "HttpRedirectListener",
                LoadBalancerArn=Ref(balancer),
                Port=80,
                Protocol="HTTP",
                DefaultActions=[
                    elb.Action(
                        Type="redirect",
                        RedirectConfig=elb.RedirectConfig(
                            Protocol="HTTPS", Port="443", StatusCode="HTTP_301"
                        ),
                    )
                ],
            )
        )
        return target_group, listener, Sub("https://${LoadBalancer.DNSName}")

    def api_gateway(
        self, net: _Network, sgs: dict[str, AWSObject], logs_bucket: AWSObject
    ) -> tuple[AWSObject, AWSObject, Any]:
        balancer, target_group = self.load_balancer(
            "InternalLoadBalancer", net, sgs["alb"], internal=True, logs_bucket=logs_bucket
        )
        listener = self.add(
            elb.Listener(
                "InternalListener",
                LoadBalancerArn=Ref(balancer),
                Port=80,
                Protocol="HTTP",
                DefaultActions=[elb.Action(Type="forward", TargetGroupArn=Ref(target_group))],
                Metadata=checkov_skips(
                    (
                        "CKV_AWS_2",
                        "Internal ALB reachable only from the API's VPC link; API Gateway terminates TLS",
                    ),
                    ("CKV_AWS_103", "Internal HTTP listener behind API Gateway, which terminates TLS"),
                ),
            )
        )
        link = self.add(
            apigatewayv2.VpcLink(
                "VpcLink",
                Name=self.name,
                SubnetIds=net.app,
                SecurityGroupIds=[GetAtt(sgs["link"], "GroupId")],
            )
        )
        api = self.add(
            apigatewayv2.Api(
                "HttpApi",
                Name=self.name,
                ProtocolType="HTTP",
                Description=f"{self.name}: public entry point",
            )
        )
        self.add(
            apigatewayv2.Integration(
                "HttpApiIntegration",
                ApiId=Ref(api),
                IntegrationType="HTTP_PROXY",
                IntegrationMethod="ANY",
                ConnectionType="VPC_LINK",
                ConnectionId=Ref(link),
                IntegrationUri=Ref(listener),
                PayloadFormatVersion="1.0",
            )
        )
        self.add(
            apigatewayv2.Route(
                "HttpApiDefaultRoute",
                ApiId=Ref(api),
                RouteKey="$default",
                Target=Sub("integrations/${HttpApiIntegration}"),
                AuthorizationType="NONE",
            )
        )
        access_logs = self.log_group("ApiAccessLogGroup", "api-access")
        access_format = {
            "requestId": "$context.requestId",
            "ip": "$context.identity.sourceIp",
            "requestTime": "$context.requestTime",
            "httpMethod": "$context.httpMethod",
            "path": "$context.path",
            "status": "$context.status",
            "responseLength": "$context.responseLength",
            "integrationStatus": "$context.integrationStatus",
            "integrationLatency": "$context.integrationLatency",
            "integrationError": "$context.integrationErrorMessage",
        }
        self.add(
            apigatewayv2.Stage(
                "HttpApiStage",
                ApiId=Ref(api),
                StageName="$default",
                AutoDeploy=True,
                AccessLogSettings=apigatewayv2.AccessLogSettings(
                    DestinationArn=GetAtt(access_logs, "Arn"),
                    Format=json.dumps(access_format, sort_keys=True, separators=(",", ":")),
                ),
            )
        )
        return target_group, listener, GetAtt(api, "ApiEndpoint")

    # ---------------------------------------------------------------------------------------------
    # Database
    # ---------------------------------------------------------------------------------------------

    def database(self, net: _Network, sgs: dict[str, AWSObject]) -> AWSObject:
        db = self.spec.database
        assert db is not None
        secret = self.add(
            secretsmanager.Secret(
                "DatabaseSecret",
                # The credentials go with the database; its final snapshot keeps the data, and the
                # master password can be reset on a restored instance.
                DeletionPolicy="Delete",
                UpdateReplacePolicy="Delete",
                Name=f"{self.name}/database",
                Description=f"{self.name}: PostgreSQL master credentials",
                GenerateSecretString=secretsmanager.GenerateSecretString(
                    SecretStringTemplate=json.dumps({"username": DB_USER}),
                    GenerateStringKey="password",
                    PasswordLength=32,
                    ExcludeCharacters="\"'@/\\ ",  # characters RDS refuses in a master password
                ),
                Metadata=checkov_skips(
                    (
                        "CKV_AWS_149",
                        "Uses aws/secretsmanager: workload roles' permissions boundary grants no KMS "
                        "use, so a customer-managed key would lock the tasks out",
                    ),
                ),
            )
        )
        subnet_group = self.add(
            rds.DBSubnetGroup(
                "DatabaseSubnetGroup",
                DBSubnetGroupDescription=f"{self.name}: isolated subnets",
                SubnetIds=net.data,
            )
        )
        resolve = "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:%s}}"
        skips = [
            (
                "CKV_AWS_118",
                "Enhanced monitoring needs the AWS-managed monitoring role, which the CloudFormation "
                "role's contract (inline policies only) rules out",
            )
        ]
        if not db.multi_az:
            skips.append(
                ("CKV_AWS_157", "multi_az is false in the spec: a single-AZ instance is the team's choice")
            )
        instance = self.add(
            rds.DBInstance(
                "Database",
                DeletionPolicy="Snapshot",
                UpdateReplacePolicy="Snapshot",
                Engine=db.engine,
                EngineVersion=db.engine_version,
                DBInstanceClass=db.instance_class,
                AllocatedStorage=str(db.allocated_storage_gb),
                StorageType="gp3",
                StorageEncrypted=True,
                DBName=DB_NAME,
                Port=str(DB_PORT),
                MasterUsername=Sub(resolve % "username"),
                MasterUserPassword=Sub(resolve % "password"),
                DBSubnetGroupName=Ref(subnet_group),
                VPCSecurityGroups=[GetAtt(sgs["db"], "GroupId")],
                PubliclyAccessible=False,
                MultiAZ=db.multi_az,
                BackupRetentionPeriod=db.backup_retention_days,
                DeletionProtection=self.inp.deletion_protection,
                EnableIAMDatabaseAuthentication=True,
                EnableCloudwatchLogsExports=["postgresql", "upgrade"],
                CopyTagsToSnapshot=True,
                AutoMinorVersionUpgrade=True,
                Tags=self.tags("db"),
                Metadata=checkov_skips(*skips),
            )
        )
        self.add(
            secretsmanager.SecretTargetAttachment(
                "DatabaseSecretAttachment",
                SecretId=Ref(secret),
                TargetId=Ref(instance),
                TargetType="AWS::RDS::DBInstance",
            )
        )
        return instance

    # ---------------------------------------------------------------------------------------------
    # Bastion
    # ---------------------------------------------------------------------------------------------

    def bastion(self, net: _Network, sgs: dict[str, AWSObject]) -> AWSObject:
        bastion = self.spec.bastion
        assert bastion is not None
        self.ensure_al2023_parameter()
        role = self.role(
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
        profile = self.instance_profile("BastionInstanceProfile", role)
        lines = ["#!/bin/bash", "# stackpilot bastion: Session Manager only (no SSH keys, no inbound)."]
        if self.spec.database:
            lines.append("dnf install -y postgresql16 || true  # psql for the database; best effort")
        template = self.add(
            ec2.LaunchTemplate(
                "BastionLaunchTemplate",
                LaunchTemplateData=ec2.LaunchTemplateData(
                    ImageId=Ref("AmazonLinuxAmi"),
                    InstanceType=bastion.instance_type,
                    IamInstanceProfile=ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
                    MetadataOptions=self.imds_v2(),
                    BlockDeviceMappings=[self.encrypted_root()],
                    EbsOptimized=True,
                    TagSpecifications=[
                        ec2.TagSpecifications(ResourceType="instance", Tags=self.tags("bastion")),
                        ec2.TagSpecifications(ResourceType="volume", Tags=self.tags("bastion")),
                    ],
                    UserData=Base64("\n".join([*lines, ""])),
                ),
            )
        )
        return self.add(
            ec2.Instance(
                "Bastion",
                LaunchTemplate=ec2.LaunchTemplateSpecification(
                    LaunchTemplateId=Ref(template), Version=GetAtt(template, "LatestVersionNumber")
                ),
                SubnetId=net.app[0],
                SecurityGroupIds=[GetAtt(sgs["bastion"], "GroupId")],
                Tags=self.tags("bastion"),
            )
        )

    # ---------------------------------------------------------------------------------------------
    # Outputs
    # ---------------------------------------------------------------------------------------------

    def outputs(
        self,
        net: _Network,
        cluster: AWSObject,
        service: AWSObject,
        endpoint: Any,
        log_group: AWSObject,
        database: AWSObject | None,
        bastion: AWSObject | None,
    ) -> None:
        values: dict[str, tuple[Any, str]] = {
            "VpcId": (net.vpc_id, "The stack's VPC"),
            "AppSubnetIds": (Join(",", net.app), "Subnets of the ECS instances and tasks"),
            "ClusterName": (Ref(cluster), "ECS cluster"),
            "ServiceName": (GetAtt(service, "Name"), "ECS service"),
            "EndpointUrl": (endpoint, "Where the application answers"),
            "LogGroupName": (Ref(log_group), "The application's logs"),
        }
        if net.public:
            values["PublicSubnetIds"] = (Join(",", net.public), "Public subnets")
        if database is not None:
            values["DatabaseSubnetIds"] = (Join(",", net.data), "Isolated subnets of the database")
            values["DatabaseEndpoint"] = (GetAtt(database, "Endpoint.Address"), "PostgreSQL host")
            values["DatabaseSecretArn"] = (Ref("DatabaseSecret"), "PostgreSQL credentials (Secrets Manager)")
        if bastion is not None:
            values["BastionInstanceId"] = (Ref(bastion), "Session Manager target")
        for title, (value, description) in values.items():
            self.t.add_output(Output(title, Value=value, Description=description))
