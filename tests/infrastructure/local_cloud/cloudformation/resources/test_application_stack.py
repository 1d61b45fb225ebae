"""The application stack the stacks feature deploys, built for real in a customer account.

The template is the real one (`functions.stacks.logic.template.render_stack_template`), for two specs
that between them produce every resource family the template can: an internet-facing ALB with a
certificate, NAT instance, database, bastion and a secret environment variable; and an HTTP API
through a VPC link to an internal ALB, without NAT (VPC interface endpoints). Each stack is created
through a change set, updated and deleted; the tests check what exists in the customer account
after each step (infra/local/patches/cloudformation/resources/).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from functions.shared.logic.customer_names import permissions_boundary_arn
from functions.stacks.logic.template import StackTemplateInput, render_stack_template
from functions.stacks.models.spec import StackSpec, secret_name
from tests.infrastructure.local_cloud.support import (
    AL2023_AMI,
    CUSTOMER,
    REGION,
    STACK_EVENT_PATTERN,
    client,
    create_via_change_set,
    drain,
    physical_ids,
    stack_events,
    statuses,
    tap,
    update_via_change_set,
    wait_stack,
)

CONNECTION = "conn_0123456789abcdefghijklmnop"
STACK = "stackpilot-shop-dev"
ECR_IMAGE = f"{CUSTOMER}.dkr.ecr.{REGION}.amazonaws.com/stackpilot-shop"


def spec_of(**overrides: Any) -> StackSpec:
    body: dict[str, Any] = {
        "connection_id": CONNECTION,
        "region": REGION,
        "name": "shop",
        "stage": "dev",
        "container": {
            "image": "public.ecr.aws/nginx/nginx:1.27",
            "port": 8080,
            "health_check_path": "/healthz",
            "desired_count": 2,
            "env": {"LOG_LEVEL": "info"},
            "secret_env": {"API_TOKEN": "tok-3f9a-never-in-a-template"},
        },
        "database": {},
        "bastion": {},
    }
    body.update(overrides)
    return StackSpec.model_validate(body)


def render(creds: dict[str, str], spec: StackSpec, *, deletion_protection: bool = True) -> dict[str, Any]:
    """The stack's template, its secret env values first written to the customer's Secrets Manager
    under their stackpilot names (what the API does before rendering)."""
    secrets = client("secretsmanager", creds)
    arns: dict[str, str] = {}
    for name, value in spec.container.secret_env.items():
        try:
            arns[name] = secrets.describe_secret(SecretId=secret_name(spec, name))["ARN"]
        except ClientError:
            created = secrets.create_secret(
                Name=secret_name(spec, name), SecretString=value.get_secret_value()
            )
            arns[name] = created["ARN"]
    text = render_stack_template(
        StackTemplateInput(
            spec=spec,
            stack_name=spec.stack_name,
            account_id=CUSTOMER,
            permissions_boundary_arn=permissions_boundary_arn(CUSTOMER, spec.connection_id),
            secret_arns=arns,
            deletion_protection=deletion_protection,
        )
    )
    return dict(json.loads(text))


def certificate(creds: dict[str, str]) -> str:
    return str(client("acm", creds).request_certificate(DomainName="shop.example.com")["CertificateArn"])


def failures(cfn: Any, stack_id: str) -> list[tuple[str, str, str | None]]:
    return [e for e in stack_events(cfn, stack_id) if "FAILED" in e[1]]


# --------------------------------------------------------------------------------------------------
# ALB, certificate, NAT instance, database, bastion, secret env
# --------------------------------------------------------------------------------------------------


def assert_network(creds: dict[str, str], ids: dict[str, str]) -> None:
    ec2 = client("ec2", creds)
    vpc = ids["Vpc"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert sorted({s["AvailabilityZone"] for s in subnets}) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert sorted(s["MapPublicIpOnLaunch"] for s in subnets) == [False] * 9
    groups = {
        g["GroupId"]: g
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    }
    app_ingress = groups[ids["AppSecurityGroup"]]["IpPermissions"]
    assert [(p["FromPort"], p["UserIdGroupPairs"][0]["GroupId"]) for p in app_ingress] == [
        (8080, ids["LoadBalancerSecurityGroup"])
    ]
    assert [p.get("FromPort") for p in groups[ids["LoadBalancerSecurityGroup"]]["IpPermissionsEgress"]] == [
        8080
    ]
    public = ec2.describe_route_tables(RouteTableIds=[ids["PublicRouteTable"]])["RouteTables"][0]
    assert len(public["Associations"]) == 3
    assert {(r["DestinationCidrBlock"], r.get("GatewayId")) for r in public["Routes"]} >= {
        ("0.0.0.0/0", ids["InternetGateway"])
    }
    data = ec2.describe_route_tables(RouteTableIds=[ids["DataRouteTable"]])["RouteTables"][0]
    assert len(data["Associations"]) == 3
    app_tables = ec2.describe_route_tables(RouteTableIds=[ids[f"AppRouteTable{n}"] for n in (1, 2, 3)])
    assert [len(t["Associations"]) for t in app_tables["RouteTables"]] == [1, 1, 1]
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[ids["S3GatewayEndpoint"]])["VpcEndpoints"][0]
    assert (endpoint["VpcEndpointType"], endpoint["ServiceName"]) == ("Gateway", f"com.amazonaws.{REGION}.s3")


def assert_instances(creds: dict[str, str], ids: dict[str, str]) -> None:
    ec2 = client("ec2", creds)
    nat_group = client("autoscaling", creds).describe_auto_scaling_groups(
        AutoScalingGroupNames=[ids["NatAutoScalingGroup"]]
    )["AutoScalingGroups"][0]
    assert len(nat_group["Instances"]) == 1
    nat = ec2.describe_instances(InstanceIds=[nat_group["Instances"][0]["InstanceId"]])["Reservations"][0][
        "Instances"
    ][0]
    assert nat["SubnetId"] in {ids[f"PublicSubnet{n}"] for n in (1, 2, 3)}
    bastion = ec2.describe_instances(InstanceIds=[ids["Bastion"]])["Reservations"][0]["Instances"][0]
    assert bastion["ImageId"] == client("ssm", creds).get_parameter(Name=AL2023_AMI)["Parameter"]["Value"]
    assert [g["GroupId"] for g in bastion["SecurityGroups"]] == [ids["BastionSecurityGroup"]]
    assert {"Key": "Name", "Value": f"{STACK}-bastion"} in bastion["Tags"]
    assert bastion["BlockDeviceMappings"][0]["DeviceName"] == "/dev/xvda"
    role = client("iam", creds).get_role(RoleName=ids["TaskRole"])["Role"]
    assert (role["Path"], role["PermissionsBoundary"]["PermissionsBoundaryArn"]) == (
        "/stackpilot/",
        permissions_boundary_arn(CUSTOMER, CONNECTION),
    )


def assert_service(creds: dict[str, str], ids: dict[str, str], outputs: dict[str, str]) -> None:
    ecs = client("ecs", creds)
    assert ecs.list_clusters()["clusterArns"] == [f"arn:aws:ecs:{REGION}:{CUSTOMER}:cluster/{STACK}"]
    service = ecs.describe_services(cluster=STACK, services=[ids["Service"]])["services"][0]
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }
    assert service["loadBalancers"][0]["targetGroupArn"] == ids["TargetGroup"]
    assert service["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [
        ids["AppSecurityGroup"]
    ]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert task["networkMode"] == "awsvpc"
    secrets = {s["name"]: s["valueFrom"] for s in task["containerDefinitions"][0]["secrets"]}
    token_arn = client("secretsmanager", creds).describe_secret(SecretId=f"{STACK}/API_TOKEN")["ARN"]
    assert secrets["API_TOKEN"] == token_arn
    assert secrets["PGPASSWORD"].startswith(ids["DatabaseSecret"])
    targets = client("application-autoscaling", creds).describe_scalable_targets(ServiceNamespace="ecs")
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets["ScalableTargets"]] == [
        (f"service/{STACK}/{outputs['ServiceName']}", 1, 4)
    ]
    assert ids["ServiceScalableTarget"] == (
        f"service/{STACK}/{outputs['ServiceName']}|ecs:service:DesiredCount|ecs"
    )
    policies = client("application-autoscaling", creds).describe_scaling_policies(ServiceNamespace="ecs")
    assert [p["PolicyARN"] for p in policies["ScalingPolicies"]] == [ids["ServiceCpuScaling"]]
    groups = client("logs", creds).describe_log_groups(logGroupNamePrefix="/stackpilot/")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [(outputs["LogGroupName"], 365)]


def assert_edge_and_data(
    creds: dict[str, str], ids: dict[str, str], outputs: dict[str, str], certificate_arn: str
) -> None:
    elbv2 = client("elbv2", creds)
    balancers = elbv2.describe_load_balancers()["LoadBalancers"]
    assert [(b["Scheme"], len(b["AvailabilityZones"])) for b in balancers] == [("internet-facing", 3)]
    assert outputs["EndpointUrl"] == f"https://{balancers[0]['DNSName']}"
    listeners = {
        listener["Port"]: listener
        for listener in elbv2.describe_listeners(LoadBalancerArn=ids["LoadBalancer"])["Listeners"]
    }
    assert listeners[443]["Certificates"] == [{"CertificateArn": certificate_arn}]
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    database = client("rds", creds).describe_db_instances()["DBInstances"][0]
    assert database["DBSubnetGroup"]["DBSubnetGroupName"] == ids["DatabaseSubnetGroup"]
    assert database["VpcSecurityGroups"][0]["VpcSecurityGroupId"] == ids["DatabaseSecurityGroup"]
    assert (database["MasterUsername"], database["Endpoint"]["Port"]) == ("stackpilot", 5432)
    assert database["DeletionProtection"] is True
    secret = json.loads(
        client("secretsmanager", creds).get_secret_value(SecretId=ids["DatabaseSecret"])["SecretString"]
    )
    assert secret["username"] == "stackpilot" and len(secret["password"]) == 32
    assert (secret["host"], secret["port"], secret["engine"]) == (
        outputs["DatabaseEndpoint"],
        5432,
        "postgres",
    )
    s3 = client("s3", creds)
    assert s3.get_bucket_versioning(Bucket=ids["LogsBucket"])["Status"] == "Enabled"
    assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=ids["LogsBucket"])["Policy"]


def assert_updated(creds: dict[str, str], cfn: Any, stack_id: str, before: dict[str, str]) -> None:
    after = physical_ids(cfn, stack_id)
    assert after["TaskDefinition"].endswith(":2") and before["TaskDefinition"].endswith(":1")
    ecs = client("ecs", creds)
    service = ecs.describe_services(cluster=STACK, services=[after["Service"]])["services"][0]
    assert (service["desiredCount"], service["taskDefinition"]) == (3, after["TaskDefinition"])
    image = ecs.describe_task_definition(taskDefinition=after["TaskDefinition"])["taskDefinition"][
        "containerDefinitions"
    ][0]["image"]
    assert image.endswith(":1.28")
    assert ("TaskDefinition", "DELETE_COMPLETE", None) in stack_events(cfn, stack_id, "TaskDefinition")
    targets = client("application-autoscaling", creds).describe_scalable_targets(ServiceNamespace="ecs")
    assert [t["MaxCapacity"] for t in targets["ScalableTargets"]] == [6]
    database = client("rds", creds).describe_db_instances()["DBInstances"][0]
    assert database["BackupRetentionPeriod"] == 14
    group = client("elbv2", creds).describe_target_groups(TargetGroupArns=[after["TargetGroup"]])
    assert group["TargetGroups"][0]["HealthCheckPath"] == "/ready"


def assert_deleted(creds: dict[str, str], ids: dict[str, str]) -> None:
    ec2 = client("ec2", creds)
    assert [v["IsDefault"] for v in ec2.describe_vpcs()["Vpcs"]] == [True]
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert {i["State"]["Name"] for i in instances} == {"terminated"}
    assert {e["State"].lower() for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]} == {"deleted"}
    assert client("ecs", creds).list_clusters()["clusterArns"] == []
    elbv2 = client("elbv2", creds)
    assert (
        elbv2.describe_load_balancers()["LoadBalancers"]
        == elbv2.describe_target_groups()["TargetGroups"]
        == []
    )
    rds = client("rds", creds)
    assert (
        rds.describe_db_instances()["DBInstances"] == rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    )
    # DeletionPolicy Snapshot: the database leaves its final snapshot.
    snapshots = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert [s["DBInstanceIdentifier"] for s in snapshots] == [ids["Database"]]
    # The secret env value was written outside the stack (by the API): the stack leaves it alone.
    secrets = client("secretsmanager", creds).list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets] == [f"{STACK}/API_TOKEN"]
    # The access-logs bucket is retained (DeletionPolicy Retain), as in AWS.
    assert [b["Name"] for b in client("s3", creds).list_buckets()["Buckets"]] == [ids["LogsBucket"]]
    assert (
        client("application-autoscaling", creds).describe_scalable_targets(ServiceNamespace="ecs")[
            "ScalableTargets"
        ]
        == []
    )
    iam = client("iam", creds)
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/stackpilot/")["Roles"]] == []
    assert iam.list_instance_profiles(PathPrefix="/stackpilot/")["InstanceProfiles"] == []


def test_application_stack_with_every_resource_type(customer: dict[str, str]) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    cfn = client("cloudformation", customer)
    tls = certificate(customer)
    spec = spec_of(certificate_arn=tls)
    template = render(customer, spec)

    created = create_via_change_set(cfn, STACK, template)

    stack = wait_stack(cfn, created["StackId"], timeout=60)
    assert stack["StackStatus"] == "CREATE_COMPLETE", failures(cfn, created["StackId"])
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    ids = physical_ids(cfn, created["StackId"])
    assert len(ids) == len(template["Resources"])
    assert_network(customer, ids)
    assert_instances(customer, ids)
    assert_service(customer, ids, outputs)
    assert_edge_and_data(customer, ids, outputs, tls)

    changed = spec_of(
        certificate_arn=tls,
        container={
            **spec.model_dump(mode="json")["container"],
            "image": "public.ecr.aws/nginx/nginx:1.28",
            "desired_count": 3,
            "max_count": 6,
            "health_check_path": "/ready",
            "secret_env": {"API_TOKEN": "tok-3f9a-never-in-a-template"},
        },
        database={"backup_retention_days": 14},
    )
    update_via_change_set(cfn, created["StackId"], render(customer, changed))

    updated = wait_stack(cfn, created["StackId"], timeout=60)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", failures(cfn, created["StackId"])
    assert_updated(customer, cfn, created["StackId"], ids)

    # As the stacks workflow deletes: deletion protection off first, then DeleteStack.
    update_via_change_set(cfn, created["StackId"], render(customer, changed, deletion_protection=False))
    assert wait_stack(cfn, created["StackId"], timeout=60)["StackStatus"] == "UPDATE_COMPLETE"
    cfn.delete_stack(StackName=created["StackId"])

    assert wait_stack(cfn, created["StackId"], timeout=60)["StackStatus"] == "DELETE_COMPLETE"
    assert ("LogsBucket", "DELETE_SKIPPED") in [e[:2] for e in stack_events(cfn, created["StackId"])]
    assert_deleted(customer, ids)
    assert statuses(drain(customer, queue, 11)) == [
        "REVIEW_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]


# --------------------------------------------------------------------------------------------------
# HTTP API through a VPC link to an internal ALB, no NAT: VPC interface endpoints
# --------------------------------------------------------------------------------------------------


def test_api_gateway_stack_without_nat(customer: dict[str, str]) -> None:
    cfn = client("cloudformation", customer)
    spec = spec_of(
        name="api",
        front_door="api_gateway",
        nat_instance=False,
        container={"image": f"{ECR_IMAGE.replace('shop', 'api')}:1.27", "port": 8080},
        database=None,
        bastion=None,
    )
    template = render(customer, spec)

    created = create_via_change_set(cfn, spec.stack_name, template)

    stack = wait_stack(cfn, created["StackId"], timeout=60)
    assert stack["StackStatus"] == "CREATE_COMPLETE", failures(cfn, created["StackId"])
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    ids = physical_ids(cfn, created["StackId"])
    assert len(ids) == len(template["Resources"])
    api = client("apigatewayv2", customer)
    apis = api.get_apis()["Items"]
    assert [(a["ApiId"], a["Name"], a["ProtocolType"]) for a in apis] == [
        (ids["HttpApi"], spec.stack_name, "HTTP")
    ]
    assert outputs["EndpointUrl"] == apis[0]["ApiEndpoint"]
    assert outputs["EndpointUrl"] == f"https://{ids['HttpApi']}.execute-api.{REGION}.amazonaws.com"
    links = api.get_vpc_links()["Items"]
    assert [(link["VpcLinkId"], sorted(link["SubnetIds"])) for link in links] == [
        (ids["VpcLink"], sorted(ids[f"AppSubnet{n}"] for n in (1, 2, 3)))
    ]
    integration = api.get_integrations(ApiId=ids["HttpApi"])["Items"][0]
    assert (integration["IntegrationId"], integration["ConnectionId"], integration["IntegrationUri"]) == (
        ids["HttpApiIntegration"],
        ids["VpcLink"],
        ids["InternalListener"],
    )
    route = api.get_routes(ApiId=ids["HttpApi"])["Items"][0]
    assert (route["RouteKey"], route["Target"]) == ("$default", f"integrations/{ids['HttpApiIntegration']}")
    stage = api.get_stages(ApiId=ids["HttpApi"])["Items"][0]
    assert stage["StageName"] == "$default"
    assert stage["AccessLogSettings"]["DestinationArn"].startswith(
        f"arn:aws:logs:{REGION}:{CUSTOMER}:log-group:/stackpilot/api-dev/"
    )
    balancers = client("elbv2", customer).describe_load_balancers()["LoadBalancers"]
    assert [b["Scheme"] for b in balancers] == ["internal"]
    endpoints = client("ec2", customer).describe_vpc_endpoints()["VpcEndpoints"]
    types = sorted(e["VpcEndpointType"] for e in endpoints)
    assert types == ["Gateway"] + ["Interface"] * (len(endpoints) - 1) and len(endpoints) > 1
    assert {e["VpcId"] for e in endpoints} == {ids["Vpc"]}

    cfn.delete_stack(StackName=created["StackId"])

    assert wait_stack(cfn, created["StackId"], timeout=60)["StackStatus"] == "DELETE_COMPLETE"
    assert api.get_apis()["Items"] == api.get_vpc_links()["Items"] == []
    assert {e["State"].lower() for e in client("ec2", customer).describe_vpc_endpoints()["VpcEndpoints"]} == {
        "deleted"
    }
    assert client("elbv2", customer).describe_load_balancers()["LoadBalancers"] == []
