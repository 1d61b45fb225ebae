"""The stack's outputs."""

from __future__ import annotations

from typing import Any

from troposphere import AWSObject, GetAtt, Join, Output, Ref

from functions.stacks.logic.template.build import BuildResources
from functions.stacks.logic.template.context import Context, Network


def outputs(
    ctx: Context,
    net: Network,
    cluster: AWSObject,
    service: AWSObject,
    endpoint: Any,
    log_group: AWSObject,
    database: AWSObject | None,
    bastion: AWSObject | None,
    build: BuildResources | None = None,
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
    if build is not None:
        values["ImageRepositoryUri"] = (GetAtt(build.repository, "RepositoryUri"), "Where builds push")
        values["SourceBucketName"] = (Ref(build.bucket), "Where releases put the sources to build")
        values["BuildProjectName"] = (Ref(build.project), "The CodeBuild project of releases")
    for title, (value, description) in values.items():
        ctx.t.add_output(Output(title, Value=value, Description=description))
