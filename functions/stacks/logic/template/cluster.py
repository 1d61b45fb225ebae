"""The ECS cluster on EC2 and its capacity.

ECS-optimized AL2023 instances (the smallest listed type that fits one task with 15 % memory
headroom) in the app subnets, an ASG the capacity provider scales (managed scaling and managed
draining; room for 2 x max_count tasks so a rolling deployment fits).
"""

from __future__ import annotations

from typing import Final

from troposphere import AWSObject, Base64, GetAtt, Parameter, Ref, Sub, autoscaling, ec2, ecs

from functions.shared.logic.iam import ARN, HERE, policy_document, statement
from functions.stacks.logic.template.context import Context, Network
from functions.stacks.logic.template.instances import AMI_PARAMETER_TYPE, encrypted_root, imds_v2
from functions.stacks.logic.template.roles import instance_profile, role

ECS_AMI_PARAMETER: Final = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"

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


def _host_type(cpu: int, memory: int) -> str:
    for name, units, mib in _HOST_TYPES:
        if units >= cpu and mib * _HOST_MEMORY_HEADROOM >= memory:
            return name
    raise ValueError(f"no instance type fits cpu {cpu} / memory {memory}")  # unreachable for valid specs


def cluster(ctx: Context, net: Network, sgs: dict[str, AWSObject]) -> tuple[AWSObject, AWSObject]:
    container = ctx.spec.container
    cluster = ctx.add(
        ecs.Cluster(
            "Cluster",
            ClusterName=ctx.name,
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
        )
    )
    cluster_arn = Sub(f"{ARN}:ecs:{HERE}:cluster/${{Cluster}}")
    instances = Sub(f"{ARN}:ecs:{HERE}:container-instance/${{Cluster}}/*")
    instance_role = role(
        ctx,
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
    profile = instance_profile(ctx, "ContainerInstanceProfile", instance_role)
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
    template = ctx.add(
        ec2.LaunchTemplate(
            "ContainerInstanceLaunchTemplate",
            LaunchTemplateData=ec2.LaunchTemplateData(
                ImageId=Ref(_ecs_ami_parameter(ctx)),
                InstanceType=_host_type(container.cpu, container.memory),
                IamInstanceProfile=ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
                SecurityGroupIds=[GetAtt(sgs["hosts"], "GroupId")],
                MetadataOptions=imds_v2(),
                BlockDeviceMappings=[encrypted_root()],
                TagSpecifications=[
                    ec2.TagSpecifications(ResourceType="instance", Tags=ctx.tags("ecs")),
                    ec2.TagSpecifications(ResourceType="volume", Tags=ctx.tags("ecs")),
                ],
                UserData=Base64(Sub(user_data)),
            ),
        )
    )
    group = ctx.add(
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
    capacity = ctx.add(
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
    ctx.add(
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


def _ecs_ami_parameter(ctx: Context) -> Parameter:
    return ctx.t.add_parameter(
        Parameter(
            "EcsAmi",
            Type=AMI_PARAMETER_TYPE,
            Default=ECS_AMI_PARAMETER,
            Description="ECS-optimized Amazon Linux 2023 AMI (x86_64)",
        )
    )
