"""The application: task definition, ECS service and its autoscaling.

A REPLICA service (awsvpc, circuit breaker with rollback, 200 %/100 %) spread over AZs; CPU target
tracking at 60 % between ``min_count`` and ``max_count``. Secrets come in through the task
definition's ``Secrets`` (the given ARNs; the execution role may read exactly those); with a database
the task also gets ``PGHOST``/``PGPORT``/``PGDATABASE`` and, from the database secret,
``PGUSER``/``PGPASSWORD``. The task role has no permissions.
"""

from __future__ import annotations

from typing import Any, Final

from troposphere import AWSObject, GetAtt, Join, Ref, Sub, Tags, applicationautoscaling, ecs

from functions.shared.logic.iam import ARN, HERE, policy_document, statement
from functions.stacks.logic.template.context import Context, Network
from functions.stacks.logic.template.database import DB_NAME
from functions.stacks.logic.template.roles import role
from functions.stacks.models.spec import DATABASE_ENV_NAMES, ECR_IMAGE_RE

CONTAINER_NAME: Final = "app"
CPU_TARGET_PERCENT: Final = 60.0


def task_definition(ctx: Context, log_group: AWSObject, database: AWSObject | None) -> AWSObject:
    spec, container = ctx.spec, ctx.spec.container
    environment = [ecs.Environment(Name=k, Value=v) for k, v in sorted(container.env.items())]
    secrets = [ecs.Secret(Name=k, ValueFrom=ctx.inp.secret_arns[k]) for k in sorted(container.secret_env)]
    readable: list[Any] = [ctx.inp.secret_arns[k] for k in sorted(container.secret_env)]
    if database is not None:
        plain = {
            "PGDATABASE": DB_NAME,
            "PGHOST": GetAtt(database, "Endpoint.Address"),
            "PGPORT": GetAtt(database, "Endpoint.Port"),
        }
        environment += [ecs.Environment(Name=k, Value=v) for k, v in plain.items()]
        keys = {"PGPASSWORD": "password", "PGUSER": "username"}
        secrets += [ecs.Secret(Name=k, ValueFrom=Sub(f"${{DatabaseSecret}}:{v}::")) for k, v in keys.items()]
        readable.append(Ref("DatabaseSecret"))
        environment.sort(key=lambda e: e.Name)
        secrets.sort(key=lambda s: s.Name)
        assert {e.Name for e in environment + secrets} >= set(DATABASE_ENV_NAMES)
    statements = [
        statement("WriteAppLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [GetAtt(log_group, "Arn")])
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
    execution = role(
        ctx,
        "TaskExecutionRole",
        "ecs-tasks.amazonaws.com",
        "ECS task execution: pull the image, write logs, read the app's secrets",
        policy_document(*statements),
    )
    task_role = role(
        ctx,
        "TaskRole",
        "ecs-tasks.amazonaws.com",
        "the application's own AWS identity (no permissions)",
        None,
    )
    return ctx.add(
        ecs.TaskDefinition(
            "TaskDefinition",
            Family=ctx.name,
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
    ctx: Context,
    net: Network,
    sgs: dict[str, AWSObject],
    cluster: AWSObject,
    capacity: AWSObject,
    task: AWSObject,
    target_group: AWSObject,
    listener: AWSObject,
) -> AWSObject:
    container = ctx.spec.container
    return ctx.add(
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


def autoscaling(ctx: Context, cluster: AWSObject, service: AWSObject) -> None:
    container = ctx.spec.container
    target = ctx.add(
        applicationautoscaling.ScalableTarget(
            "ServiceScalableTarget",
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Join("/", ["service", Ref(cluster), GetAtt(service, "Name")]),
            MinCapacity=container.min_count,
            MaxCapacity=container.max_count,
        )
    )
    ctx.add(
        applicationautoscaling.ScalingPolicy(
            "ServiceCpuScaling",
            PolicyName=f"{ctx.name}-cpu",
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
